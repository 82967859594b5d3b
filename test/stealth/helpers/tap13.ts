/**
 * A userspace stand-in for the mirror and takeover that follows the native station's rule
 * (SPEC.md §5), approximately (it looks at records, not TCP segments): relay client and decoy; a
 * short application-data record after the client's ChangeCipherSpec (a TLS 1.3 Finished, or TLS
 * 1.2 False Start data) marks the flow, whose short records (the Finished, Chrome's HTTP/2
 * preface) are passed over; the first other application-data record is checked with the
 * TypeScript reader, and on a tag the tap stops relaying, drops the decoy and hands the client's
 * socket, positioned after the tagged record, to the station's session table.
 *
 * Loopback only; the real path (mirror, native data plane, TCP_REPAIR) runs in the testbed.
 *
 * @module
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { decodeTagPayload } from '../../../src/crypto/tag.js';
import { readTaggedRecord } from '../../../src/protocol/tag-reader.js';
import type { Takeover } from '../../../src/station/session-table.js';

/** Body length below which a record cannot carry a tag (240 stego bytes + the 16-byte AEAD tag). */
const MIN_TAGGED_BODY = 256;

/** What the tap saw. */
export interface TapStats {
  connections: number;
  takeovers: number;
  /** Short application-data records passed over before the checked one. */
  shortRecords: number;
  /** Sequence of record checks that found no tag. */
  untagged: number;
}

/** A running tap. */
export interface Tap13 {
  port: number;
  stats: TapStats;
  /** Where it relays to (changeable between connections). */
  decoyPort: number;
  close(): Promise<void>;
}

/**
 * Start the tap on 127.0.0.1.
 *
 * @param decoyPort - the decoy's port on 127.0.0.1
 * @param stationKeys - station secret keys
 * @param onTakeover - receives each takeover (normally `SessionTable.accept`)
 */
export async function startTap13(decoyPort: number, stationKeys: Uint8Array[], onTakeover: (t: Takeover) => void): Promise<Tap13> {
  const stats: TapStats = { connections: 0, takeovers: 0, shortRecords: 0, untagged: 0 };
  const sockets = new Set<Socket>();
  const tap: Tap13 = { port: 0, stats, decoyPort, close: async () => {} };
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    const upstream = connect({ host: '127.0.0.1', port: tap.decoyPort, allowHalfOpen: true, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    upstream.pipe(client);
    let buffered = Buffer.alloc(0);
    let inspecting = true;
    let ccsSeen = false;
    let marked = false;
    const onData = (chunk: Buffer): void => {
      upstream.write(chunk);
      if (!inspecting) return;
      buffered = Buffer.concat([buffered, chunk]);
      while (inspecting && buffered.length >= 5) {
        const len = buffered.readUInt16BE(3);
        if (buffered.length < 5 + len) return;
        const record = buffered.subarray(0, 5 + len);
        buffered = buffered.subarray(5 + len);
        ccsSeen ||= record[0] === 0x14;
        if (record[0] !== 0x17) continue;
        if (ccsSeen && len < MIN_TAGGED_BODY) marked = true;
        if (marked && len < MIN_TAGGED_BODY) {
          stats.shortRecords++;
          continue;
        }
        inspecting = false;
        const found = readTaggedRecord(record, stationKeys);
        if (found === null || found.session === null) {
          stats.untagged++;
          return;
        }
        // The tagged record was already relayed: take the decoy away before it can answer.
        stats.takeovers++;
        client.off('data', onData);
        client.pause();
        upstream.unpipe(client);
        upstream.destroy();
        if (buffered.length > 0) client.unshift(buffered);
        onTakeover({
          socket: client, payload: decodeTagPayload(found.tag.rawPayload), tagKey: found.tag.key, taggedRecord: record,
          decoyAddress: '127.0.0.1', clientAddress: '127.0.0.1',
        });
      }
    };
    client.on('data', onData);
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tap.port = (server.address() as AddressInfo).port;
  tap.close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return tap;
}

/**
 * A userspace stand-in for the port mirror and TCP_REPAIR takeover, for fast loopback tests of the
 * client and the station's session layer. It relays client and decoy and follows the native
 * station's rule (SPEC.md §5), at record rather than segment level: a short application-data
 * record after the client's ChangeCipherSpec (a TLS 1.3 Finished, or TLS 1.2 False Start data)
 * marks the flow, whose short records are passed over; the first other application-data record is
 * checked once with the TypeScript tag reader. On a tag the tap stops relaying, drops the decoy
 * connection and hands the client's socket, positioned right after the tagged record, to the
 * station — what the native data plane does with a repaired socket.
 *
 * Loopback only; the real path (mirror, native capture, TCP_REPAIR) runs in the namespace testbed.
 */
import { createServer, connect, type Socket, type Server, type AddressInfo } from 'node:net';
import { decodeTagPayload } from '../../src/crypto/tag.js';
import { readTaggedRecord } from '../../src/protocol/tag-reader.js';
import type { Takeover } from '../../src/station/session-table.js';

/** Body length below which a record cannot carry a tag (240 stego bytes + the 16-byte AEAD tag). */
const MIN_TAGGED_BODY = 256;
/** How long after the decoy's Finished an answer to a False Start request still counts. */
const ANSWER_GRACE_MS = 25;

/** What the tap saw. */
export interface InlineTapStats {
  connections: number;
  takeovers: number;
  /** Checked records without a tag (their flows are relayed to the end). */
  passedThrough: number;
  /** Short application-data records of marked flows passed over before the checked one. */
  shortRecords: number;
  /** False Start tags not taken over because the decoy answered right after its Finished. */
  decoyAnswered: number;
}

export interface InlineTap {
  port: number;
  stats: InlineTapStats;
  /** Where it relays to (changeable between connections). */
  decoy: { address: string; port: number };
  close(): Promise<void>;
}

export async function startInlineTap(options: {
  decoy: { address: string; port: number };
  stationKeys: Uint8Array[];
  onTakeover: (t: Takeover) => void;
}): Promise<InlineTap> {
  const stats: InlineTapStats = { connections: 0, takeovers: 0, passedThrough: 0, shortRecords: 0, decoyAnswered: 0 };
  const sockets = new Set<Socket>();
  const tap: InlineTap = { port: 0, stats, decoy: { ...options.decoy }, close: async () => {} };
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    const upstream = connect({ host: tap.decoy.address, port: tap.decoy.port, allowHalfOpen: true, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    // The decoy's records are relayed as they come; the tap notes when its ChangeCipherSpec and the
    // record after it (the Finished) have passed, because a TLS 1.2 False Start tag arrives before
    // them and the takeover must wait for them (SPEC.md §5.1).
    let serverBuffered = Buffer.alloc(0);
    let serverCcs = false;
    let serverFinished = false;
    let afterFinished: ((answered: boolean) => void) | null = null;
    // Whether the decoy sent anything after its Finished: right behind it in the same read, or
    // within a short grace, since node's TLS server may write its answer to a False Start request
    // as a separate segment (the native station looks at the Finished's segment only).
    let answered: boolean | null = null;
    let grace: NodeJS.Timeout | undefined;
    const settle = (value: boolean): void => {
      if (answered !== null) return;
      answered = value;
      clearTimeout(grace);
      afterFinished?.(value);
    };
    const onUpstream = (chunk: Buffer): void => {
      client.write(chunk);
      if (serverFinished) {
        settle(true);
        return;
      }
      serverBuffered = Buffer.concat([serverBuffered, chunk]);
      while (serverBuffered.length >= 5 && serverBuffered.length >= 5 + serverBuffered.readUInt16BE(3)) {
        const type = serverBuffered[0];
        serverBuffered = serverBuffered.subarray(5 + serverBuffered.readUInt16BE(3));
        if (serverCcs) {
          serverFinished = true;
          if (serverBuffered.length > 0) settle(true);
          else grace = setTimeout(() => settle(false), ANSWER_GRACE_MS);
          return;
        }
        serverCcs = type === 0x14;
      }
    };
    upstream.on('data', onUpstream);
    upstream.on('end', () => { if (client.writable) client.end(); });
    let buffered = Buffer.alloc(0);
    let inspecting = true;
    let ccsSeen = false;
    let marked = false;
    // Everything is relayed as it arrives, as on a real link; the tagged record reaches the decoy
    // too, which then waits for the rest of the request (and is dropped here at once).
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
        const found = readTaggedRecord(record, options.stationKeys);
        if (found === null || found.session === null) {
          stats.passedThrough++;
          return;
        }
        client.off('data', onData);
        client.pause();
        if (buffered.length > 0) client.unshift(buffered);
        const takeOver = (): void => {
          stats.takeovers++;
          upstream.off('data', onUpstream);
          upstream.destroy();
          options.onTakeover({
            socket: client,
            payload: decodeTagPayload(found.tag.rawPayload),
            tagKey: found.tag.key,
            taggedRecord: new Uint8Array(record),
            decoyAddress: tap.decoy.address,
            clientAddress: client.remoteAddress ?? '',
          });
        };
        // A tag after the decoy's Finished (no False Start): nothing of the decoy's can clash.
        if (serverFinished) {
          takeOver();
          return;
        }
        afterFinished = (decoyAnswered) => {
          if (!decoyAnswered) {
            takeOver();
            return;
          }
          stats.decoyAnswered++;
          client.on('data', (c: Buffer) => upstream.write(c));
          client.resume();
        };
      }
    };
    client.on('data', onData);
    client.on('end', () => { if (upstream.writable) upstream.end(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tap.port = (server.address() as AddressInfo).port;
  tap.close = () => new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return tap;
}

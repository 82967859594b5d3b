/**
 * A userspace stand-in for the port mirror and TCP_REPAIR takeover, for fast loopback tests of the
 * client and the station's session layer: a TCP relay between client and decoy that watches the
 * client's records and, when the first application-data record carries a tag for one of the
 * station's keys (checked with the TypeScript tag reader), stops relaying and hands the client's
 * socket to the station, positioned right after the tagged record — what the native data plane
 * does with a repaired socket. Everything else is relayed untouched, both ways.
 *
 * The real path (mirror, native capture, TCP_REPAIR) is tested in the namespace testbed.
 */
import { createServer, connect, type Socket, type Server, type AddressInfo } from 'node:net';
import { readTaggedRecord } from '../../src/protocol/tag-reader.js';
import type { Takeover } from '../../src/station/session-table.js';

export interface InlineTap {
  port: number;
  /** Connections seen, and how many were taken over. */
  stats: { connections: number; takeovers: number; passedThrough: number };
  close(): Promise<void>;
}

export async function startInlineTap(options: {
  decoy: { address: string; port: number };
  stationKeys: Uint8Array[];
  onTakeover: (t: Takeover) => void;
}): Promise<InlineTap> {
  const stats = { connections: 0, takeovers: 0, passedThrough: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    const upstream = connect({ host: options.decoy.address, port: options.decoy.port, allowHalfOpen: true, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    upstream.pipe(client);
    let buffered = Buffer.alloc(0);
    let inspecting = true;
    const onData = (chunk: Buffer): void => {
      if (!inspecting) {
        upstream.write(chunk);
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 5) {
        const len = buffered.readUInt16BE(3);
        if (buffered.length < 5 + len) return;
        const record = buffered.subarray(0, 5 + len);
        const rest = buffered.subarray(5 + len);
        if (record[0] === 0x17) {
          inspecting = false;
          const found = readTaggedRecord(record, options.stationKeys);
          if (found !== null && found.session !== null) {
            stats.takeovers++;
            client.off('data', onData);
            client.pause();
            upstream.unpipe(client);
            upstream.destroy();
            if (rest.length > 0) client.unshift(rest);
            options.onTakeover({
              socket: client,
              payload: found.tag.payload,
              tagKey: found.tag.key,
              taggedRecord: new Uint8Array(record),
              decoyAddress: options.decoy.address,
              clientAddress: client.remoteAddress ?? '',
            });
            return;
          }
          stats.passedThrough++;
          upstream.write(buffered);
          buffered = Buffer.alloc(0);
          return;
        }
        upstream.write(record);
        buffered = rest;
      }
    };
    client.on('data', onData);
    client.on('end', () => { if (inspecting || upstream.writable) upstream.end(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stats,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * Record sizes of the first flights, Chromium against our client, in the same run: both connect
 * through a recording TCP proxy to the same servers (our scripted TLS 1.3 server and a node:tls
 * TLS 1.2 server, both choosing h2), and the test compares what the client sends up to its first
 * HTTP/2 record: record types and lengths (the proxy sees reads, which can merge back-to-back
 * segments, so grouping is only noted). Chromium runs with --ignore-certificate-errors against
 * the test certificate. Needs `chromium`.
 */
import t from 'tap';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connectTls } from '../../src/tls/connection.js';
import { CHROMIUM_156 } from '../../src/tls/profiles.js';
import { CHROME_H2_PREFACE } from '../../src/protocol/h2-request.js';
import { makePki, startNodeServer } from '../tls/helpers/fixtures.js';
import { startTls13Server } from '../tls/helpers/tls13-server.js';
import { runChromium } from './helpers/chromium.js';

/** One client write as seen by the proxy: `type:length` of each record it holds. */
type Write = string[];

/** A TCP proxy to `port` that logs, per connection, the client's writes as record lists. */
async function recordingProxy(port: number): Promise<{ port: number; connections: Write[][]; close(): Promise<void> }> {
  const connections: Write[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    const log: Write[] = [];
    connections.push(log);
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      pending = Buffer.concat([pending, d]);
      const write: Write = [];
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt16BE(3)) {
        const n = 5 + pending.readUInt16BE(3);
        write.push(`${pending[0]}:${n}`);
        pending = pending.subarray(n);
      }
      if (write.length > 0) log.push(write);
    });
    upstream.on('data', (d) => client.write(d));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** The client's writes after the ClientHello, up to and including the one with its first application record. */
function firstFlight(writes: Write[]): Write[] {
  const out: Write[] = [];
  for (const w of writes.slice(1)) {
    out.push(w);
    if (w.some((r) => r.startsWith('23:')) && out.flat().filter((r) => r.startsWith('23:')).length >= (out.flat()[0] === '20:6' ? 2 : 1)) break;
  }
  return out;
}

const pki = makePki();
t.teardown(() => pki.cleanup());

async function compare(serverPort: number): Promise<{ chromium: Write[]; ours: Write[] }> {
  const proxy = await recordingProxy(serverPort);
  try {
    // Chromium's first connection may be a speculative one that sends only its hello.
    const done = (): boolean => proxy.connections.some((c) => c.flat().filter((r) => r.startsWith('23:')).length >= 2);
    await runChromium(`https://localhost:${proxy.port}/`, done, 30_000, ['--ignore-certificate-errors']);
    const chromium = proxy.connections.find((c) => c.flat().filter((r) => r.startsWith('23:')).length >= 2)!;
    const before = proxy.connections.length;
    const raw = connect(proxy.port, '127.0.0.1');
    raw.setNoDelay(true);
    const conn = await connectTls(raw, {
      serverName: 'localhost', dangerouslySkipVerification: true, profile: CHROMIUM_156,
      // What the client flow does (flow.ts): the preface with the TLS 1.2 Finished, after the TLS 1.3 one.
      sendWithFinished: ({ version, alpn }) => (alpn === 'h2' && version === 0x0303 ? CHROME_H2_PREFACE : undefined),
    });
    if (conn.sentWithFinished === null) await conn.writeRecord(CHROME_H2_PREFACE);
    for (let i = 0; i < 100 && (proxy.connections[before]?.flat().filter((r) => r.startsWith('23:')).length ?? 0) < (conn.protocolVersion === 0x0304 ? 2 : 1); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    conn.destroy();
    return { chromium: firstFlight(chromium), ours: firstFlight(proxy.connections[before]!) };
  } finally {
    await proxy.close();
  }
}

t.test('TLS 1.3 with h2: ChangeCipherSpec, Finished and the 92-byte preface record, as Chromium sends them', async (t) => {
  const server = await startTls13Server({ key: pki.rsa.key, cert: pki.rsa.cert, onTraffic: () => {} });
  const { chromium, ours } = await compare(server.port);
  await server.close();
  t.comment(`chromium ${JSON.stringify(chromium)}, ours ${JSON.stringify(ours)}`);
  const records = (ws: Write[]) => ws.flat().slice(0, 3);
  t.same(records(ours), ['20:6', '23:58', '23:92']);
  t.same(records(chromium), records(ours), 'record types and sizes equal Chromium\'s');
  // How later writes group depends on scheduling (under load the proxy reads several together);
  // ChangeCipherSpec and Finished always arrive together.
  t.same(chromium[0]!.slice(0, 2), ['20:6', '23:58'], 'Chromium writes ChangeCipherSpec and Finished together, as we do');
});

t.test('TLS 1.2 with h2: the same records as Chromium (key exchange, ChangeCipherSpec, Finished, 99-byte preface)', async (t) => {
  const server = await startNodeServer({ key: pki.rsa.key, cert: pki.rsa.cert, maxVersion: 'TLSv1.2', ALPNProtocols: ['h2'] }, () => {});
  const { chromium, ours } = await compare(server.port);
  await server.close();
  t.comment(`chromium ${JSON.stringify(chromium)}, ours ${JSON.stringify(ours)}`);
  const records = (ws: Write[]) => ws.flat().slice(0, 4);
  t.same(records(ours), ['22:42', '20:6', '22:45', '23:99']);
  t.same(records(chromium), records(ours), 'record types and sizes equal Chromium\'s');
  t.same(ours.length, 1, 'ours in one write (False Start; Chromium sends the preface with its request, SPEC §16)');
});

/**
 * Whole TapDance sessions on loopback with the Chromium profile, through decoys of every kind the
 * issue names: TLS 1.3 with HTTP/1.1 (node https), TLS 1.3 with HTTP/2 (node http2, nghttp2), a
 * server that picks X25519MLKEM768 (our scripted TLS 1.3 server), and TLS 1.2 only. The tap
 * follows the native station's rule; the station's session table and the covert echo server are
 * the real ones. Also: the HTTP/2 give-up path, which must leave the decoy a valid request.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { dial } from '../../src/client/dial.js';
import { ClientError } from '../../src/client/errors.js';
import { CHROMIUM_156, CHROME_62 } from '../../src/tls/profiles.js';
import { startLoopbackPath, type LoopbackPath } from '../helpers/loopback-station.js';
import { startTls13Server, type Tls13Server } from '../tls/helpers/tls13-server.js';
import { startInlineTap, type InlineTap } from '../helpers/inline-tap.js';

let path: LoopbackPath;
let tap: InlineTap;
const leaf = { cert: '', key: '' };
const h2Requests: { path: string; headers: Record<string, unknown> }[] = [];
let h2: Http2SecureServer;
let h2tls12: Http2SecureServer;
let https13: ReturnType<typeof createHttpsServer>;
let https12: ReturnType<typeof createHttpsServer>;
let strict12: ReturnType<typeof createHttpsServer>;
let mlkem: Tls13Server;
const tlsVersions: string[] = [];

const port = (s: { address(): AddressInfo | string | null }): number => (s.address() as AddressInfo).port;

t.before(async () => {
  path = await startLoopbackPath();
  const l = path.ca.issue({ commonName: 'decoy.test', keyKind: 'ecdsa' });
  Object.assign(leaf, { cert: l.cert, key: l.key });
  // HTTP/2 decoy: nghttp2 behind node's http2 module, TLS 1.3 only.
  h2 = createSecureServer({ ...leaf, minVersion: 'TLSv1.3', allowHTTP1: false }, (req, res) => {
    h2Requests.push({ path: req.url, headers: req.headers });
    res.end('h2 decoy ok\n');
  });
  h2tls12 = createSecureServer({ ...leaf, maxVersion: 'TLSv1.2', allowHTTP1: false }, (req, res) => {
    h2Requests.push({ path: req.url, headers: req.headers });
    res.end('h2 decoy ok\n');
  });
  for (const s of [h2, h2tls12]) s.on('secureConnection', (c) => tlsVersions.push(`${c.getProtocol()} ${c.alpnProtocol}`));
  https13 = createHttpsServer({ ...leaf, minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'] }, (_req, res) => res.end('ok'));
  // Lenient like nginx, which waits for the rest of a request whose X-Ignore value holds any byte
  // but CR, LF and NUL; node's strict parser answers a DEL there with 400 (see the test below).
  https12 = createHttpsServer({ ...leaf, maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'], insecureHTTPParser: true }, (_req, res) => res.end('ok'));
  strict12 = createHttpsServer({ ...leaf, maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }, (_req, res) => res.end('ok'));
  for (const s of [h2, h2tls12, https13, https12, strict12]) {
    s.on('tlsClientError', () => {});
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  }
  mlkem = await startTls13Server({ ...leaf, alpn: 'http/1.1', tickets: 2, onTraffic: () => {} });
  tap = await startInlineTap({ decoy: { address: '127.0.0.1', port: 0 }, stationKeys: [path.stationKey.secretKey], onTakeover: (takeover) => void path.table.accept(takeover) });
});
t.teardown(async () => {
  await tap.close();
  for (const s of [h2, h2tls12, https13, https12, strict12]) await new Promise((r) => s.close(r));
  await mlkem.close();
  await path.close();
});

async function roundTrip(decoyPort: number, profile = CHROMIUM_156, size = 200_000): Promise<boolean> {
  tap.decoy.port = decoyPort;
  const socket = await dial({ ...path.dialOptions, decoyPort: tap.port, tls: { ca: path.ca.root.cert, profile }, target: `127.0.0.1:${path.echoPort}` });
  const data = randomBytes(size);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(data);
  await once(socket, 'end');
  socket.destroy();
  return createHash('sha256').update(Buffer.concat(chunks)).digest('hex') === createHash('sha256').update(data).digest('hex');
}

t.test('a session completes through a TLS 1.3 HTTP/1.1 decoy', async (t) => {
  const before = tap.stats.takeovers;
  t.ok(await roundTrip(port(https13)), '200 kB echoed intact');
  t.ok(tap.stats.takeovers > before, 'taken over after passing over the Finished');
  t.ok(tap.stats.shortRecords > 0);
});

t.test('a session completes through an HTTP/2 decoy, which never sees a whole request', async (t) => {
  const before = h2Requests.length;
  t.ok(await roundTrip(port(h2)), '200 kB echoed intact');
  t.ok(tlsVersions.some((v) => v === 'TLSv1.3 h2'), `decoy connections: ${tlsVersions.join(', ')}`);
  t.equal(h2Requests.length, before, 'no request reached the HTTP/2 application');
});

t.test('a session completes through an HTTP/2 decoy over TLS 1.2 (variant 0x12 tag after False Start)', async (t) => {
  const before = h2Requests.length;
  t.ok(await roundTrip(port(h2tls12)), '200 kB echoed intact');
  t.ok(tlsVersions.some((v) => v === 'TLSv1.2 h2'), `decoy connections: ${tlsVersions.join(', ')}`);
  t.equal(h2Requests.length, before, 'no request reached the HTTP/2 application');
});

t.test('a session completes through a server that picks X25519MLKEM768', async (t) => {
  const hellos = mlkem.events.clientHellos.length;
  t.ok(await roundTrip(mlkem.port), '200 kB echoed intact');
  t.ok(mlkem.events.clientHellos.length > hellos);
  t.ok(mlkem.events.clientFinishedOk.every(Boolean), 'every handshake verified by the server');
});

t.test('a session completes through a TLS 1.2-only decoy, with Chromium and Chrome 62 profiles', async (t) => {
  t.ok(await roundTrip(port(https12)), 'Chromium profile, TLS 1.2 tag');
  t.ok(await roundTrip(port(https12), CHROME_62), 'Chrome 62 profile');
});

t.test('a TLS 1.2 decoy that answers right behind its Finished gets no takeover, and the client a typed error', async (t) => {
  // With the tag sent alongside the client's Finished, a decoy that rejects the request (a strict
  // parser's 400) does so in the same flight as its Finished; a takeover there would clash.
  tap.decoy.port = port(strict12);
  const before = tap.stats.decoyAnswered;
  const err = await dial({ ...path.dialOptions, attempts: 1, decoyPort: tap.port, tls: { ca: path.ca.root.cert, profile: CHROME_62 }, target: `127.0.0.1:${path.echoPort}` })
    .catch((e: unknown) => e);
  t.ok(err instanceof ClientError, String(err));
  t.equal(tap.stats.decoyAnswered, before + 1, 'the tap saw the answer and did not take over');
});

t.test('an HTTP/2 flow whose tag no station reads is completed for the decoy, which answers a GET', async (t) => {
  tap.decoy.port = port(h2);
  const before = h2Requests.length;
  const other = path.clientConf;
  const err = await dial({
    ...path.dialOptions, decoyPort: tap.port, tls: { ca: path.ca.root.cert, profile: CHROMIUM_156 }, target: `127.0.0.1:${path.echoPort}`,
    attempts: 1, stationTimeoutMs: 300,
    clientConf: { ...other, defaultPubkey: undefined, decoyList: { ...other.decoyList!, tlsDecoys: other.decoyList!.tlsDecoys.map((d) => ({
      ...d, pubkey: { ...d.pubkey!, key: new Uint8Array(32).fill(9) } })) } },
  }).catch((e: unknown) => e);
  t.ok(err instanceof ClientError && err.code === 'ERR_STATION_NO_RESPONSE', String(err));
  for (let i = 0; i < 100 && h2Requests.length === before; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(h2Requests.length, before + 1, 'the HTTP/2 decoy got one complete request');
  const req = h2Requests[h2Requests.length - 1]!;
  t.equal(req.path, '/');
  t.equal(req.headers[':authority'], 'decoy.test');
  t.match(String(req.headers['x-ignore']), /^#+[\x3f-\x7e]{239}#+$/, 'x-ignore: padding, stego bytes (no DEL), completion');
  t.match(String(req.headers['x-proto']), /^[A-Za-z0-9+/]+=*$/);
});

import t, { type Test } from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connectTls, type ConnectTlsOptions, type TlsConnection } from '../../src/tls/connection.js';
import type { TlsErrorCode } from '../../src/tls/errors.js';
import { TlsError } from '../../src/tls/errors.js';
import { frameHandshake } from '../../src/tls/handshake-messages.js';
import { frameRecord } from '../../src/tls/record-deframer.js';
import { CHROME_62, type ClientHelloProfile } from '../../src/tls/profiles.js';
import { ExtensionType, HandshakeType, NamedGroup } from '../../src/tls/wire.js';
import { startFakeServer, type FakeServerScript } from './helpers/fake-server.js';
import { destroyed, makePki, readBytes } from './helpers/fixtures.js';

const pki = makePki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;
const rsa = { key: pki.rsa.key, cert: pki.rsa.cert };
const ecdsa = { key: pki.ecdsa.key, cert: pki.ecdsa.cert };

/** Run a handshake against a fake server; returns the outcome and whether the socket died. */
async function attempt(script: FakeServerScript, opts: Partial<ConnectTlsOptions> = {}): Promise<{ conn?: TlsConnection; err?: unknown; socketDestroyed: boolean }> {
  const srv = await startFakeServer(script);
  const socket = netConnect({ port: srv.port, host: '127.0.0.1' });
  try {
    const conn = await connectTls(socket, { serverName: 'decoy.test', ca, handshakeTimeoutMs: 3000, ...opts });
    conn.destroy();
    return { conn, socketDestroyed: true };
  } catch (err) {
    await destroyed(socket);
    return { err, socketDestroyed: socket.destroyed };
  } finally {
    await srv.close();
  }
}

async function fails(t: Test, name: string, script: FakeServerScript, code: TlsErrorCode, opts: Partial<ConnectTlsOptions> = {}): Promise<TlsError | undefined> {
  const r = await attempt(script, opts);
  t.ok(r.err instanceof TlsError, `${name}: typed error (${String(r.err)})`);
  t.equal((r.err as TlsError | undefined)?.code, code, `${name}: ${code}`);
  t.ok(r.socketDestroyed, `${name}: transport destroyed`);
  return r.err as TlsError | undefined;
}

const tls13Profile: ClientHelloProfile = {
  ...CHROME_62, name: 'tls13-capable',
  extensions: [...CHROME_62.extensions.slice(0, -1), { type: 'supported_versions', versions: [0x0304, 0x0303] }, { type: 'padding', style: 'boringssl' }],
};

t.test('the fake server completes correct handshakes (so faults below are the only difference)', async (t) => {
  for (const [creds, suite] of [[rsa, 0xc02f], [rsa, 0xc030], [rsa, 0xcca8], [rsa, 0x009c], [ecdsa, 0xc02b], [ecdsa, 0xcca9]] as const) {
    const srv = await startFakeServer({ ...creds, suite });
    t.teardown(() => srv.close());
    const conn = await connectTls(netConnect({ port: srv.port, host: '127.0.0.1' }), { serverName: 'decoy.test', ca });
    conn.write('ping');
    t.equal(String(await readBytes(conn, 4)), 'ping', `echo over ${conn.cipherSuite.name}`);
    t.same(srv.events.clientFinishedOk, [true], 'server verified our Finished');
    conn.destroy();
    await srv.close();
  }
});

t.test('version downgrades are refused', async (t) => {
  const e1 = await fails(t, 'ServerHello TLS 1.1', { ...rsa, version: 0x0302 }, 'ERR_TLS_PROTOCOL_VERSION');
  t.equal(e1?.context['alert'], 'protocol_version');
  await fails(t, 'ServerHello TLS 1.0', { ...rsa, version: 0x0301 }, 'ERR_TLS_PROTOCOL_VERSION');
  await fails(t, 'ServerHello SSL 3.0', { ...rsa, version: 0x0300 }, 'ERR_TLS_PROTOCOL_VERSION');
  await fails(t, 'ServerHello 0x0304 in the legacy field', { ...rsa, version: 0x0304 }, 'ERR_TLS_PROTOCOL_VERSION');
  const sentinel = Buffer.concat([randomBytes(24), Buffer.from('DOWNGRD\x01', 'latin1')]);
  await fails(t, 'downgrade sentinel with a TLS 1.3-capable profile', { ...rsa, serverRandom: sentinel }, 'ERR_TLS_DOWNGRADE', { profile: tls13Profile });
  const ok = await attempt({ ...rsa, serverRandom: sentinel });
  t.ok(ok.conn, 'the sentinel is not checked when the profile only offers TLS 1.2');
});

t.test('a bad server Finished, signature or record MAC ends the handshake', async (t) => {
  const flip = (b: Buffer): Buffer => { const c = Buffer.from(b); c[0]! ^= 1; return c; };
  const e = await fails(t, 'bad Finished', { ...rsa, editFinished: flip }, 'ERR_TLS_BAD_FINISHED');
  t.equal(e?.context['alert'], 'decrypt_error');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await fails(t, 'ServerKeyExchange signed by another key', { ...rsa, signingKey: other }, 'ERR_TLS_BAD_SIGNATURE');
  const otherEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  await fails(t, 'ECDSA signature by another key', { ...ecdsa, signingKey: otherEc }, 'ERR_TLS_BAD_SIGNATURE');
  await fails(t, 'tampered encrypted Finished', { ...rsa, editSecondFlightBytes: (b) => { const c = Buffer.from(b); c[c.length - 1]! ^= 0x80; return c; } },
    'ERR_TLS_BAD_RECORD_MAC');
});

t.test('choices the client did not offer are refused', async (t) => {
  await fails(t, 'suite not offered', { ...rsa, suite: 0x1301 }, 'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'GREASE suite', { ...rsa, suite: 0x0a0a }, 'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'offered CBC suite without keystream', { ...rsa, suite: 0xc013 }, 'ERR_TLS_UNSUPPORTED_SUITE');
  await fails(t, 'compression', { ...rsa, compression: 1 }, 'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'unoffered extension', { ...rsa, extensions: () => [{ type: ExtensionType.key_share, data: Buffer.alloc(0) }] }, 'ERR_TLS_UNSUPPORTED_EXTENSION');
  await fails(t, 'channel_id accepted', { ...rsa, extensions: () => [{ type: ExtensionType.channel_id, data: Buffer.alloc(0) }] }, 'ERR_TLS_UNSUPPORTED_EXTENSION');
  await fails(t, 'non-empty renegotiation_info', { ...rsa, extensions: () => [{ type: ExtensionType.renegotiation_info, data: Buffer.from([1, 7]) }] },
    'ERR_TLS_HANDSHAKE_FAILURE');
  await fails(t, 'ALPN protocol not offered', { ...rsa, extensions: () => [{ type: ExtensionType.alpn, data: Buffer.from('\x00\x07\x06spdy/3', 'latin1') }] },
    'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'point formats without uncompressed', { ...rsa, extensions: () => [{ type: ExtensionType.ec_point_formats, data: Buffer.from([1, 1]) }] },
    'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'malformed EMS extension', { ...rsa, extensions: () => [{ type: ExtensionType.extended_master_secret, data: Buffer.from([0]) }] }, 'ERR_TLS_DECODE');
  await fails(t, 'supported_versions in a TLS 1.2 profile', { ...rsa, extensions: () => [{ type: ExtensionType.supported_versions, data: Buffer.from([3, 4]) }] },
    'ERR_TLS_UNSUPPORTED_EXTENSION');
  await fails(t, 'group not offered (P-521)', { ...rsa, group: 25, serverPublicKey: Buffer.alloc(133, 4) }, 'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'signature scheme not offered (ECDSA-SHA1)', { ...ecdsa, scheme: 0x0203 }, 'ERR_TLS_ILLEGAL_PARAMETER');
  await fails(t, 'ECDSA certificate for an ECDHE_RSA suite', { ...ecdsa, suite: 0xc02f, scheme: 0x0403 }, 'ERR_TLS_BAD_CERTIFICATE');
});

t.test('invalid ECDHE public values are refused', async (t) => {
  await fails(t, 'X25519 zero point', { ...rsa, serverPublicKey: Buffer.alloc(32) }, 'ERR_TLS_KEY_EXCHANGE');
  await fails(t, 'X25519 short value', { ...rsa, serverPublicKey: Buffer.alloc(31, 9) }, 'ERR_TLS_KEY_EXCHANGE');
  const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]);
  await fails(t, 'P-256 point off the curve', { ...rsa, group: NamedGroup.secp256r1, serverPublicKey: offCurve }, 'ERR_TLS_KEY_EXCHANGE');
  await fails(t, 'P-256 compressed point', { ...rsa, group: NamedGroup.secp256r1, serverPublicKey: Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 1)]) },
    'ERR_TLS_KEY_EXCHANGE');
});

t.test('messages out of order are unexpected_message', async (t) => {
  const drop = (types: number[]) => (msgs: Buffer[]): Buffer[] => msgs.filter((m) => !types.includes(m[0]!));
  const e = await fails(t, 'ServerHelloDone before Certificate', { ...rsa, editFlight: drop([HandshakeType.certificate, HandshakeType.server_key_exchange]) },
    'ERR_TLS_UNEXPECTED_MESSAGE');
  t.equal(e?.context['alert'], 'unexpected_message');
  await fails(t, 'no ServerKeyExchange for ECDHE', { ...rsa, editFlight: drop([HandshakeType.server_key_exchange]) }, 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'two ServerHellos', { ...rsa, editFlight: (m) => [m[0]!, ...m] }, 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'Finished in the clear before ChangeCipherSpec', {
    ...rsa, editSecondFlightBytes: () => frameRecord(22, 0x0303, frameHandshake(HandshakeType.finished, Buffer.alloc(12))),
  }, 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'application data before Finished', {
    ...rsa, editSecondFlightBytes: (b) => Buffer.concat([frameRecord(23, 0x0303, Buffer.from('early')), b]),
  }, 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'ChangeCipherSpec in the first flight', {
    ...rsa, editFlightBytes: (b) => Buffer.concat([frameRecord(20, 0x0303, Buffer.from([1])), b]),
  }, 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'ChangeCipherSpec with a wrong body', {
    ...rsa, editSecondFlightBytes: (b) => Buffer.concat([frameRecord(20, 0x0303, Buffer.from([2])), b.subarray(6)]),
  }, 'ERR_TLS_DECODE');
  await fails(t, 'an alert inside a fragmented handshake message', {
    ...rsa, editFlightBytes: (b) => Buffer.concat([frameRecord(22, 0x0303, b.subarray(5, 20)), frameRecord(21, 0x0303, Buffer.from([1, 112])), frameRecord(22, 0x0303, b.subarray(20))]),
  }, 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'ClientHello type from a server', { ...rsa, editFlight: (m) => [frameHandshake(1, Buffer.alloc(40)), ...m] }, 'ERR_TLS_UNEXPECTED_MESSAGE');
});

t.test('alerts from the server are reported by name', async (t) => {
  const alertAfterHello = (level: number, desc: number) => ({ ...rsa, respond: (_h: unknown, s: import('node:net').Socket) => { s.write(frameRecord(21, 0x0303, Buffer.from([level, desc]))); } });
  const e1 = await fails(t, 'fatal internal_error', alertAfterHello(2, 80), 'ERR_TLS_ALERT_RECEIVED');
  t.equal(e1?.context['alert'], 'internal_error');
  const e2 = await fails(t, 'close_notify during the handshake', alertAfterHello(1, 0), 'ERR_TLS_ALERT_RECEIVED');
  t.equal(e2?.context['alert'], 'close_notify');
  const warn = frameRecord(21, 0x0303, Buffer.from([1, 112]));
  const ok = await attempt({ ...rsa, editFlightBytes: (b) => Buffer.concat([warn, b]) });
  t.ok(ok.conn, 'a warning alert (unrecognized_name) is ignored');
  await fails(t, 'a flood of warning alerts', { ...rsa, editFlightBytes: (b) => Buffer.concat([...Array.from({ length: 20 }, () => warn), b]) },
    'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'an alert of three bytes', alertAfterHello(2, 40) && { ...rsa, respond: (_h, s) => { s.write(frameRecord(21, 0x0303, Buffer.from([2, 40, 0]))); } },
    'ERR_TLS_DECODE');
});

t.test('truncated, stalled and closed servers end with a typed error, never a hang', { timeout: 60_000 }, async (t) => {
  await fails(t, 'EOF in the middle of a record', { ...rsa, editFlightBytes: (b) => b.subarray(0, 100), respond: undefined, closeAfterMs: 50 },
    'ERR_TLS_TRANSPORT_CLOSED');
  await fails(t, 'server closes after the ClientHello', { ...rsa, respond: (_h, s) => s.end() }, 'ERR_TLS_TRANSPORT_CLOSED');
  await fails(t, 'server resets after the ClientHello', { ...rsa, respond: (_h, s) => s.resetAndDestroy() }, 'ERR_TLS_TRANSPORT_CLOSED');
  const e = await fails(t, 'server never answers', { ...rsa, respond: () => {} }, 'ERR_TLS_HANDSHAKE_TIMEOUT', { handshakeTimeoutMs: 300 });
  t.equal(e?.context['timeout'], 300);
  await fails(t, 'server stalls inside a record', { ...rsa, editFlightBytes: (b) => b.subarray(0, 7) }, 'ERR_TLS_HANDSHAKE_TIMEOUT', { handshakeTimeoutMs: 300 });
  await fails(t, 'server stalls after its first flight', { ...rsa, editSecondFlightBytes: () => Buffer.alloc(0) }, 'ERR_TLS_HANDSHAKE_TIMEOUT',
    { handshakeTimeoutMs: 300 });
});

t.test('wrong lengths and garbage are decode errors', async (t) => {
  const respond = (bytes: Buffer) => ({ ...rsa, respond: (_h: unknown, s: import('node:net').Socket) => { s.write(bytes); } });
  await fails(t, 'an HTTP answer', respond(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')), 'ERR_TLS_UNEXPECTED_MESSAGE');
  await fails(t, 'record length over 2^14 + 2048', respond(Buffer.from([22, 3, 3, 0x48, 0x01])), 'ERR_TLS_RECORD_OVERFLOW');
  await fails(t, 'plaintext record over 2^14', respond(frameRecord(22, 0x0303, Buffer.alloc(16385))), 'ERR_TLS_RECORD_OVERFLOW');
  await fails(t, 'record with version 2.0', respond(Buffer.from([22, 2, 0, 0, 4, 2, 0, 0, 0])), 'ERR_TLS_DECODE');
  await fails(t, 'empty handshake record', respond(frameRecord(22, 0x0303, Buffer.alloc(0))), 'ERR_TLS_DECODE');
  await fails(t, 'handshake length 2^24 - 1', respond(frameRecord(22, 0x0303, Buffer.from([2, 0xff, 0xff, 0xff]))), 'ERR_TLS_RECORD_OVERFLOW');
  await fails(t, 'ServerHello body shorter than its fields', respond(frameRecord(22, 0x0303, frameHandshake(2, Buffer.from([3, 3, 1, 2])))), 'ERR_TLS_DECODE');
  await fails(t, 'extension length past the end', {
    ...rsa, extensions: () => [{ type: ExtensionType.renegotiation_info, data: Buffer.from([5]) }],
  }, 'ERR_TLS_DECODE');
  await fails(t, 'record version changes after ServerHello', {
    ...rsa, editSecondFlightBytes: (b) => { const c = Buffer.from(b); c[2] = 1; return c; },
  }, 'ERR_TLS_PROTOCOL_VERSION');
});

t.test('after the handshake, bad records destroy the connection with a typed error', async (t) => {
  const cases: [string, (s: import('./helpers/fake-server.js').ServerSession) => void, TlsErrorCode][] = [
    ['tampered application record', (s) => { const r = s.write.seal(23, Buffer.from('data')); r[r.length - 1]! ^= 1; s.socket.write(r); }, 'ERR_TLS_BAD_RECORD_MAC'],
    ['HelloRequest', (s) => s.send(22, frameHandshake(HandshakeType.hello_request, Buffer.alloc(0))), 'ERR_TLS_RENEGOTIATION_REFUSED'],
    ['second Finished', (s) => s.send(22, frameHandshake(HandshakeType.finished, Buffer.alloc(12))), 'ERR_TLS_UNEXPECTED_MESSAGE'],
    ['fatal alert', (s) => s.send(21, Buffer.from([2, 10])), 'ERR_TLS_ALERT_RECEIVED'],
    ['EOF inside a record', (s) => { s.socket.end(s.write.seal(23, Buffer.from('cut short')).subarray(0, 10)); }, 'ERR_TLS_TRANSPORT_CLOSED'],
    ['ChangeCipherSpec again', (s) => s.send(20, Buffer.from([1])), 'ERR_TLS_UNEXPECTED_MESSAGE'],
    ['a plaintext record after the keys changed', (s) => s.socket.write(frameRecord(23, 0x0303, Buffer.alloc(40))), 'ERR_TLS_BAD_RECORD_MAC'],
  ];
  for (const [name, act, code] of cases) {
    const srv = await startFakeServer({ ...rsa, onTraffic: (s) => setTimeout(() => act(s), 10) });
    t.teardown(() => srv.close());
    const socket = netConnect({ port: srv.port, host: '127.0.0.1' });
    const conn = await connectTls(socket, { serverName: 'decoy.test', ca });
    const err = await new Promise<unknown>((resolve) => { conn.on('error', resolve); conn.resume(); });
    t.ok(err instanceof TlsError, name);
    t.equal((err as TlsError).code, code, `${name}: ${code}`);
    await destroyed(socket);
    t.ok(socket.destroyed, `${name}: transport destroyed`);
    await new Promise((r) => setTimeout(r, 20));
    if (code !== 'ERR_TLS_ALERT_RECEIVED' && code !== 'ERR_TLS_TRANSPORT_CLOSED') {
      t.ok(srv.events.alerts.length > 0, `${name}: client sent an alert (${JSON.stringify(srv.events.alerts)})`);
    }
    await srv.close();
  }
  const srv = await startFakeServer({ ...rsa, onTraffic: (s) => setTimeout(() => { s.send(21, Buffer.from([1, 0])); }, 10) });
  const conn = await connectTls(netConnect({ port: srv.port, host: '127.0.0.1' }), { serverName: 'decoy.test', ca });
  await new Promise<void>((resolve) => { conn.on('end', resolve); conn.resume(); });
  t.pass('close_notify after the handshake is a clean end of stream');
  conn.destroy();
  await srv.close();
});

t.test('random corruption of the server flights gives success or a TlsError, never anything else', { timeout: 120_000 }, async (t) => {
  let seed = 12345;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const outcomes = new Map<string, number>();
  const runs = 240;
  for (let batch = 0; batch < runs / 10; batch++) {
    const jobs = Array.from({ length: 10 }, () => {
      const corrupt = (b: Buffer): Buffer => {
        const c = Buffer.from(b);
        const flips = 1 + rand(3);
        for (let i = 0; i < flips; i++) c[rand(c.length)] = rand(256);
        return c;
      };
      // Spread the damage over every part except the certificate body (which only hits X.509 parsing).
      const at = (i: number) => (msgs: Buffer[]): Buffer[] => msgs.map((m, j) => (j === i ? corrupt(m) : m));
      const scripts: FakeServerScript[] = [
        { ...rsa, editFlight: at(0) },
        { ...rsa, editFlight: at(2) },
        { ...rsa, editFlight: at(3) },
        { ...rsa, editFlightBytes: (b) => Buffer.concat([corrupt(b.subarray(0, 9)), b.subarray(9)]) },
        { ...rsa, editSecondFlightBytes: corrupt },
        { ...rsa, editFlight: at(1) },
      ];
      const script = { ...scripts[rand(scripts.length)]!, closeAfterMs: 300 };
      return attempt(script, { handshakeTimeoutMs: 2000 });
    });
    for (const r of await Promise.all(jobs)) {
      if (r.err !== undefined && !(r.err instanceof TlsError)) t.fail(`non-TLS error: ${String(r.err)}`);
      const key = r.err === undefined ? 'success' : (r.err as TlsError).code;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      t.ok(r.socketDestroyed);
    }
  }
  t.comment(JSON.stringify(Object.fromEntries(outcomes)));
  t.ok(outcomes.size > 2, 'corruption produced several kinds of errors');
});

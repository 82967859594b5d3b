import t from 'tap';
import { connect as netConnect } from 'node:net';
import { connectTls } from '../../src/tls/connection.js';
import { CHROME_62, CHROMIUM_156 } from '../../src/tls/profiles.js';
import { frameHandshake, emitServerHello } from '../../src/tls/handshake-messages.js';
import { HELLO_RETRY_REQUEST_RANDOM } from '../../src/tls/handshake-messages13.js';
import { frameRecord } from '../../src/tls/record-deframer.js';
import { createTls13SessionFromSecrets } from '../../src/tls/record-layer13.js';
import { TlsError } from '../../src/tls/errors.js';
import { Reader } from '../../src/tls/codec.js';
import { isGrease } from '../../src/tls/client-hello.js';
import { ContentType, ExtensionType, HandshakeType, NamedGroup, SignatureScheme } from '../../src/tls/wire.js';
import { RecordingTransport, destroyed, makePki, readBytes } from './helpers/fixtures.js';
import { startTls13Server, type Tls13Script } from './helpers/tls13-server.js';
import { rejectsTls } from './helpers/assert.js';

const pki = makePki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;
const rsa = { key: pki.rsa.key, cert: pki.rsa.cert };
const ecdsa = { key: pki.ecdsa.key, cert: pki.ecdsa.cert };

/** Connect with the Chromium profile through a recording transport delivering `readChunk`-byte reads. */
async function connect(script: Tls13Script, readChunk = Infinity, profile = CHROMIUM_156) {
  const srv = await startTls13Server(script);
  const raw = netConnect({ port: srv.port, host: '127.0.0.1', allowHalfOpen: true });
  raw.setNoDelay(true);
  const transport = new RecordingTransport(raw, readChunk);
  const conn = connectTls(transport, { serverName: 'decoy.test', ca, profile, handshakeTimeoutMs: 10_000 });
  return { srv, raw, transport, conn };
}

function shares(data: Uint8Array): Map<number, number> {
  const r = new Reader(new Reader(data, 'ks').vec16(), 'list');
  const out = new Map<number, number>();
  while (r.remaining > 0) {
    const g = r.u16();
    out.set(g, r.vec16().length);
  }
  return out;
}

t.test('a server choosing X25519MLKEM768 completes the hybrid handshake, even with 7-byte reads', async (t) => {
  for (const readChunk of [Infinity, 7]) {
    const { srv, conn: pending } = await connect({ ...rsa }, readChunk);
    const conn = await pending;
    t.equal(conn.protocolVersion, 0x0304);
    t.equal(conn.group, NamedGroup.x25519mlkem768);
    t.equal(conn.alpnProtocol, 'h2');
    t.equal(conn.negotiatedParameters.signatureScheme, SignatureScheme.rsa_pss_rsae_sha256);
    const ks = shares(srv.events.clientHellos[0]!.extensions.find((e) => e.type === ExtensionType.key_share)!.data);
    t.equal(ks.get(NamedGroup.x25519mlkem768), 1216, 'hybrid share: 1184-byte ML-KEM key and 32-byte X25519 key');
    t.equal(ks.get(NamedGroup.x25519), 32);
    t.equal([...ks.keys()].filter(isGrease).length, 1, 'one GREASE share');
    conn.write('ping over ML-KEM');
    t.equal(String(await readBytes(conn, 16)), 'ping over ML-KEM');
    t.same(srv.events.clientFinishedOk, [true], 'the server checked our Finished');
    t.equal(srv.events.ccs, 1, 'one middlebox-compatibility ChangeCipherSpec');
    conn.destroy();
    await srv.close();
  }
});

t.test('certificate compression, ALPS and a certificate request are answered as Chrome does', async (t) => {
  const { srv, conn: pending } = await connect({ ...ecdsa, compressCertificate: 2, alps: Buffer.alloc(0), certificateRequest: Buffer.from('ctx') });
  const conn = await pending;
  t.equal(conn.negotiatedParameters.signatureScheme, SignatureScheme.ecdsa_secp256r1_sha256);
  conn.write('x');
  await readBytes(conn, 1);
  t.same(srv.events.clientMessages, [HandshakeType.client_encrypted_extensions, HandshakeType.certificate, HandshakeType.finished],
    'ALPS settings, an empty Certificate, then Finished');
  t.same(srv.events.clientFinishedOk, [true]);
  conn.destroy();
  await srv.close();
  const plain = await connect({ ...rsa, alpn: 'http/1.1', alps: Buffer.alloc(0) });
  const c2 = await plain.conn;
  c2.write('y');
  await readBytes(c2, 1);
  t.equal(c2.alpnProtocol, 'http/1.1');
  t.same(plain.srv.events.clientMessages, [HandshakeType.finished], 'no ALPS without h2 (the server did not negotiate it)');
  c2.destroy();
  await plain.srv.close();
});

t.test('a HelloRetryRequest gets a second ClientHello with one share, the cookie and everything else unchanged', async (t) => {
  for (const group of [NamedGroup.secp256r1, NamedGroup.secp384r1]) {
    const { srv, conn: pending } = await connect({ ...rsa, group, cookie: Buffer.from('a cookie') });
    const conn = await pending;
    t.equal(conn.group, group);
    t.equal(conn.negotiatedParameters.helloRetried, true);
    conn.write('after retry');
    t.equal(String(await readBytes(conn, 11)), 'after retry');
    const [ch1, ch2] = srv.events.clientHellos;
    t.same(ch2!.random, ch1!.random, 'same random');
    t.same(ch2!.sessionId, ch1!.sessionId, 'same session id');
    t.same(ch2!.cipherSuites, ch1!.cipherSuites, 'same suites, GREASE included');
    const types1 = ch1!.extensions.map((e) => e.type);
    const types2 = ch2!.extensions.map((e) => e.type);
    const at = types1.indexOf(ExtensionType.key_share);
    t.same(types2, [...types1.slice(0, at + 1), ExtensionType.cookie, ...types1.slice(at + 1)], 'same order, cookie after key_share');
    t.same([...shares(ch2!.extensions.find((e) => e.type === ExtensionType.key_share)!.data).keys()], [group], 'only the requested share');
    const ech = (h: typeof ch1) => Buffer.from(h!.extensions.find((e) => e.type === ExtensionType.encrypted_client_hello)!.data).toString('hex');
    t.equal(ech(ch2), ech(ch1), 'the GREASE ECH extension is copied');
    t.equal(srv.events.ccs, 1, 'one ChangeCipherSpec, before the second ClientHello');
    conn.destroy();
    await srv.close();
  }
});

t.test('tickets and data before the tag are counted in the read sequence; KeyUpdate is followed', async (t) => {
  const { srv, conn: pending } = await connect({ ...rsa, ticketsInFirstFlight: 1, tickets: 2, appDataAfterHandshake: Buffer.from('h2 settings') });
  const conn = await pending;
  const seen: number[] = [];
  conn.on('session-ticket', (n: number) => seen.push(n));
  t.equal(String(await readBytes(conn, 11)), 'h2 settings');
  t.equal(conn.ticketsReceived, 3);
  t.equal(conn.tls13Secrets().serverSequence, 4n, 'three tickets and one data record');
  t.equal(conn.tls13Secrets().clientSequence, 0n, 'nothing sent yet under the application keys');
  t.ok(seen.length > 0);
  conn.destroy();
  await srv.close();

  const ku = await connect({ ...rsa, tickets: 0, keyUpdate: true });
  const c2 = await ku.conn;
  const before = c2.tls13Secrets();
  c2.write('1');
  t.equal(String(await readBytes(c2, 1)), '1');
  const after = c2.tls13Secrets();
  t.not(after.serverSecret.toString('hex'), before.serverSecret.toString('hex'), 'server secret updated');
  t.not(after.clientSecret.toString('hex'), before.clientSecret.toString('hex'), 'our secret updated as requested');
  c2.write('2');
  t.equal(String(await readBytes(c2, 1)), '2', 'data flows under the new keys');
  t.ok(ku.srv.events.clientMessages.includes(HandshakeType.key_update), 'we answered with our own KeyUpdate');
  c2.destroy();
  await ku.srv.close();
});

t.test('a station holding the TLS 1.3 secrets and sequence numbers continues the session both ways', async (t) => {
  const { srv, transport, conn: pending } = await connect({ ...rsa, ticketsInFirstFlight: 1, tickets: 2, onTraffic: () => {} });
  const conn = await pending;
  while (conn.ticketsReceived < 3) await new Promise((r) => conn.once('session-ticket', r));
  const s = conn.tls13Secrets();
  const station = createTls13SessionFromSecrets({ suite: s.suite, clientSecret: s.clientSecret, serverSecret: s.serverSecret, role: 'server', readSeq: s.clientSequence, writeSeq: s.serverSequence });
  const mark = transport.bytes().length;
  const ks = conn.nextRecordKeystream(9);
  await conn.writeRecord(Buffer.from('tagged!!'));
  const record = transport.bytes().subarray(mark);
  t.equal(record.length, 5 + 8 + 1 + 16, 'one record: content, type byte, tag');
  t.equal(record[5 + 8]! ^ ks[8]!, 23, 'keystream byte n covers the inner content type');
  t.equal(String(station.read.open(record).plaintext), 'tagged!!', 'the station decrypts the client record');
  transport.push(station.write.seal(23, Buffer.from('from the station')));
  t.equal(String(await readBytes(conn, 16)), 'from the station', 'the client decrypts the station record');
  conn.destroy();
  await srv.close();
});

t.test('a profile capped at TLS 1.2 refuses a server that selects TLS 1.3', async (t) => {
  const respond = (_h: unknown, socket: import('node:net').Socket): void => {
    const sh = frameHandshake(HandshakeType.server_hello, emitServerHello({
      version: 0x0303, random: Buffer.alloc(32, 1), sessionId: Buffer.alloc(32), cipherSuite: 0xc02f, compressionMethod: 0,
      extensions: [{ type: ExtensionType.supported_versions, data: Buffer.from([3, 4]) }],
    }));
    socket.write(frameRecord(ContentType.handshake, 0x0303, sh));
  };
  const { srv, raw, conn } = await connect({ ...rsa, respond }, Infinity, CHROME_62);
  await rejectsTls(t, conn, 'ERR_TLS_UNSUPPORTED_EXTENSION');
  await destroyed(raw);
  await srv.close();
});

/** The Finished is the last message of the encrypted flight. */
const lastMessage = (edit: (m: Buffer) => Buffer) => (ms: Buffer[]): Buffer[] => [...ms.slice(0, -1), edit(ms[ms.length - 1]!)];
// A CompressedCertificate whose stream stops halfway: brotli has no checksum, so a flipped bit
// can still decode (to other bytes of the same length); a cut stream never does.
const truncateCompressed = (m: Buffer): Buffer => {
  const data = m.subarray(12, 12 + m.readUIntBE(9, 3));
  const cut = data.subarray(0, data.length >> 1);
  const body = Buffer.concat([m.subarray(4, 9), Buffer.from([0, cut.length >> 8, cut.length & 0xff]), cut]);
  return Buffer.concat([Buffer.from([m[0]!, 0, body.length >> 8, body.length & 0xff]), body]);
};
const flip = (at: number) => (m: Buffer): Buffer => {
  const c = Buffer.from(m);
  c[at]! ^= 1;
  return c;
};

t.test('server faults end with typed errors, an alert and a destroyed socket', async (t) => {
  const hrrTwice = (h: { sessionId: Uint8Array }, socket: import('node:net').Socket): void => {
    const hrr = frameHandshake(HandshakeType.server_hello, emitServerHello({
      version: 0x0303, random: HELLO_RETRY_REQUEST_RANDOM, sessionId: h.sessionId, cipherSuite: 0x1301, compressionMethod: 0,
      extensions: [{ type: ExtensionType.supported_versions, data: Buffer.from([3, 4]) }, { type: ExtensionType.key_share, data: Buffer.from([0, 23]) }],
    }));
    socket.write(Buffer.concat([frameRecord(ContentType.handshake, 0x0303, hrr), frameRecord(ContentType.handshake, 0x0303, hrr)]));
  };
  const hrrForX25519 = (h: { sessionId: Uint8Array }, socket: import('node:net').Socket): void => {
    const hrr = frameHandshake(HandshakeType.server_hello, emitServerHello({
      version: 0x0303, random: HELLO_RETRY_REQUEST_RANDOM, sessionId: h.sessionId, cipherSuite: 0x1301, compressionMethod: 0,
      extensions: [{ type: ExtensionType.supported_versions, data: Buffer.from([3, 4]) }, { type: ExtensionType.key_share, data: Buffer.from([0, 29]) }],
    }));
    socket.write(frameRecord(ContentType.handshake, 0x0303, hrr));
  };
  const cases: [string, Tls13Script, Parameters<typeof rejectsTls>[2], number | null][] = [
    ['a bad server Finished', { ...rsa, editFlight: lastMessage(flip(10)) }, 'ERR_TLS_BAD_FINISHED', 51],
    ['a bad CertificateVerify signature', { ...rsa, editFlight: (ms) => [...ms.slice(0, 2), flip(20)(ms[2]!), ms[3]!] }, 'ERR_TLS_BAD_SIGNATURE', 51],
    ['PKCS#1 v1.5 in a TLS 1.3 CertificateVerify', { ...rsa, scheme: SignatureScheme.rsa_pkcs1_sha256 }, 'ERR_TLS_BAD_SIGNATURE', 51],
    ['an ECDSA scheme for another curve', { ...ecdsa, scheme: SignatureScheme.ecdsa_secp384r1_sha384 }, 'ERR_TLS_BAD_SIGNATURE', 51],
    ['an EncryptedExtensions extension we did not offer', { ...rsa, extraEncryptedExtensions: [{ type: 0x1234, data: Buffer.alloc(0) }] }, 'ERR_TLS_UNSUPPORTED_EXTENSION', 110],
    ['key_share inside EncryptedExtensions', { ...rsa, extraEncryptedExtensions: [{ type: ExtensionType.key_share, data: Buffer.alloc(0) }] }, 'ERR_TLS_ILLEGAL_PARAMETER', 47],
    ['a ServerHello extension we did not offer', { ...rsa, extraServerHelloExtensions: [{ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) }] }, 'ERR_TLS_UNSUPPORTED_EXTENSION', 110],
    ['a session id that is not ours', { ...rsa, editServerHello: flip(4 + 2 + 32 + 1) }, 'ERR_TLS_ILLEGAL_PARAMETER', 47],
    ['handshake bytes after the ServerHello in its record', { ...rsa, editServerHello: (m) => Buffer.concat([m, frameHandshake(8, Buffer.from([0, 0]))]) }, 'ERR_TLS_UNEXPECTED_MESSAGE', null],
    ['Certificate before EncryptedExtensions', { ...rsa, editFlight: (ms) => [ms[1]!, ms[0]!, ...ms.slice(2)] }, 'ERR_TLS_UNEXPECTED_MESSAGE', 10],
    ['a compressed certificate that does not decompress', { ...rsa, compressCertificate: 2, editFlight: (ms) => [ms[0]!, truncateCompressed(ms[1]!), ...ms.slice(2)] }, 'ERR_TLS_BAD_CERTIFICATE', 42],
    ['certificate compression we did not offer', { ...rsa, compressCertificate: 1 }, 'ERR_TLS_ILLEGAL_PARAMETER', 47],
    ['a second HelloRetryRequest', { ...rsa, respond: hrrTwice }, 'ERR_TLS_UNEXPECTED_MESSAGE', null],
    ['a HelloRetryRequest for a group we sent', { ...rsa, respond: hrrForX25519 }, 'ERR_TLS_ILLEGAL_PARAMETER', null],
    ['a certificate for another name', { key: pki.rsa.key, cert: pki.selfSigned.cert }, 'ERR_TLS_CERT_UNTRUSTED', 48],
  ];
  for (const [name, script, code, alert] of cases) {
    const { srv, raw, conn } = await connect(script);
    await rejectsTls(t, conn, code, name);
    await destroyed(raw);
    if (alert !== null) {
      for (let i = 0; i < 50 && srv.events.alerts.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      t.same(srv.events.alerts.map((a) => a[1]), [alert], `${name}: alert ${alert} sent, protected`);
    }
    await srv.close();
  }
});

t.test('after the handshake a ChangeCipherSpec or any alert but close_notify ends the connection', async (t) => {
  for (const [name, send] of [
    ['a ChangeCipherSpec', (s: import('./helpers/tls13-server.js').Session13) => s.socket.write(frameRecord(ContentType.change_cipher_spec, 0x0303, Buffer.from([1])))],
    ['a warning-level alert', (s: import('./helpers/tls13-server.js').Session13) => s.send(ContentType.alert, Buffer.from([1, 112]))],
    ['a Finished after the handshake', (s: import('./helpers/tls13-server.js').Session13) => s.send(ContentType.handshake, frameHandshake(HandshakeType.finished, Buffer.alloc(32)))],
  ] as const) {
    const { srv, conn: pending } = await connect({ ...rsa, tickets: 0, onTraffic: (s) => setTimeout(() => send(s), 20) });
    const conn = await pending;
    const err = await new Promise<Error>((resolve) => conn.once('error', resolve));
    t.ok(['ERR_TLS_UNEXPECTED_MESSAGE', 'ERR_TLS_ALERT_RECEIVED'].includes((err as { code?: string }).code ?? ''), `${name}: ${(err as { code?: string }).code}`);
    await srv.close();
  }
});

t.test('random corruption of TLS 1.3 server messages gives success or a TlsError, never anything else', { timeout: 120_000 }, async (t) => {
  let seed = 4242;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const corrupt = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    for (let i = 0, flips = 1 + rand(3); i < flips; i++) c[rand(c.length)] = rand(256);
    return c;
  };
  const outcomes = new Map<string, number>();
  for (let batch = 0; batch < 16; batch++) {
    const jobs = Array.from({ length: 10 }, async () => {
      const which = rand(6);
      const script: Tls13Script = which === 5
        ? { ...rsa, editServerHello: corrupt }
        : { ...rsa, compressCertificate: which === 1 ? 2 : undefined, editFlight: (ms) => ms.map((m, j) => (j === Math.min(which, ms.length - 1) ? corrupt(m) : m)) };
      const srv = await startTls13Server(script);
      const socket = netConnect({ port: srv.port, host: '127.0.0.1' });
      try {
        const conn = await connectTls(socket, { serverName: 'decoy.test', ca, profile: CHROMIUM_156, handshakeTimeoutMs: 2000 });
        conn.destroy();
        return 'success';
      } catch (err) {
        if (!(err instanceof TlsError)) t.fail(`non-TLS error: ${String(err)}`);
        await destroyed(socket);
        return (err as TlsError).code;
      } finally {
        await srv.close();
      }
    });
    for (const code of await Promise.all(jobs)) outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
  }
  t.comment(JSON.stringify(Object.fromEntries(outcomes)));
  t.ok(outcomes.size > 3, 'corruption produced several kinds of errors');
});

t.test('sendWithFinished: data leaves in the same write as our Finished (TLS 1.3 and TLS 1.2 False Start)', async (t) => {
  const calls: { version: number; alpn: string | null }[] = [];
  for (const [name, script, profile] of [['TLS 1.3', { ...rsa, tickets: 0 }, CHROMIUM_156], ['TLS 1.2', null, CHROME_62]] as const) {
    let port: number;
    let close: () => Promise<void>;
    let got: Promise<Buffer>;
    if (script !== null) {
      const s = await startTls13Server({ ...script, onTraffic: () => {} });
      port = s.port;
      close = s.close;
      got = (async () => { for (let i = 0; i < 100 && s.events.received.length === 0; i++) await new Promise((r) => setTimeout(r, 10)); return s.events.received[0]!; })();
    } else {
      const { startNodeServer } = await import('./helpers/fixtures.js');
      let resolve!: (b: Buffer) => void;
      got = new Promise((r) => { resolve = r; });
      const s = await startNodeServer({ ...rsa, ALPNProtocols: ['h2'] }, (sock) => sock.once('data', resolve));
      port = s.port;
      close = s.close;
    }
    const raw = netConnect({ port, host: '127.0.0.1' });
    const rec = new RecordingTransport(raw);
    const c = await connectTls(rec, {
      serverName: 'decoy.test', ca, profile,
      sendWithFinished: (n) => { calls.push(n); return Buffer.from('first record'); },
    });
    t.equal(String(c.sentWithFinished), 'first record', name);
    t.equal(String(await got), 'first record', `${name}: the server reads it`);
    const last = rec.written[rec.written.length - 1]!;
    t.ok(last.includes(Buffer.from([0x14, 3, 3, 0, 1, 1])), `${name}: one write holds the ChangeCipherSpec, the Finished and the data`);
    t.equal(c.writeSequence, name === 'TLS 1.3' ? 1n : 2n, `${name}: the data took one sequence number`);
    c.destroy();
    await close();
  }
  t.same(calls.map((n) => n.version), [0x0304, 0x0303]);
  t.equal(calls[1]!.alpn, 'h2', 'the ALPN protocol is known when the data is chosen');
});

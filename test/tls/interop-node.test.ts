import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { connectTls } from '../../src/tls/connection.js';
import { createSessionFromSecrets } from '../../src/tls/record-layer.js';
import { NamedGroup, SignatureScheme } from '../../src/tls/wire.js';
import { TlsError } from '../../src/tls/errors.js';
import {
  OPENSSL_SUITE_NAMES, RecordingTransport, destroyed, dial, makePki, narrowProfile, readAll, readBytes, startNodeServer,
} from './helpers/fixtures.js';
import { rejectsTls } from './helpers/assert.js';

const pki = makePki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;
const rsa = { key: pki.rsa.key, cert: pki.rsa.cert };
const ecdsa = { key: pki.ecdsa.key, cert: pki.ecdsa.cert };

t.test('handshakes with node:tls for every supported suite and both key types, data both ways', async (t) => {
  const cases = [
    [0xc02b, ecdsa], [0xc02c, ecdsa], [0xcca9, ecdsa],
    [0xc02f, rsa], [0xc030, rsa], [0xcca8, rsa], [0x009c, rsa], [0x009d, rsa],
  ] as const;
  for (const [suite, creds] of cases) {
    const srv = await startNodeServer({ ...creds, ciphers: OPENSSL_SUITE_NAMES[suite] });
    const { conn: pending } = dial(srv.port, { ca });
    const conn = await pending;
    t.equal(conn.cipherSuite.id, suite, conn.cipherSuite.name);
    t.equal(conn.secrets().suite, suite);
    t.equal(srv.sockets[0]!.getCipher().standardName, conn.cipherSuite.name, 'server agrees on the suite');
    const msg = randomBytes(3000);
    conn.write(msg);
    t.same(await readBytes(conn, msg.length), msg, 'echoed data decrypts');
    conn.end();
    await readAll(conn); // the echo server answers close_notify with its own
    await srv.close();
  }
});

t.test('handshakes over X25519, P-256 and P-384', async (t) => {
  for (const [curve, group] of [['X25519', NamedGroup.x25519], ['P-256', NamedGroup.secp256r1], ['P-384', NamedGroup.secp384r1]] as const) {
    for (const creds of [rsa, ecdsa]) {
      const srv = await startNodeServer({ ...creds, ecdhCurve: curve });
      const conn = await dial(srv.port, { ca }).conn;
      t.equal(conn.group, group, `${curve} with ${creds === rsa ? 'RSA' : 'ECDSA'}`);
      conn.write('x');
      t.equal(String(await readBytes(conn, 1)), 'x');
      conn.destroy();
      await srv.close();
    }
  }
});

t.test('verifies RSA PKCS#1 v1.5 and RSA-PSS ServerKeyExchange signatures', async (t) => {
  for (const [sigalgs, scheme] of [['RSA+SHA256', SignatureScheme.rsa_pkcs1_sha256], ['RSA+SHA384', SignatureScheme.rsa_pkcs1_sha384],
    ['rsa_pss_rsae_sha256', SignatureScheme.rsa_pss_rsae_sha256], ['rsa_pss_rsae_sha512', SignatureScheme.rsa_pss_rsae_sha512]] as const) {
    const srv = await startNodeServer({ ...rsa, sigalgs });
    const conn = await dial(srv.port, { ca }).conn;
    t.equal(conn.negotiatedParameters.signatureScheme, scheme, sigalgs);
    conn.destroy();
    await srv.close();
  }
  const srv = await startNodeServer({ ...ecdsa, sigalgs: 'ECDSA+SHA384' });
  const conn = await dial(srv.port, { ca }).conn;
  t.equal(conn.negotiatedParameters.signatureScheme, SignatureScheme.ecdsa_secp384r1_sha384);
  conn.destroy();
  await srv.close();
});

t.test('negotiates ALPN, extended master secret, and copes with OCSP stapling, tickets and certificate requests', async (t) => {
  const srv = await startNodeServer({ ...rsa, ALPNProtocols: ['http/1.1'] });
  const conn = await dial(srv.port, { ca }).conn;
  t.equal(conn.alpnProtocol, 'http/1.1');
  t.equal(conn.extendedMasterSecret, true);
  t.equal(conn.secrets().extendedMasterSecret, true);
  conn.destroy();
  await srv.close();

  const h2 = await startNodeServer({ ...rsa, ALPNProtocols: ['h2', 'http/1.1'] });
  t.equal((await dial(h2.port, { ca }).conn).alpnProtocol, 'h2');
  t.equal((await dial(h2.port, { ca, alpnProtocols: ['http/1.1'] }).conn).alpnProtocol, 'http/1.1');
  await h2.close();

  const ocsp = await startNodeServer(rsa);
  let stapled = 0;
  ocsp.server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, cb: (err: Error | null, resp: Buffer) => void) => {
    stapled++;
    cb(null, Buffer.from('not a real OCSP response'));
  });
  const c1 = await dial(ocsp.port, { ca }).conn;
  t.equal(stapled, 1, 'server stapled a CertificateStatus');
  c1.write('ok');
  t.equal(String(await readBytes(c1, 2)), 'ok');
  c1.destroy();
  await ocsp.close();

  const noTicket = await startNodeServer({ ...rsa, secureOptions: constants.SSL_OP_NO_TICKET });
  const c2 = await dial(noTicket.port, { ca }).conn;
  c2.write('ok');
  t.equal(String(await readBytes(c2, 2)), 'ok', 'works without a NewSessionTicket');
  c2.destroy();
  await noTicket.close();

  const certReq = await startNodeServer({ ...rsa, requestCert: true, rejectUnauthorized: false });
  const c3 = await dial(certReq.port, { ca }).conn;
  c3.write('ok');
  t.equal(String(await readBytes(c3, 2)), 'ok', 'answers a CertificateRequest with an empty Certificate');
  t.equal(certReq.sockets[0]!.getPeerCertificate().subject, undefined, 'server saw no client certificate');
  c3.destroy();
  await certReq.close();
});

t.test('completes the handshake when the transport delivers bytes in tiny pieces', async (t) => {
  const srv = await startNodeServer({ ...rsa, ALPNProtocols: ['http/1.1'] });
  for (const size of [1, 3, 7, 1000]) {
    const conn = await connectTls(new RecordingTransport(netConnect({ port: srv.port, host: '127.0.0.1' }), size), { serverName: 'decoy.test', ca });
    const msg = randomBytes(20_000);
    conn.write(msg);
    t.same(await readBytes(conn, msg.length), msg, `pieces of ${size}`);
    conn.destroy();
  }
  await srv.close();
});

t.test('an AbortSignal or bad options stop the handshake with typed errors', async (t) => {
  const { createServer } = await import('node:net');
  const held: import('node:net').Socket[] = [];
  const hold = createServer((s) => held.push(s)); // accepts and says nothing
  await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
  const port = (hold.address() as import('node:net').AddressInfo).port;
  const ac = new AbortController();
  const socket = netConnect({ port, host: '127.0.0.1' });
  const p = connectTls(socket, { serverName: 'decoy.test', ca, signal: ac.signal });
  setTimeout(() => ac.abort(new Error('user gave up')), 50);
  await rejectsTls(t, p, 'ERR_TLS_DESTROYED');
  await destroyed(socket);
  const pre = AbortSignal.abort();
  const socket2 = netConnect({ port, host: '127.0.0.1' });
  await rejectsTls(t, connectTls(socket2, { serverName: 'decoy.test', ca, signal: pre }), 'ERR_TLS_DESTROYED');
  const { InvalidArgumentError } = await import('../../src/errors.js');
  const s3 = netConnect({ port, host: '127.0.0.1' });
  t.throws(() => connectTls(s3, { ca }), InvalidArgumentError, 'serverName required without a pin');
  t.throws(() => connectTls(s3, { serverName: 'bad name with spaces' }), InvalidArgumentError);
  t.throws(() => connectTls(s3, { serverName: 'a.test', handshakeTimeoutMs: -1 }), InvalidArgumentError);
  t.throws(() => connectTls(s3, { serverName: 'a.test', alpnProtocols: [''] }), InvalidArgumentError);
  s3.destroy();
  for (const s of held) s.destroy();
  await new Promise((r) => hold.close(r));
});

t.test('moves megabytes both ways through pipe with back-pressure', async (t) => {
  const srv = await startNodeServer(rsa);
  const conn = await dial(srv.port, { ca }).conn;
  const total = 8 * 1024 * 1024;
  const data = randomBytes(total);
  const sent = createHash('sha256').update(data).digest('hex');
  const received = createHash('sha256');
  let got = 0;
  const done = new Promise<void>((resolve) => {
    conn.on('data', (d: Buffer) => {
      received.update(d);
      got += d.length;
      // Slow reader: pause now and then so back-pressure reaches the transport.
      if (got % (1 << 20) < d.length) {
        conn.pause();
        setTimeout(() => conn.resume(), 5);
      }
      if (got === total) resolve();
    });
  });
  await pipeline(Readable.from((function* () { for (let o = 0; o < total; o += 100_000) yield data.subarray(o, o + 100_000); })()), conn, { end: false });
  await done;
  t.equal(received.digest('hex'), sent);
  conn.destroy();
  await srv.close();
});

t.test('end() sends close_notify; the server closing ends our readable side', async (t) => {
  const srv = await startNodeServer(rsa, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end('bye'));
  });
  const { socket, conn: p } = dial(srv.port, { ca });
  const conn = await p;
  const all = readAll(conn);
  conn.write('hi');
  t.equal(String(await readBytes(conn, 2)), 'hi');
  conn.end();
  t.equal(String(await all).slice(-3), 'bye', 'server answered our close_notify, then closed');
  await destroyed(socket);
  await srv.close();
});

t.test('closeWriteRaw sends a FIN without close_notify and keeps reading', { timeout: 20_000 }, async (t) => {
  const srv = await startNodeServer({ ...rsa, allowHalfOpen: true }, (s) => {
    s.resume();
    s.on('end', () => {
      // Still able to write after the client's FIN.
      s.write('after-fin:');
      setTimeout(() => s.end('done'), 20);
    });
  });
  const raw = netConnect({ port: srv.port, host: '127.0.0.1', allowHalfOpen: true });
  const transport = new RecordingTransport(raw);
  const conn = await connectTls(transport, { serverName: 'decoy.test', ca });
  await conn.writeRecord(Buffer.from('last words'));
  const before = transport.bytes().length;
  const all = readAll(conn);
  await conn.closeWriteRaw();
  t.equal(transport.bytes().length, before, 'nothing (no close_notify alert) was written after the last record');
  t.equal(String(await all), 'after-fin:done');
  await srv.close();
});

t.test('writeRecord writes exactly one record whose ciphertext is plaintext XOR nextRecordKeystream', async (t) => {
  const srv = await startNodeServer(rsa, () => {});
  const raw = netConnect({ port: srv.port, host: '127.0.0.1' });
  const transport = new RecordingTransport(raw);
  const conn = await connectTls(transport, { serverName: 'decoy.test', ca, profile: narrowProfile([0xc02f]) });
  t.equal(conn.writeSequence, 1n, 'first application record has sequence number 1');
  // The stego trick: choose the low 6 bits of each ciphertext byte, derive plaintext from the keystream.
  const prefix = Buffer.from('GET / HTTP/1.1\r\nHost: decoy.test\r\nX-Ignore: ');
  const wanted = randomBytes(240).map((b) => b & 0x3f);
  const ks = conn.nextRecordKeystream(prefix.length + 240);
  const stego = Buffer.from(wanted.map((c, i) => (((ks[prefix.length + i]! & 0xc0) | c) ^ ks[prefix.length + i]!) + 0x40));
  const plaintext = Buffer.concat([prefix, stego]);
  const serverGot = readBytes(srv.sockets[0]!, plaintext.length);
  const mark = transport.bytes().length;
  await conn.writeRecord(plaintext);
  const record = transport.bytes().subarray(mark);
  t.equal(record.length, 5 + 8 + plaintext.length + 16, 'one record, nothing else');
  t.same([...record.subarray(0, 3)], [23, 3, 3]);
  t.equal(record.readBigUInt64BE(5), 1n, 'explicit nonce is the sequence number');
  const ct = record.subarray(13, 13 + plaintext.length);
  t.same(Buffer.from(ct.map((b, i) => b ^ ks[i]!)), plaintext, 'ciphertext = plaintext XOR keystream');
  t.same(Buffer.from(ct.subarray(prefix.length).map((b) => b & 0x3f)), Buffer.from(wanted), 'chosen ciphertext bits are on the wire');
  t.same(await serverGot, plaintext, 'node:tls decrypts the record to the chosen plaintext');
  t.equal(conn.writeSequence, 2n);
  await rejectsTls(t, conn.writeRecord(Buffer.alloc(16385)), 'ERR_TLS_INVALID_STATE');
  const before = transport.bytes().length;
  await new Promise<void>((resolve) => conn.write(Buffer.alloc(0), () => resolve()));
  t.equal(transport.bytes().length, before, 'an empty write sends no empty record');
  conn.write(Buffer.alloc(40_000));
  await new Promise((r) => setImmediate(r));
  t.equal(conn.writeSequence, 5n, '40000 bytes go out as three records');
  conn.destroy();
  await srv.close();
});

t.test('a station holding the secrets continues the session in both directions at sequence 1', async (t) => {
  for (const suite of [0xc02f, 0xc030, 0xcca8]) {
    const srv = await startNodeServer({ ...rsa, ciphers: OPENSSL_SUITE_NAMES[suite] }, () => {});
    // The "station" sits on the path: it forwards the handshake, then takes the connection over.
    const upstream = netConnect({ port: srv.port, host: '127.0.0.1' });
    const { Duplex } = await import('node:stream');
    let takenOver = false;
    const fromStation: Buffer[] = [];
    let onClientRecord: (b: Buffer) => void = () => {};
    const path = new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        if (takenOver) onClientRecord(chunk);
        else upstream.write(chunk);
        cb();
      },
    });
    upstream.on('data', (d) => { if (!takenOver) path.push(d); });
    const conn = await connectTls(path, { serverName: 'decoy.test', ca, profile: narrowProfile([suite]) });
    takenOver = true;
    upstream.destroy();
    const station = createSessionFromSecrets({ ...conn.secrets(), role: 'server' });
    const got = new Promise<Buffer>((resolve) => { onClientRecord = resolve; });
    await conn.writeRecord(Buffer.from('GET / HTTP/1.1\r\nX-Ignore: tagged'));
    const opened = station.read.open(await got);
    t.equal(String(opened.plaintext), 'GET / HTTP/1.1\r\nX-Ignore: tagged', `station decrypts the client record (${suite.toString(16)})`);
    fromStation.push(station.write.seal(23, Buffer.from('hello from the station')));
    path.push(fromStation[0]);
    t.equal(String(await readBytes(conn, 22)), 'hello from the station', 'client decrypts the station record');
    conn.destroy();
    await srv.close();
  }
});

t.test('certificate failures end with a typed error and a destroyed socket', async (t) => {
  const cases = [
    ['wrong host name', rsa, { serverName: 'other.test', ca }, 'ERR_TLS_CERT_HOSTNAME'],
    ['expired certificate', { key: pki.expired.key, cert: pki.expired.cert }, { ca }, 'ERR_TLS_CERT_EXPIRED'],
    ['self-signed certificate without a pin', { key: pki.selfSigned.key, cert: pki.selfSigned.cert }, { ca }, 'ERR_TLS_CERT_UNTRUSTED'],
    ['test CA not among the system roots', rsa, {}, 'ERR_TLS_CERT_UNTRUSTED'],
    ['pinned certificate mismatch', rsa, { pinnedCertificate: pki.selfSigned.cert }, 'ERR_TLS_CERT_UNTRUSTED'],
  ] as const;
  for (const [name, creds, opts, code] of cases) {
    const srv = await startNodeServer(creds);
    let alert: string | undefined;
    srv.server.on('tlsClientError', (e: Error & { code?: string }) => { alert = e.code; });
    const { socket, conn } = dial(srv.port, opts);
    const err = await rejectsTls(t, conn, code, name);
    await destroyed(socket);
    t.ok(socket.destroyed, `${name}: socket destroyed`);
    t.ok(err?.context['alert'], `${name}: alert ${String(err?.context['alert'])} reported`);
    await new Promise((r) => setTimeout(r, 20));
    t.match(alert ?? '', /ALERT|ECONNRESET/, `${name}: server saw our alert or the reset (${alert})`);
    await srv.close();
  }
});

t.test('pins: a self-signed decoy certificate is accepted when pinned', async (t) => {
  const srv = await startNodeServer({ key: pki.selfSigned.key, cert: pki.selfSigned.cert });
  const conn = await dial(srv.port, { pinnedCertificate: pki.selfSigned.cert }).conn;
  t.equal(conn.peerCertificate.fingerprint256, new (await import('node:crypto')).X509Certificate(pki.selfSigned.cert).fingerprint256);
  conn.destroy();
  const byIp = await dial(srv.port, { serverName: '127.0.0.1', dangerouslySkipVerification: true }).conn;
  t.ok(byIp.peerCertificate, 'dangerouslySkipVerification accepts anything');
  byIp.destroy();
  await srv.close();
  const ip = await startNodeServer(rsa);
  const c = await dial(ip.port, { serverName: '127.0.0.1', ca }).conn;
  t.equal(c.peerCertificate.checkIP('127.0.0.1'), '127.0.0.1', 'IP address checked against the IP SAN');
  c.destroy();
  await ip.close();
});

t.test('a TLS 1.0/1.1-only server is refused with protocol_version', async (t) => {
  const srv = await startNodeServer({ ...rsa, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  const { socket, conn } = dial(srv.port, { ca });
  const err = await rejectsTls(t, conn, 'ERR_TLS_PROTOCOL_VERSION');
  t.equal(err?.context['alert'], 'protocol_version');
  await destroyed(socket);
  t.ok(socket.destroyed);
  await srv.close();
});

t.test('a server alert during the handshake is reported with its description', async (t) => {
  const srv = await startNodeServer({ ...rsa, ciphers: 'AES128-SHA' }); // nothing in common with narrowProfile
  const { socket, conn } = dial(srv.port, { ca, profile: narrowProfile([0xc02f]) });
  const err = await rejectsTls(t, conn, 'ERR_TLS_ALERT_RECEIVED');
  t.equal(err?.context['alert'], 'handshake_failure');
  await destroyed(socket);
  await srv.close();
});

t.test('server-initiated renegotiation is refused with a typed error', async (t) => {
  const srv = await startNodeServer(rsa, (s) => { s.once('data', () => s.renegotiate({}, () => {})); });
  const { socket, conn: p } = dial(srv.port, { ca });
  const conn = await p;
  const failed = new Promise<unknown>((resolve) => conn.on('error', resolve));
  conn.write('please renegotiate');
  const err = await failed;
  t.ok(err instanceof TlsError);
  t.equal((err as TlsError).code, 'ERR_TLS_RENEGOTIATION_REFUSED');
  await destroyed(socket);
  await srv.close();
});

t.test('records are opened in place only in a net.Socket\'s own reads: another transport\'s chunks stay as given', async (t) => {
  const srv = await startNodeServer(rsa);
  const raw = netConnect({ port: srv.port, host: '127.0.0.1' });
  // A transport that keeps every chunk it hands over, and a copy to compare with later.
  const given: Array<[Buffer, Buffer]> = [];
  const transport = new RecordingTransport(raw);
  const push = transport.push.bind(transport);
  transport.push = (chunk: unknown, enc?: BufferEncoding): boolean => {
    if (Buffer.isBuffer(chunk)) given.push([chunk, Buffer.from(chunk)]);
    return push(chunk, enc);
  };
  const conn = await connectTls(transport, { serverName: 'decoy.test', ca });
  const msg = randomBytes(200_000);
  conn.write(msg);
  t.same(await readBytes(conn, msg.length), msg, 'echo intact');
  t.ok(given.length > 3, `${given.length} chunks`);
  t.ok(given.every(([kept, copy]) => kept.equals(copy)), 'no chunk the transport handed over was overwritten');
  conn.destroy();
  await srv.close();
});

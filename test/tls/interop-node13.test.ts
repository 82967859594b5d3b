import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { CHROME_62, CHROMIUM_156 } from '../../src/tls/profiles.js';
import { NamedGroup } from '../../src/tls/wire.js';
import { dial, makePki, readBytes, startNodeServer } from './helpers/fixtures.js';
import { rejectsTls } from './helpers/assert.js';

const pki = makePki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;
const rsa = { key: pki.rsa.key, cert: pki.rsa.cert };
const ecdsa = { key: pki.ecdsa.key, cert: pki.ecdsa.cert };

t.test('TLS 1.3 with node:tls for every suite and both key types, data both ways', async (t) => {
  for (const [suite, name] of [[0x1301, 'TLS_AES_128_GCM_SHA256'], [0x1302, 'TLS_AES_256_GCM_SHA384'], [0x1303, 'TLS_CHACHA20_POLY1305_SHA256']] as const) {
    for (const creds of [rsa, ecdsa]) {
      const srv = await startNodeServer({ ...creds, maxVersion: 'TLSv1.3', ciphers: name });
      const conn = await dial(srv.port, { ca, profile: CHROMIUM_156 }).conn;
      t.equal(conn.protocolVersion, 0x0304);
      t.equal(conn.cipherSuite.name, name, `${name} with ${creds === rsa ? 'RSA' : 'ECDSA'}`);
      const data = randomBytes(70_000);
      conn.write(data);
      t.same(await readBytes(conn, data.length), data, 'echo of 70 kB (several records)');
      t.equal(srv.sockets[0]!.getCipher().standardName, name, 'the server agrees on the suite');
      conn.destroy();
      await srv.close();
    }
  }
});

t.test('node:tls picks X25519 from our shares, or asks for P-256 / P-384 with a HelloRetryRequest', async (t) => {
  for (const [curve, group, retried] of [['X25519', NamedGroup.x25519, false], ['P-256', NamedGroup.secp256r1, true], ['P-384', NamedGroup.secp384r1, true]] as const) {
    const srv = await startNodeServer({ ...rsa, maxVersion: 'TLSv1.3', ecdhCurve: curve });
    const conn = await dial(srv.port, { ca, profile: CHROMIUM_156 }).conn;
    t.equal(conn.group, group, curve);
    t.equal(conn.negotiatedParameters.helloRetried, retried);
    conn.write('ok');
    t.equal(String(await readBytes(conn, 2)), 'ok');
    conn.destroy();
    await srv.close();
  }
});

t.test('ALPN, tickets and a 1 MB download over TLS 1.3', async (t) => {
  const body = randomBytes(1 << 20);
  const srv = await startNodeServer({ ...rsa, maxVersion: 'TLSv1.3', ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
    s.once('data', () => s.end(body));
  });
  const conn = await dial(srv.port, { ca, profile: CHROMIUM_156 }).conn;
  t.equal(conn.alpnProtocol, 'h2');
  conn.write('go');
  const got = await readBytes(conn, body.length);
  t.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(body).digest('hex'));
  t.equal(conn.ticketsReceived, 2, 'OpenSSL sends two tickets after our Finished');
  conn.destroy();
  await srv.close();
});

t.test('the Chromium profile falls back to TLS 1.2 with a TLS 1.2-only server; Chrome 62 cannot reach a TLS 1.3-only one', async (t) => {
  const srv = await startNodeServer({ ...rsa, maxVersion: 'TLSv1.2' });
  const conn = await dial(srv.port, { ca, profile: CHROMIUM_156 }).conn;
  t.equal(conn.protocolVersion, 0x0303, 'no downgrade sentinel from a server configured for TLS 1.2');
  t.equal(conn.secrets().masterSecret.length, 48);
  conn.destroy();
  await srv.close();
  const only13 = await startNodeServer({ ...rsa, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  await rejectsTls(t, dial(only13.port, { ca, profile: CHROME_62 }).conn, 'ERR_TLS_ALERT_RECEIVED');
  await only13.close();
});

import t, { type Test } from 'tap';
import type { TlsOptions } from 'node:tls';
import { AES_128_GCM_ONLY, probeTls, suiteName } from '../../src/decoys/tls-probe.js';
import { isGrease } from '../../src/tls/client-hello.js';
import { makeDecoyPki, startTls } from './servers.js';

const pki = makeDecoyPki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;

async function probe(t: Test, options: TlsOptions, serverName = 'decoy.test'): ReturnType<typeof probeTls> {
  const server = await startTls(pki, (s) => s.resume(), options);
  t.teardown(() => server.close());
  return probeTls({ serverName, address: '127.0.0.1', port: server.port }, { ca });
}

t.test('the AES-128-GCM-only hello is Chrome 62 with three suites', async (t) => {
  t.same(AES_128_GCM_ONLY.cipherSuites.filter((s) => typeof s === 'number'), [0xc02b, 0xc02f, 0x009c]);
  t.same(AES_128_GCM_ONLY.extensions, (await import('../../src/tls/profiles.js')).CHROME_62.extensions);
  t.notOk(AES_128_GCM_ONLY.cipherSuites.some((s) => typeof s === 'number' && isGrease(s)));
});

t.test('reports the AES-GCM suite a server picks and confirms AES-128-GCM alone', async (t) => {
  const r = await probe(t, { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384', honorCipherOrder: true });
  t.same({ ok: r.chrome62.ok, suite: r.chrome62.suite, aead: r.chrome62.aead, version: r.chrome62.version },
    { ok: true, suite: 0xc02f, aead: 'aes-128-gcm', version: 'TLS 1.2' });
  t.equal(r.aes128Gcm?.ok, true);
  t.equal(r.aes128Gcm?.suite, 0xc02f);
  t.match(r.certificate?.subject, /CN=decoy\.test/);
});

t.test('reports the CBC suite a server prefers, which the client cannot use, and the failed AES-128-GCM hello', async (t) => {
  const r = await probe(t, { ciphers: 'ECDHE-RSA-AES128-SHA' });
  t.same({ ok: r.chrome62.ok, code: r.chrome62.failure?.code, suite: r.chrome62.suite, name: r.chrome62.suiteName },
    { ok: false, code: 'ERR_TLS_UNSUPPORTED_SUITE', suite: 0xc013, name: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA' });
  t.equal(r.aes128Gcm?.ok, false);
  t.equal(r.aes128Gcm?.failure?.code, 'ERR_TLS_ALERT_RECEIVED');
  t.equal(r.certificate, null);
});

t.test('a server with AES-256-GCM only passes Chrome 62 but fails the AES-128-GCM hello', async (t) => {
  const r = await probe(t, { ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' });
  t.same({ suite: r.chrome62.suite, aead: r.chrome62.aead }, { suite: 0xc030, aead: 'aes-256-gcm' });
  t.equal(r.aes128Gcm?.ok, false);
  t.ok(r.certificate !== null, 'the certificate of the completed handshake is reported');
});

t.test('a server preferring ChaCha20 is reported as such', async (t) => {
  const r = await probe(t, { ciphers: 'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256', honorCipherOrder: true });
  t.same({ suite: r.chrome62.suite, aead: r.chrome62.aead }, { suite: 0xcca8, aead: 'chacha20-poly1305' });
  t.equal(r.aes128Gcm?.ok, true);
});

t.test('a wrong certificate name stops the probe after one handshake', async (t) => {
  const r = await probe(t, {}, 'wrong.test');
  t.equal(r.chrome62.failure?.code, 'ERR_TLS_CERT_HOSTNAME');
  t.equal(r.aes128Gcm, null);
});

t.test('a TLS 1.3-only server fails both hellos', async (t) => {
  const r = await probe(t, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  t.equal(r.chrome62.ok, false);
  t.equal(r.chrome62.failure?.code, 'ERR_TLS_ALERT_RECEIVED');
  t.equal(r.chrome62.failure?.context?.['alert'], 'protocol_version');
  t.equal(r.aes128Gcm?.ok, false);
});

t.test('names suites, including ones the client does not run', async (t) => {
  t.equal(suiteName(0xc02f), 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
  t.equal(suiteName(0x000a), 'TLS_RSA_WITH_3DES_EDE_CBC_SHA');
  t.equal(suiteName(0x1301), '0x1301');
});

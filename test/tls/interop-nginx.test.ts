import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startNginx, type NginxServer } from '../../src/testbed/nginx.js';
import { NamedGroup } from '../../src/tls/wire.js';
import type { TlsConnection } from '../../src/tls/connection.js';
import { CHROMIUM_156 } from '../../src/tls/profiles.js';
import { dial, makePki, narrowProfile, readAll } from './helpers/fixtures.js';

const pki = makePki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;
const big = randomBytes(1 << 20);

/** Start Debian's nginx on 127.0.0.1 at a random high port (retrying if the port is taken). */
async function nginx(name: string, cert: { certPath: string; keyPath: string }, protocols = 'TLSv1.2', http2 = false): Promise<{ srv: NginxServer; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    try {
      const srv = await startNginx({
        prefix: join(pki.dir, `nginx-${name}-${attempt}`), listen: [{ address: '127.0.0.1', port, ...(http2 ? { http2 } : {}) }],
        certPath: cert.certPath, keyPath: cert.keyPath, protocols,
        files: { 'index.html': `decoy ${name}\n`, 'big.bin': big },
      });
      return { srv, port };
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
}

async function get(conn: TlsConnection, path: string): Promise<{ head: string; body: Buffer }> {
  const all = readAll(conn);
  conn.write(`GET ${path} HTTP/1.1\r\nHost: decoy.test\r\nConnection: close\r\n\r\n`);
  const res = await all;
  const split = res.indexOf('\r\n\r\n');
  return { head: res.subarray(0, split).toString('latin1'), body: res.subarray(split + 4) };
}

const servers = {
  rsa: await nginx('rsa', pki.rsa), ecdsa: await nginx('ecdsa', pki.ecdsa),
  tls13: await nginx('tls13', pki.ecdsa, 'TLSv1.3', true), both: await nginx('both', pki.rsa, 'TLSv1.2 TLSv1.3'),
};
t.teardown(async () => { for (const s of Object.values(servers)) await s.srv.stop(); });

t.test('serves HTTP over every supported suite with RSA and ECDSA certificates', async (t) => {
  const cases = [
    ['rsa', 0xc02f], ['rsa', 0xc030], ['rsa', 0xcca8], ['rsa', 0x009c], ['rsa', 0x009d],
    ['ecdsa', 0xc02b], ['ecdsa', 0xc02c], ['ecdsa', 0xcca9],
  ] as const;
  for (const [kind, suite] of cases) {
    const conn = await dial(servers[kind].port, { ca, profile: narrowProfile([suite]), alpnProtocols: ['http/1.1'] }).conn;
    t.equal(conn.cipherSuite.id, suite, `${kind} ${conn.cipherSuite.name}`);
    t.equal(conn.alpnProtocol, 'http/1.1');
    const { head, body } = await get(conn, '/');
    t.match(head, /^HTTP\/1\.1 200 OK/);
    t.equal(String(body), `decoy ${kind}\n`);
  }
});

t.test('agrees on X25519, P-256 and P-384 with nginx', async (t) => {
  for (const group of [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1]) {
    // RSA certificate: OpenSSL also checks an ECDSA certificate's curve against our group list.
    const conn = await dial(servers.rsa.port, { ca, profile: narrowProfile([0xc02f], [group]) }).conn;
    t.equal(conn.group, group);
    t.match((await get(conn, '/')).head, /200 OK/);
  }
});

t.test('downloads a megabyte and uploads a request with the default Chrome 62 profile', async (t) => {
  const conn = await dial(servers.rsa.port, { ca }).conn;
  t.equal(conn.cipherSuite.id, 0xc02f, 'nginx picks AES-128-GCM from the Chrome 62 list');
  t.equal(conn.extendedMasterSecret, true);
  t.not(conn.alpnProtocol, 'h2', 'h2 is offered but this nginx does not speak it');
  const { head, body } = await get(conn, '/big.bin');
  t.match(head, /200 OK/);
  t.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  t.match(servers.rsa.srv.accessLog(), /"GET \/big.bin HTTP\/1.1" 200/);
});

t.test('TLS 1.3 with the Chromium profile: nginx picks X25519, h2 when offered, and serves HTTP', async (t) => {
  const conn = await dial(servers.both.port, { ca, profile: CHROMIUM_156, alpnProtocols: ['http/1.1'] }).conn;
  t.equal(conn.protocolVersion, 0x0304);
  t.equal(conn.group, NamedGroup.x25519, 'OpenSSL 3.0 has no ML-KEM: it takes our X25519 share');
  const { head, body } = await get(conn, '/big.bin');
  t.match(head, /200 OK/);
  t.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(big).digest('hex'), '1 MB over TLS 1.3');
  t.ok(conn.ticketsReceived >= 1, `nginx sent ${conn.ticketsReceived} tickets`);
  const h2 = await dial(servers.tls13.port, { ca, profile: CHROMIUM_156 }).conn;
  t.equal(h2.protocolVersion, 0x0304);
  t.equal(h2.alpnProtocol, 'h2');
  t.equal(h2.negotiatedParameters.signatureScheme, 0x0403, 'ECDSA P-256 CertificateVerify');
  h2.destroy();
  const old = await dial(servers.both.port, { ca }).conn;
  t.equal(old.protocolVersion, 0x0303, 'Chrome 62 still gets TLS 1.2 from the same server');
  old.destroy();
});

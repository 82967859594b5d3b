import t from 'tap';
import { connect } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { TestCa } from '../../src/testbed/pki.js';
import { startNginx } from '../../src/testbed/nginx.js';

const dir = mkdtempSync(join(tmpdir(), 'td-pki-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ca = TestCa.create(join(dir, 'pki'));

t.test('issues CA-signed, self-signed and expired leaves of both key kinds', async (t) => {
  const root = new X509Certificate(ca.root.cert);
  for (const keyKind of ['rsa', 'ecdsa'] as const) {
    const leaf = new X509Certificate(ca.issue({ commonName: 'decoy.test', keyKind, ipAddresses: ['127.0.0.1'] }).cert);
    t.ok(leaf.verify(root.publicKey), `${keyKind} leaf signed by CA`);
    t.equal(leaf.checkHost('decoy.test'), 'decoy.test');
    t.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    t.equal(leaf.publicKey.asymmetricKeyType, keyKind === 'rsa' ? 'rsa' : 'ec');
  }
  const self = new X509Certificate(ca.issue({ commonName: 'self.test', selfSigned: true }).cert);
  t.ok(self.verify(self.publicKey), 'self-signed verifies with its own key');
  t.notOk(self.verify(root.publicKey));
  const old = new X509Certificate(ca.issue({ commonName: 'old.test', expired: true }).cert);
  t.ok(new Date(old.validTo).getTime() < Date.now(), 'expired leaf ends in the past');
  t.ok(old.verify(root.publicKey));
});

t.test('nginx serves TLS with the issued certificate and logs the request', async (t) => {
  const leaf = ca.issue({ commonName: 'decoy.test' });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const srv = await startNginx({
    prefix: join(dir, 'nginx'), listen: [{ address: '127.0.0.1', port }],
    certPath: leaf.certPath, keyPath: leaf.keyPath, protocols: 'TLSv1.2',
    files: { 'index.html': 'decoy ok\n' },
  });
  t.teardown(() => srv.stop());
  const body = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'decoy.test', ca: ca.root.cert }, () => {
      t.equal(s.getProtocol(), 'TLSv1.2');
      s.end('GET / HTTP/1.1\r\nHost: decoy.test\r\nConnection: close\r\n\r\n');
    });
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
  t.match(body, /^HTTP\/1\.1 200 OK/);
  t.match(body, /decoy ok/);
  await srv.stop();
  t.match(srv.accessLog(), /"GET \/ HTTP\/1\.1" 200/);
});

t.test('nginx start-up reports a rejected configuration', async (t) => {
  await t.rejects(startNginx({ prefix: join(dir, 'bad'), listen: [{ address: '127.0.0.1', port: 1 }],
    certPath: '/nonexistent.pem', keyPath: '/nonexistent.key' }), /configuration rejected/);
});

import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustStore, systemTrustStore, verifyCertificateChain } from '../../src/tls/certificate-verifier.js';
import { makePki } from './helpers/fixtures.js';
import { throwsTls } from './helpers/assert.js';

const pki = makePki();
t.teardown(() => pki.cleanup());
const dir = pki.ca.dir;
const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }); };
const der = (pemPath: string): Buffer => new X509Certificate(readFileSync(join(dir, pemPath))).raw;

/** Issue a certificate with openssl: `name` signed by `issuer` (files name.key/name.pem), with extension lines. */
function issue(name: string, issuer: string, subject: string, ext: string, days = 2, reuseKey?: string): Buffer {
  const key = reuseKey ?? `${name}.key`;
  if (reuseKey === undefined) openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key);
  openssl('req', '-new', '-key', key, '-out', `${name}.csr`, '-subj', `/CN=${subject}`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', String(Math.floor(Math.random() * 1e9)),
    '-out', `${name}.pem`, '-days', String(days), '-extfile', `${name}.ext`);
  return der(`${name}.pem`);
}

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
const leafExt = (san: string, eku = 'serverAuth'): string =>
  `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${eku}\nsubjectAltName=${san}\n`;

const inter = issue('inter', 'ca', 'test intermediate', CA_EXT);
const leaf = issue('leaf-i', 'inter', 'decoy.test', leafExt('DNS:decoy.test,DNS:*.wild.test,IP:127.0.0.1'));
const notCa = issue('notca', 'ca', 'not a CA', leafExt('DNS:notca.test'));
const underNotCa = issue('leaf-n', 'notca', 'decoy.test', leafExt('DNS:decoy.test'));
const clientOnly = issue('leaf-c', 'ca', 'decoy.test', leafExt('DNS:decoy.test', 'clientAuth'));
const ca = pki.ca.root.cert;

t.test('builds leaf → intermediate → root and checks names and addresses', async (t) => {
  const v = verifyCertificateChain([leaf, inter], { serverName: 'decoy.test', ca });
  t.equal(v.path.length, 3);
  t.equal(v.path[2]!.subject, 'CN=tapdance test CA');
  verifyCertificateChain([leaf, inter], { serverName: 'a.wild.test', ca });
  verifyCertificateChain([leaf, inter], { serverName: '127.0.0.1', ca });
  verifyCertificateChain([leaf, inter], { serverName: 'decoy.test.', ca });
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { serverName: 'a.b.wild.test', ca }), 'ERR_TLS_CERT_HOSTNAME', 'wildcard covers one label');
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { serverName: 'wild.test', ca }), 'ERR_TLS_CERT_HOSTNAME', 'wildcard does not cover the parent');
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { serverName: '127.0.0.2', ca }), 'ERR_TLS_CERT_HOSTNAME');
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { ca }), 'ERR_TLS_CERT_HOSTNAME', 'no name to check');
});

t.test('accepts unordered and padded chains, refuses missing or non-CA intermediates', async (t) => {
  t.equal(verifyCertificateChain([leaf, notCa, der('ca.pem'), inter], { serverName: 'decoy.test', ca }).path.length, 3);
  throwsTls(t, () => verifyCertificateChain([leaf], { serverName: 'decoy.test', ca }), 'ERR_TLS_CERT_UNTRUSTED', 'missing intermediate');
  throwsTls(t, () => verifyCertificateChain([underNotCa, notCa], { serverName: 'decoy.test', ca }), 'ERR_TLS_CERT_UNTRUSTED', 'issuer is not a CA');
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { serverName: 'decoy.test', ca: pki.selfSigned.cert }), 'ERR_TLS_CERT_UNTRUSTED', 'other anchor');
});

t.test('prefers a path that is valid now when an expired alternative comes first', async (t) => {
  // Two intermediates with the same name and key, one shorter-lived (like a cross-sign that expired).
  const shortLived = issue('inter-short', 'ca', 'test intermediate 2', CA_EXT, 2);
  const longLived = issue('inter-long', 'ca', 'test intermediate 2', CA_EXT, 3, 'inter-short.key');
  writeFileSync(join(dir, 'inter2.key'), readFileSync(join(dir, 'inter-short.key')));
  writeFileSync(join(dir, 'inter2.pem'), readFileSync(join(dir, 'inter-long.pem')));
  const leaf2 = issue('leaf-2', 'inter2', 'decoy.test', leafExt('DNS:decoy.test'), 3);
  const later = new Date(Date.now() + 2.5 * 86400_000);
  const v = verifyCertificateChain([leaf2, shortLived, longLived], { serverName: 'decoy.test', ca, now: later });
  t.ok(v.path[1]!.raw.equals(longLived), 'the still-valid intermediate was chosen');
  throwsTls(t, () => verifyCertificateChain([leaf2, shortLived], { serverName: 'decoy.test', ca, now: later }), 'ERR_TLS_CERT_EXPIRED',
    'with only the expired one, expiry is reported');
});

t.test('checks validity periods and the server-auth key usage', async (t) => {
  const later = new Date(Date.now() + 10 * 86400_000);
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { serverName: 'decoy.test', ca, now: later }), 'ERR_TLS_CERT_EXPIRED');
  throwsTls(t, () => verifyCertificateChain([new X509Certificate(pki.expired.cert).raw], { serverName: 'decoy.test', ca }), 'ERR_TLS_CERT_EXPIRED');
  throwsTls(t, () => verifyCertificateChain([clientOnly], { serverName: 'decoy.test', ca }), 'ERR_TLS_BAD_CERTIFICATE', 'clientAuth-only leaf');
});

t.test('pins compare the exact certificate and accept PEM, DER or parsed forms', async (t) => {
  const self = new X509Certificate(pki.selfSigned.cert);
  for (const pin of [pki.selfSigned.cert, self.raw, self]) {
    t.equal(verifyCertificateChain([self.raw], { pinnedCertificate: pin }).leaf.fingerprint256, self.fingerprint256);
  }
  throwsTls(t, () => verifyCertificateChain([leaf], { pinnedCertificate: self }), 'ERR_TLS_CERT_UNTRUSTED');
  t.ok(verifyCertificateChain([leaf], { dangerouslySkipVerification: true }).leaf);
  t.ok(verifyCertificateChain([self.raw], { serverName: 'decoy.test', ca: pki.selfSigned.cert }), 'a self-signed leaf given as ca is trusted');
});

t.test('uses the system roots by default and rejects garbage', async (t) => {
  t.ok(systemTrustStore() === systemTrustStore(), 'parsed once');
  throwsTls(t, () => verifyCertificateChain([leaf, inter], { serverName: 'decoy.test' }), 'ERR_TLS_CERT_UNTRUSTED');
  const store = new TrustStore([new X509Certificate(ca)]);
  t.equal(verifyCertificateChain([leaf, inter], { serverName: 'decoy.test' }, store).path.length, 3, 'an explicit store');
  throwsTls(t, () => verifyCertificateChain([], { serverName: 'decoy.test', ca }), 'ERR_TLS_BAD_CERTIFICATE');
  throwsTls(t, () => verifyCertificateChain([Buffer.from('not a certificate')], { serverName: 'decoy.test', ca }), 'ERR_TLS_BAD_CERTIFICATE');
  throwsTls(t, () => verifyCertificateChain([leaf], { serverName: 'decoy.test', ca: 'no pem here' }), 'ERR_TLS_INVALID_STATE');
});

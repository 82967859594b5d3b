import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deriveKeyBlock, deriveMasterSecret, finishedVerifyData, prf12 } from '../../src/tls/tls12-keys.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { throwsTls } from './helpers/assert.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const vectors = JSON.parse(readFileSync(new URL('../vectors/tapdance.json', import.meta.url), 'utf8'));

/** OpenSSL's TLS1-PRF, an independent implementation to compare against. */
function opensslPrf(hash: 'sha256' | 'sha384', secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const out = execFileSync('openssl', ['kdf', '-keylen', String(length), '-kdfopt', `digest:${hash.toUpperCase()}`,
    '-kdfopt', `hexsecret:${secret.toString('hex')}`,
    '-kdfopt', `hexseed:${Buffer.concat([Buffer.from(label), seed]).toString('hex')}`, 'TLS1-PRF'], { encoding: 'utf8' });
  return Buffer.from(out.trim().replace(/:/g, ''), 'hex');
}

t.test('prf12 reproduces the published SHA-256 TLS 1.2 PRF test vector', async (t) => {
  // The widely circulated IETF TLS WG vector (secret/seed/"test label", 100 bytes).
  const out = prf12('sha256', hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
  t.equal(out.toString('hex'), 'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701873' + '47b66');
});

t.test('prf12 agrees with OpenSSL TLS1-PRF for both hashes and odd lengths', async (t) => {
  for (const hash of ['sha256', 'sha384'] as const) {
    for (const length of [1, 12, 48, 63, 104, 200]) {
      const secret = randomBytes(48);
      const seed = randomBytes(64);
      t.same(prf12(hash, secret, 'key expansion', seed, length), opensslPrf(hash, secret, 'key expansion', seed, length),
        `${hash} ${length} bytes`);
    }
  }
});

t.test('deriveKeyBlock reproduces the tapdance libtapdance key block vector', async (t) => {
  const v = vectors.tls12_key_block_and_first_app_record;
  const kb = deriveKeyBlock(parseInt(v.cipher_suite, 16), hex(v.master_secret), hex(v.client_random), hex(v.server_random));
  t.equal(Buffer.from(kb.clientWriteKey).toString('hex'), v.expected_client_write_key);
  t.equal(Buffer.from(kb.clientWriteIv).toString('hex'), v.expected_client_write_iv);
  t.equal(kb.serverWriteKey.length, 16);
  t.equal(kb.serverWriteIv.length, 4);
});

t.test('deriveKeyBlock splits the PRF output by suite sizes', async (t) => {
  const ms = randomBytes(48);
  const cr = randomBytes(32);
  const sr = randomBytes(32);
  const cases = [[0xc02f, 'sha256', 16, 4], [0xc030, 'sha384', 32, 4], [0xcca8, 'sha256', 32, 12], [0x009d, 'sha384', 32, 4]] as const;
  for (const [suite, hash, k, iv] of cases) {
    const block = opensslPrf(hash, ms, 'key expansion', Buffer.concat([sr, cr]), 2 * k + 2 * iv);
    const kb = deriveKeyBlock(suite, ms, cr, sr);
    t.same(Buffer.concat([kb.clientWriteKey, kb.serverWriteKey, kb.clientWriteIv, kb.serverWriteIv]), block,
      `suite ${suite.toString(16)}`);
  }
});

t.test('deriveKeyBlock rejects unknown suites and wrong lengths with typed errors', async (t) => {
  const ms = randomBytes(48);
  const r = randomBytes(32);
  throwsTls(t, () => deriveKeyBlock(0xc013, ms, r, r), 'ERR_TLS_UNSUPPORTED_SUITE');
  t.throws(() => deriveKeyBlock(0xc02f, ms.subarray(1), r, r), InvalidArgumentError);
  t.throws(() => deriveKeyBlock(0xc02f, ms, r.subarray(1), r), InvalidArgumentError);
  t.throws(() => deriveKeyBlock(0xc02f, ms, r, Buffer.alloc(33)), InvalidArgumentError);
});

t.test('master secrets and Finished use the RFC labels and seeds', async (t) => {
  const pms = randomBytes(32);
  const cr = randomBytes(32);
  const sr = randomBytes(32);
  const sessionHash = randomBytes(48);
  t.same(deriveMasterSecret('sha256', pms, { clientRandom: cr, serverRandom: sr }),
    opensslPrf('sha256', pms, 'master secret', Buffer.concat([cr, sr]), 48));
  t.same(deriveMasterSecret('sha384', pms, { sessionHash }), opensslPrf('sha384', pms, 'extended master secret', sessionHash, 48));
  const ms = randomBytes(48);
  t.same(finishedVerifyData('sha256', ms, 'server', sessionHash.subarray(0, 32)),
    opensslPrf('sha256', ms, 'server finished', sessionHash.subarray(0, 32), 12));
});

import t from 'tap';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RecordProtection, createSessionFromSecrets } from '../../src/tls/record-layer.js';
import { CIPHER_SUITES } from '../../src/tls/cipher-suites.js';
import { deriveKeyBlock } from '../../src/tls/tls12-keys.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { throwsTls } from './helpers/assert.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const v = JSON.parse(readFileSync(new URL('../vectors/tapdance.json', import.meta.url), 'utf8')).tls12_key_block_and_first_app_record;
const secrets = {
  suite: parseInt(v.cipher_suite, 16), masterSecret: hex(v.master_secret),
  clientRandom: hex(v.client_random), serverRandom: hex(v.server_random),
};

function pair(suite: number, seq = 0n, native = true): { w: RecordProtection; r: RecordProtection } {
  const info = CIPHER_SUITES.get(suite)!;
  const key = randomBytes(info.keyLength);
  const iv = randomBytes(info.fixedIvLength);
  return { w: new RecordProtection({ suite, key, iv, seq, native }), r: new RecordProtection({ suite, key, iv, seq, native }) };
}

t.test('the station session opens the vector record at sequence 1 and only there', async (t) => {
  const station = createSessionFromSecrets({ ...secrets, role: 'server' });
  t.equal(station.read.sequence, 1n);
  const { contentType, plaintext } = station.read.open(hex(v.record));
  t.equal(contentType, 23);
  t.ok(plaintext.toString('latin1').startsWith(v.expected_plaintext_prefix_ascii), 'plaintext is the incomplete GET');
  t.equal(plaintext.length, 296);
  t.equal(station.read.sequence, 2n);
  for (const readSeq of [0n, 2n]) {
    const wrong = createSessionFromSecrets({ ...secrets, role: 'server', readSeq });
    throwsTls(t, () => wrong.read.open(hex(v.record)), 'ERR_TLS_BAD_RECORD_MAC', `seq ${readSeq} fails`);
    t.equal(wrong.read.sequence, readSeq, 'a failed open consumes no sequence number');
  }
});

t.test('station and client sessions from the same secrets talk to each other in both directions', async (t) => {
  for (const suite of CIPHER_SUITES.keys()) {
    const s = { ...secrets, suite };
    const station = createSessionFromSecrets({ ...s, role: 'server' });
    const client = createSessionFromSecrets({ ...s, role: 'client' });
    const up = client.write.seal(23, Buffer.from('GET / HTTP/1.1\r\n'));
    t.equal(station.read.open(up).plaintext.toString(), 'GET / HTTP/1.1\r\n');
    const down = station.write.seal(23, Buffer.from('from station'));
    t.equal(client.read.open(down).plaintext.toString(), 'from station', `suite ${suite.toString(16)}`);
    t.throws(() => station.read.open(down), { code: 'ERR_TLS_BAD_RECORD_MAC' }, 'own direction key does not open');
  }
});

t.test('GCM records carry the sequence number as explicit nonce and a correct header', async (t) => {
  const { w } = pair(0xc02f, 7n);
  const rec = w.seal(23, Buffer.from('hello'));
  t.same([...rec.subarray(0, 5)], [23, 3, 3, 0, 8 + 5 + 16]);
  t.equal(rec.readBigUInt64BE(5), 7n);
  t.equal(w.sequence, 8n);
  const { w: c } = pair(0xcca8);
  t.equal(c.seal(23, Buffer.from('hello')).length, 5 + 5 + 16, 'chacha20 has no explicit nonce');
});

t.test('sealPieces gives the record seal gives for the joined pieces, without joining them', async (t) => {
  for (const [suite, native] of [...CIPHER_SUITES.keys()].flatMap((s) => [[s, false], [s, true]] as const)) {
    const { w, r } = pair(suite, 7n, native); // same key, IV and sequence number
    const pieces = [randomBytes(2), Buffer.alloc(0), randomBytes(16382)];
    const parts = w.sealPieces(23, pieces);
    if (native) t.equal(parts.length, 1, 'native: the whole record in one buffer');
    else t.equal(parts.length, 4, 'node:crypto: header, two ciphertexts (the empty piece adds none), tag');
    t.equal(w.sequence, 8n);
    t.equal(Buffer.concat(parts).toString('hex'), r.seal(23, Buffer.concat(pieces)).toString('hex'), `suite ${suite.toString(16)}`);
    t.throws(() => w.sealPieces(23, [randomBytes(16384), randomBytes(1)]), /exceeds/, 'more than 16384 bytes in all is refused');
    t.equal(w.sequence, 8n, 'a refused record takes no sequence number');
  }
});

t.test('keystream(n) predicts the ciphertext of the next record', async (t) => {
  for (const suite of CIPHER_SUITES.keys()) {
    const { w, r } = pair(suite, 1n);
    r.open(w.seal(23, randomBytes(10))); // move both to seq 2
    const plaintext = randomBytes(300);
    const ks = w.keystream(300);
    t.equal(w.sequence, 2n, 'keystream does not advance the sequence');
    const rec = w.seal(23, plaintext);
    const explicit = w.suite.explicitNonceLength;
    const ct = rec.subarray(5 + explicit, 5 + explicit + 300);
    t.same(Buffer.from(ct.map((b, i) => b ^ ks[i]!)), plaintext, `suite ${suite.toString(16)}`);
    t.same(r.open(rec).plaintext, plaintext);
  }
});

t.test('choosing ciphertext bits through the keystream decrypts to the derived plaintext', async (t) => {
  // The stego trick: pick the low 6 bits of each ciphertext byte, derive the plaintext from the keystream.
  const station = createSessionFromSecrets({ ...secrets, role: 'server' });
  const client = createSessionFromSecrets({ ...secrets, role: 'client' });
  const wanted = randomBytes(240).map((b) => b & 0x3f);
  const ks = client.write.keystream(240);
  const plaintext = Buffer.from(wanted.map((c, i) => (((ks[i]! & 0xc0) | c) ^ ks[i]!) + 0x40));
  const rec = client.write.seal(23, plaintext);
  const ct = rec.subarray(13, 13 + 240);
  t.same(Buffer.from(ct.map((b) => b & 0x3f)), Buffer.from(wanted), 'ciphertext carries the chosen bits');
  t.same(station.read.open(rec).plaintext, plaintext);
});

t.test('AES-GCM keystream starts at counter block IV4||seq8||00000002', async (t) => {
  const kb = deriveKeyBlock(0xc02f, secrets.masterSecret, secrets.clientRandom, secrets.serverRandom);
  const w = new RecordProtection({ suite: 0xc02f, key: kb.clientWriteKey, iv: kb.clientWriteIv, seq: 1n });
  const block = Buffer.concat([kb.clientWriteIv, hex('0000000000000001'), hex('00000002')]);
  const expected = createCipheriv('aes-128-ecb', kb.clientWriteKey, null).setAutoPadding(false).update(block);
  t.same(w.keystream(16), expected);
});

t.test('tampered, truncated and oversized records give typed errors', async (t) => {
  const { w, r } = pair(0xc02f);
  const rec = w.seal(23, Buffer.from('some data'));
  for (const i of [0, 3, 5, 13, rec.length - 1]) {
    const bad = Buffer.from(rec);
    bad[i]! ^= 1;
    // Flipping header bytes changes the AAD or the length; either is a typed error.
    t.ok(['ERR_TLS_BAD_RECORD_MAC', 'ERR_TLS_DECODE'].includes(throwsCode(() => r.open(bad))), `flip byte ${i}`);
  }
  throwsTls(t, () => r.open(rec.subarray(0, 3)), 'ERR_TLS_DECODE');
  throwsTls(t, () => r.open(rec.subarray(0, rec.length - 1)), 'ERR_TLS_DECODE');
  throwsTls(t, () => r.openFragment(23, 0x0303, Buffer.alloc(20)), 'ERR_TLS_BAD_RECORD_MAC');
  throwsTls(t, () => r.openFragment(23, 0x0303, Buffer.alloc(16384 + 2049)), 'ERR_TLS_RECORD_OVERFLOW');
  throwsTls(t, () => r.openFragment(23, 0x0303, Buffer.alloc(8 + 16384 + 1 + 16)), 'ERR_TLS_RECORD_OVERFLOW');
  throwsTls(t, () => w.seal(23, Buffer.alloc(16385)), 'ERR_TLS_INVALID_STATE');
  t.same(r.open(rec).plaintext.toString(), 'some data', 'the untampered record still opens afterwards');
});

t.test('sequence numbers are 64-bit and refuse to wrap', async (t) => {
  const { w, r } = pair(0xc02f, 0xffff_ffff_ffff_ffffn);
  const rec = w.seal(23, Buffer.from('last'));
  t.equal(r.open(rec).plaintext.toString(), 'last');
  throwsTls(t, () => w.seal(23, Buffer.from('one too many')), 'ERR_TLS_SEQUENCE_OVERFLOW');
  t.throws(() => new RecordProtection({ suite: 0xc02f, key: randomBytes(16), iv: randomBytes(4), seq: -1n }), InvalidArgumentError);
  t.throws(() => new RecordProtection({ suite: 0xc02f, key: randomBytes(15), iv: randomBytes(4) }), InvalidArgumentError);
  t.throws(() => new RecordProtection({ suite: 0xc02f, key: randomBytes(16), iv: randomBytes(12) }), InvalidArgumentError);
  throwsTls(t, () => new RecordProtection({ suite: 0xc013, key: randomBytes(16), iv: randomBytes(4) }), 'ERR_TLS_UNSUPPORTED_SUITE');
  t.throws(() => w.keystream(16385), InvalidArgumentError);
});

function throwsCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

t.test('consecutive records use the RFC 5288 and RFC 7905 nonces', async (t) => {
  for (const suite of CIPHER_SUITES.keys()) {
    const info = CIPHER_SUITES.get(suite)!;
    const key = randomBytes(info.keyLength);
    const iv = randomBytes(info.fixedIvLength);
    const w = new RecordProtection({ suite, key, iv, seq: 5n });
    for (let seq = 5n; seq < 9n; seq++) {
      const pt = randomBytes(50);
      const rec = w.seal(23, pt);
      const s8 = Buffer.alloc(8);
      s8.writeBigUInt64BE(seq);
      const nonce = info.explicitNonceLength > 0
        ? Buffer.concat([iv, s8])
        : Buffer.from(iv.map((b, i) => b ^ (i < 4 ? 0 : s8[i - 4]!)));
      const aad = Buffer.concat([s8, Buffer.from([23, 3, 3, 0, 50])]);
      const c = createCipheriv(info.aead as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: 50 });
      const expected = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      t.same(rec.subarray(5 + info.explicitNonceLength), expected, `${info.name} seq ${seq}`);
    }
  }
});

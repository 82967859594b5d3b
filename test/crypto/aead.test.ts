import t from 'tap';
import { randomBytes } from 'node:crypto';
import { aesGcmOpen, aesGcmSeal } from '../../src/crypto/aead.js';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { publicVectors } from './helpers.js';

// gotapdance tapdance/utils_test.go TestAES_GCM_EncryptDecrypt (via test/vectors/tapdance.json).
t.test('seals and opens the tag_payload_aes_gcm vector (AES-128-GCM, no AAD)', async (t) => {
  const v = publicVectors.tag_payload_aes_gcm;
  const sealed = aesGcmSeal(hexToBytes(v.key), hexToBytes(v.iv), hexToBytes(v.plaintext));
  t.equal(bytesToHex(sealed), v.ciphertext_with_gcm_tag);
  const opened = aesGcmOpen(hexToBytes(v.key), hexToBytes(v.iv), hexToBytes(v.ciphertext_with_gcm_tag));
  t.equal(opened && bytesToHex(opened), v.plaintext);
});

t.test('open returns null for a flipped bit, a wrong key and input shorter than a tag', async (t) => {
  const key = randomBytes(16);
  const iv = randomBytes(12);
  const sealed = aesGcmSeal(key, iv, new TextEncoder().encode('hello'));
  for (let bit = 0; bit < sealed.length * 8; bit += 7) {
    const bad = sealed.slice();
    bad[bit >> 3]! ^= 1 << (bit & 7);
    t.equal(aesGcmOpen(key, iv, bad), null);
  }
  t.equal(aesGcmOpen(randomBytes(16), iv, sealed), null);
  t.equal(aesGcmOpen(key, iv, sealed.subarray(0, 15)), null);
  t.same(aesGcmOpen(key, iv, aesGcmSeal(key, iv, new Uint8Array(0))), new Uint8Array(0));
});

t.test('accepts AES-256 keys and rejects other sizes with a typed error', async (t) => {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  t.same(aesGcmOpen(key, iv, aesGcmSeal(key, iv, Uint8Array.of(1, 2, 3))), Uint8Array.of(1, 2, 3));
  t.throws(() => aesGcmSeal(randomBytes(24), iv, Uint8Array.of(1)), InvalidArgumentError);
  t.throws(() => aesGcmOpen(key, randomBytes(16), Uint8Array.of(1)), InvalidArgumentError);
});

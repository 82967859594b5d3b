import t from 'tap';
import { randomBytes } from 'node:crypto';
import { stegoDecode, stegoEncode, stegoEncodedLength } from '../../src/crypto/stego.js';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { publicVectors } from './helpers.js';

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

// gotapdance tapdance/utils_test.go TestReverseEncrypt (via test/vectors/tapdance.json).
t.test('encodes the stego_encode vector (186-byte tag, 252 keystream bytes) to the expected text', async (t) => {
  const v = publicVectors.stego_encode;
  const tag = hexToBytes(v.tag);
  const ks = hexToBytes(v.keystream);
  const plain = stegoEncode(tag, ks);
  t.equal(Buffer.from(plain).toString('latin1'), v.expected_plaintext_ascii);
  t.equal(bytesToHex(stegoDecode(xor(plain, ks.subarray(0, plain.length)))), v.tag, 'the ciphertext decodes back');
});

t.test('round trips random data through encryption with a random keystream', async (t) => {
  for (const n of [0, 3, 180, 186, 999]) {
    const data = randomBytes(n);
    const ks = randomBytes(stegoEncodedLength(n) + 5);
    const plain = stegoEncode(data, ks);
    t.equal(plain.length, (n / 3) * 4);
    t.ok(plain.every((b) => b >= 0x40 && b <= 0x7f), 'plaintext bytes are in 0x40..0x7f');
    t.equal(bytesToHex(stegoDecode(xor(plain, ks))), bytesToHex(data));
  }
});

t.test('rejects lengths that are not whole groups and short keystreams', async (t) => {
  t.throws(() => stegoEncode(new Uint8Array(4), new Uint8Array(8)), InvalidArgumentError);
  t.throws(() => stegoEncode(new Uint8Array(3), new Uint8Array(3)), InvalidArgumentError);
  t.throws(() => stegoDecode(new Uint8Array(5)), InvalidArgumentError);
  t.throws(() => stegoEncodedLength(-3), InvalidArgumentError);
});

import t from 'tap';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  publicKeyToRepresentative,
  representativeToPublicKey,
  scalarBaseMultWithRepresentative,
} from '../../src/crypto/elligator2.js';
import { generateTaggingKey } from '../../src/crypto/keys.js';
import { x25519PublicKey } from '../../src/crypto/x25519.js';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { InvalidArgumentError } from '../../src/errors.js';

interface Vector {
  private: string;
  ok: boolean;
  public?: string;
  representative?: string;
  direct_in: string;
  direct_out: string;
}
// Produced by running refraction-networking/ed25519 extra25519 (commit da6d656); see the file's _about.
const vectors = (JSON.parse(readFileSync(new URL('../vectors/extra25519.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
}).vectors;

t.test('reproduces extra25519.ScalarBaseMult byte for byte, including which keys it refuses', async (t) => {
  for (const v of vectors) {
    const got = scalarBaseMultWithRepresentative(hexToBytes(v.private));
    if (!v.ok) {
      t.equal(got, null, `key ${v.private.slice(0, 8)} has no representative`);
      continue;
    }
    t.ok(got, `key ${v.private.slice(0, 8)} has a representative`);
    t.equal(bytesToHex(got!.publicKey), v.public);
    t.equal(bytesToHex(got!.representative), v.representative);
  }
});

t.test('matches extra25519.RepresentativeToPublicKey on arbitrary 32-byte strings', async (t) => {
  for (const v of vectors) t.equal(bytesToHex(representativeToPublicKey(hexToBytes(v.direct_in))), v.direct_out);
});

t.test('public key from the representative path equals X25519(priv, 9)', async (t) => {
  for (let i = 0; i < 50; i++) {
    const k = generateTaggingKey();
    t.equal(bytesToHex(k.publicKey), bytesToHex(x25519PublicKey(k.privateKey)));
  }
});

t.test('representatives round trip to their public key on many random keys', async (t) => {
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const got = scalarBaseMultWithRepresentative(randomBytes(32));
    if (got === null) continue;
    checked++;
    t.equal(got.representative[31]! & 0xc0, 0, 'bits 254 and 255 are clear');
    if (bytesToHex(representativeToPublicKey(got.representative)) !== bytesToHex(got.publicKey)) {
      t.fail(`round trip failed for ${bytesToHex(got.publicKey)}`);
    }
  }
  t.ok(checked > 100, `checked ${checked} keys`);
});

t.test('both inverse-map branches decode to the same public key', async (t) => {
  for (let i = 0; i < 100; i++) {
    const u = x25519PublicKey(randomBytes(32));
    const low = publicKeyToRepresentative(u);
    const high = publicKeyToRepresentative(u, { vIsHigh: true });
    t.equal(low === null, high === null, 'both branches agree on whether u is representable');
    if (low === null || high === null) continue;
    t.equal(bytesToHex(representativeToPublicKey(low)), bytesToHex(u));
    t.equal(bytesToHex(representativeToPublicKey(high)), bytesToHex(u));
  }
});

t.test('about half of random keys have a representative (2,000 keys, 40–60%)', async (t) => {
  let ok = 0;
  for (let i = 0; i < 2000; i++) if (publicKeyToRepresentative(x25519PublicKey(randomBytes(32))) !== null) ok++;
  // Binomial(2000, 1/2): σ ≈ 22, so 800..1200 is a ±9σ bound.
  t.ok(ok >= 800 && ok <= 1200, `${ok} of 2000 keys qualify`);
});

t.test('the decoder ignores bit 255 but not bit 254, so the station must mask bit 254', async (t) => {
  const k = generateTaggingKey();
  const rep = k.representative.slice();
  rep[31]! |= 0x80;
  t.equal(bytesToHex(representativeToPublicKey(rep)), bytesToHex(k.publicKey), 'bit 255 is ignored');
  rep[31]! |= 0x40;
  t.not(bytesToHex(representativeToPublicKey(rep)), bytesToHex(k.publicKey), 'bit 254 changes the point');
  rep[31]! &= 0x3f;
  t.equal(bytesToHex(representativeToPublicKey(rep)), bytesToHex(k.publicKey), 'masking with 0x3f restores it');
});

t.test('u = 0 and u = -A have no representative; the direct map is total', async (t) => {
  t.equal(publicKeyToRepresentative(new Uint8Array(32)), null);
  const minusA = hexToBytes('e792f8ffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'); // p − 486662
  t.equal(publicKeyToRepresentative(minusA), null);
  t.equal(representativeToPublicKey(new Uint8Array(32).fill(0xff)).length, 32);
  t.equal(representativeToPublicKey(new Uint8Array(32)).length, 32);
});

t.test('rejects arguments of the wrong size with a typed error', async (t) => {
  t.throws(() => representativeToPublicKey(new Uint8Array(31)), InvalidArgumentError);
  t.throws(() => publicKeyToRepresentative(new Uint8Array(33)), InvalidArgumentError);
  t.throws(() => scalarBaseMultWithRepresentative('x' as unknown as Uint8Array), InvalidArgumentError);
});

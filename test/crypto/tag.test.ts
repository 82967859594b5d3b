import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  decodeTagPayload,
  encodeTagPayload,
  openTag,
  sealTag,
  TAG_LENGTH,
  TAG_PAYLOAD_LENGTH,
  type TagPayload,
} from '../../src/crypto/tag.js';
import { generateStationKeyPair, type TaggingKey } from '../../src/crypto/keys.js';
import { scalarBaseMultWithRepresentative } from '../../src/crypto/elligator2.js';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { CryptoError } from '../../src/crypto/errors.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { syntheticVector as sv } from './helpers.js';

function randomPayload(): TagPayload {
  return {
    flags: 0x01,
    cipherSuite: 0xc02f,
    masterSecret: randomBytes(48),
    serverRandom: randomBytes(32),
    clientRandom: randomBytes(32),
    connectionId: randomBytes(16),
  };
}

// Reference §7.2 synthetic vector (test/vectors/tapdance-synthetic.json).
t.test('seals the synthetic 180-byte vector byte for byte from its client key', async (t) => {
  const priv = hexToBytes(sv.client_private_key);
  const k = scalarBaseMultWithRepresentative(priv)!;
  t.equal(bytesToHex(k.publicKey), sv.client_public_key);
  t.equal(bytesToHex(k.representative), sv.client_representative);
  const taggingKey: TaggingKey = { privateKey: priv, ...k };
  const payload = encodeTagPayload({
    flags: 1,
    cipherSuite: 0xc02f,
    masterSecret: hexToBytes(sv.master_secret),
    serverRandom: hexToBytes(sv.server_random),
    clientRandom: hexToBytes(sv.client_random),
    connectionId: Uint8Array.from({ length: 16 }, (_, i) => i),
  });
  t.equal(bytesToHex(payload), sv.payload);
  const { tag, key } = sealTag(hexToBytes(sv.station_public_key), payload, {
    taggingKey,
    topBitsMask: 0x80,
    random: (n) => new Uint8Array(n).fill(0xff),
  });
  t.equal(key.material.length, 32);
  t.equal(bytesToHex(key.material), sv.tag_key_material);
  t.equal(bytesToHex(tag), sv.tag);
});

t.test('opens the synthetic vector tag with the station secret key', async (t) => {
  const opened = openTag(hexToBytes(sv.tag), [hexToBytes(sv.station_secret_key)]);
  t.ok(opened);
  t.equal(bytesToHex(opened!.payload), sv.payload);
  t.equal(opened!.keyIndex, 0);
  t.equal(bytesToHex(opened!.key.material), sv.tag_key_material);
  const p = decodeTagPayload(opened!.payload);
  t.equal(p.flags, 1);
  t.equal(p.cipherSuite, 0xc02f);
  t.equal(bytesToHex(p.masterSecret), sv.master_secret);
  t.equal(bytesToHex(p.serverRandom), sv.server_random);
  t.equal(bytesToHex(p.clientRandom), sv.client_random);
  t.equal(bytesToHex(p.connectionId), '000102030405060708090a0b0c0d0e0f');
});

t.test('a sealed tag is 180 bytes and opens with the right one of several station keys', async (t) => {
  const keys = [generateStationKeyPair(), generateStationKeyPair(), generateStationKeyPair()];
  for (let i = 0; i < 30; i++) {
    const which = i % 3;
    const payload = randomPayload();
    const { tag, key } = sealTag(keys[which]!.publicKey, payload);
    t.equal(tag.length, TAG_LENGTH);
    const opened = openTag(tag, keys.map((k) => k.secretKey));
    t.equal(opened?.keyIndex, which);
    t.same(decodeTagPayload(opened!.payload), payload);
    t.equal(bytesToHex(opened!.key.material), bytesToHex(key.material));
  }
});

t.test('the top-bit mask: 0xc0 randomises bits 254 and 255, a 0x7f station misses bit-254 tags', async (t) => {
  const station = generateStationKeyPair();
  let b254 = 0;
  let b255 = 0;
  let opened7f = 0;
  const n = 400;
  for (let i = 0; i < n; i++) {
    const { tag } = sealTag(station.publicKey, randomPayload());
    const top = tag[31]! & 0xc0;
    if (top & 0x40) b254++;
    if (top & 0x80) b255++;
    t.ok(openTag(tag, [station.secretKey]), 'the default 0x3f mask always opens');
    const old = openTag(tag, [station.secretKey], { representativeMask: 0x7f });
    if (old) opened7f++;
    if ((top & 0x40) === 0) t.ok(old, 'a 0x7f station opens tags whose bit 254 is clear');
    else t.equal(old, null, 'a 0x7f station cannot open tags with bit 254 set');
  }
  // Binomial(400, 1/2): σ = 10; 140..260 is a ±6σ bound.
  t.ok(b254 > 140 && b254 < 260, `bit 254 set in ${b254}/${n}`);
  t.ok(b255 > 140 && b255 < 260, `bit 255 set in ${b255}/${n}`);
  t.equal(opened7f, n - b254);
  for (let i = 0; i < 50; i++) {
    const { tag } = sealTag(station.publicKey, randomPayload(), { topBitsMask: 0x80 });
    t.equal(tag[31]! & 0x40, 0, 'mask 0x80 never sets bit 254');
    t.ok(openTag(tag, [station.secretKey], { representativeMask: 0x7f }));
  }
  const { tag } = sealTag(station.publicKey, randomPayload(), { topBitsMask: 0 });
  t.equal(tag[31]! & 0xc0, 0, 'mask 0 leaves both bits clear');
});

t.test('open returns null for tampered, truncated, empty and random tags', async (t) => {
  const station = generateStationKeyPair();
  const { tag } = sealTag(station.publicKey, randomPayload());
  for (const i of [0, 17, 31, 32, 100, 179]) {
    const bad = tag.slice();
    bad[i]! ^= 0x01;
    t.equal(openTag(bad, [station.secretKey]), null, `flip in byte ${i}`);
  }
  t.equal(openTag(tag.subarray(0, 179), [station.secretKey]), null);
  t.equal(openTag(tag.subarray(0, 47), [station.secretKey]), null);
  t.equal(openTag(new Uint8Array(0), [station.secretKey]), null);
  t.equal(openTag(tag, []), null, 'no keys, no tag');
  for (let i = 0; i < 50; i++) t.equal(openTag(randomBytes(180), [station.secretKey]), null);
  t.equal(openTag(tag, [generateStationKeyPair().secretKey]), null, 'a foreign key does not open it');
});

t.test('payload encoding rejects bad fields and decoding rejects bad lengths with typed errors', async (t) => {
  const p = randomPayload();
  t.equal(encodeTagPayload(p).length, TAG_PAYLOAD_LENGTH);
  t.throws(() => encodeTagPayload({ ...p, flags: 256 }), InvalidArgumentError);
  t.throws(() => encodeTagPayload({ ...p, cipherSuite: -1 }), InvalidArgumentError);
  t.throws(() => encodeTagPayload({ ...p, masterSecret: new Uint8Array(47) }), InvalidArgumentError);
  t.throws(() => decodeTagPayload(new Uint8Array(131)), { code: 'ERR_TAG_PAYLOAD' });
  t.throws(() => decodeTagPayload(new Uint8Array(131)), CryptoError);
  const withByte1 = encodeTagPayload(p);
  withByte1[1] = 0x55;
  t.same(decodeTagPayload(withByte1), p, 'the unassigned byte is ignored');
});

t.test('seal rejects masks outside 0xc0 and low-order station keys', async (t) => {
  const station = generateStationKeyPair();
  t.throws(() => sealTag(station.publicKey, randomPayload(), { topBitsMask: 0x01 }), InvalidArgumentError);
  t.throws(() => sealTag(new Uint8Array(32), randomPayload()), { code: 'ERR_CRYPTO_INVALID_KEY' });
  t.throws(() => sealTag(new Uint8Array(31), randomPayload()), InvalidArgumentError);
  t.throws(() => openTag(randomBytes(180), [new Uint8Array(31)]), InvalidArgumentError);
});

// After gotapdance utils_test.go TestObfuscationRandomness: representative bits look uniform.
t.test('every representative bit, including the two randomised ones, is set about half the time', async (t) => {
  const station = generateStationKeyPair();
  const n = 1000;
  const counts = new Array<number>(256).fill(0);
  const payload = encodeTagPayload(randomPayload());
  for (let i = 0; i < n; i++) {
    const { tag } = sealTag(station.publicKey, payload);
    for (let bit = 0; bit < 256; bit++) if (tag[bit >> 3]! & (1 << (bit & 7))) counts[bit]!++;
  }
  // Binomial(1000, 1/2): σ ≈ 15.8; 400..600 is a ±6.3σ bound for each of 256 bits.
  const off = counts.map((c, bit) => [bit, c] as const).filter(([, c]) => c < 400 || c > 600);
  t.same(off, [], 'no bit outside 400..600 of 1000');
});

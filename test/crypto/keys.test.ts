import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  encodeStationKeyFile,
  generateStationKeyPair,
  generateTaggingKey,
  parseStationKeyFile,
  parseStationPublicKeyFile,
} from '../../src/crypto/keys.js';
import { readStationKeyFile, readStationPublicKeyFile, writeStationKeyFiles } from '../../src/crypto/key-files.js';
import { x25519, x25519PublicKey } from '../../src/crypto/x25519.js';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { CryptoError } from '../../src/crypto/errors.js';
import { publicVectors } from './helpers.js';

t.test('X25519 public key of the vector station key matches the vector', async (t) => {
  const v = publicVectors.station_full_chain_legacy_layout;
  t.equal(bytesToHex(x25519PublicKey(hexToBytes(v.station_secret_key))), v.station_public_key);
});

t.test('station keys are clamped and agree on a shared secret with a client key', async (t) => {
  const a = generateStationKeyPair();
  t.equal(a.secretKey[0]! & 7, 0);
  t.equal(a.secretKey[31]! & 0xc0, 0x40);
  const c = generateTaggingKey();
  t.equal(bytesToHex(x25519(a.secretKey, c.publicKey)), bytesToHex(x25519(c.privateKey, a.publicKey)));
});

t.test('the 64-byte key file round trips and a 32-byte secret alone is accepted', async (t) => {
  const pair = generateStationKeyPair();
  const body = encodeStationKeyFile(pair);
  t.equal(body.length, 64);
  t.same(parseStationKeyFile(body), pair);
  t.same(parseStationKeyFile(body.subarray(0, 32)), pair);
  t.same(parseStationPublicKeyFile(pair.publicKey), pair.publicKey);
});

t.test('key files of the wrong size or with a foreign public key give ERR_CRYPTO_KEY_FILE', async (t) => {
  const pair = generateStationKeyPair();
  const body = encodeStationKeyFile(pair);
  body[40]! ^= 1;
  t.throws(() => parseStationKeyFile(body), { code: 'ERR_CRYPTO_KEY_FILE' });
  t.throws(() => parseStationKeyFile(new Uint8Array(63)), CryptoError);
  t.throws(() => parseStationPublicKeyFile(new Uint8Array(33)), { code: 'ERR_CRYPTO_KEY_FILE' });
});

t.test('writes privkey (0600) and pubkey files that read back, leaving no temp files', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'td-keys-')), 'nested');
  const pair = generateStationKeyPair();
  const paths = await writeStationKeyFiles(dir, pair);
  t.equal(statSync(paths.privateKeyPath).mode & 0o777, 0o600);
  t.equal(readFileSync(paths.privateKeyPath).length, 64);
  t.same(await readStationKeyFile(paths.privateKeyPath), pair);
  t.same(await readStationPublicKeyFile(paths.publicKeyPath), pair.publicKey);
  t.same(readdirSync(dir).sort(), ['privkey', 'pubkey']);
  writeFileSync(join(dir, 'short'), randomBytes(10));
  await t.rejects(readStationKeyFile(join(dir, 'short')), { code: 'ERR_CRYPTO_KEY_FILE' });
});

t.test('a broken random source ends tagging key generation with a typed error, not a hang', async (t) => {
  // extra25519 refuses this key (test/vectors/extra25519.json, ok=false); a source that repeats it
  // can never succeed.
  const refused = hexToBytes('c387f650f1754de3669030bff9aaa46a35d44845b30e235e00ee5285e9a8a5e6');
  let keyDraws = 0;
  const stuck = (n: number) => {
    if (n === 32) keyDraws++;
    return refused.slice(0, n);
  };
  t.throws(() => generateTaggingKey(stuck), { code: 'ERR_CRYPTO_INVALID_KEY' });
  t.equal(keyDraws, 128, 'gives up after 128 private keys');
});

t.test('X25519 with a low-order point is refused with ERR_CRYPTO_INVALID_KEY', async (t) => {
  t.throws(() => x25519(generateStationKeyPair().secretKey, new Uint8Array(32)), { code: 'ERR_CRYPTO_INVALID_KEY' });
  const one = new Uint8Array(32);
  one[0] = 1;
  t.throws(() => x25519(generateStationKeyPair().secretKey, one), { code: 'ERR_CRYPTO_INVALID_KEY' });
});

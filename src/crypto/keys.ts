/**
 * Key material of TapDance: the station's long-term X25519 key pair, the client's per-connection
 * tagging key (an X25519 key whose public key has an Elligator 2 representative), and the byte
 * formats of station key files.
 *
 * File formats (those of the public station's `genkey`):
 * - `privkey`: 64 bytes, the clamped 32-byte secret key followed by its 32-byte public key;
 *   a bare 32-byte secret is also accepted when reading.
 * - `pubkey`: the 32-byte public key.
 *
 * Reading and writing files is in `key-files.ts`; this module only converts bytes.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { abytes, equalBytes, u8 } from './bytes.js';
import { publicKeyToRepresentative } from './elligator2.js';
import { CryptoError } from './errors.js';
import { clampPrivateKey, x25519PublicKey } from './x25519.js';

/** A source of random bytes; tests inject deterministic ones. Default: `crypto.randomBytes`. */
export type RandomSource = (length: number) => Uint8Array;

/** The default {@link RandomSource}: the operating system CSPRNG. */
export const systemRandom: RandomSource = (n) => u8(randomBytes(n));

/** A station's long-term X25519 key pair. */
export interface StationKeyPair {
  /** 32-byte clamped secret key. Keep it secret. */
  secretKey: Uint8Array;
  /** 32-byte public key, distributed to clients in the ClientConf. */
  publicKey: Uint8Array;
}

/** A client's ephemeral tagging key: an X25519 key pair plus the public key's representative. */
export interface TaggingKey {
  /** 32 random bytes (clamped by X25519 on use). */
  privateKey: Uint8Array;
  /** X25519(privateKey, 9). */
  publicKey: Uint8Array;
  /** Elligator 2 representative of `publicKey`, bits 254–255 clear (extra25519 convention). */
  representative: Uint8Array;
}

/**
 * Make a new station key pair.
 *
 * @param random - random source (default: system CSPRNG)
 * @returns a fresh key pair with a clamped secret key
 * @example
 * ```ts
 * const { secretKey, publicKey } = generateStationKeyPair()
 * ```
 */
export function generateStationKeyPair(random: RandomSource = systemRandom): StationKeyPair {
  const secretKey = clampPrivateKey(abytes(random(32), 'random(32)', 32));
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

/** Each try succeeds with probability ~1/2, so 128 failures mean the random source is broken. */
const MAX_TAGGING_KEY_TRIES = 128;

/**
 * Make a client tagging key: draw random X25519 private keys until the public key has an
 * Elligator 2 representative (about two tries on average), as the public client does.
 *
 * The public key comes from node:crypto's X25519 (about 25× faster than a base-point
 * multiplication in JavaScript, and without the multi-millisecond table set-up of the first
 * one, which otherwise lands on a client's first dial). The representative branch, which
 * extra25519 takes from the sign of the point's v coordinate, is a fresh random bit: v's sign is
 * not visible in u, is uniform over keys, and either branch decodes to the same u
 * (`scalarBaseMultWithRepresentative` keeps the byte-exact extra25519 derivation).
 *
 * @param random - random source (default: system CSPRNG)
 * @returns private key, public key and representative
 * @throws {@link CryptoError} `ERR_CRYPTO_INVALID_KEY` if 128 draws in a row fail, which only a
 *   broken random source does
 * @example
 * ```ts
 * const { privateKey, representative } = generateTaggingKey()
 * ```
 */
export function generateTaggingKey(random: RandomSource = systemRandom): TaggingKey {
  for (let i = 0; i < MAX_TAGGING_KEY_TRIES; i++) {
    const privateKey = abytes(random(32), 'random(32)', 32);
    const publicKey = x25519PublicKey(privateKey);
    const representative = publicKeyToRepresentative(publicKey, { vIsHigh: (random(1)[0]! & 1) === 1 });
    if (representative !== null) return { privateKey, publicKey, representative };
  }
  throw new CryptoError('ERR_CRYPTO_INVALID_KEY', `no representable key in ${MAX_TAGGING_KEY_TRIES} random draws`, {
    context: { tries: MAX_TAGGING_KEY_TRIES },
  });
}

/**
 * Serialize a station key pair as the 64-byte `privkey` file body.
 *
 * @param pair - the key pair
 * @returns secret key (32) followed by public key (32)
 * @throws {@link InvalidArgumentError} for wrong key sizes
 */
export function encodeStationKeyFile(pair: StationKeyPair): Uint8Array {
  const out = new Uint8Array(64);
  out.set(abytes(pair.secretKey, 'secretKey', 32), 0);
  out.set(abytes(pair.publicKey, 'publicKey', 32), 32);
  return out;
}

/**
 * Parse a `privkey` file body: 64 bytes (secret then public key, the public key checked against
 * the secret) or a bare 32-byte secret key.
 *
 * @param bytes - the file contents
 * @returns the key pair (public key derived when absent)
 * @throws {@link CryptoError} `ERR_CRYPTO_KEY_FILE` for another size or a public key that does not
 *   match the secret key
 */
export function parseStationKeyFile(bytes: Uint8Array): StationKeyPair {
  abytes(bytes, 'bytes');
  if (bytes.length !== 32 && bytes.length !== 64) {
    throw new CryptoError('ERR_CRYPTO_KEY_FILE', `station key file must hold 32 or 64 bytes, got ${bytes.length}`, {
      context: { length: bytes.length },
    });
  }
  const secretKey = bytes.slice(0, 32);
  const publicKey = x25519PublicKey(secretKey);
  if (bytes.length === 64 && !equalBytes(publicKey, bytes.subarray(32))) {
    throw new CryptoError('ERR_CRYPTO_KEY_FILE', 'station key file: public key does not belong to the secret key');
  }
  return { secretKey, publicKey };
}

/**
 * Parse a `pubkey` file body.
 *
 * @param bytes - the file contents
 * @returns the 32-byte public key
 * @throws {@link CryptoError} `ERR_CRYPTO_KEY_FILE` when the size is not 32
 */
export function parseStationPublicKeyFile(bytes: Uint8Array): Uint8Array {
  abytes(bytes, 'bytes');
  if (bytes.length !== 32) {
    throw new CryptoError('ERR_CRYPTO_KEY_FILE', `station public key file must hold 32 bytes, got ${bytes.length}`, {
      context: { length: bytes.length },
    });
  }
  return bytes.slice();
}

/**
 * X25519 (RFC 7748) on node:crypto: public keys and key agreement from raw 32-byte keys.
 *
 * node:crypto (OpenSSL) is used rather than @noble/curves' `x25519` because it is about 9× faster
 * per key agreement on the development machine (`bench/crypto.ts` prints both), and the station
 * runs one agreement per station key for every candidate record.
 *
 * Raw keys enter OpenSSL as JWK, not as PKCS#8/SPKI DER: measured on Node 20, importing a private
 * key from DER took ~800 µs (OpenSSL 3's decoder chain) against ~145 µs as JWK, and a public key
 * ~130 µs against ~23 µs. Node's JWK import demands the public `x` even for a private key but
 * does not check it, and key agreement only uses `d`; we pass a placeholder and never export the
 * key object. The public key of a secret is computed as X25519(secret, 9).
 *
 * Private key objects are cached per `Uint8Array` (checked against a copy, so a mutated array is
 * re-imported); the station's long-term keys are imported once.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { abytes, equalBytes, u8 } from './bytes.js';
import { CryptoError } from './errors.js';

/** Placeholder for the `x` member Node's JWK import requires; unused by key agreement. */
const PLACEHOLDER_X = Buffer.alloc(32).toString('base64url');
/** The Curve25519 base point, u = 9. */
const BASE_POINT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 9 : 0));

const privateCache = new WeakMap<Uint8Array, { copy: Uint8Array; key: KeyObject }>();

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  const hit = privateCache.get(secretKey);
  if (hit !== undefined && equalBytes(hit.copy, secretKey)) return hit.key;
  const d = Buffer.from(secretKey.buffer, secretKey.byteOffset, secretKey.byteLength).toString('base64url');
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: PLACEHOLDER_X }, format: 'jwk' });
  privateCache.set(secretKey, { copy: Uint8Array.from(secretKey), key });
  return key;
}

/**
 * Return a clamped copy of a 32-byte X25519 private key (RFC 7748 §5: clear bits 0–2 and 255,
 * set bit 254). X25519 clamps internally anyway; stored station keys are kept clamped as the
 * public station's `genkey` writes them.
 *
 * @param secretKey - 32 bytes
 * @returns a clamped copy
 * @throws {@link InvalidArgumentError} when `secretKey` is not 32 bytes
 */
export function clampPrivateKey(secretKey: Uint8Array): Uint8Array {
  const k = Uint8Array.from(abytes(secretKey, 'secretKey', 32));
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return k;
}

/**
 * X25519 public key of a private key: X25519(secretKey, 9).
 *
 * @param secretKey - 32-byte private key (clamped or not)
 * @returns the 32-byte public key (little-endian u)
 * @throws {@link InvalidArgumentError} when `secretKey` is not 32 bytes
 * @example
 * ```ts
 * const pub = x25519PublicKey(secret)
 * ```
 */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  abytes(secretKey, 'secretKey', 32);
  const pub = x25519OrNull(secretKey, BASE_POINT);
  if (pub === null) throw new Error('unreachable: X25519 with the base point failed');
  return pub;
}

/**
 * X25519 key agreement.
 *
 * @param secretKey - our 32-byte private key
 * @param publicKey - the peer's 32-byte public key
 * @returns the 32-byte shared secret
 * @throws {@link InvalidArgumentError} for wrong sizes
 * @throws {@link CryptoError} `ERR_CRYPTO_INVALID_KEY` when the peer key is a low-order point
 *   (the shared secret would be all zeros)
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  abytes(secretKey, 'secretKey', 32);
  abytes(publicKey, 'publicKey', 32);
  const result = x25519OrNull(secretKey, publicKey);
  if (result === null) {
    throw new CryptoError('ERR_CRYPTO_INVALID_KEY', 'X25519 public key is a low-order point');
  }
  return result;
}

/**
 * {@link x25519} for untrusted input: `null` instead of an error for a low-order point.
 * Sizes are the caller's responsibility (both 32 bytes).
 *
 * @param secretKey - our 32-byte private key
 * @param publicKey - the peer's 32-byte public key
 * @returns the shared secret, or `null`
 */
export function x25519OrNull(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  try {
    const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64url');
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    return u8(diffieHellman({ privateKey: privateKeyObject(secretKey), publicKey: peer }));
  } catch {
    // OpenSSL refuses an all-zero result (RFC 7748 §6.1 check).
    return null;
  }
}

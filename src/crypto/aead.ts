/**
 * AES-GCM with a 12-byte nonce, a 16-byte tag and no associated data: the cipher TapDance uses for
 * the tag payload and the X-Proto header (AES-128; AES-256 keys are accepted too).
 *
 * Built on `node:crypto` (OpenSSL), not on `@noble/ciphers`, because of a measurement
 * (`node dist/bench/crypto.js`, one run, Node 20 on the 2-core development machine): sealing
 * 132 bytes (the tag payload) node:crypto managed ~3× the operations per second of
 * @noble/ciphers' `gcm`, ~5× at 1 KiB and ~25× at 16 KiB. OpenSSL uses AES-NI and carry-less
 * multiplication; even at the smallest size the cost of creating a cipher object is below
 * noble's table-driven AES. @noble/curves stays a dependency for field arithmetic (Elligator 2);
 * @noble/ciphers is only used by the benchmark as the baseline.
 *
 * Records of TLS are not sealed here (that is the TLS layer's job, with its own AAD).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { abytes, u8 } from './bytes.js';

/** Length of the GCM authentication tag appended to every ciphertext. */
export const GCM_TAG_LENGTH = 16;
/** Length of the GCM nonce. */
export const GCM_IV_LENGTH = 12;

function algorithm(key: Uint8Array): CipherGCMTypes {
  return key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm';
}

/**
 * Encrypt and authenticate `plaintext`.
 *
 * @param key - 16-byte (AES-128) or 32-byte (AES-256) key
 * @param iv - 12-byte nonce; never reuse one with the same key
 * @param plaintext - bytes to seal
 * @returns ciphertext followed by the 16-byte tag (`plaintext.length + 16` bytes)
 * @throws {@link InvalidArgumentError} for a wrong key or nonce size
 * @example
 * ```ts
 * const sealed = aesGcmSeal(key, iv, payload)
 * ```
 */
export function aesGcmSeal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  abytes(key, 'key', 16, 32);
  abytes(iv, 'iv', GCM_IV_LENGTH);
  abytes(plaintext, 'plaintext');
  const cipher = createCipheriv(algorithm(key), key, iv, { authTagLength: GCM_TAG_LENGTH });
  const out = new Uint8Array(plaintext.length + GCM_TAG_LENGTH);
  out.set(cipher.update(plaintext), 0);
  cipher.final();
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

/**
 * Verify and decrypt the output of {@link aesGcmSeal}.
 *
 * Returns `null` rather than throwing on a failed check, because callers scan untrusted traffic
 * where failure is the normal case.
 *
 * @param key - 16- or 32-byte key
 * @param iv - 12-byte nonce
 * @param sealed - ciphertext followed by the 16-byte tag
 * @returns the plaintext, or `null` when `sealed` is shorter than a tag or does not authenticate
 * @throws {@link InvalidArgumentError} for a wrong key or nonce size
 */
export function aesGcmOpen(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  abytes(key, 'key', 16, 32);
  abytes(iv, 'iv', GCM_IV_LENGTH);
  abytes(sealed, 'sealed');
  if (sealed.length < GCM_TAG_LENGTH) return null;
  const n = sealed.length - GCM_TAG_LENGTH;
  const decipher = createDecipheriv(algorithm(key), key, iv, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(n));
  const plaintext = decipher.update(sealed.subarray(0, n));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return u8(plaintext);
}

/**
 * Errors of the crypto layer (keys, Elligator2, tag, stego, AEAD).
 *
 * Wrong arguments at a public boundary (a 31-byte key, a mask with stray bits) throw the shared
 * {@link InvalidArgumentError}; {@link CryptoError} is for input that is well-typed but unusable:
 * a low-order X25519 point, a damaged key file, a tag payload of the wrong size. Functions that
 * look at untrusted traffic (`openTag`, `aesGcmOpen`) return `null` instead of throwing.
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/**
 * Stable codes of {@link CryptoError}:
 * - `ERR_CRYPTO_INVALID_KEY`: an X25519 key agreement produced no usable secret (low-order point).
 * - `ERR_CRYPTO_KEY_FILE`: a station key file has the wrong size or a public key that does not
 *   belong to its secret key.
 * - `ERR_TAG_PAYLOAD`: a tag payload is not the 132-byte layout.
 */
export type CryptoErrorCode = 'ERR_CRYPTO_INVALID_KEY' | 'ERR_CRYPTO_KEY_FILE' | 'ERR_TAG_PAYLOAD';

/**
 * Thrown by the crypto layer for unusable (not merely mistyped) input.
 *
 * @example
 * ```ts
 * try { parseStationKeyFile(bytes) } catch (err) {
 *   if (err instanceof CryptoError && err.code === 'ERR_CRYPTO_KEY_FILE') console.error(err.message)
 * }
 * ```
 */
export class CryptoError extends TapDanceError {
  static override brand = 'CryptoError';
  declare readonly code: CryptoErrorCode;

  /**
   * @param code - one of {@link CryptoErrorCode}
   * @param message - human-readable text
   * @param options - cause and safe context (lengths, never key material)
   */
  constructor(code: CryptoErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

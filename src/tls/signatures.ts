/**
 * Signature schemes for the TLS 1.2 ServerKeyExchange (RFC 5246 §7.4.3, RFC 8446 §4.2.3 for the
 * PSS code points) and the TLS 1.3 CertificateVerify (RFC 8446 §4.4.3): verify with node:crypto,
 * and sign (for test servers).
 *
 * In TLS 1.2 an ECDSA scheme names only the hash, not the curve, so any EC key verifies with it;
 * TLS 1.3 binds the curve and forbids PKCS#1 v1.5 and SHA-1 ({@link verifySignature13}).
 *
 * @module
 */
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { SignatureScheme } from './wire.js';

/** How one scheme signs: key type, hash and padding. */
export interface SchemeInfo {
  /** Key type of node:crypto (`rsa` or `ec`). */
  keyType: 'rsa' | 'ec';
  /** Hash name. */
  hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** RSA-PSS (salt length = hash length) instead of PKCS#1 v1.5. */
  pss: boolean;
}

const S = SignatureScheme;
const SCHEMES = new Map<number, SchemeInfo>([
  [S.rsa_pkcs1_sha1, { keyType: 'rsa', hash: 'sha1', pss: false }],
  [S.rsa_pkcs1_sha256, { keyType: 'rsa', hash: 'sha256', pss: false }],
  [S.rsa_pkcs1_sha384, { keyType: 'rsa', hash: 'sha384', pss: false }],
  [S.rsa_pkcs1_sha512, { keyType: 'rsa', hash: 'sha512', pss: false }],
  [S.rsa_pss_rsae_sha256, { keyType: 'rsa', hash: 'sha256', pss: true }],
  [S.rsa_pss_rsae_sha384, { keyType: 'rsa', hash: 'sha384', pss: true }],
  [S.rsa_pss_rsae_sha512, { keyType: 'rsa', hash: 'sha512', pss: true }],
  [S.ecdsa_sha1, { keyType: 'ec', hash: 'sha1', pss: false }],
  [S.ecdsa_secp256r1_sha256, { keyType: 'ec', hash: 'sha256', pss: false }],
  [S.ecdsa_secp384r1_sha384, { keyType: 'ec', hash: 'sha384', pss: false }],
  [S.ecdsa_secp521r1_sha512, { keyType: 'ec', hash: 'sha512', pss: false }],
]);

/**
 * Look up a scheme this module can verify.
 *
 * @param scheme - the 16-bit code point.
 * @returns how it works, or undefined.
 */
export function schemeInfo(scheme: number): SchemeInfo | undefined {
  return SCHEMES.get(scheme);
}

function keyOptions(info: SchemeInfo, key: KeyObject): KeyObject | { key: KeyObject; padding: number; saltLength: number } {
  return info.pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : key;
}

/**
 * Verify a signature made with `scheme`.
 *
 * @param key - the signer's public key.
 * @param scheme - signature scheme code point.
 * @param data - the signed bytes.
 * @param signature - the signature (DER for ECDSA).
 * @returns true only if the scheme is known, fits the key type, and the signature verifies.
 */
export function verifySignature(key: KeyObject, scheme: number, data: Uint8Array, signature: Uint8Array): boolean {
  const info = SCHEMES.get(scheme);
  if (info === undefined || key.asymmetricKeyType !== info.keyType) return false;
  try {
    return verify(info.hash, data, keyOptions(info, key), signature);
  } catch {
    return false; // malformed signature encodings are just bad signatures
  }
}

/**
 * Sign with `scheme` (used by test servers and tools, not by the client).
 *
 * @param key - a private key of the scheme's key type.
 * @param scheme - signature scheme code point.
 * @param data - bytes to sign.
 * @returns the signature.
 * @throws RangeError for an unknown scheme.
 */
export function signWithScheme(key: KeyObject, scheme: number, data: Uint8Array): Buffer {
  const info = SCHEMES.get(scheme);
  if (info === undefined) throw new RangeError(`unknown signature scheme 0x${scheme.toString(16)}`);
  return sign(info.hash, data, keyOptions(info, key));
}

/** The curve a TLS 1.3 ECDSA scheme requires (node:crypto `namedCurve`). */
const TLS13_ECDSA_CURVES = new Map<number, string>([
  [S.ecdsa_secp256r1_sha256, 'prime256v1'],
  [S.ecdsa_secp384r1_sha384, 'secp384r1'],
  [S.ecdsa_secp521r1_sha512, 'secp521r1'],
]);

/**
 * Whether a scheme may sign a TLS 1.3 CertificateVerify here: RSA-PSS (rsae), ECDSA with its
 * curve, Ed25519. PKCS#1 v1.5 and SHA-1 are not allowed in TLS 1.3 (RFC 8446 §4.2.3).
 *
 * @param scheme - the code point.
 * @returns true when {@link verifySignature13} can check it.
 */
export function isTls13Scheme(scheme: number): boolean {
  return scheme === S.rsa_pss_rsae_sha256 || scheme === S.rsa_pss_rsae_sha384 || scheme === S.rsa_pss_rsae_sha512 ||
    TLS13_ECDSA_CURVES.has(scheme) || scheme === S.ed25519;
}

/**
 * Verify a TLS 1.3 CertificateVerify signature.
 *
 * @param key - the certificate's public key.
 * @param scheme - the scheme the server used.
 * @param content - the signed content (`certificateVerifyContent`).
 * @param signature - the signature.
 * @returns true only when the scheme is allowed in TLS 1.3, fits the key (curve included) and
 *   the signature verifies.
 */
export function verifySignature13(key: KeyObject, scheme: number, content: Uint8Array, signature: Uint8Array): boolean {
  if (!isTls13Scheme(scheme)) return false;
  if (scheme === S.ed25519) {
    if (key.asymmetricKeyType !== 'ed25519') return false;
    try {
      return verify(null, content, key, signature);
    } catch {
      return false;
    }
  }
  const curve = TLS13_ECDSA_CURVES.get(scheme);
  if (curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== curve) return false;
  return verifySignature(key, scheme, content, signature);
}

/**
 * The cipher suites this client can run, as data: for TLS 1.2 the key exchange, AEAD, key and IV
 * sizes and the PRF hash (RFC 5288, RFC 5289, RFC 7905); for TLS 1.3 the AEAD and the HKDF hash
 * (RFC 8446 §B.4).
 *
 * Only AEAD suites are here: TapDance needs the keystream of the next record, which a CBC suite
 * does not have. A ClientHello profile may still *offer* other suites for its fingerprint; if a
 * server picks one, the handshake fails with `ERR_TLS_UNSUPPORTED_SUITE`.
 *
 * @module
 */

/** The record protection algorithm of a suite. */
export type AeadKind = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

/** How the premaster secret is agreed and the server authenticated. */
export type KeyExchangeKind = 'ECDHE_RSA' | 'ECDHE_ECDSA' | 'RSA';

/** The PRF hash of a suite. */
export type PrfHash = 'sha256' | 'sha384';

/** Everything the handshake and record layer need to know about one suite. */
export interface CipherSuiteInfo {
  /** IANA number, e.g. 0xc02f. */
  readonly id: number;
  /** IANA name. */
  readonly name: string;
  /** Key exchange and server authentication. */
  readonly keyExchange: KeyExchangeKind;
  /** Record protection. */
  readonly aead: AeadKind;
  /** Write key length in bytes. */
  readonly keyLength: number;
  /** Length of the implicit (fixed) IV from the key block: 4 for GCM, 12 for ChaCha20. */
  readonly fixedIvLength: number;
  /** Length of the explicit nonce carried in each record: 8 for GCM, 0 for ChaCha20. */
  readonly explicitNonceLength: number;
  /** Hash of the PRF and of the Finished transcript. */
  readonly prfHash: PrfHash;
}

function suite(id: number, name: string, keyExchange: KeyExchangeKind, aead: AeadKind, prfHash: PrfHash): CipherSuiteInfo {
  const chacha = aead === 'chacha20-poly1305';
  return Object.freeze({
    id, name, keyExchange, aead, prfHash,
    keyLength: aead === 'aes-128-gcm' ? 16 : 32,
    fixedIvLength: chacha ? 12 : 4,
    explicitNonceLength: chacha ? 0 : 8,
  });
}

/** The suites this client implements, keyed by IANA number. */
export const CIPHER_SUITES: ReadonlyMap<number, CipherSuiteInfo> = new Map([
  suite(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE_ECDSA', 'aes-128-gcm', 'sha256'),
  suite(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE_RSA', 'aes-128-gcm', 'sha256'),
  suite(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDHE_ECDSA', 'aes-256-gcm', 'sha384'),
  suite(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ECDHE_RSA', 'aes-256-gcm', 'sha384'),
  suite(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE_ECDSA', 'chacha20-poly1305', 'sha256'),
  suite(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE_RSA', 'chacha20-poly1305', 'sha256'),
  suite(0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', 'RSA', 'aes-128-gcm', 'sha256'),
  suite(0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'RSA', 'aes-256-gcm', 'sha384'),
].map((s) => [s.id, s]));

/**
 * Look up a suite this client implements.
 *
 * @param id - IANA number.
 * @returns the suite, or undefined if this client cannot run it.
 */
export function cipherSuite(id: number): CipherSuiteInfo | undefined {
  return CIPHER_SUITES.get(id);
}

/** The HKDF hash of a TLS 1.3 suite and its output length. */
export type Tls13Hash = 'sha256' | 'sha384';

/** A TLS 1.3 cipher suite (RFC 8446 §B.4): AEAD plus HKDF hash; no key exchange in the suite. */
export interface Tls13SuiteInfo {
  /** IANA number, e.g. 0x1301. */
  readonly id: number;
  /** IANA name. */
  readonly name: string;
  /** Record protection. */
  readonly aead: AeadKind;
  /** Traffic key length in bytes. */
  readonly keyLength: number;
  /** HKDF and transcript hash. */
  readonly hash: Tls13Hash;
  /** Output length of `hash`: the length of every traffic secret. */
  readonly hashLength: number;
}

function suite13(id: number, name: string, aead: AeadKind, hash: Tls13Hash): Tls13SuiteInfo {
  return Object.freeze({ id, name, aead, hash, keyLength: aead === 'aes-128-gcm' ? 16 : 32, hashLength: hash === 'sha256' ? 32 : 48 });
}

/** The TLS 1.3 suites this client implements, keyed by IANA number. */
export const TLS13_CIPHER_SUITES: ReadonlyMap<number, Tls13SuiteInfo> = new Map([
  suite13(0x1301, 'TLS_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256'),
  suite13(0x1302, 'TLS_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384'),
  suite13(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256'),
].map((s) => [s.id, s]));

/**
 * Look up a TLS 1.3 suite.
 *
 * @param id - IANA number.
 * @returns the suite, or undefined if it is not a TLS 1.3 suite this client runs.
 */
export function tls13CipherSuite(id: number): Tls13SuiteInfo | undefined {
  return TLS13_CIPHER_SUITES.get(id);
}

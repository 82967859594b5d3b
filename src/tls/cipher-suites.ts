/**
 * The TLS 1.2 cipher suites this client can run, as data: key exchange, AEAD, key and IV sizes
 * and the PRF hash (RFC 5288, RFC 5289, RFC 7905).
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

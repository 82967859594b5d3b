/**
 * The TLS 1.2 key schedule (RFC 5246 §5, §6.3, §7.4.9, §8.1; RFC 7627 §4): the PRF, the master
 * secret (classic and extended), the key block and the Finished verify_data.
 *
 * Pure functions on node:crypto HMAC. Both sides use them: the client after its handshake, and
 * the station, which learns the master secret and randoms from the tag and derives the same keys.
 * Only the AEAD suites of `cipher-suites.ts` have a key block layout here (no MAC keys).
 *
 * @module
 */
import { createHash, createHmac } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { cipherSuite, type CipherSuiteInfo, type PrfHash } from './cipher-suites.js';
import { TlsError } from './errors.js';

/** Length of the TLS 1.2 master secret. */
export const MASTER_SECRET_LENGTH = 48;
/** Length of ClientHello.random and ServerHello.random. */
export const RANDOM_LENGTH = 32;
/** Length of Finished.verify_data in TLS 1.2. */
export const VERIFY_DATA_LENGTH = 12;

const encoder = new TextEncoder();

/**
 * The TLS 1.2 PRF: `P_hash(secret, label || seed)` cut to `length` bytes (RFC 5246 §5).
 *
 * @param hash - the suite's PRF hash.
 * @param secret - the secret (any length).
 * @param label - ASCII label, e.g. `"key expansion"`.
 * @param seed - the seed bytes.
 * @param length - output length in bytes.
 * @returns `length` pseudo-random bytes.
 * @example
 * ```ts
 * const block = prf12('sha256', masterSecret, 'key expansion', concat(serverRandom, clientRandom), 40)
 * ```
 */
export function prf12(hash: PrfHash, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  const labelSeed = Buffer.concat([encoder.encode(label), seed]);
  const out = Buffer.allocUnsafe(length);
  let a: Buffer = labelSeed; // A(0) = seed
  for (let off = 0; off < length;) {
    a = createHmac(hash, secret).update(a).digest(); // A(i) = HMAC(secret, A(i-1))
    const block = createHmac(hash, secret).update(a).update(labelSeed).digest();
    off += block.copy(out, off, 0, Math.min(block.length, length - off));
  }
  return out;
}

/** The write keys and implicit IVs of both directions. */
export interface KeyBlock {
  /** Key the client encrypts with (and the server decrypts with). */
  readonly clientWriteKey: Uint8Array;
  /** Key the server encrypts with. */
  readonly serverWriteKey: Uint8Array;
  /** Client implicit IV: 4 bytes for GCM (the nonce salt), 12 for ChaCha20. */
  readonly clientWriteIv: Uint8Array;
  /** Server implicit IV. */
  readonly serverWriteIv: Uint8Array;
}

function requireSuite(suite: number): CipherSuiteInfo {
  const info = cipherSuite(suite);
  if (info === undefined) {
    throw new TlsError('ERR_TLS_UNSUPPORTED_SUITE', `cipher suite 0x${suite.toString(16).padStart(4, '0')} is not supported`,
      { context: { suite } });
  }
  return info;
}

function requireLength(name: string, value: Uint8Array, length: number): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new InvalidArgumentError(`"${name}" expected ${length} bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`);
  }
}

/**
 * Derive the key block of an AEAD suite: `PRF(master_secret, "key expansion", server_random ||
 * client_random)` split into client key, server key, client IV, server IV (RFC 5246 §6.3).
 *
 * @param suite - IANA suite number, e.g. 0xc02f.
 * @param masterSecret - 48 bytes.
 * @param clientRandom - ClientHello.random, 32 bytes.
 * @param serverRandom - ServerHello.random, 32 bytes.
 * @returns the four keys and IVs (fresh buffers).
 * @throws TlsError `ERR_TLS_UNSUPPORTED_SUITE` for a suite without a layout here.
 * @throws InvalidArgumentError for wrong lengths.
 * @example
 * ```ts
 * const { clientWriteKey, clientWriteIv } = deriveKeyBlock(0xc02f, ms, clientRandom, serverRandom)
 * ```
 */
export function deriveKeyBlock(suite: number, masterSecret: Uint8Array, clientRandom: Uint8Array,
  serverRandom: Uint8Array): KeyBlock {
  const info = requireSuite(suite);
  requireLength('masterSecret', masterSecret, MASTER_SECRET_LENGTH);
  requireLength('clientRandom', clientRandom, RANDOM_LENGTH);
  requireLength('serverRandom', serverRandom, RANDOM_LENGTH);
  const k = info.keyLength;
  const iv = info.fixedIvLength;
  const block = prf12(info.prfHash, masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * k + 2 * iv);
  // AEAD suites have no MAC keys, so the block starts with the write keys.
  return {
    clientWriteKey: block.subarray(0, k),
    serverWriteKey: block.subarray(k, 2 * k),
    clientWriteIv: block.subarray(2 * k, 2 * k + iv),
    serverWriteIv: block.subarray(2 * k + iv, 2 * k + 2 * iv),
  };
}

/**
 * The master secret, classic (`"master secret"`, client_random || server_random) or extended
 * (RFC 7627: `"extended master secret"` over the session hash).
 *
 * @param hash - the suite's PRF hash.
 * @param preMasterSecret - the premaster secret (the ECDHE shared x-coordinate, or the RSA one).
 * @param seed - either `{ clientRandom, serverRandom }` or `{ sessionHash }` (hash of the
 *   handshake messages up to and including ClientKeyExchange).
 * @returns 48 bytes.
 */
export function deriveMasterSecret(hash: PrfHash, preMasterSecret: Uint8Array,
  seed: { clientRandom: Uint8Array; serverRandom: Uint8Array } | { sessionHash: Uint8Array }): Buffer {
  return 'sessionHash' in seed
    ? prf12(hash, preMasterSecret, 'extended master secret', seed.sessionHash, MASTER_SECRET_LENGTH)
    : prf12(hash, preMasterSecret, 'master secret', Buffer.concat([seed.clientRandom, seed.serverRandom]), MASTER_SECRET_LENGTH);
}

/**
 * Finished.verify_data: `PRF(master_secret, "client finished" | "server finished",
 * Hash(handshake_messages))[0..12]` (RFC 5246 §7.4.9).
 *
 * @param hash - the suite's PRF hash.
 * @param masterSecret - 48 bytes.
 * @param sender - whose Finished.
 * @param transcriptHash - hash of all handshake messages before this Finished.
 * @returns 12 bytes.
 */
export function finishedVerifyData(hash: PrfHash, masterSecret: Uint8Array, sender: 'client' | 'server',
  transcriptHash: Uint8Array): Buffer {
  return prf12(hash, masterSecret, `${sender} finished`, transcriptHash, VERIFY_DATA_LENGTH);
}

/**
 * Hash a handshake transcript with the suite's PRF hash.
 *
 * @param hash - the PRF hash.
 * @param messages - the handshake messages (headers included) in order.
 * @returns the digest.
 */
export function transcriptHash(hash: PrfHash, messages: readonly Uint8Array[]): Buffer {
  const h = createHash(hash);
  for (const m of messages) h.update(m);
  return h.digest();
}

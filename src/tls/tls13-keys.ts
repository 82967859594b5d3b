/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1–7.3, §4.4.4, §4.6.3) without PSKs: HKDF-Extract and
 * HKDF-Expand-Label, the handshake and application traffic secrets, traffic keys and IVs, the
 * Finished MAC and the KeyUpdate step.
 *
 * Pure functions on node:crypto HMAC. The client uses them during its handshake; the station uses
 * {@link trafficKeys} and {@link nextTrafficSecret} to continue a session from the application
 * traffic secrets it finds in a TLS 1.3 tag. No record protection here (`record-layer13.ts`).
 *
 * @module
 */
import { createHash, createHmac } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { Tls13Hash, Tls13SuiteInfo } from './cipher-suites.js';

/** Length of a TLS 1.3 AEAD nonce / per-record IV. */
export const TLS13_IV_LENGTH = 12;

const LABEL_PREFIX = Buffer.from('tls13 ', 'ascii');

function hashLength(hash: Tls13Hash): number {
  return hash === 'sha256' ? 32 : 48;
}

/**
 * HKDF-Extract (RFC 5869 §2.2): `HMAC-Hash(salt, ikm)`.
 *
 * @param hash - the suite hash.
 * @param salt - the salt (an empty salt means a string of zeros of the hash length).
 * @param ikm - input keying material.
 * @returns the pseudorandom key.
 */
export function hkdfExtract(hash: Tls13Hash, salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac(hash, salt.length === 0 ? Buffer.alloc(hashLength(hash)) : salt).update(ikm).digest();
}

/**
 * HKDF-Expand (RFC 5869 §2.3).
 *
 * @param hash - the suite hash.
 * @param prk - the pseudorandom key.
 * @param info - context bytes.
 * @param length - output length, at most 255 hash lengths.
 * @returns `length` bytes.
 */
export function hkdfExpand(hash: Tls13Hash, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let t: Buffer = Buffer.alloc(0);
  for (let off = 0, i = 1; off < length; i++) {
    t = createHmac(hash, prk).update(t).update(info).update(Uint8Array.of(i)).digest();
    off += t.copy(out, off, 0, Math.min(t.length, length - off));
  }
  return out;
}

/**
 * HKDF-Expand-Label (RFC 8446 §7.1): expand with the `HkdfLabel` structure
 * `length(2) || "tls13 " + label (vec8) || context (vec8)`.
 *
 * @param hash - the suite hash.
 * @param secret - the secret to expand.
 * @param label - label without the `tls13 ` prefix, e.g. `key`.
 * @param context - context bytes (a transcript hash, or empty).
 * @param length - output length.
 * @returns `length` bytes.
 * @example
 * ```ts
 * const key = hkdfExpandLabel('sha256', clientSecret, 'key', new Uint8Array(0), 16)
 * ```
 */
export function hkdfExpandLabel(hash: Tls13Hash, secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const l = Buffer.from(label, 'ascii');
  const info = Buffer.allocUnsafe(2 + 1 + LABEL_PREFIX.length + l.length + 1 + context.length);
  let o = info.writeUInt16BE(length, 0);
  info[o++] = LABEL_PREFIX.length + l.length;
  o += LABEL_PREFIX.copy(info, o);
  o += l.copy(info, o);
  info[o++] = context.length;
  info.set(context, o);
  return hkdfExpand(hash, secret, info, length);
}

/**
 * Derive-Secret (RFC 8446 §7.1): `HKDF-Expand-Label(secret, label, transcriptHash, Hash.length)`.
 *
 * @param hash - the suite hash.
 * @param secret - the stage secret.
 * @param label - e.g. `c hs traffic`.
 * @param transcriptHash - hash of the messages the secret covers.
 * @returns a secret of the hash length.
 */
export function deriveSecret(hash: Tls13Hash, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Buffer {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}

/**
 * Hash of a transcript (concatenated handshake messages, headers included).
 *
 * @param hash - the suite hash.
 * @param messages - messages in order.
 * @returns the digest.
 */
export function transcriptHash13(hash: Tls13Hash, messages: readonly Uint8Array[]): Buffer {
  const h = createHash(hash);
  for (const m of messages) h.update(m);
  return h.digest();
}

/** The key and IV of one direction, derived from its traffic secret. */
export interface TrafficKeys {
  /** AEAD key (16 or 32 bytes). */
  readonly key: Buffer;
  /** 12-byte per-record IV, XORed with the sequence number. */
  readonly iv: Buffer;
}

/**
 * Traffic key and IV of a direction (RFC 8446 §7.3).
 *
 * @param suite - the TLS 1.3 suite.
 * @param secret - the traffic secret of that direction (hash length).
 * @returns key and IV.
 * @throws InvalidArgumentError when the secret is not the hash length.
 */
export function trafficKeys(suite: Tls13SuiteInfo, secret: Uint8Array): TrafficKeys {
  if (!(secret instanceof Uint8Array) || secret.length !== suite.hashLength) {
    throw new InvalidArgumentError(`"secret" expected ${suite.hashLength} bytes for ${suite.name}`);
  }
  const empty = new Uint8Array(0);
  return {
    key: hkdfExpandLabel(suite.hash, secret, 'key', empty, suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, 'iv', empty, TLS13_IV_LENGTH),
  };
}

/**
 * The next application traffic secret after a KeyUpdate (RFC 8446 §7.2).
 *
 * @param suite - the TLS 1.3 suite.
 * @param secret - the current traffic secret.
 * @returns the next one.
 */
export function nextTrafficSecret(suite: Tls13SuiteInfo, secret: Uint8Array): Buffer {
  return hkdfExpandLabel(suite.hash, secret, 'traffic upd', new Uint8Array(0), suite.hashLength);
}

/**
 * Finished.verify_data (RFC 8446 §4.4.4): `HMAC(HKDF-Expand-Label(baseKey, "finished", "", H),
 * transcriptHash)`.
 *
 * @param hash - the suite hash.
 * @param baseKey - the sender's handshake traffic secret.
 * @param transcriptHash - hash of the messages before this Finished.
 * @returns verify_data (hash length).
 */
export function finishedVerifyData13(hash: Tls13Hash, baseKey: Uint8Array, transcriptHash: Uint8Array): Buffer {
  const finishedKey = hkdfExpandLabel(hash, baseKey, 'finished', new Uint8Array(0), hashLength(hash));
  return createHmac(hash, finishedKey).update(transcriptHash).digest();
}

/** Handshake traffic secrets and what the next stage needs. */
export interface HandshakeSecrets {
  /** client_handshake_traffic_secret. */
  readonly client: Buffer;
  /** server_handshake_traffic_secret. */
  readonly server: Buffer;
  /** The handshake secret, input of the master secret. */
  readonly handshakeSecret: Buffer;
}

/**
 * The handshake stage without a PSK: early secret from zeros, handshake secret from the (EC)DHE
 * shared secret, and both handshake traffic secrets over ClientHello..ServerHello.
 *
 * @param hash - the suite hash.
 * @param sharedSecret - the key-exchange output.
 * @param helloHash - transcript hash through ServerHello.
 * @returns the secrets.
 */
export function handshakeSecrets(hash: Tls13Hash, sharedSecret: Uint8Array, helloHash: Uint8Array): HandshakeSecrets {
  const zeros = Buffer.alloc(hashLength(hash));
  const early = hkdfExtract(hash, zeros, zeros);
  const emptyHash = createHash(hash).digest();
  const handshakeSecret = hkdfExtract(hash, deriveSecret(hash, early, 'derived', emptyHash), sharedSecret);
  return {
    client: deriveSecret(hash, handshakeSecret, 'c hs traffic', helloHash),
    server: deriveSecret(hash, handshakeSecret, 's hs traffic', helloHash),
    handshakeSecret,
  };
}

/**
 * The application traffic secrets (RFC 8446 §7.1): master secret from the handshake secret, then
 * `c ap traffic` and `s ap traffic` over ClientHello..server Finished.
 *
 * @param hash - the suite hash.
 * @param handshakeSecret - from {@link handshakeSecrets}.
 * @param finishedHash - transcript hash through the server Finished.
 * @returns client_application_traffic_secret_0 and server_application_traffic_secret_0.
 */
export function applicationSecrets(hash: Tls13Hash, handshakeSecret: Uint8Array, finishedHash: Uint8Array): { client: Buffer; server: Buffer } {
  const emptyHash = createHash(hash).digest();
  const master = hkdfExtract(hash, deriveSecret(hash, handshakeSecret, 'derived', emptyHash), Buffer.alloc(hashLength(hash)));
  return {
    client: deriveSecret(hash, master, 'c ap traffic', finishedHash),
    server: deriveSecret(hash, master, 's ap traffic', finishedHash),
  };
}

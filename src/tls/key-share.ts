/**
 * TLS 1.3 key shares (RFC 8446 §4.2.8): X25519, P-256, P-384 and the hybrid X25519MLKEM768
 * (draft-ietf-tls-ecdhe-mlkem: ML-KEM-768 via `@noble/post-quantum`, X25519 via node:crypto).
 *
 * Both sides are here: the client makes a share and later derives the secret from the server's;
 * a test server answers a client share with its own share and the same secret. For the hybrid
 * group the client share is `ML-KEM encapsulation key (1184) || X25519 (32)`, the server share
 * `ML-KEM ciphertext (1088) || X25519 (32)` and the secret `ML-KEM secret || X25519 secret`.
 * Invalid peer values are `ERR_TLS_KEY_EXCHANGE`.
 *
 * @module
 */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { TlsError } from './errors.js';
import { generateEcdhe } from './key-exchange.js';
import { NamedGroup } from './wire.js';

/** Lengths of the ML-KEM-768 parts (FIPS 203). */
const MLKEM768_EK = 1184;
const MLKEM768_CT = 1088;
const X25519_LEN = 32;

/** Groups a TLS 1.3 key share can use here. */
export const KEY_SHARE_GROUPS: ReadonlySet<number> = new Set([
  NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.x25519mlkem768,
]);

/** A client key share waiting for the server's answer. */
export interface ClientKeyShare {
  /** The named group. */
  readonly group: number;
  /** key_exchange bytes as sent. */
  readonly keyExchange: Uint8Array;
  /**
   * The shared secret from the server's key_exchange.
   *
   * @throws TlsError `ERR_TLS_KEY_EXCHANGE` for an invalid server value.
   */
  deriveSecret(serverKeyExchange: Uint8Array): Buffer;
}

function badPeer(group: number, cause?: unknown): TlsError {
  return new TlsError('ERR_TLS_KEY_EXCHANGE', 'invalid key share from peer', { cause, context: { group } });
}

/**
 * Make a client key share.
 *
 * @param group - a group of {@link KEY_SHARE_GROUPS}.
 * @returns the share.
 * @throws TlsError `ERR_TLS_ILLEGAL_PARAMETER` for another group.
 * @example
 * ```ts
 * const share = generateClientKeyShare(NamedGroup.x25519mlkem768)   // 1216-byte key_exchange
 * const secret = share.deriveSecret(serverShare.keyExchange)       // 64 bytes
 * ```
 */
export function generateClientKeyShare(group: number): ClientKeyShare {
  if (group === NamedGroup.x25519mlkem768) {
    const kem = ml_kem768.keygen();
    const ecdh = generateEcdhe(NamedGroup.x25519);
    return {
      group,
      keyExchange: Buffer.concat([kem.publicKey, ecdh.publicKey]),
      deriveSecret(server: Uint8Array): Buffer {
        if (server.length !== MLKEM768_CT + X25519_LEN) throw badPeer(group);
        const kemSecret = ml_kem768.decapsulate(server.subarray(0, MLKEM768_CT), kem.secretKey);
        const ecdhSecret = ecdh.deriveSecret(server.subarray(MLKEM768_CT));
        return Buffer.concat([kemSecret, ecdhSecret]);
      },
    };
  }
  if (!KEY_SHARE_GROUPS.has(group)) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', `no key share for group ${group}`, { context: { group } });
  const pair = generateEcdhe(group);
  return { group, keyExchange: pair.publicKey, deriveSecret: (server) => pair.deriveSecret(server) };
}

/**
 * Answer a client key share as a server would (test servers and tools).
 *
 * @param group - the group of the client's share.
 * @param clientKeyExchange - the client's key_exchange bytes.
 * @returns the server's key_exchange and the shared secret.
 * @throws TlsError `ERR_TLS_KEY_EXCHANGE` for an invalid client value.
 */
export function answerKeyShare(group: number, clientKeyExchange: Uint8Array): { keyExchange: Buffer; secret: Buffer } {
  if (group === NamedGroup.x25519mlkem768) {
    if (clientKeyExchange.length !== MLKEM768_EK + X25519_LEN) throw badPeer(group);
    let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      enc = ml_kem768.encapsulate(clientKeyExchange.subarray(0, MLKEM768_EK));
    } catch (cause) {
      throw badPeer(group, cause); // the encapsulation key fails FIPS 203's modulus check
    }
    const ecdh = generateEcdhe(NamedGroup.x25519);
    const ecdhSecret = ecdh.deriveSecret(clientKeyExchange.subarray(MLKEM768_EK));
    return { keyExchange: Buffer.concat([enc.cipherText, ecdh.publicKey]), secret: Buffer.concat([enc.sharedSecret, ecdhSecret]) };
  }
  if (!KEY_SHARE_GROUPS.has(group)) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', `no key share for group ${group}`, { context: { group } });
  const pair = generateEcdhe(group);
  return { keyExchange: Buffer.from(pair.publicKey), secret: pair.deriveSecret(clientKeyExchange) };
}

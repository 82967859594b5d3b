/**
 * Ephemeral ECDH for TLS 1.2 (RFC 8422, RFC 7748) on node:crypto: X25519, P-256 and P-384, and
 * the RSA key transport premaster secret (RFC 5246 §7.4.7.1).
 *
 * Both sides of a handshake use {@link generateEcdhe}: the client for its ClientKeyExchange, test
 * servers for their ServerKeyExchange. Invalid peer values (a point off the curve, a compressed
 * point we did not offer, an X25519 value giving an all-zero secret) are `ERR_TLS_KEY_EXCHANGE`.
 *
 * @module
 */
import {
  constants, createECDH, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes,
  type KeyObject,
} from 'node:crypto';
import { TlsError } from './errors.js';
import { NamedGroup } from './wire.js';

/** An ephemeral key pair for one handshake. */
export interface EcdheKeyPair {
  /** The named group. */
  readonly group: number;
  /** Our public value as sent on the wire (uncompressed point, or 32 bytes for X25519). */
  readonly publicKey: Uint8Array;
  /**
   * Compute the shared secret with the peer's public value.
   *
   * @throws TlsError `ERR_TLS_KEY_EXCHANGE` for an invalid peer value.
   */
  deriveSecret(peerPublicKey: Uint8Array): Buffer;
}

// DER prefix of an X25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

const EC_CURVES = new Map<number, { curve: string; pointLength: number }>([
  [NamedGroup.secp256r1, { curve: 'prime256v1', pointLength: 65 }],
  [NamedGroup.secp384r1, { curve: 'secp384r1', pointLength: 97 }],
]);

/** Groups this module can run. */
export const SUPPORTED_GROUPS: ReadonlySet<number> = new Set([NamedGroup.x25519, ...EC_CURVES.keys()]);

function badPeer(group: number, cause?: unknown): TlsError {
  return new TlsError('ERR_TLS_KEY_EXCHANGE', 'invalid ECDHE public value from peer', { cause, context: { group } });
}

/**
 * Generate an ephemeral key pair.
 *
 * @param group - a group of {@link SUPPORTED_GROUPS}.
 * @returns the key pair.
 * @throws TlsError `ERR_TLS_ILLEGAL_PARAMETER` for a group we cannot run.
 */
export function generateEcdhe(group: number): EcdheKeyPair {
  if (group === NamedGroup.x25519) {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length);
    return {
      group,
      publicKey: raw,
      deriveSecret(peer: Uint8Array): Buffer {
        if (peer.length !== 32) throw badPeer(group);
        let peerKey: KeyObject;
        let secret: Buffer;
        try {
          peerKey = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, peer]), format: 'der', type: 'spki' });
          secret = diffieHellman({ privateKey, publicKey: peerKey });
        } catch (cause) {
          // OpenSSL refuses an all-zero result (a small-order peer point, RFC 7748 §6.1).
          throw badPeer(group, cause);
        }
        if (secret.every((b) => b === 0)) throw badPeer(group);
        return secret;
      },
    };
  }
  const curve = EC_CURVES.get(group);
  if (curve === undefined) throw new TlsError('ERR_TLS_ILLEGAL_PARAMETER', `named group ${group} is not supported`, { context: { group } });
  const ecdh = createECDH(curve.curve);
  const publicKey = ecdh.generateKeys();
  return {
    group,
    publicKey,
    deriveSecret(peer: Uint8Array): Buffer {
      // We offered only the uncompressed format (RFC 8422 §5.1.2).
      if (peer.length !== curve.pointLength || peer[0] !== 4) throw badPeer(group);
      try {
        return ecdh.computeSecret(peer);
      } catch (cause) {
        throw badPeer(group, cause);
      }
    },
  };
}

/**
 * The RSA key transport premaster secret: client_version(2) || 46 random bytes, encrypted with
 * PKCS#1 v1.5 under the server certificate's key (RFC 5246 §7.4.7.1).
 *
 * @param serverKey - the RSA public key of the server certificate.
 * @param clientVersion - ClientHello.client_version.
 * @returns the premaster secret and its encryption.
 */
export function rsaPremasterSecret(serverKey: KeyObject, clientVersion: number): { preMasterSecret: Buffer; encrypted: Buffer } {
  const preMasterSecret = Buffer.concat([Buffer.from([clientVersion >> 8, clientVersion & 0xff]), randomBytes(46)]);
  const encrypted = publicEncrypt({ key: serverKey, padding: constants.RSA_PKCS1_PADDING }, preMasterSecret);
  return { preMasterSecret, encrypted };
}

/**
 * The X-Proto header of the tagged request: the client's first ClientToStation, encrypted with
 * the tag's AES key under a fresh nonce (SPEC.md "X-Proto"):
 *
 * ```
 * X-Proto: base64std( iv(12) || AES-128-GCM(K[0:16], iv, ClientToStation) )
 * ```
 *
 * The nonce must be fresh: the tag payload already uses K[16:28] with the same key.
 *
 * @module
 */
import { aesGcmOpen, aesGcmSeal, GCM_IV_LENGTH, GCM_TAG_LENGTH } from '../crypto/aead.js';
import { abytes, concatBytes } from '../crypto/bytes.js';
import { systemRandom, type RandomSource } from '../crypto/keys.js';
import { ProtocolError } from './errors.js';
import { decodeClientToStation, encodeClientToStation, type ClientToStation } from './messages.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Encrypt a ClientToStation into an X-Proto header value.
 *
 * @param aesKey - the tag's AES key (`TagKey.aesKey`, 16 bytes)
 * @param message - a ClientToStation, or its protobuf bytes
 * @param options - `random`: source of the 12-byte nonce (default system CSPRNG)
 * @returns standard base64 with padding
 * @example
 * ```ts
 * const xProto = encodeXProto(key.aesKey, { decoyListGeneration: 1165,
 *   stateTransition: C2S_Transition.C2S_SESSION_INIT })
 * ```
 */
export function encodeXProto(
  aesKey: Uint8Array,
  message: Uint8Array | Parameters<typeof encodeClientToStation>[0],
  options: { random?: RandomSource } = {},
): string {
  abytes(aesKey, 'aesKey', 16, 32);
  const body = message instanceof Uint8Array ? message : encodeClientToStation(message);
  const iv = (options.random ?? systemRandom)(GCM_IV_LENGTH);
  abytes(iv, 'random(12)', GCM_IV_LENGTH);
  return Buffer.from(concatBytes(iv, aesGcmSeal(aesKey, iv, body))).toString('base64');
}

/**
 * Decrypt an X-Proto header value to the ClientToStation bytes.
 *
 * @param value - the header value (surrounding spaces allowed)
 * @param aesKey - the tag's AES key
 * @returns the protobuf bytes
 * @throws {@link ProtocolError} `ERR_PROTO_XPROTO` when the value is not strict base64, is shorter
 *   than nonce + GCM tag, or does not authenticate
 */
export function openXProto(value: string, aesKey: Uint8Array): Uint8Array {
  abytes(aesKey, 'aesKey', 16, 32);
  const text = value.trim();
  if (!BASE64.test(text)) throw new ProtocolError('ERR_PROTO_XPROTO', 'X-Proto is not base64', { context: { length: text.length } });
  const raw = new Uint8Array(Buffer.from(text, 'base64'));
  if (raw.length < GCM_IV_LENGTH + GCM_TAG_LENGTH) {
    throw new ProtocolError('ERR_PROTO_XPROTO', `X-Proto too short (${raw.length} bytes)`, { context: { length: raw.length } });
  }
  const plain = aesGcmOpen(aesKey, raw.subarray(0, GCM_IV_LENGTH), raw.subarray(GCM_IV_LENGTH));
  if (plain === null) throw new ProtocolError('ERR_PROTO_XPROTO', 'X-Proto does not authenticate under the tag key');
  return plain;
}

/**
 * Decrypt and decode an X-Proto header value.
 *
 * @param value - the header value
 * @param aesKey - the tag's AES key
 * @returns the ClientToStation
 * @throws {@link ProtocolError} `ERR_PROTO_XPROTO` (see {@link openXProto}) or `ERR_PROTO_DECODE`
 */
export function decodeXProto(value: string, aesKey: Uint8Array): ClientToStation {
  return decodeClientToStation(openXProto(value, aesKey));
}

const MARKER = Buffer.from('\r\nX-Proto: ', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * Find the X-Proto header value in a request's plaintext: the text after `\r\nX-Proto: ` up to
 * the next `\r\n` (as the 2018 station does; the header name is matched case-sensitively).
 *
 * @param plaintext - decrypted request bytes
 * @returns the header value, or `null` when there is no complete X-Proto line
 */
export function findXProtoValue(plaintext: Uint8Array): string | null {
  const buf = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const start = buf.indexOf(MARKER);
  if (start < 0) return null;
  const from = start + MARKER.length;
  const end = buf.indexOf(CRLF, from);
  if (end < 0) return null;
  return buf.toString('latin1', from, end);
}

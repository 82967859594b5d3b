/**
 * Errors of the protocol layer: protobuf messages, type-length framing, X-Proto, ClientConf.
 *
 * Station-side scanners (`tag-reader.ts`) never throw on traffic; they return `null`. These errors
 * are for parties that already know they are talking TapDance and got something broken.
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/**
 * Stable codes of {@link ProtocolError}:
 * - `ERR_PROTO_DECODE`: bytes are not a valid protobuf of the expected message (truncated, bad
 *   wire type, bad UTF-8 in a string field).
 * - `ERR_PROTO_FRAME_TOO_LARGE`: a framed protobuf announces more bytes than the configured limit.
 * - `ERR_PROTO_FRAME_TRUNCATED`: the stream ended inside a frame.
 * - `ERR_PROTO_XPROTO`: an X-Proto header value is not base64, too short, or does not
 *   authenticate under the tag key.
 * - `ERR_PROTO_CLIENT_CONF`: a ClientConf file cannot be used (e.g. no decoys, decoy without
 *   an address).
 */
export type ProtocolErrorCode =
  | 'ERR_PROTO_DECODE'
  | 'ERR_PROTO_FRAME_TOO_LARGE'
  | 'ERR_PROTO_FRAME_TRUNCATED'
  | 'ERR_PROTO_XPROTO'
  | 'ERR_PROTO_CLIENT_CONF';

/**
 * Thrown by the protocol layer for malformed or unacceptable peer data.
 *
 * @example
 * ```ts
 * try { decodeStationToClient(bytes) } catch (err) {
 *   if (err instanceof ProtocolError) log.warn(err.code, err.context)
 * }
 * ```
 */
export class ProtocolError extends TapDanceError {
  static override brand = 'ProtocolError';
  declare readonly code: ProtocolErrorCode;

  /**
   * @param code - one of {@link ProtocolErrorCode}
   * @param message - human-readable text
   * @param options - cause and safe context (lengths, limits)
   */
  constructor(code: ProtocolErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

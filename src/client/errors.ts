/**
 * Typed errors of the client (`dial()`, sessions, flows).
 *
 * | code | meaning |
 * |---|---|
 * | `ERR_DECOY_CONNECT` | the TCP connection or TLS handshake to a decoy failed |
 * | `ERR_DIAL_TIMEOUT` | the dial did not finish within its deadline |
 * | `ERR_DIAL_ABORTED` | the caller's AbortSignal fired |
 * | `ERR_STATION_NO_RESPONSE` | the decoy's connection carried no station answer (no station on the path, or the tag was not recognised) |
 * | `ERR_STATION_REFUSED` | the station answered with S2C_ERROR (reason in `context.reason`) |
 * | `ERR_STATION_PROTOCOL` | the station sent something the protocol does not allow (garbage, unknown or unexpected transition, oversized frame) |
 * | `ERR_SESSION_CLOSED` | the station closed the session (S2C_SESSION_CLOSE) |
 * | `ERR_SESSION_LOST` | a flow ended and no new flow could be established |
 * | `ERR_NO_DECOYS` | the ClientConf has no usable decoy |
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/** Codes of {@link ClientError}. */
export type ClientErrorCode =
  | 'ERR_DECOY_CONNECT'
  | 'ERR_DIAL_TIMEOUT'
  | 'ERR_DIAL_ABORTED'
  | 'ERR_STATION_NO_RESPONSE'
  | 'ERR_STATION_REFUSED'
  | 'ERR_STATION_PROTOCOL'
  | 'ERR_SESSION_CLOSED'
  | 'ERR_SESSION_LOST'
  | 'ERR_NO_DECOYS';

/** A client-side failure. */
export class ClientError extends TapDanceError {
  static override brand = 'ClientError';
  declare readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

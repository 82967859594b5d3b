/**
 * Typed errors of the station wrapper.
 *
 * | code | meaning |
 * |---|---|
 * | `ERR_STATION_CONFIG` | the config file is missing, unreadable or invalid; the message names the field |
 * | `ERR_COVERT_DENIED` | a client asked for a covert destination outside the allowlist |
 * | `ERR_COVERT_CONNECT` | the covert destination could not be reached |
 * | `ERR_COVERT_STREAM` | the covert connection failed after it was established |
 * | `ERR_SESSION_PROTOCOL` | a client broke the session protocol (bad frame, bad transition) |
 * | `ERR_SESSION_TIMEOUT` | a session had no flow for longer than the reconnect window |
 * | `ERR_TAKEOVER` | a takeover handed over by the data plane could not be turned into a session |
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/** Codes of {@link StationError}. */
export type StationErrorCode =
  | 'ERR_COVERT_DENIED'
  | 'ERR_COVERT_CONNECT'
  | 'ERR_COVERT_STREAM'
  | 'ERR_SESSION_PROTOCOL'
  | 'ERR_SESSION_TIMEOUT'
  | 'ERR_TAKEOVER';

/** A failure while serving sessions. */
export class StationError extends TapDanceError {
  static override brand = 'StationError';
  declare readonly code: StationErrorCode;
  constructor(code: StationErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The station configuration is invalid. Code `ERR_STATION_CONFIG`; the message names the field. */
export class StationConfigError extends TapDanceError {
  static override brand = 'StationConfigError';
  constructor(message: string, options: TapDanceErrorOptions = {}) {
    super('ERR_STATION_CONFIG', message, options);
  }
}

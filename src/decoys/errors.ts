/**
 * Typed errors of the decoy-list builder (`tapdance decoys build`).
 *
 * Probe failures against a candidate host are not errors: they are results (a host that refuses
 * TLS is a dropped host with a reason). These errors are for the operator's inputs and for local
 * failures that stop a build.
 *
 * | code | meaning |
 * |---|---|
 * | `ERR_DECOY_CANDIDATES` | the candidates file has malformed or duplicate lines (`context.errors` lists `{ line, message }`) |
 * | `ERR_DECOY_OPTIONS` | a builder option is out of range or inconsistent (the message names it) |
 * | `ERR_DECOY_STATION_KEY` | `--station-key` is neither 64 hex digits nor a readable 32-byte key file |
 * | `ERR_DECOY_PREVIOUS_CONF` | the existing output ClientConf cannot be read to take its generation |
 * | `ERR_DECOY_HTTP` | a decoy's HTTP response cannot be parsed (bad status line, bad chunk, too large) |
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/** Codes of {@link DecoyError}. */
export type DecoyErrorCode =
  | 'ERR_DECOY_CANDIDATES'
  | 'ERR_DECOY_OPTIONS'
  | 'ERR_DECOY_STATION_KEY'
  | 'ERR_DECOY_PREVIOUS_CONF'
  | 'ERR_DECOY_HTTP';

/**
 * An input or local failure of the decoy-list builder.
 *
 * @example
 * ```ts
 * try { parseCandidates(text) } catch (err) {
 *   if (err instanceof DecoyError && err.code === 'ERR_DECOY_CANDIDATES') console.error(err.message)
 * }
 * ```
 */
export class DecoyError extends TapDanceError {
  static override brand = 'DecoyError';
  declare readonly code: DecoyErrorCode;

  /**
   * @param code - one of {@link DecoyErrorCode}
   * @param message - human-readable text (names the file line or option)
   * @param options - cause and safe context
   */
  constructor(code: DecoyErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Errors of the Tor pluggable transport layer.
 *
 * One class, {@link PtError}, with a closed set of codes, and one subclass, {@link SocksError},
 * that also carries the SOCKS reply the server sends for it. Each code maps to exactly one
 * reaction: a line to tor (`ENV-ERROR`, `VERSION-ERROR`, `PROXY-ERROR`), a SOCKS reply, or a
 * closed connection. `context` never holds a client or bridge address.
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../src/errors.js';

/**
 * Stable codes of {@link PtError}.
 *
 * - `ERR_PT_ENV`: the parent's environment is missing or malformed (tor sees `ENV-ERROR`).
 * - `ERR_PT_VERSION`: no PT protocol version we speak (tor sees `VERSION-ERROR no-version`).
 * - `ERR_PT_PROXY_URI`: `TOR_PT_PROXY` is unusable (tor sees `PROXY-ERROR`).
 * - `ERR_PT_ARGS`: per-connection `k=v;k=v` arguments do not parse.
 * - `ERR_PT_BRIDGE_ARGS`: the arguments parse but are not valid TapDance bridge arguments.
 * - `ERR_PT_SOCKS`: a SOCKS client broke the protocol.
 * - `ERR_PT_SOCKS_TIMEOUT`: a SOCKS client did not finish its handshake in time.
 * - `ERR_PT_DIAL_TIMEOUT`: the transport did not connect in time.
 * - `ERR_PT_CONNECT`: an outgoing TCP connection failed (the errno is the cause).
 * - `ERR_PT_UPSTREAM`: the `TOR_PT_PROXY` upstream refused or failed the connection.
 * - `ERR_PT_TRANSPORT_UNAVAILABLE`: no TapDance client is wired into this build.
 * - `ERR_PT_STATE`: the state directory cannot be created, read or written.
 * - `ERR_PT_EXTOR_COOKIE`: the ExtORPort auth cookie file is missing or malformed.
 * - `ERR_PT_EXTOR_AUTH`: the ExtORPort refused our SAFE_COOKIE proof or sent a wrong one.
 * - `ERR_PT_EXTOR_DENIED`: the ExtORPort answered DENY.
 * - `ERR_PT_EXTOR_PROTOCOL`: the ExtORPort broke its framing or closed early.
 */
export type PtErrorCode =
  | 'ERR_PT_ENV'
  | 'ERR_PT_VERSION'
  | 'ERR_PT_PROXY_URI'
  | 'ERR_PT_ARGS'
  | 'ERR_PT_BRIDGE_ARGS'
  | 'ERR_PT_SOCKS'
  | 'ERR_PT_SOCKS_TIMEOUT'
  | 'ERR_PT_DIAL_TIMEOUT'
  | 'ERR_PT_CONNECT'
  | 'ERR_PT_UPSTREAM'
  | 'ERR_PT_TRANSPORT_UNAVAILABLE'
  | 'ERR_PT_STATE'
  | 'ERR_PT_EXTOR_COOKIE'
  | 'ERR_PT_EXTOR_AUTH'
  | 'ERR_PT_EXTOR_DENIED'
  | 'ERR_PT_EXTOR_PROTOCOL';

/**
 * An error of the pluggable transport.
 *
 * @example
 * ```ts
 * try { parseProxyUri(env.TOR_PT_PROXY) } catch (err) {
 *   if (err instanceof PtError && err.code === 'ERR_PT_PROXY_URI') ipc.proxyError(err.message)
 * }
 * ```
 */
export class PtError extends TapDanceError {
  static override brand = 'PtError';
  declare readonly code: PtErrorCode;

  /**
   * @param code - stable code, see {@link PtErrorCode}
   * @param message - human-readable; for ENV/VERSION/PROXY errors it is the text tor logs
   * @param options - cause and safe context
   */
  constructor(code: PtErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * A SOCKS protocol failure together with the reply byte the server sends before closing
 * (`null` when the protocol gives no way to answer, e.g. an unknown SOCKS version).
 */
export class SocksError extends PtError {
  static override brand = 'SocksError';
  /** Reply to send: a SOCKS5 REP, RFC 1929 status, 0xFF method refusal, or SOCKS4 CD byte. */
  readonly reply: Uint8Array | null;

  /**
   * @param message - what was wrong
   * @param reply - bytes to send before closing, or null
   * @param options - cause and context (the handshake state)
   */
  constructor(message: string, reply: Uint8Array | null, options: TapDanceErrorOptions = {}) {
    super('ERR_PT_SOCKS', message, options);
    this.reply = reply;
  }
}

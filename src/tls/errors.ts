/**
 * Errors of the TLS layer: one class, {@link TlsError}, with a closed set of stable codes.
 *
 * Every failure the TLS layer can meet (malformed bytes from the peer, a failed certificate
 * check, a bad MAC, a timeout, misuse of the API) maps to one code. The code also decides which
 * alert goes to the peer before the connection is torn down (`alertToSend`); an alert the peer
 * sent us is reported with its description in `context.alert`.
 *
 * This module only defines the errors; it does not send alerts or close anything.
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';
import { AlertDescription, alertName } from './wire.js';

/** Stable codes of {@link TlsError}, with the alert each one sends to the peer (or none). */
export const TLS_ERROR_ALERTS = {
  /** A record failed AEAD authentication. */
  ERR_TLS_BAD_RECORD_MAC: AlertDescription.bad_record_mac,
  /** A record or a handshake message is larger than the protocol or our limits allow. */
  ERR_TLS_RECORD_OVERFLOW: AlertDescription.record_overflow,
  /** Bytes from the peer do not parse (wrong lengths, truncated fields, unknown record type). */
  ERR_TLS_DECODE: AlertDescription.decode_error,
  /** A message arrived that is not allowed in the current state. */
  ERR_TLS_UNEXPECTED_MESSAGE: AlertDescription.unexpected_message,
  /** The peer sent a fatal alert (its description is in `context.alert`). */
  ERR_TLS_ALERT_RECEIVED: null,
  /** The server chose a protocol version we did not offer. */
  ERR_TLS_PROTOCOL_VERSION: AlertDescription.protocol_version,
  /** The server signalled a downgrade from TLS 1.3 (RFC 8446 §4.1.3 sentinel). */
  ERR_TLS_DOWNGRADE: AlertDescription.illegal_parameter,
  /** The server chose a value we did not offer or that is invalid. */
  ERR_TLS_ILLEGAL_PARAMETER: AlertDescription.illegal_parameter,
  /** The server's parameters are unacceptable (e.g. a non-empty renegotiation_info). */
  ERR_TLS_HANDSHAKE_FAILURE: AlertDescription.handshake_failure,
  /** The server chose a cipher suite we offered for the fingerprint but cannot run. */
  ERR_TLS_UNSUPPORTED_SUITE: AlertDescription.handshake_failure,
  /** The server answered with an extension we did not offer or cannot honour. */
  ERR_TLS_UNSUPPORTED_EXTENSION: AlertDescription.unsupported_extension,
  /** The server's key-exchange value is invalid (bad point, zero shared secret). */
  ERR_TLS_KEY_EXCHANGE: AlertDescription.illegal_parameter,
  /** The signature over the server's key exchange does not verify. */
  ERR_TLS_BAD_SIGNATURE: AlertDescription.decrypt_error,
  /** The certificate message is unusable (not X.509, empty chain, unsupported key). */
  ERR_TLS_BAD_CERTIFICATE: AlertDescription.bad_certificate,
  /** A certificate in the chain is expired or not yet valid. */
  ERR_TLS_CERT_EXPIRED: AlertDescription.certificate_expired,
  /** The chain does not lead to a trusted root (or does not match the pinned certificate). */
  ERR_TLS_CERT_UNTRUSTED: AlertDescription.unknown_ca,
  /** The certificate is valid but not for the name or address we connected to. */
  ERR_TLS_CERT_HOSTNAME: AlertDescription.bad_certificate,
  /** The server's Finished message does not match the transcript. */
  ERR_TLS_BAD_FINISHED: AlertDescription.decrypt_error,
  /** The server tried to renegotiate, which this client refuses. */
  ERR_TLS_RENEGOTIATION_REFUSED: AlertDescription.no_renegotiation,
  /** A sequence number would wrap around. */
  ERR_TLS_SEQUENCE_OVERFLOW: AlertDescription.internal_error,
  /** The handshake did not finish within the configured time. */
  ERR_TLS_HANDSHAKE_TIMEOUT: AlertDescription.user_canceled,
  /** The transport ended or failed before the handshake finished or mid-record. */
  ERR_TLS_TRANSPORT_CLOSED: null,
  /** An API call made in the wrong state or with a wrong argument (e.g. a record too large). */
  ERR_TLS_INVALID_STATE: null,
  /** A ClientHello profile that cannot be built (e.g. a key share for a group we cannot run). */
  ERR_TLS_UNSUPPORTED_PROFILE: null,
  /** A bug or an unexpected failure inside this library (reported, never swallowed). */
  ERR_TLS_INTERNAL: AlertDescription.internal_error,
  /** The connection was destroyed by its owner. */
  ERR_TLS_DESTROYED: null,
} as const satisfies Record<string, AlertDescription | null>;

/** One of the stable codes of {@link TlsError}. */
export type TlsErrorCode = keyof typeof TLS_ERROR_ALERTS;

/**
 * The error of the TLS layer. `code` says what failed; `context` may carry `alert` (the alert
 * description received or sent), `state` (the handshake state) and lengths or ids.
 *
 * @example
 * ```ts
 * try { await connectTls(socket, { serverName: 'example.com' }) } catch (err) {
 *   if (err instanceof TlsError && err.code === 'ERR_TLS_CERT_HOSTNAME') console.error('wrong host')
 * }
 * ```
 */
export class TlsError extends TapDanceError {
  static override brand = 'TlsError';
  declare readonly code: TlsErrorCode;

  /**
   * @param code - one of {@link TLS_ERROR_ALERTS}' keys.
   * @param message - human-readable detail.
   * @param options - cause and safe context.
   */
  constructor(code: TlsErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    const alert = TLS_ERROR_ALERTS[code];
    const context = alert === null || options.context?.['alert'] !== undefined
      ? options.context
      : { ...options.context, alert: alertName(alert) };
    super(code, message, { ...options, ...(context === undefined ? {} : { context }) });
  }

  /** The alert description to send the peer for this error, or null when none is sent. */
  get alertToSend(): AlertDescription | null {
    return TLS_ERROR_ALERTS[this.code];
  }
}

/**
 * Shorthand for `new TlsError('ERR_TLS_DECODE', …)`, used by every parser.
 *
 * @param what - what failed to parse.
 * @param context - safe detail.
 * @returns the error (to be thrown by the caller).
 */
export function decodeError(what: string, context?: Record<string, unknown>): TlsError {
  return new TlsError('ERR_TLS_DECODE', `malformed ${what}`, context === undefined ? {} : { context });
}

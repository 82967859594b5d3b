/**
 * The alert protocol's two-byte message (RFC 5246 §7.2): encode and parse.
 *
 * @module
 */
import { decodeError } from './errors.js';
import { AlertLevel } from './wire.js';

/** A parsed alert. */
export interface Alert {
  /** 1 warning, 2 fatal. */
  level: number;
  /** Alert description number. */
  description: number;
}

/**
 * Encode an alert message.
 *
 * @param level - warning (1) or fatal (2).
 * @param description - alert description.
 * @returns the two bytes.
 */
export function encodeAlert(level: number, description: number): Buffer {
  return Buffer.from([level, description]);
}

/**
 * Parse the plaintext of an alert record. One alert per record: a record holding more or fewer
 * than two bytes is malformed (we never fragment or coalesce alerts, nor do real servers).
 *
 * @param body - the record plaintext.
 * @returns the alert.
 * @throws TlsError `ERR_TLS_DECODE` for a wrong length or an unknown level.
 */
export function parseAlert(body: Uint8Array): Alert {
  if (body.length !== 2) throw decodeError('alert', { length: body.length });
  const level = body[0]!;
  if (level !== AlertLevel.warning && level !== AlertLevel.fatal) throw decodeError('alert level', { level });
  return { level, description: body[1]! };
}

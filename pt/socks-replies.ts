/**
 * SOCKS reply codes (RFC 1928 §6, SOCKS4 CD byte), reply messages, and the mapping from a failed
 * dial to the reply tor gets.
 *
 * The mapping follows lyrebird's `ErrorToReplyCode` for socket errors (ECONNREFUSED → 0x05, …)
 * and adds our own codes. Lower layers that cannot import this one (the client library sits
 * below `pt`) mark an error with a reply by setting the global-registry symbol
 * {@link kSocksReply} on it. Pure, no I/O.
 *
 * @module
 */

/** SOCKS5 REP values. */
export const Socks5Reply = Object.freeze({
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const);

/** One SOCKS5 REP value. */
export type Socks5ReplyCode = (typeof Socks5Reply)[keyof typeof Socks5Reply];

/** SOCKS4 CD values of a reply. */
export const Socks4Reply = Object.freeze({ granted: 0x5a, rejected: 0x5b } as const);

/** SOCKS5 method numbers we know. */
export const Socks5Method = Object.freeze({ noAuth: 0x00, usernamePassword: 0x02, noAcceptable: 0xff } as const);

/**
 * Property an error may carry (under `Symbol.for('tapdance.pt.socksReply')`) to choose its SOCKS5
 * reply code.
 */
export const kSocksReply: unique symbol = Symbol.for('tapdance.pt.socksReply') as never;

const ERRNO_REPLIES: Readonly<Record<string, Socks5ReplyCode>> = Object.freeze({
  EADDRNOTAVAIL: Socks5Reply.addressTypeNotSupported,
  ETIMEDOUT: Socks5Reply.ttlExpired,
  ENETUNREACH: Socks5Reply.networkUnreachable,
  EHOSTUNREACH: Socks5Reply.hostUnreachable,
  ECONNREFUSED: Socks5Reply.connectionRefused,
  ECONNRESET: Socks5Reply.connectionRefused,
  ENOTFOUND: Socks5Reply.hostUnreachable,
  EAI_AGAIN: Socks5Reply.hostUnreachable,
  ERR_PT_DIAL_TIMEOUT: Socks5Reply.ttlExpired,
  ERR_PT_BRIDGE_ARGS: Socks5Reply.notAllowed,
});

/**
 * Choose the SOCKS5 reply for a failed dial: an explicit {@link kSocksReply} wins, then a known
 * `code` (errno or ours), searched along the `cause` chain; else general failure.
 *
 * @param err - what the dialer threw
 * @returns a SOCKS5 REP value other than success
 * @example
 * ```ts
 * socksReplyForError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })) // 0x05
 * ```
 */
export function socksReplyForError(err: unknown): Socks5ReplyCode {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const marked = (current as { [kSocksReply]?: unknown })[kSocksReply];
    if (typeof marked === 'number' && marked > 0 && marked <= 0x08) return marked as Socks5ReplyCode;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && Object.hasOwn(ERRNO_REPLIES, code)) return ERRNO_REPLIES[code]!;
    current = (current as { cause?: unknown }).cause;
  }
  return Socks5Reply.generalFailure;
}

/**
 * A SOCKS5 reply with BND.ADDR 0.0.0.0 and BND.PORT 0 (tor ignores them; so do lyrebird and
 * goptlib).
 *
 * @param code - REP value
 * @returns the 10-byte reply
 */
export function socks5Reply(code: Socks5ReplyCode): Uint8Array {
  return Uint8Array.of(0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
}

/**
 * A SOCKS4 reply (VN 0, CD, port and address zero).
 *
 * @param granted - whether the request was granted
 * @returns the 8-byte reply
 */
export function socks4Reply(granted: boolean): Uint8Array {
  return Uint8Array.of(0x00, granted ? Socks4Reply.granted : Socks4Reply.rejected, 0, 0, 0, 0, 0, 0);
}

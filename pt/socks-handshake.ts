/**
 * The server side of a SOCKS handshake as a pluggable transport needs it: a sans-IO state
 * machine fed with bytes, answering with bytes to send and, at the end, the CONNECT request with
 * its transport arguments.
 *
 * SOCKS5 (RFC 1928) with NoAuth or username/password (RFC 1929); the credentials carry PT
 * arguments (pt-spec §3.5), so any credentials are accepted as long as they parse. When a client
 * offers both methods, username/password is chosen (tor offers `00 02` exactly when the bridge
 * line has arguments). SOCKS4 and SOCKS4a (USERID = arguments) are accepted too. Only CONNECT.
 *
 * Every message has a fixed upper size (one-byte lengths; SOCKS4 USERID ≤ 510 and host ≤ 255
 * bytes), so at most {@link MAX_HANDSHAKE_BYTES} bytes are ever buffered. Bytes a client sends
 * after its request are kept as early data for the stream. Network input never throws: a
 * protocol error comes back as a {@link SocksError} plus the reply bytes to send before closing.
 *
 * Reply codes follow lyrebird's server (bad VER/RSV/empty host → general failure, CMD → 0x07,
 * ATYP → 0x08, RFC 1929 failures → `01 01`, no method → `05 FF`).
 *
 * @module
 */
import { argsFromSocks5Credentials, decodeArgsBytes, MAX_ARGS_BYTES, parsePtArgs, type PtArgs } from './args.js';
import type { PtTarget } from './dialer.js';
import { PtError, SocksError } from './errors.js';
import { Socks5Method, Socks5Reply, socks4Reply, socks5Reply, type Socks5ReplyCode } from './socks-replies.js';

/** Where the handshake is. */
export type SocksHandshakeState =
  /** Waiting for the version byte and, for SOCKS5, the method list. */
  | 'greeting'
  /** SOCKS5: waiting for RFC 1929 credentials. */
  | 'socks5-auth'
  /** SOCKS5: waiting for the request. */
  | 'socks5-request'
  /** SOCKS4/4a: waiting for the request (with USERID and host). */
  | 'socks4-request'
  /** Request parsed; the caller dials and then calls {@link SocksHandshake.reply}. */
  | 'request-ready'
  /** Reply given; the connection carries the stream (success) or closes (failure). */
  | 'replied'
  /** Protocol error; close after sending what {@link SocksHandshake.push} returned. */
  | 'failed';

/** A complete CONNECT request. */
export interface SocksRequest {
  /** 4 for SOCKS4/4a, 5 for SOCKS5. */
  version: 4 | 5;
  /** Destination (for tor: the bridge address of the bridge line). */
  target: PtTarget;
  /** How the destination was given. */
  addressType: 'ipv4' | 'ipv6' | 'domain';
  /** Parsed transport arguments (empty when none were sent). */
  args: PtArgs;
}

/** Result of one {@link SocksHandshake.push}. */
export interface SocksStep {
  /** Bytes to send to the client, in order (possibly empty). */
  send: Uint8Array[];
  /** The request, the one time it completes. */
  request: SocksRequest | null;
  /** The protocol error, the one time it happens; close after sending `send`. */
  error: SocksError | null;
}

/** Options of {@link SocksHandshake}. */
export interface SocksHandshakeOptions {
  /** Accept SOCKS4 and SOCKS4a clients. Default true. */
  allowSocks4?: boolean;
}

/** Most bytes a handshake buffers before the request completes (the largest SOCKS4a request). */
export const MAX_HANDSHAKE_BYTES = 8 + MAX_ARGS_BYTES + 1 + 255 + 1;

const EMPTY = new Uint8Array(0);

/**
 * One client's SOCKS handshake.
 *
 * @example
 * ```ts
 * const hs = new SocksHandshake()
 * socket.on('data', (chunk) => {
 *   const step = hs.push(chunk)
 *   for (const bytes of step.send) socket.write(bytes)
 *   if (step.error) socket.end()
 *   else if (step.request) dial(step.request).then(
 *     (stream) => { socket.write(hs.reply(0)); pipe(socket, stream, hs.takeEarlyData()) },
 *     (err) => socket.end(hs.reply(socksReplyForError(err))))
 * })
 * ```
 */
export class SocksHandshake {
  #state: SocksHandshakeState = 'greeting';
  #buf: Uint8Array = EMPTY;
  #version: 4 | 5 = 5;
  #args = '';
  readonly #allowSocks4: boolean;

  /** @param options - accepted protocol versions */
  constructor(options: SocksHandshakeOptions = {}) {
    this.#allowSocks4 = options.allowSocks4 ?? true;
  }

  /** The current state. */
  get state(): SocksHandshakeState {
    return this.#state;
  }

  /** Bytes buffered and not yet consumed (before the request: a partial message). */
  get buffered(): number {
    return this.#buf.length;
  }

  /**
   * Feed bytes from the client.
   *
   * @param chunk - any split of the stream
   * @returns bytes to send, and the request or the error when either happens
   */
  push(chunk: Uint8Array): SocksStep {
    const step: SocksStep = { send: [], request: null, error: null };
    if (this.#state === 'failed' || this.#state === 'replied') return step;
    this.#buf = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    if (this.#state === 'request-ready') return step;
    try {
      while (this.#advance(step)) {
        // each turn consumes one complete message
      }
    } catch (err) {
      if (!(err instanceof SocksError)) throw err;
      this.#state = 'failed';
      this.#buf = EMPTY;
      if (err.reply !== null) step.send.push(err.reply);
      step.error = err;
    }
    return step;
  }

  /**
   * The final reply for the request, in the client's SOCKS version. Call once, in `request-ready`.
   *
   * @param code - SOCKS5 REP value (success or the failure); SOCKS4 gets granted or rejected
   * @returns bytes to send
   */
  reply(code: Socks5ReplyCode): Uint8Array {
    if (this.#state !== 'request-ready') throw new PtError('ERR_PT_SOCKS', `reply() in state ${this.#state}`);
    this.#state = 'replied';
    return this.#version === 5 ? socks5Reply(code) : socks4Reply(code === Socks5Reply.succeeded);
  }

  /**
   * Bytes the client sent after its request (to be forwarded once the stream is up), emptying
   * the buffer.
   *
   * @returns the early data, possibly empty
   */
  takeEarlyData(): Uint8Array {
    const data = this.#state === 'request-ready' || this.#state === 'replied' ? this.#buf : EMPTY;
    this.#buf = EMPTY;
    return data;
  }

  // Parses one message from the buffer when complete; returns whether to try another.
  #advance(step: SocksStep): boolean {
    switch (this.#state) {
      case 'greeting':
        return this.#greeting(step);
      case 'socks5-auth':
        return this.#auth(step);
      case 'socks5-request':
        return this.#socks5Request(step);
      case 'socks4-request':
        return this.#socks4Request(step);
      case 'request-ready':
      case 'replied':
      case 'failed':
        return false;
      default:
        return assertNever(this.#state);
    }
  }

  #greeting(step: SocksStep): boolean {
    const b = this.#buf;
    if (b.length < 1) return false;
    if (b[0] === 0x04 && this.#allowSocks4) {
      this.#version = 4;
      this.#state = 'socks4-request';
      return true;
    }
    if (b[0] !== 0x05) throw fail('unsupported SOCKS version', null, this.#state, { version: b[0] });
    if (b.length < 2) return false;
    const n = b[1]!;
    if (b.length < 2 + n) return false;
    const methods = b.subarray(2, 2 + n);
    this.#consume(2 + n);
    // Username/password first: it is how tor passes arguments when the bridge line has any.
    const method = methods.includes(Socks5Method.usernamePassword)
      ? Socks5Method.usernamePassword
      : methods.includes(Socks5Method.noAuth)
        ? Socks5Method.noAuth
        : Socks5Method.noAcceptable;
    step.send.push(Uint8Array.of(0x05, method));
    if (method === Socks5Method.noAcceptable) throw fail('no acceptable authentication method', null, 'greeting', { methods: n });
    this.#state = method === Socks5Method.usernamePassword ? 'socks5-auth' : 'socks5-request';
    return true;
  }

  #auth(step: SocksStep): boolean {
    const b = this.#buf;
    const authFailure = Uint8Array.of(0x01, 0x01);
    if (b.length < 1) return false;
    if (b[0] !== 0x01) throw fail('bad RFC 1929 version', authFailure, this.#state, { version: b[0] });
    if (b.length < 2) return false;
    const ulen = b[1]!;
    if (ulen === 0) throw fail('empty RFC 1929 user name', authFailure, this.#state);
    if (b.length < 3 + ulen) return false;
    const plen = b[2 + ulen]!;
    if (plen === 0) throw fail('empty RFC 1929 password', authFailure, this.#state);
    if (b.length < 3 + ulen + plen) return false;
    const username = b.subarray(2, 2 + ulen);
    const password = b.subarray(3 + ulen, 3 + ulen + plen);
    try {
      this.#args = argsFromSocks5Credentials(username, password);
      parsePtArgs(this.#args);
    } catch (cause) {
      throw fail('transport arguments in the credentials do not parse', authFailure, this.#state, {}, cause);
    }
    this.#consume(3 + ulen + plen);
    step.send.push(Uint8Array.of(0x01, 0x00));
    this.#state = 'socks5-request';
    return true;
  }

  #socks5Request(step: SocksStep): boolean {
    const b = this.#buf;
    const state = this.#state;
    if (b.length < 4) return false;
    if (b[0] !== 0x05) throw fail('bad request version', socks5Reply(Socks5Reply.generalFailure), state, { version: b[0] });
    if (b[1] !== 0x01) throw fail('only CONNECT is supported', socks5Reply(Socks5Reply.commandNotSupported), state, { command: b[1] });
    if (b[2] !== 0x00) throw fail('nonzero reserved byte', socks5Reply(Socks5Reply.generalFailure), state);
    let host: string;
    let end: number;
    let addressType: SocksRequest['addressType'];
    switch (b[3]) {
      case 0x01:
        end = 4 + 4;
        if (b.length < end + 2) return false;
        host = b.subarray(4, end).join('.');
        addressType = 'ipv4';
        break;
      case 0x04:
        end = 4 + 16;
        if (b.length < end + 2) return false;
        host = formatIPv6(b.subarray(4, end));
        addressType = 'ipv6';
        break;
      case 0x03: {
        if (b.length < 5) return false;
        const len = b[4]!;
        if (len === 0) throw fail('empty host name', socks5Reply(Socks5Reply.generalFailure), state);
        end = 5 + len;
        if (b.length < end + 2) return false;
        host = hostName(b.subarray(5, end), socks5Reply(Socks5Reply.generalFailure), state);
        addressType = 'domain';
        break;
      }
      default:
        throw fail('unsupported address type', socks5Reply(Socks5Reply.addressTypeNotSupported), state, { atyp: b[3] });
    }
    const port = (b[end]! << 8) | b[end + 1]!;
    this.#consume(end + 2);
    this.#ready(step, { version: 5, target: { host, port }, addressType, args: parsePtArgs(this.#args) });
    return false;
  }

  #socks4Request(step: SocksStep): boolean {
    const b = this.#buf;
    const rejected = socks4Reply(false);
    const state = this.#state;
    if (b.length < 2) return false;
    if (b[1] !== 0x01) throw fail('only CONNECT is supported', rejected, state, { command: b[1] });
    if (b.length < 8) return false;
    const userEnd = findNul(b, 8, MAX_ARGS_BYTES);
    if (userEnd === -1) {
      if (b.length > 8 + MAX_ARGS_BYTES) throw fail('SOCKS4 USERID too long', rejected, state);
      return false;
    }
    const port = (b[2]! << 8) | b[3]!;
    const ip = b.subarray(4, 8);
    let host = ip.join('.');
    let addressType: SocksRequest['addressType'] = 'ipv4';
    let end = userEnd + 1;
    // SOCKS4a: 0.0.0.x with x ≠ 0 means a host name follows the USERID.
    if (ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0) {
      const hostEnd = findNul(b, end, 255);
      if (hostEnd === -1) {
        if (b.length > end + 255) throw fail('SOCKS4a host name too long', rejected, state);
        return false;
      }
      if (hostEnd === end) throw fail('empty host name', rejected, state);
      host = hostName(b.subarray(end, hostEnd), rejected, state);
      addressType = 'domain';
      end = hostEnd + 1;
    }
    let args: PtArgs;
    try {
      args = parsePtArgs(decodeArgsBytes(b.subarray(8, userEnd)));
    } catch (cause) {
      throw fail('transport arguments in the USERID do not parse', rejected, state, {}, cause);
    }
    this.#consume(end);
    this.#ready(step, { version: 4, target: { host, port }, addressType, args });
    return false;
  }

  #ready(step: SocksStep, request: SocksRequest): void {
    this.#state = 'request-ready';
    step.request = request;
  }

  #consume(n: number): void {
    this.#buf = n >= this.#buf.length ? EMPTY : this.#buf.subarray(n);
  }
}

function fail(
  message: string,
  reply: Uint8Array | null,
  state: SocksHandshakeState,
  context: Record<string, unknown> = {},
  cause?: unknown,
): SocksError {
  return new SocksError(message, reply, { context: { state, ...context }, ...(cause === undefined ? {} : { cause }) });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// Index of the first NUL in b[from, from + max], or -1.
function findNul(b: Uint8Array, from: number, max: number): number {
  const end = Math.min(b.length, from + max + 1);
  for (let i = from; i < end; i++) if (b[i] === 0) return i;
  return -1;
}

// Host names are printable ASCII without spaces; anything else is refused rather than passed on.
function hostName(bytes: Uint8Array, reply: Uint8Array, state: SocksHandshakeState): string {
  for (const c of bytes) if (c <= 0x20 || c >= 0x7f) throw fail('host name is not printable ASCII', reply, state);
  return String.fromCharCode(...bytes);
}

function formatIPv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // WHATWG URL applies the RFC 5952 canonical compression.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function assertNever(state: never): never {
  throw new PtError('ERR_PT_SOCKS', `unreachable state ${String(state)}`);
}

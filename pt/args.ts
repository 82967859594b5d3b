/**
 * Per-connection pluggable-transport arguments (pt-spec §3.5): the `k=v;k=v` string tor builds
 * from the bridge line and hands over in the SOCKS credentials.
 *
 * Decoding follows what the producers actually send, not only the spec text: tor escapes only
 * `;` and `\` (values carry raw `=`, e.g. base64), Arti also escapes `=` in keys, ptadapter
 * escapes `\ = ;` everywhere. A key ends at the first unescaped `=`, a value at the next
 * unescaped `;`, `\x` stands for `x`, and repeated keys accumulate in order (goptlib's `Args`).
 *
 * The SOCKS5 carriage (RFC 1929) splits the string over UNAME and PASSWD: up to 255 bytes go in
 * UNAME with PASSWD a single NUL byte; 256 to 510 bytes are split 255 / rest. Pure functions,
 * no I/O.
 *
 * @module
 */
import { PtError } from './errors.js';

/** Arguments by key, each key with its values in the order given. */
export type PtArgs = Map<string, string[]>;

/** Largest argument string tor sends over SOCKS5 (`MAX_SOCKS5_AUTH_SIZE_TOTAL`, 2 × 255). */
export const MAX_ARGS_BYTES = 510;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Parse an argument string.
 *
 * @param text - e.g. `shared-secret=rahasia;secrets-file=/tmp/blob`; `''` gives no arguments
 * @returns the arguments by key
 * @throws {PtError} `ERR_PT_ARGS` for a missing `=`, an empty key, an unescaped `;` in a key,
 *   a trailing `;` or a dangling `\`
 * @example
 * ```ts
 * parsePtArgs('a=b=c;k=1;k=2') // Map { 'a' => ['b=c'], 'k' => ['1', '2'] }
 * ```
 */
export function parsePtArgs(text: string): PtArgs {
  const args: PtArgs = new Map();
  if (text.length === 0) return args;
  let i = 0;
  for (;;) {
    let key = '';
    let sawEquals = false;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') {
        if (i + 1 >= text.length) throw argsError('dangling backslash', i);
        key += text[i + 1];
        i += 2;
      } else if (c === '=') {
        sawEquals = true;
        i++;
        break;
      } else if (c === ';') {
        throw argsError('unescaped ";" in a key', i);
      } else {
        key += c;
        i++;
      }
    }
    if (!sawEquals) throw argsError('a key without "="', i);
    if (key.length === 0) throw argsError('an empty key', i);
    let value = '';
    let sawSemicolon = false;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') {
        if (i + 1 >= text.length) throw argsError('dangling backslash', i);
        value += text[i + 1];
        i += 2;
      } else if (c === ';') {
        sawSemicolon = true;
        i++;
        break;
      } else {
        value += c;
        i++;
      }
    }
    const values = args.get(key);
    if (values === undefined) args.set(key, [value]);
    else values.push(value);
    // A `;` promises another pair; the end of the string right after it fails on the next turn.
    if (!sawSemicolon) return args;
  }
}

function argsError(what: string, offset: number): PtError {
  return new PtError('ERR_PT_ARGS', `malformed transport arguments: ${what}`, { context: { offset } });
}

/** Options of {@link encodePtArgs}. */
export interface EncodeArgsOptions {
  /**
   * Also escape `=` in values, as the spec text asks. Default false, as tor does: its bridge-line
   * values keep raw `=`. Keys always have `=` escaped. Either form decodes the same.
   */
  escapeEqualsInValues?: boolean;
}

/**
 * Encode arguments into the `k=v;k=v` form, in iteration order, a key repeated for each value.
 *
 * @param args - a map or pairs; a value may be a list
 * @param options - escaping choice
 * @returns the encoded string
 * @example
 * ```ts
 * encodePtArgs([['pubkey', 'ab12'], ['decoy', ['a@1.2.3.4', 'b@5.6.7.8']]])
 * // 'pubkey=ab12;decoy=a@1.2.3.4;decoy=b@5.6.7.8'
 * ```
 */
export function encodePtArgs(
  args: Iterable<readonly [string, string | readonly string[]]>,
  options: EncodeArgsOptions = {},
): string {
  const valueSpecials = options.escapeEqualsInValues === true ? /[\\;=]/g : /[\\;]/g;
  const parts: string[] = [];
  for (const [key, value] of args) {
    const k = key.replace(/[\\;=]/g, '\\$&');
    for (const v of typeof value === 'string' ? [value] : value) parts.push(`${k}=${v.replace(valueSpecials, '\\$&')}`);
  }
  return parts.join(';');
}

/**
 * Recover the argument string from SOCKS5 username/password credentials: UNAME ‖ PASSWD, except
 * that a PASSWD of exactly one NUL byte contributes nothing. Bytes are joined before UTF-8
 * decoding, since the 255-byte split may fall inside a character.
 *
 * @param username - UNAME bytes
 * @param password - PASSWD bytes
 * @returns the argument string
 * @throws {PtError} `ERR_PT_ARGS` when the joined bytes are not UTF-8
 */
export function argsFromSocks5Credentials(username: Uint8Array, password: Uint8Array): string {
  const nulPassword = password.length === 1 && password[0] === 0;
  const joined = new Uint8Array(username.length + (nulPassword ? 0 : password.length));
  joined.set(username, 0);
  if (!nulPassword) joined.set(password, username.length);
  return decodeArgsBytes(joined);
}

/**
 * Decode argument bytes (a SOCKS4 USERID, or joined SOCKS5 credentials) as UTF-8.
 *
 * @param bytes - raw bytes
 * @returns the text
 * @throws {PtError} `ERR_PT_ARGS` when not UTF-8
 */
export function decodeArgsBytes(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new PtError('ERR_PT_ARGS', 'transport arguments are not UTF-8', { cause, context: { length: bytes.length } });
  }
}

/**
 * Split an argument string into SOCKS5 credentials the way tor does, for clients of a PT (tests,
 * tools). Empty arguments mean no authentication at all.
 *
 * @param text - encoded arguments
 * @returns `null` for no arguments, else UNAME and PASSWD bytes
 * @throws {PtError} `ERR_PT_ARGS` when longer than {@link MAX_ARGS_BYTES} bytes
 */
export function socks5CredentialsForArgs(text: string): { username: Uint8Array; password: Uint8Array } | null {
  const bytes = encoder.encode(text);
  if (bytes.length === 0) return null;
  if (bytes.length > MAX_ARGS_BYTES) {
    throw new PtError('ERR_PT_ARGS', `transport arguments exceed ${MAX_ARGS_BYTES} bytes`, {
      context: { length: bytes.length },
    });
  }
  if (bytes.length <= 255) return { username: bytes, password: Uint8Array.of(0) };
  return { username: bytes.subarray(0, 255), password: bytes.subarray(255) };
}

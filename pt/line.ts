/**
 * The PT → tor line protocol (pt-spec §3.3): formatting and validation of single lines.
 *
 * Grammar: a keyword of ASCII letters, digits, `-` and `_`, then space-separated arguments of
 * any ASCII byte but NUL and LF, then LF. Free-form text (error messages) is made safe by
 * replacing what the grammar forbids; LOG and STATUS values are control-spec CStrings, quoted
 * and octal-escaped as goptlib does, which is what tor's `kvline_parse(KV_QUOTED)` reads.
 *
 * Pure functions; writing lines to the parent is {@link module:pt/ipc}'s job.
 *
 * @module
 */
import { InvalidArgumentError } from '../src/errors.js';

/** Severities tor accepts in `LOG SEVERITY=…` (anything else makes tor drop the line). */
export type LogSeverity = 'error' | 'warning' | 'notice' | 'info' | 'debug';

/** Severities from most to least severe. */
export const LOG_SEVERITIES: readonly LogSeverity[] = Object.freeze(['error', 'warning', 'notice', 'info', 'debug']);

const KEYWORD = /^[0-9A-Za-z_-]+$/;
const TRANSPORT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Whether `name` is a valid transport name (a C identifier; tor refuses any other).
 *
 * @param name - candidate name
 * @returns true when valid
 */
export function isTransportName(name: string): boolean {
  return TRANSPORT_NAME.test(name);
}

/**
 * Format one protocol line.
 *
 * @param keyword - e.g. `CMETHOD`
 * @param args - arguments, each already valid (see {@link safeText})
 * @returns the line with its trailing LF
 * @throws {InvalidArgumentError} for a keyword or argument outside the grammar (a bug of ours)
 * @example
 * ```ts
 * formatLine('CMETHOD', ['tapdance', 'socks5', '127.0.0.1:19999']) // 'CMETHOD tapdance socks5 127.0.0.1:19999\n'
 * ```
 */
export function formatLine(keyword: string, args: readonly string[] = []): string {
  if (!KEYWORD.test(keyword)) throw new InvalidArgumentError(`"keyword" expected [0-9A-Za-z_-]+, got ${JSON.stringify(keyword)}`);
  for (const arg of args) {
    // eslint-disable-next-line no-control-regex
    if (/[^\x01-\x09\x0b-\x7f]/.test(arg)) throw new InvalidArgumentError(`"arg" has a byte outside the line grammar: ${JSON.stringify(arg)}`);
  }
  return args.length === 0 ? `${keyword}\n` : `${keyword} ${args.join(' ')}\n`;
}

/**
 * Make free text fit in an argument: CR, LF, NUL and non-ASCII characters become `?`.
 *
 * @param text - e.g. an error message
 * @returns text safe for {@link formatLine}
 */
export function safeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[^\x01-\x09\x0b\x0c\x0e-\x7f]/gu, '?');
}

/**
 * Encode text as a control-spec CString: `"`, printable ASCII except `"` and `\` verbatim, every
 * other UTF-8 byte as a three-digit octal escape, `"`.
 *
 * @param text - any text
 * @returns the quoted form
 * @example
 * ```ts
 * encodeCString('say "hi"\n') // '"say \\042hi\\042\\012"'
 * ```
 */
export function encodeCString(text: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(text)) {
    if (byte >= 32 && byte <= 126 && byte !== 0x22 && byte !== 0x5c) out += String.fromCharCode(byte);
    else out += '\\' + byte.toString(8).padStart(3, '0');
  }
  return out + '"';
}

/**
 * Format `host:port` as tor expects in CMETHOD lines (IPv6 in brackets).
 *
 * @param host - IP literal
 * @param port - TCP port
 * @returns `127.0.0.1:1234` or `[::1]:1234`
 */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Builders of every line a managed client writes, in spec order. */
export const lines = {
  /** `VERSION 1`: the chosen protocol version; must precede everything else. */
  version: (): string => formatLine('VERSION', ['1']),
  /** `VERSION-ERROR no-version`, then exit. */
  versionError: (): string => formatLine('VERSION-ERROR', ['no-version']),
  /** `ENV-ERROR <message>`, then exit. */
  envError: (message: string): string => formatLine('ENV-ERROR', [safeText(message)]),
  /** `PROXY DONE`: `TOR_PT_PROXY` will be used. */
  proxyDone: (): string => formatLine('PROXY', ['DONE']),
  /** `PROXY-ERROR <message>`, then exit. */
  proxyError: (message: string): string => formatLine('PROXY-ERROR', [safeText(message)]),
  /** `CMETHOD <name> socks5 <addr:port>`. */
  cmethod: (name: string, socks: 'socks4' | 'socks5', address: string): string =>
    formatLine('CMETHOD', [checkName(name), socks, address]),
  /** `CMETHOD-ERROR <name> <message>`. */
  cmethodError: (name: string, message: string): string => formatLine('CMETHOD-ERROR', [checkName(name), safeText(message)]),
  /** `CMETHODS DONE`. */
  cmethodsDone: (): string => formatLine('CMETHODS', ['DONE']),
  /** `LOG SEVERITY=<severity> MESSAGE="<CString>"`. */
  log: (severity: LogSeverity, message: string): string =>
    formatLine('LOG', [`SEVERITY=${severity}`, `MESSAGE=${encodeCString(message)}`]),
  /** `STATUS TYPE=version IMPLEMENTATION="…" VERSION="…"` (goptlib's ReportVersion format). */
  statusVersion: (implementation: string, version: string): string =>
    formatLine('STATUS', ['TYPE=version', `IMPLEMENTATION=${encodeCString(implementation)}`, `VERSION=${encodeCString(version)}`]),
  /** `STATUS TRANSPORT=<name> K=V …` with CString values. */
  status: (transport: string, fields: Readonly<Record<string, string>>): string =>
    formatLine('STATUS', [
      `TRANSPORT=${checkName(transport)}`,
      ...Object.entries(fields).map(([k, v]) => `${checkStatusKey(k)}=${encodeCString(v)}`),
    ]),
} as const;

function checkName(name: string): string {
  if (!isTransportName(name)) throw new InvalidArgumentError(`"transport" expected a C identifier, got ${JSON.stringify(name)}`);
  return name;
}

function checkStatusKey(key: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(key)) throw new InvalidArgumentError(`"status key" expected [A-Za-z0-9_-]+, got ${JSON.stringify(key)}`);
  return key;
}

/**
 * The candidates file of `tapdance decoys build`: one decoy candidate per line.
 *
 * ```
 * # comment lines and trailing comments start with '#'
 * example.com                      # name only: resolved with the system resolver
 * example.org 192.0.2.10           # name and the address to probe
 * example.net 192.0.2.11:8443      # name, address and a probe port (default 443)
 * example.edu 2001:db8::1          # IPv6 address
 * example.info [2001:db8::2]:8443  # IPv6 address and port
 * 192.0.2.12                       # an address alone: no SNI, the certificate must name the IP
 * ```
 *
 * A non-default port is for probing test servers only: a ClientConf decoy has no port field, and
 * clients always connect to 443. Host names are ASCII (punycode for IDNs) and are lowercased;
 * addresses are kept in canonical form. Exact duplicates (same name, address and port) are errors.
 *
 * Sans-IO: this module parses text and resolves nothing.
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { bytesToIpv6, ipv6ToBytes } from '../protocol/messages.js';
import { DecoyError } from './errors.js';

/** The port decoys are probed on unless a line names another. */
export const DEFAULT_DECOY_PORT = 443;

/** One candidate decoy from the file. */
export interface Candidate {
  /** 1-based line number in the file. */
  line: number;
  /** Lowercased DNS name, or null for an address-only line. */
  hostname: string | null;
  /** Address to probe (canonical text), or null when the name must be resolved. */
  address: string | null;
  /** TCP port to probe. */
  port: number;
}

/** A problem on one line of the candidates file. */
export interface CandidateLineError {
  /** 1-based line number. */
  line: number;
  /** What is wrong. */
  message: string;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_REPORTED_ERRORS = 10;

/**
 * The TLS server name (SNI, Host, certificate check) of a candidate: its name, else its address.
 *
 * @param c - the candidate
 * @returns the name or address text
 */
export function candidateServerName(c: Candidate): string {
  return c.hostname ?? c.address ?? '';
}

/**
 * A short label for reports and progress lines: `name`, `name (address)` or `address`, with
 * `:port` when it is not 443 (`[v6]:port` for IPv6).
 *
 * @param c - the candidate
 * @returns the label
 */
export function candidateLabel(c: Candidate): string {
  if (c.hostname === null) return addressWithPort(c.address ?? '', c.port);
  return c.address === null ? addressWithPort(c.hostname, c.port) : `${c.hostname} (${addressWithPort(c.address, c.port)})`;
}

/**
 * `address`, or `address:port` when the port is not 443 (IPv6 in brackets then).
 *
 * @param address - IP address or name
 * @param port - TCP port
 * @returns the text
 */
export function addressWithPort(address: string, port: number): string {
  if (port === DEFAULT_DECOY_PORT) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function hostName(token: string): string | string[] {
  const name = token.toLowerCase().replace(/\.$/, '');
  if (!/^[\x21-\x7e]+$/.test(name)) return 'host names must be ASCII (use punycode for international names)';
  if (name.length > 253) return 'host name longer than 253 characters';
  const labels = name.split('.');
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) return `"${token}" is not a valid host name (label "${bad}")`;
  return [name];
}

function canonicalAddress(text: string): string | null {
  if (isIPv4(text)) return text;
  if (isIPv6(text) && !text.includes('%')) return bytesToIpv6(ipv6ToBytes(text));
  return null;
}

function parsePort(text: string): number | string {
  if (!/^\d{1,5}$/.test(text)) return `"${text}" is not a port number`;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : `port ${port} is out of range 1..65535`;
}

/** `ip`, `ip:port`, `v6`, `[v6]`, `[v6]:port` → address and port, or an error message. */
function addressAndPort(token: string): { address: string; port: number } | string {
  let host = token;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(token);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (token.split(':').length === 2) {
    [host, portText] = token.split(':') as [string, string];
  }
  const address = canonicalAddress(host);
  if (address === null) return `"${token}" is not an IPv4 or IPv6 address (with an optional :port)`;
  if (bracketed && isIPv4(host)) return `"${token}": brackets are for IPv6 addresses`;
  if (portText === undefined) return { address, port: DEFAULT_DECOY_PORT };
  const port = parsePort(portText);
  return typeof port === 'string' ? port : { address, port };
}

function parseLine(text: string, line: number): Candidate | string | null {
  const body = text.replace(/#.*$/, '').trim();
  if (body === '') return null;
  const tokens = body.split(/\s+/);
  if (tokens.length > 2) return `expected "host [address[:port]]", got ${tokens.length} fields`;
  const [first, second] = tokens as [string, string | undefined];
  const literal = canonicalAddress(first.replace(/^\[(.*)\]$/, '$1'));
  if (literal !== null) {
    if (second !== undefined) return `"${first}" is an address; an address-only line takes no second field`;
    return { line, hostname: null, address: literal, port: DEFAULT_DECOY_PORT };
  }
  if (first.includes(':')) return `"${first}" is not a host name; write "host address:port" to probe another port`;
  const name = hostName(first);
  if (typeof name === 'string') return name;
  if (second === undefined) return { line, hostname: name[0]!, address: null, port: DEFAULT_DECOY_PORT };
  const where = addressAndPort(second);
  if (typeof where === 'string') return where;
  return { line, hostname: name[0]!, ...where };
}

/**
 * Parse a candidates file.
 *
 * @param text - the file content (UTF-8 text; CRLF or LF line ends)
 * @param source - the file name, for error messages
 * @returns the candidates in file order
 * @throws {@link DecoyError} `ERR_DECOY_CANDIDATES` listing every bad line (`context.errors`)
 * @example
 * ```ts
 * const list = parseCandidates('example.com 192.0.2.1\n# spare\nexample.org\n')
 * // [{ line: 1, hostname: 'example.com', address: '192.0.2.1', port: 443 },
 * //  { line: 3, hostname: 'example.org', address: null, port: 443 }]
 * ```
 */
export function parseCandidates(text: string, source = 'candidates'): Candidate[] {
  const out: Candidate[] = [];
  const errors: CandidateLineError[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const parsed = parseLine(raw, line);
    if (parsed === null) return;
    if (typeof parsed === 'string') {
      errors.push({ line, message: parsed });
      return;
    }
    const key = `${parsed.hostname ?? ''} ${parsed.address ?? ''} ${parsed.port}`;
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({ line, message: `duplicate of line ${first}` });
      return;
    }
    seen.set(key, line);
    out.push(parsed);
  });
  if (errors.length > 0) {
    const shown = errors.slice(0, MAX_REPORTED_ERRORS).map((e) => `${source}:${e.line}: ${e.message}`);
    if (errors.length > MAX_REPORTED_ERRORS) shown.push(`… and ${errors.length - MAX_REPORTED_ERRORS} more`);
    throw new DecoyError('ERR_DECOY_CANDIDATES', `bad candidates file:\n${shown.join('\n')}`, { context: { errors } });
  }
  return out;
}

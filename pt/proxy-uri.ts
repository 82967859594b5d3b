/**
 * Parsing of `TOR_PT_PROXY`, the upstream proxy every outgoing connection must use (pt-spec §3.2.2,
 * proposal 232): `<scheme>://[<user>[:<password>]@]<host>:<port>`.
 *
 * tor builds the value itself (`get_pt_proxy_uri`): `socks4a://IP:PORT`,
 * `socks5://[USER:PASS@]IP:PORT`, `http://[USER:PASS@]IP:PORT`, credentials raw (not
 * percent-encoded), IPv6 in brackets. So the authority is split by hand rather than with WHATWG
 * `URL`, which drops a default port (`http://h:80` would lose its required port) and keeps
 * credentials percent-encoded. Credentials end at the last `@`; the user name at the first `:`.
 *
 * Rules, as lyrebird's: the port is required (1–65535); no path, query or fragment (a lone `/`
 * is tolerated); `socks4a` carries no password; `socks5` needs both or neither of user and
 * password, each 1–255 bytes. Unlike lyrebird a DNS name is accepted as host (goptlib does too).
 * Pure, no I/O.
 *
 * @module
 */
import { isIP } from 'node:net';
import { PtError } from './errors.js';

/** Proxy protocols tor can ask for. */
export type ProxyScheme = 'socks5' | 'socks4a' | 'http';

/** A parsed `TOR_PT_PROXY`. */
export interface ProxyUri {
  /** Protocol. */
  scheme: ProxyScheme;
  /** IP literal (IPv6 without brackets) or DNS name. */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
  /** User name, when given (SOCKS5 user, SOCKS4 USERID, HTTP basic user). */
  username?: string;
  /** Password, when given (SOCKS5, HTTP basic). */
  password?: string;
}

const SCHEMES: ReadonlySet<string> = new Set<ProxyScheme>(['socks5', 'socks4a', 'http']);
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parse and check a `TOR_PT_PROXY` value.
 *
 * @param text - e.g. `socks5://tor:test1234@198.51.100.1:8000`
 * @returns the parsed proxy
 * @throws {PtError} `ERR_PT_PROXY_URI` with a message fit for a `PROXY-ERROR` line
 * @example
 * ```ts
 * parseProxyUri('http://[::1]:80') // { scheme: 'http', host: '::1', port: 80 }
 * ```
 */
export function parseProxyUri(text: string): ProxyUri {
  const sep = text.indexOf('://');
  if (sep <= 0) throw proxyError('proxy URI has no scheme');
  const scheme = text.slice(0, sep).toLowerCase();
  if (!SCHEMES.has(scheme)) throw proxyError(`proxy URI has an unsupported scheme: ${scheme.slice(0, 32)}`);
  const rest = text.slice(sep + 3);
  // Raw credentials may hold any character, so only what follows the last `@` is the authority.
  const at = rest.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : rest.slice(0, at);
  let authority = rest.slice(at + 1);
  if (/[?#]/.test(authority)) throw proxyError('proxy URI has a query or fragment');
  const slash = authority.indexOf('/');
  if (slash !== -1) {
    if (slash !== authority.length - 1) throw proxyError('proxy URI has a path');
    authority = authority.slice(0, slash);
  }
  const { host, port } = parseHostPort(authority);
  const uri: ProxyUri = { scheme: scheme as ProxyScheme, host, port };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    uri.username = colon === -1 ? userinfo : userinfo.slice(0, colon);
    if (colon !== -1) uri.password = userinfo.slice(colon + 1);
  }
  checkCredentials(uri);
  return uri;
}

function parseHostPort(authority: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1 || authority[close + 1] !== ':') throw proxyError('proxy URI has a malformed IPv6 address or no port');
    host = authority.slice(1, close);
    portText = authority.slice(close + 2);
    if (isIP(host) !== 6) throw proxyError('proxy URI has a malformed IPv6 address');
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon === -1) throw proxyError('proxy URI has no port');
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.length === 0) throw proxyError('proxy URI has no host');
    if (host.includes(':')) throw proxyError('proxy URI has an IPv6 address without brackets');
    if (isIP(host) === 0 && !HOSTNAME.test(host)) throw proxyError('proxy URI has an invalid host');
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw proxyError('proxy URI has no port or a malformed one');
  const port = Number(portText);
  if (port < 1 || port > 65535) throw proxyError('proxy URI port is out of range');
  return { host, port };
}

function checkCredentials(uri: ProxyUri): void {
  const { scheme, username, password } = uri;
  if (scheme === 'socks4a' && password !== undefined) throw proxyError('proxy URI specified SOCKS4a and a password');
  if (scheme === 'socks5' && (username !== undefined || password !== undefined)) {
    // RFC 1929: ULEN and PLEN are one byte each and at least 1.
    const ulen = Buffer.byteLength(username ?? '');
    const plen = Buffer.byteLength(password ?? '');
    if (ulen < 1 || ulen > 255 || plen < 1 || plen > 255) {
      throw proxyError('proxy URI SOCKS5 user name and password must each be 1 to 255 bytes');
    }
  }
  if (scheme === 'socks4a' && username !== undefined && username.includes('\0')) {
    throw proxyError('proxy URI SOCKS4a user id contains NUL');
  }
}

function proxyError(message: string): PtError {
  return new PtError('ERR_PT_PROXY_URI', message);
}

/**
 * HTTP(S) agents and an undici connector that open their connections through TapDance, so that
 * `http.get`, `https.get`, `fetch` with an undici dispatcher and other agent-based clients reach
 * their origin as the covert destination of a TapDance session.
 *
 * For HTTPS the origin's TLS runs inside the covert stream (node:tls over the TapDance socket):
 * the station sees only ciphertext, and the origin's certificate is checked as usual.
 *
 * @module
 */
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { isIP, type Socket } from 'node:net';
import { createConnection, type DialOptions } from './dial.js';
import type { TapDanceSocket } from './socket.js';

/** Dial options of an agent: everything but the target, which comes from each request. */
export type AgentDialOptions = Omit<DialOptions, 'target'>;

function target(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What Node passes to `Agent#createConnection`. */
interface ConnectOptions { host?: string | null; hostname?: string | null; port?: number | string | null; servername?: string }

function hostOf(o: ConnectOptions): string {
  return (o.host ?? o.hostname ?? 'localhost').replace(/^\[|\]$/g, '');
}

/**
 * An `http.Agent` whose connections are TapDance sessions to the request's host and port.
 *
 * @example
 * ```ts
 * const agent = new TapDanceHttpAgent({ clientConfPath: './ClientConf' })
 * http.get('http://example.com/', { agent }, (res) => res.pipe(process.stdout))
 * ```
 */
export class TapDanceHttpAgent extends HttpAgent {
  readonly #dial: AgentDialOptions;

  constructor(dial: AgentDialOptions, options: HttpAgentOptions = {}) {
    super(options);
    this.#dial = dial;
  }

  /** Node uses the returned socket (which queues writes until connected) and ignores the callback. */
  override createConnection(options: ConnectOptions): Duplex {
    return createConnection({ ...this.#dial, target: target(hostOf(options), Number(options.port ?? 80)) });
  }
}

/**
 * An `https.Agent` whose connections are TLS (node:tls) inside TapDance sessions to the request's
 * host and port. TLS options of the request (`ca`, `servername`, `rejectUnauthorized`, …) apply to
 * the origin's TLS; `dial.tls` applies to the decoys.
 *
 * @example
 * ```ts
 * const agent = new TapDanceAgent({ clientConfPath: './ClientConf' })
 * https.get('https://example.com/', { agent }, (res) => res.pipe(process.stdout))
 * ```
 */
export class TapDanceAgent extends HttpsAgent {
  readonly #dial: AgentDialOptions;

  constructor(dial: AgentDialOptions, options: HttpsAgentOptions = {}) {
    super(options);
    this.#dial = dial;
  }

  /** Node uses the returned TLS socket, whose handshake waits for the TapDance session. */
  override createConnection(options: ConnectOptions & ConnectionOptions): Duplex {
    const host = hostOf(options);
    return originTls(createConnection({ ...this.#dial, target: target(host, Number(options.port ?? 443)) }), options, host);
  }
}

function originTls(raw: TapDanceSocket, options: ConnectionOptions, host: string): TLSSocket {
  const servername = options.servername ?? (isIP(host) === 0 ? host : undefined);
  // `host` is what the certificate is checked against when there is no server name (IP origins).
  const tls = tlsConnect({ ...options, host, socket: raw, ...(servername === undefined ? {} : { servername }) });
  raw.once('error', (err) => tls.destroy(err));
  return tls;
}

/** The options undici passes to a `connect` function. */
export interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | null;
}

/**
 * A `connect` function for undici's `Agent` / `Client` (`new Agent({ connect })`): plain or TLS
 * connections through TapDance.
 *
 * @param dial - dial options (ClientConf, decoy TLS options, …)
 * @param tls - TLS options for the origins (e.g. `ca` for a private origin)
 * @returns the connector
 * @example
 * ```ts
 * import { Agent, fetch } from 'undici'
 * const dispatcher = new Agent({ connect: tapdanceConnector({ clientConfPath: './ClientConf' }) })
 * const res = await fetch('https://example.com/', { dispatcher })
 * ```
 */
export function tapdanceConnector(dial: AgentDialOptions, tls: ConnectionOptions = {}) {
  // undici types its callback with net.Socket; TapDanceSocket offers the parts of that surface
  // undici uses (setNoDelay, setKeepAlive, ref/unref, destroy, remote* fields).
  return (options: UndiciConnectOptions, cb: (...args: [null, Socket] | [Error, null]) => void): void => {
    let called = false;
    const callback = (err: Error | null, socket: Duplex | null): void => {
      if (called) return;
      called = true;
      if (err !== null) cb(err, null);
      else cb(null, socket as unknown as Socket);
    };
    const host = options.hostname.replace(/^\[|\]$/g, '');
    const https = options.protocol === 'https:';
    const port = Number(options.port === '' || options.port === undefined ? (https ? 443 : 80) : options.port);
    const raw = createConnection({ ...dial, target: target(host, port) });
    if (!https) {
      raw.once('connect', () => callback(null, raw));
      raw.once('error', (err) => callback(err, null));
      return;
    }
    const socket = originTls(raw, { ...tls, ...(options.servername ? { servername: options.servername } : {}) }, host);
    socket.once('secureConnect', () => callback(null, socket));
    socket.once('error', (err) => callback(err, null));
  };
}

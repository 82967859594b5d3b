/**
 * A small HTTP CONNECT forward proxy for the covert side (the "default covert proxy" a station
 * hands sessions to). It answers `CONNECT host:port` with `200 Connection Established` once the
 * TCP connection to the target is up, then relays bytes both ways with back-pressure; a failed
 * connect gets `502`, a connect timeout `504`, a target the `allow` check refuses `403`, a
 * malformed target `400`, and any other method `405`.
 *
 * Plain HTTP proxying (absolute-form GET) is not supported: TapDance covert traffic is
 * opaque bytes, so CONNECT is all a station needs.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Options of {@link createConnectProxy}. */
export interface ConnectProxyOptions {
  /** Give up connecting to a target after this many ms (then 504). Default 10000. */
  connectTimeoutMs?: number;
  /** Decide whether a target may be reached. Default: any. */
  allow?: (host: string, port: number) => boolean;
}

/** Counters of a running proxy. */
export interface ConnectProxyStats {
  /** Tunnels established so far. */
  tunnels: number;
  /** Tunnels open now. */
  active: number;
  /** Requests answered with an error status. */
  refused: number;
}

/**
 * Split a CONNECT target `host:port` or `[v6]:port`.
 *
 * @param target - the request-target of a CONNECT request.
 * @returns host and port, or undefined when malformed.
 */
export function parseConnectTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(target);
  if (m === null) return undefined;
  const host = m[1] ?? (m[2] as string);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] !== undefined && isIP(host) !== 6) return undefined;
  return { host, port };
}

function reply(sock: Duplex, status: number, reason: string): void {
  sock.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/**
 * Create the proxy (not yet listening).
 *
 * @param options - see {@link ConnectProxyOptions}.
 * @returns the server and its live counters.
 * @example
 * ```ts
 * const { server } = createConnectProxy()
 * server.listen(3128, '10.12.0.2')
 * ```
 */
export function createConnectProxy(options: ConnectProxyOptions = {}): { server: Server; stats: ConnectProxyStats } {
  const stats: ConnectProxyStats = { tunnels: 0, active: 0, refused: 0 };
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const server = createServer((_req, res) => {
    stats.refused++;
    res.writeHead(405, { allow: 'CONNECT', 'content-length': 0, connection: 'close' });
    res.end();
  });
  server.requestTimeout = 0;
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = parseConnectTarget(req.url ?? '');
    client.on('error', () => { /* the peer went away; cleanup below */ });
    if (target === undefined) { stats.refused++; return reply(client, 400, 'Bad Request'); }
    if (options.allow !== undefined && !options.allow(target.host, target.port)) {
      stats.refused++;
      return reply(client, 403, 'Forbidden');
    }
    const upstream: Socket = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    let established = false;
    const timer = setTimeout(() => {
      stats.refused++;
      upstream.destroy();
      reply(client, 504, 'Gateway Timeout');
    }, timeoutMs);
    upstream.once('connect', () => {
      clearTimeout(timer);
      established = true;
      stats.tunnels++;
      stats.active++;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      clearTimeout(timer);
      if (!established) { stats.refused++; reply(client, 502, 'Bad Gateway'); } else client.destroy();
    });
    upstream.once('close', () => { if (established) { stats.active--; established = false; client.end(); } });
    client.once('close', () => { clearTimeout(timer); upstream.destroy(); });
  });
  return { server, stats };
}

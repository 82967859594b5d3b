/**
 * TCP connections through the `TOR_PT_PROXY` upstream: SOCKS5 (with RFC 1929 credentials) and
 * SOCKS4a through the `socks` package, HTTP CONNECT (with basic credentials) by hand.
 *
 * The connection to the proxy itself comes from a base {@link Connector} (direct, with the
 * outbound bind addresses). A refusal by the proxy becomes `ERR_PT_UPSTREAM` carrying the SOCKS
 * reply tor should get (the proxy's own SOCKS5 reply, or one derived from the HTTP status).
 *
 * @module
 */
import type { Socket } from 'node:net';
import { SocksClient } from 'socks';
import type { Connector, PtTarget } from './dialer.js';
import { PtError } from './errors.js';
import { formatAddress } from './line.js';
import type { ProxyUri } from './proxy-uri.js';
import { kSocksReply, Socks5Reply, type Socks5ReplyCode } from './socks-replies.js';

/** Largest HTTP CONNECT response head we read before giving up. */
export const MAX_CONNECT_RESPONSE_HEAD = 16 * 1024;

/**
 * A connector that tunnels each connection through `proxy`.
 *
 * @param proxy - parsed `TOR_PT_PROXY`
 * @param base - opens the TCP connection to the proxy
 * @returns the connector
 * @example
 * ```ts
 * const via = createProxyConnector(parseProxyUri('socks5://u:p@127.0.0.1:1080'), createDirectConnector())
 * const socket = await via.connect({ host: '192.0.2.7', port: 443 }, AbortSignal.timeout(10_000))
 * ```
 */
export function createProxyConnector(proxy: ProxyUri, base: Connector): Connector {
  return {
    async connect(target: PtTarget, signal: AbortSignal): Promise<Socket> {
      const socket = await base.connect({ host: proxy.host, port: proxy.port }, signal);
      const onAbort = (): void => {
        socket.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (proxy.scheme === 'http') await httpConnect(socket, proxy, target);
        else await socksConnect(socket, proxy, target);
        signal.throwIfAborted();
        return socket;
      } catch (err) {
        socket.destroy();
        throw signal.aborted ? signal.reason : err;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

async function socksConnect(socket: Socket, proxy: ProxyUri, target: PtTarget): Promise<void> {
  try {
    await SocksClient.createConnection({
      command: 'connect',
      existing_socket: socket,
      destination: { host: target.host, port: target.port },
      proxy: {
        host: proxy.host,
        port: proxy.port,
        type: proxy.scheme === 'socks5' ? 5 : 4,
        ...(proxy.username === undefined ? {} : { userId: proxy.username }),
        ...(proxy.password === undefined ? {} : { password: proxy.password }),
      },
    });
  } catch (cause) {
    throw upstreamError(`${proxy.scheme} proxy refused the connection`, socksReplyFromMessage(cause), cause, {
      scheme: proxy.scheme,
    });
  }
}

// The `socks` package reports a SOCKS5 refusal as "… - HostUnreachable" (its Socks5Response names).
const SOCKS_REPLY_NAMES: Readonly<Record<string, Socks5ReplyCode>> = Object.freeze({
  Failure: Socks5Reply.generalFailure,
  NotAllowed: Socks5Reply.notAllowed,
  NetworkUnreachable: Socks5Reply.networkUnreachable,
  HostUnreachable: Socks5Reply.hostUnreachable,
  ConnectionRefused: Socks5Reply.connectionRefused,
  TTLExpired: Socks5Reply.ttlExpired,
  CommandNotSupported: Socks5Reply.commandNotSupported,
  AddressNotSupported: Socks5Reply.addressTypeNotSupported,
});

function socksReplyFromMessage(err: unknown): Socks5ReplyCode {
  const name = /- \(?(\w+)\)?$/.exec(String((err as Error)?.message ?? ''))?.[1];
  return name !== undefined && Object.hasOwn(SOCKS_REPLY_NAMES, name) ? SOCKS_REPLY_NAMES[name]! : Socks5Reply.generalFailure;
}

/** The parsed head of an HTTP CONNECT response. */
export interface ConnectResponseHead {
  /** Status code. */
  status: number;
  /** Bytes of the head including the blank line; what follows is tunnel data. */
  headLength: number;
}

/**
 * Parse the head of an HTTP/1.x response to CONNECT (sans-IO).
 *
 * @param bytes - what the proxy sent so far
 * @returns the status and head length, or null when the head is not complete yet
 * @throws {PtError} `ERR_PT_UPSTREAM` for a malformed status line or a head over
 *   {@link MAX_CONNECT_RESPONSE_HEAD} bytes
 */
export function parseConnectResponseHead(bytes: Uint8Array): ConnectResponseHead | null {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, MAX_CONNECT_RESPONSE_HEAD)).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) {
    if (bytes.length >= MAX_CONNECT_RESPONSE_HEAD) throw upstreamError('http proxy response head too long', Socks5Reply.generalFailure);
    // A status line can be judged before the head is complete.
    const firstLine = text.indexOf('\r\n');
    if (firstLine !== -1) statusOf(text.slice(0, firstLine));
    return null;
  }
  return { status: statusOf(text.slice(0, text.indexOf('\r\n'))), headLength: end + 4 };
}

function statusOf(line: string): number {
  const m = /^HTTP\/1\.[01] ([0-9]{3})(?: .*)?$/.exec(line);
  if (m === null) throw upstreamError('http proxy sent a malformed status line', Socks5Reply.generalFailure);
  return Number(m[1]);
}

function httpConnect(socket: Socket, proxy: ProxyUri, target: PtTarget): Promise<void> {
  const authority = formatAddress(target.host, target.port);
  let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username !== undefined) {
    const token = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64');
    request += `Proxy-Authorization: Basic ${token}\r\n`;
  }
  request += '\r\n';
  // Paused-mode reads ('readable' + read()) so that nothing flows before the caller takes the
  // socket: once our listener is gone, Node lets the next 'data' listener or pipe() start the flow.
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        received = Buffer.concat([received, chunk]);
        let head: ConnectResponseHead | null;
        try {
          head = parseConnectResponseHead(received);
        } catch (err) {
          finish(err);
          return;
        }
        if (head === null) continue;
        if (head.status < 200 || head.status > 299) {
          finish(upstreamError(`http proxy answered ${head.status}`, replyForHttpStatus(head.status), undefined, { status: head.status }));
          return;
        }
        finish(null);
        // Tunnel bytes that came with the head belong to the stream.
        if (received.length > head.headLength) socket.unshift(received.subarray(head.headLength));
        return;
      }
    };
    const onEnd = (): void => finish(upstreamError('http proxy closed before answering', Socks5Reply.generalFailure));
    const onError = (err: Error): void => finish(upstreamError('http proxy connection failed', Socks5Reply.generalFailure, err));
    function finish(err: unknown): void {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      if (err === null) resolve();
      else reject(err);
    }
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.once('close', onEnd);
    socket.write(request);
  });
}

function replyForHttpStatus(status: number): Socks5ReplyCode {
  if (status === 403 || status === 407) return Socks5Reply.notAllowed;
  if (status === 504) return Socks5Reply.ttlExpired;
  if (status === 502) return Socks5Reply.hostUnreachable;
  return Socks5Reply.generalFailure;
}

function upstreamError(message: string, reply: Socks5ReplyCode, cause?: unknown, context: Record<string, unknown> = {}): PtError {
  const err = new PtError('ERR_PT_UPSTREAM', message, { context, ...(cause === undefined ? {} : { cause }) });
  Object.defineProperty(err, kSocksReply, { value: reply, enumerable: false });
  return err;
}

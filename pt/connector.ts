/**
 * Outgoing TCP connections of the transport: direct (with `TOR_PT_OUTBOUND_BIND_ADDRESS_V4/V6`
 * as source address) or through the `TOR_PT_PROXY` upstream (see {@link module:pt/proxy-connector}).
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Connector, PtTarget } from './dialer.js';
import { PtError } from './errors.js';
import { createProxyConnector } from './proxy-connector.js';
import type { ProxyUri } from './proxy-uri.js';

/** Options of {@link createDirectConnector}. */
export interface DirectConnectorOptions {
  /** Source address for IPv4 connections. */
  bindAddressV4?: string | undefined;
  /** Source address for IPv6 connections. */
  bindAddressV6?: string | undefined;
}

/**
 * A connector that opens TCP connections itself. A host name is resolved first when a bind
 * address is set, so that the source address matches the family.
 *
 * @param options - source addresses
 * @returns the connector
 * @example
 * ```ts
 * const socket = await createDirectConnector().connect({ host: '127.0.0.1', port: 80 }, AbortSignal.timeout(5000))
 * ```
 */
export function createDirectConnector(options: DirectConnectorOptions = {}): Connector {
  const { bindAddressV4, bindAddressV6 } = options;
  return {
    async connect(target: PtTarget, signal: AbortSignal): Promise<Socket> {
      signal.throwIfAborted();
      let host = target.host;
      let family = isIP(host);
      if (family === 0 && (bindAddressV4 !== undefined || bindAddressV6 !== undefined)) {
        const resolved = await abortable(lookup(host), signal).catch((cause: unknown) => {
          throw signal.aborted ? signal.reason : connectError(cause);
        });
        host = resolved.address;
        family = resolved.family;
      }
      const localAddress = family === 4 ? bindAddressV4 : family === 6 ? bindAddressV6 : undefined;
      return openSocket(host, target.port, localAddress, signal);
    },
  };
}

/**
 * The connector the environment asks for: through the proxy when one is given, else direct.
 * The bind addresses also apply to the connection to the proxy.
 *
 * @param options - proxy and source addresses
 * @returns the connector
 */
export function createConnector(options: DirectConnectorOptions & { proxy?: ProxyUri | undefined }): Connector {
  const direct = createDirectConnector(options);
  return options.proxy === undefined ? direct : createProxyConnector(options.proxy, direct);
}

function openSocket(host: string, port: number, localAddress: string | undefined, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, noDelay: true, ...(localAddress === undefined ? {} : { localAddress }) });
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(connectError(err));
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    function cleanup(): void {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}

function connectError(cause: unknown): PtError {
  const errno = (cause as { code?: unknown }).code;
  return new PtError('ERR_PT_CONNECT', `connection failed${typeof errno === 'string' ? `: ${errno}` : ''}`, {
    cause,
    context: typeof errno === 'string' ? { errno } : {},
  });
}

/**
 * Race a promise against a signal.
 *
 * @param promise - the work
 * @param signal - abort rejects with its reason
 * @returns the work's result
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

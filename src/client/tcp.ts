/**
 * A TCP connection with Nagle off and half-close allowed, bounded by an AbortSignal that guards
 * the connect only.
 *
 * Not `net.connect({ signal })`: Node keeps that signal on the socket for its whole life, and a
 * connect deadline must not end the connection later.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';

/**
 * Connect to `address`:`port`.
 *
 * @param address - IP address or name
 * @param port - TCP port
 * @param signal - aborts the connect (not the connection once made)
 * @returns the connected socket
 * @throws the socket's error, or `signal.reason` when the signal fired first
 */
export function connectTcp(address: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, noDelay: true, allowHalfOpen: true });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Client of tor's Extended ORPort (ext-orport-spec, proposals 196 and 217): what a transport's
 * server side (here: a station handing covert streams to a tor bridge) uses to tell the bridge
 * which transport and which client address a connection came from, so tor counts them.
 *
 * Authentication is SAFE_COOKIE: tor offers auth types ending in 0; we pick 1, send a 32-byte
 * nonce, check tor's HMAC-SHA256 proof over both nonces with the 32-byte cookie from tor's cookie
 * file (header `! Extended ORPort Auth Cookie !\n`, 64 bytes in all, re-read for every
 * connection since tor may regenerate it), answer with ours, and read the status byte. Then
 * `USERADDR`, `TRANSPORT` and `DONE` commands (`type(2) length(2) body`), and tor answers `OKAY`
 * or `DENY`. After `OKAY` the connection carries the OR protocol.
 *
 * The frame and hash helpers are pure; {@link connectExtOrPort} does the I/O under one deadline
 * (5 s by default, as goptlib).
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { Connector, PtTarget } from './dialer.js';
import { PtError } from './errors.js';
import { isTransportName } from './line.js';

/** The first 32 bytes of a cookie file. */
export const EXT_OR_COOKIE_HEADER = '! Extended ORPort Auth Cookie !\n';

/** ExtORPort command types. */
export const ExtOrCommand = Object.freeze({
  done: 0x0000,
  userAddr: 0x0001,
  transport: 0x0002,
  okay: 0x1000,
  deny: 0x1001,
  control: 0x1002,
} as const);

const SAFE_COOKIE = 0x01;
const SERVER_TO_CLIENT = 'ExtORPort authentication server-to-client hash';
const CLIENT_TO_SERVER = 'ExtORPort authentication client-to-server hash';

/**
 * Read and check an ExtORPort cookie file.
 *
 * @param path - `TOR_PT_AUTH_COOKIE_FILE` or `ExtORPortCookieAuthFile`
 * @returns the 32-byte cookie
 * @throws {PtError} `ERR_PT_EXTOR_COOKIE` when unreadable, not 64 bytes, or with a wrong header
 */
export async function readExtOrCookie(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new PtError('ERR_PT_EXTOR_COOKIE', 'cannot read the ExtORPort cookie file', { cause });
  }
  return parseExtOrCookie(bytes);
}

/**
 * Check the contents of a cookie file.
 *
 * @param bytes - file contents
 * @returns the 32-byte cookie
 * @throws {PtError} `ERR_PT_EXTOR_COOKIE` for a wrong length or header
 */
export function parseExtOrCookie(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 64) throw new PtError('ERR_PT_EXTOR_COOKIE', 'ExtORPort cookie file is not 64 bytes', { context: { length: bytes.length } });
  if (Buffer.from(bytes.subarray(0, 32)).toString('latin1') !== EXT_OR_COOKIE_HEADER) {
    throw new PtError('ERR_PT_EXTOR_COOKIE', 'ExtORPort cookie file has a wrong header');
  }
  return bytes.slice(32);
}

/**
 * tor's proof: HMAC-SHA256(cookie, "…server-to-client hash" | clientNonce | serverNonce).
 *
 * @param cookie - 32-byte cookie
 * @param clientNonce - our 32-byte nonce
 * @param serverNonce - tor's 32-byte nonce
 * @returns 32 bytes
 */
export function extOrServerHash(cookie: Uint8Array, clientNonce: Uint8Array, serverNonce: Uint8Array): Uint8Array {
  return createHmac('sha256', cookie).update(SERVER_TO_CLIENT).update(clientNonce).update(serverNonce).digest();
}

/**
 * Our proof: HMAC-SHA256(cookie, "…client-to-server hash" | clientNonce | serverNonce).
 *
 * @param cookie - 32-byte cookie
 * @param clientNonce - our 32-byte nonce
 * @param serverNonce - tor's 32-byte nonce
 * @returns 32 bytes
 */
export function extOrClientHash(cookie: Uint8Array, clientNonce: Uint8Array, serverNonce: Uint8Array): Uint8Array {
  return createHmac('sha256', cookie).update(CLIENT_TO_SERVER).update(clientNonce).update(serverNonce).digest();
}

/**
 * Encode one ExtORPort command.
 *
 * @param type - command type
 * @param body - body, at most 65535 bytes
 * @returns `type(2) length(2) body`
 * @throws {PtError} `ERR_PT_EXTOR_PROTOCOL` for a body over 65535 bytes
 */
export function encodeExtOrCommand(type: number, body: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (bytes.length > 0xffff) throw new PtError('ERR_PT_EXTOR_PROTOCOL', 'ExtORPort command body over 65535 bytes');
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint16(0, type);
  new DataView(out.buffer).setUint16(2, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** Options of {@link connectExtOrPort}. */
export interface ExtOrPortOptions {
  /** The ExtORPort (`TOR_PT_EXTENDED_SERVER_PORT`). */
  target: PtTarget;
  /** Cookie file path (`TOR_PT_AUTH_COOKIE_FILE`). */
  cookiePath: string;
  /** Transport name to report (a C identifier). */
  transport: string;
  /** Client address to report, `1.2.3.4:5678` or `[1:2::3]:5678`; omitted: none. */
  userAddr?: string;
  /** Opens the TCP connection. */
  connector: Connector;
  /** Aborts the whole exchange. */
  signal?: AbortSignal;
  /** Deadline for the whole exchange, ms. Default 5000. */
  timeoutMs?: number;
}

/**
 * Connect to tor's ExtORPort, authenticate, and announce the transport and client address.
 *
 * @param options - where and what to report
 * @returns the socket, ready for OR-protocol bytes
 * @throws {PtError} `ERR_PT_EXTOR_COOKIE`, `ERR_PT_EXTOR_AUTH`, `ERR_PT_EXTOR_DENIED`,
 *   `ERR_PT_EXTOR_PROTOCOL`, or the connector's error
 * @example
 * ```ts
 * const or = await connectExtOrPort({ target: { host: '127.0.0.1', port: 39001 }, cookiePath,
 *   transport: 'tapdance', userAddr: '198.51.100.7:51234', connector: createDirectConnector() })
 * ```
 */
export async function connectExtOrPort(options: ExtOrPortOptions): Promise<Socket> {
  if (!isTransportName(options.transport)) throw new PtError('ERR_PT_EXTOR_PROTOCOL', 'transport name is not a C identifier');
  const deadline = AbortSignal.timeout(options.timeoutMs ?? 5000);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  const cookie = await readExtOrCookie(options.cookiePath);
  const socket = await options.connector.connect(options.target, signal);
  const reader = new ExactReader(socket, signal);
  try {
    // Auth types, terminated by 0; tor sends `01 00`.
    const offered: number[] = [];
    for (let type = (await reader.read(1))[0]!; type !== 0; type = (await reader.read(1))[0]!) {
      if (offered.length >= 255) throw extOrError('ERR_PT_EXTOR_PROTOCOL', 'too many auth types');
      offered.push(type);
    }
    if (!offered.includes(SAFE_COOKIE)) throw extOrError('ERR_PT_EXTOR_AUTH', 'ExtORPort does not offer SAFE_COOKIE');
    const clientNonce = randomBytes(32);
    socket.write(Buffer.concat([Buffer.of(SAFE_COOKIE), clientNonce]));
    const reply = await reader.read(64);
    const serverHash = reply.subarray(0, 32);
    const serverNonce = reply.subarray(32, 64);
    if (!timingSafeEqual(serverHash, extOrServerHash(cookie, clientNonce, serverNonce))) {
      throw extOrError('ERR_PT_EXTOR_AUTH', 'ExtORPort sent a wrong server hash');
    }
    socket.write(extOrClientHash(cookie, clientNonce, serverNonce));
    if ((await reader.read(1))[0] !== 1) throw extOrError('ERR_PT_EXTOR_AUTH', 'ExtORPort refused our authentication');

    const commands: Uint8Array[] = [];
    if (options.userAddr !== undefined) commands.push(encodeExtOrCommand(ExtOrCommand.userAddr, options.userAddr));
    commands.push(encodeExtOrCommand(ExtOrCommand.transport, options.transport), encodeExtOrCommand(ExtOrCommand.done));
    socket.write(Buffer.concat(commands));
    for (;;) {
      const header = await reader.read(4);
      const type = header.readUInt16BE(0);
      await reader.read(header.readUInt16BE(2));
      if (type === ExtOrCommand.okay) break;
      if (type === ExtOrCommand.deny) throw extOrError('ERR_PT_EXTOR_DENIED', 'ExtORPort denied the connection');
      // Unknown commands are ignored, as the spec requires.
    }
    return socket;
  } catch (err) {
    socket.destroy();
    throw signal.aborted && !(err instanceof PtError) ? extOrError('ERR_PT_EXTOR_PROTOCOL', 'ExtORPort exchange timed out or was aborted', err) : err;
  }
}

function extOrError(code: 'ERR_PT_EXTOR_AUTH' | 'ERR_PT_EXTOR_DENIED' | 'ERR_PT_EXTOR_PROTOCOL', message: string, cause?: unknown): PtError {
  return new PtError(code, message, cause === undefined ? {} : { cause });
}

// Reads exact byte counts in paused mode, so nothing past the handshake is consumed: the socket
// stays paused until its new owner reads or pipes it.
class ExactReader {
  readonly #socket: Socket;
  readonly #signal: AbortSignal;

  constructor(socket: Socket, signal: AbortSignal) {
    this.#socket = socket;
    this.#signal = signal;
  }

  read(n: number): Promise<Buffer> {
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        const chunk = socket.read(n) as Buffer | null;
        if (chunk !== null) {
          cleanup();
          resolve(chunk);
        }
      };
      const fail = (err?: unknown): void => {
        cleanup();
        reject(err instanceof PtError ? err : extOrError('ERR_PT_EXTOR_PROTOCOL', 'ExtORPort closed or failed during the handshake', err));
      };
      const onEnd = (): void => fail();
      const onAbort = (): void => fail(this.#signal.reason);
      const signal = this.#signal;
      function cleanup(): void {
        signal.removeEventListener('abort', onAbort);
        socket.off('readable', attempt);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', fail);
      }
      if (this.#signal.aborted) return fail(this.#signal.reason);
      this.#signal.addEventListener('abort', onAbort, { once: true });
      socket.on('readable', attempt);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.once('error', fail);
      attempt();
    });
  }
}

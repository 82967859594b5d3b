/**
 * The transport's local SOCKS listener: accepts tor's SOCKS connections, runs the
 * {@link SocksHandshake} under a deadline, dials through the injected {@link PtDialer}, answers
 * with the reply the dial earned, then relays bytes both ways.
 *
 * Bounds: the handshake must finish within `handshakeTimeoutMs` (5 s, as goptlib and lyrebird)
 * or the connection is closed; the dial gets `dialTimeoutMs` and then fails with TTL expired;
 * bytes a client sends before its reply are buffered up to `maxEarlyDataBytes`, after which
 * reading pauses. The reply is sent only once the transport connection is up, so tor learns of
 * failures. Each connection is independent: one client's bad input never touches another.
 *
 * @module
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PtDialer } from './dialer.js';
import { PtError } from './errors.js';
import type { PtLogger } from './ipc.js';
import { SocksHandshake, type SocksRequest } from './socks-handshake.js';
import { Socks5Reply, socksReplyForError } from './socks-replies.js';

/** Options of {@link PtSocksServer}. */
export interface SocksServerOptions {
  /** Makes the transport connection for each request. */
  dialer: PtDialer;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on. Default 0 (any). */
  port?: number;
  /** Deadline for a client's whole handshake, ms. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Deadline for the transport dial, ms. Default 60000. */
  dialTimeoutMs?: number;
  /** Bytes buffered from a client before its reply; beyond, reading pauses. Default 65536. */
  maxEarlyDataBytes?: number;
  /** How long a half-closed relay may wait for its other side to finish, ms. Default 30000. */
  lingerMs?: number;
  /** Accept SOCKS4/4a. Default true. */
  allowSocks4?: boolean;
  /** Where to log (no addresses are logged). */
  log?: PtLogger;
}

type ResolvedOptions = Required<Omit<SocksServerOptions, 'log'>> & { log: PtLogger | undefined };

/**
 * A SOCKS server for one transport.
 *
 * @example
 * ```ts
 * const server = new PtSocksServer({ dialer })
 * const { port } = await server.listen()
 * ipc.cmethod('tapdance', `127.0.0.1:${port}`)
 * // later: await server.close() (drain) or server.destroy()
 * ```
 */
export class PtSocksServer {
  readonly #options: ResolvedOptions;
  readonly #server: Server;
  readonly #connections = new Set<SocksConnection>();
  #drained: (() => void) | undefined;

  /** @param options - dialer, address and bounds */
  constructor(options: SocksServerOptions) {
    this.#options = {
      dialer: options.dialer,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      dialTimeoutMs: options.dialTimeoutMs ?? 60_000,
      maxEarlyDataBytes: options.maxEarlyDataBytes ?? 65_536,
      lingerMs: options.lingerMs ?? 30_000,
      allowSocks4: options.allowSocks4 ?? true,
      log: options.log,
    };
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
  }

  /**
   * Start listening.
   *
   * @returns the bound address
   * @throws the listen error (e.g. EADDRINUSE)
   */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Open connections (in handshake, dialing or relaying). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stop accepting and wait until every open connection has finished on its own.
   *
   * @returns resolves when none is left
   */
  close(): Promise<void> {
    this.#server.close();
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  /** Stop accepting and destroy every connection now. */
  destroy(): void {
    this.#server.close();
    for (const c of this.#connections) c.destroy();
  }

  #accept(socket: Socket): void {
    const connection = new SocksConnection(socket, this.#options, () => {
      this.#connections.delete(connection);
      if (this.#connections.size === 0) this.#drained?.();
    });
    this.#connections.add(connection);
  }
}


/** Phase of one client connection. */
type ConnectionPhase = 'handshake' | 'dialing' | 'relaying' | 'closed';

class SocksConnection {
  readonly #socket: Socket;
  readonly #options: ResolvedOptions;
  readonly #onClosed: () => void;
  readonly #handshake: SocksHandshake;
  readonly #abort = new AbortController();
  #phase: ConnectionPhase = 'handshake';
  #stream: Duplex | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, options: ResolvedOptions, onClosed: () => void) {
    this.#socket = socket;
    this.#options = options;
    this.#onClosed = onClosed;
    this.#handshake = new SocksHandshake({ allowSocks4: options.allowSocks4 });
    this.#timer = setTimeout(() => this.#handshakeTimeout(), options.handshakeTimeoutMs);
    socket.on('data', this.#onData);
    socket.on('end', this.#onClientEnd);
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.#closed());
  }

  destroy(): void {
    this.#abort.abort(new PtError('ERR_PT_SOCKS', 'connection closed'));
    this.#socket.destroy();
    this.#stream?.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    const step = this.#handshake.push(chunk);
    for (const bytes of step.send) this.#socket.write(bytes);
    if (step.error !== null) {
      this.#options.log?.log('info', `SOCKS handshake failed: ${step.error.message}`);
      this.#finish();
    } else if (step.request !== null) {
      this.#clearTimer();
      this.#dial(step.request);
    } else if (this.#phase === 'dialing' && this.#handshake.buffered > this.#options.maxEarlyDataBytes) {
      this.#socket.pause();
    }
  };

  readonly #onClientEnd = (): void => {
    // Before its reply, a client that stops sending has given up.
    if (this.#phase === 'handshake' || this.#phase === 'dialing') this.destroy();
  };

  // Ends the connection after a failure reply (already written), giving it `lingerMs` to close.
  #finish(reply?: Uint8Array): void {
    this.#clearTimer();
    this.#phase = 'closed';
    this.#socket.off('data', this.#onData);
    if (reply !== undefined) this.#socket.write(reply);
    this.#linger(this.#socket);
  }

  #handshakeTimeout(): void {
    this.#timer = undefined;
    this.#options.log?.log('info', 'SOCKS handshake timed out');
    this.destroy();
  }

  #dial(request: SocksRequest): void {
    this.#phase = 'dialing';
    const signal = this.#abort.signal;
    const timer = setTimeout(
      () => this.#abort.abort(new PtError('ERR_PT_DIAL_TIMEOUT', `transport dial timed out after ${this.#options.dialTimeoutMs} ms`)),
      this.#options.dialTimeoutMs,
    );
    let dialing: Promise<Duplex>;
    try {
      dialing = this.#options.dialer.dial(request.target, request.args, signal);
    } catch (err) {
      dialing = Promise.reject(err);
    }
    dialing.then(
      (stream) => {
        clearTimeout(timer);
        if (this.#phase !== 'dialing') {
          stream.destroy();
          return;
        }
        this.#relay(stream);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (this.#phase !== 'dialing') return;
        const reason = signal.aborted ? signal.reason : err;
        const code = (reason as { code?: unknown }).code;
        const message = (reason as { message?: unknown }).message ?? String(reason);
        this.#options.log?.log('warning', `transport dial failed: ${typeof code === 'string' ? `${code} ` : ''}${String(message)}`);
        this.#finish(this.#handshake.reply(socksReplyForError(reason)));
      },
    );
  }

  #relay(stream: Duplex): void {
    this.#phase = 'relaying';
    this.#stream = stream;
    const socket = this.#socket;
    socket.off('data', this.#onData);
    socket.write(this.#handshake.reply(Socks5Reply.succeeded));
    const early = this.#handshake.takeEarlyData();
    if (early.length > 0) stream.write(early);
    stream.on('error', () => this.destroy());
    // Half-close travels across; once one side is fully closed the other gets `lingerMs` to finish.
    stream.on('close', () => this.#linger(socket));
    socket.pipe(stream);
    stream.pipe(socket);
    socket.resume();
  }

  #linger(other: Duplex): void {
    other.end();
    setTimeout(() => other.destroy(), this.#options.lingerMs).unref();
  }

  #closed(): void {
    this.#clearTimer();
    if (this.#phase === 'dialing') this.#abort.abort(new PtError('ERR_PT_SOCKS', 'client closed during the dial'));
    this.#phase = 'closed';
    if (this.#stream !== undefined && !this.#stream.destroyed) this.#linger(this.#stream);
    this.#onClosed();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

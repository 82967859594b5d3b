/**
 * `TapDanceSocket`: the `net.Socket`-shaped Duplex applications use. It carries one covert byte
 * stream over a {@link ClientSession} (a chain of TapDance flows) and offers the parts of the
 * net.Socket surface that applications and http agents rely on: write/end/destroy with
 * half-close, setNoDelay/setKeepAlive/setTimeout, bytesRead/bytesWritten, remoteAddress/
 * remotePort of the covert target, and 'connect'/'ready'/'timeout' events.
 *
 * A socket can be created unconnected (as `createConnection` must return synchronously); writes
 * made before it connects are queued.
 *
 * @module
 */
import { Duplex } from 'node:stream';
import { isIP, type Socket } from 'node:net';
import { ClientSession, type ClientSessionOptions } from './session.js';
import type { ClientError } from './errors.js';

/** What a socket needs to open its session. */
export type TapDanceSocketOptions = ClientSessionOptions;

type ReadyState = 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed';

/**
 * A covert TCP stream through TapDance.
 *
 * @example
 * ```ts
 * const socket = await dial({ target: 'example.com:80', clientConfPath: './ClientConf' })
 * socket.end('GET / HTTP/1.0\r\nHost: example.com\r\n\r\n')
 * socket.pipe(process.stdout)
 * ```
 */
export class TapDanceSocket extends Duplex {
  /** Covert bytes received. */
  bytesRead = 0;
  /** Covert bytes handed to the session. */
  bytesWritten = 0;
  /** True until the first flow is up. */
  connecting = true;
  readonly #session: ClientSession;
  readonly #target: { host: string; port: number } | null;
  #connected: Promise<void> | null = null;
  #idleMs: number | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #keepAlive: [boolean, number] | null = null;

  constructor(options: TapDanceSocketOptions) {
    super({ allowHalfOpen: true });
    this.#target = parseTarget(options.covertAddress);
    this.#session = new ClientSession(options, {
      data: (chunk) => {
        this.bytesRead += chunk.length;
        this.#touch();
        return this.push(chunk);
      },
      end: () => this.push(null),
      error: (err: ClientError) => this.destroy(err),
      flowSwitched: (info) => this.emit('flowSwitch', info),
      flowAttached: () => this.#applySocketOptions(),
    });
  }

  /**
   * Open the first flow. Resolves once 'connect' has been emitted; on failure the socket is
   * destroyed, with an 'error' event only when `emitError` (as `createConnection` needs) — `dial`
   * reports the failure through its promise instead.
   */
  connect(options: { emitError?: boolean } = {}): Promise<void> {
    this.#connected ??= this.#session.connect().then(() => {
      this.connecting = false;
      this.emit('connect');
      this.emit('ready');
    }, (err: Error) => {
      if (options.emitError === true) this.destroy(err);
      else this.destroy();
      throw err;
    });
    return this.#connected;
  }

  /** Session diagnostics: decoy, flows so far, failed decoys, first flow timings. */
  get session(): ClientSession['info'] {
    return this.#session.info;
  }

  /** Address of the covert target (as given; names are resolved by the station). */
  get remoteAddress(): string | undefined {
    return this.#target?.host;
  }

  /** Port of the covert target. */
  get remotePort(): number | undefined {
    return this.#target?.port;
  }

  /** `IPv4`, `IPv6`, or undefined for a name or the station's default proxy. */
  get remoteFamily(): string | undefined {
    const f = this.#target === null ? 0 : isIP(this.#target.host);
    return f === 4 ? 'IPv4' : f === 6 ? 'IPv6' : undefined;
  }

  /** Mirrors net.Socket.readyState. */
  get readyState(): ReadyState {
    if (this.connecting) return 'opening';
    if (this.destroyed) return 'closed';
    const r = this.readable && !this.readableEnded;
    const w = this.writable && !this.writableEnded;
    return r && w ? 'open' : r ? 'readOnly' : w ? 'writeOnly' : 'closed';
  }

  /** Nagle is always off on decoy connections (the tag must travel alone); kept for API parity. */
  setNoDelay(_noDelay = true): this {
    return this;
  }

  /** Enable TCP keep-alive on the decoy connections (current and future flows). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    this.#applySocketOptions();
    return this;
  }

  /** The idle timeout set by {@link TapDanceSocket.setTimeout}, undefined before (as net.Socket). */
  get timeout(): number | undefined {
    return this.#idleMs;
  }

  /** Emit 'timeout' after `ms` without covert traffic, like net.Socket (0 disables). */
  setTimeout(ms: number, callback?: () => void): this {
    this.#idleMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = ms > 0 ? setTimeout(() => this.emit('timeout'), ms) : undefined;
    return this;
  }

  /** For API parity with net.Socket. */
  ref(): this {
    return this;
  }

  /** For API parity with net.Socket. */
  unref(): this {
    return this;
  }

  /** No local address is meaningful for a covert stream. */
  address(): Record<string, never> {
    return {};
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    const done = this.#guard(callback);
    // While the first flow opens, the bytes wait in the session's queue, where the tag can take
    // the first of them as early data (SPEC.md §6.1); a failed connect destroys the socket.
    if (this.connecting) this.connect().catch(() => {});
    this.bytesWritten += chunk.length;
    this.#touch();
    this.#session.write(chunk, done);
  }

  override _final(callback: (err?: Error | null) => void): void {
    const done = this.#guard(callback);
    if (this.connecting) this.connect().then(() => this.#session.end(done), done);
    else this.#session.end(done);
  }

  /**
   * Once the stream is destroyed it has already failed its pending writes; a late callback with
   * an error would make Node fail them a second time.
   */
  #guard(callback: (err?: Error | null) => void): (err?: Error | null) => void {
    return (err) => {
      if (err != null && this.destroyed) return;
      callback(err);
    };
  }

  override _read(): void {
    this.#session.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#session.destroy(err);
    callback(err);
  }

  /** Covert traffic: restart the idle timer (refresh, as net.Socket does: no new timer per chunk). */
  #touch(): void {
    this.#idleTimer?.refresh();
  }

  #applySocketOptions(): void {
    const transport = this.#session.currentTls?.transport as Socket | undefined;
    if (this.#keepAlive !== null && typeof transport?.setKeepAlive === 'function') transport.setKeepAlive(...this.#keepAlive);
  }
}

function parseTarget(text: string | undefined): { host: string; port: number } | null {
  if (text === undefined) return null;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  return m ? { host: m[1]!, port: Number(m[2]) } : null;
}

/**
 * The I/O edge of the TLS client: {@link connectTls} runs a {@link ClientCore} over any Duplex
 * transport (usually a TCP socket) and resolves with a {@link TlsConnection}, a Duplex of
 * plaintext.
 *
 * Beyond an ordinary TLS stream, a TlsConnection gives TapDance what node:tls cannot: the session
 * secrets, the keystream of the next record, a way to write exactly one record, and a raw TCP
 * half-close without close_notify (`closeWriteRaw`), after which reading continues.
 *
 * Every failure is a `TlsError`, sends the matching alert when one is due, and destroys the
 * transport. A handshake timeout bounds how long a silent or slow server can hold the handshake.
 *
 * @module
 */
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { CipherSuiteInfo, Tls13SuiteInfo } from './cipher-suites.js';
import { ClientCore, type ClientCoreOptions, type NegotiatedParameters, type Tls13Secrets, type TlsSecrets } from './client-core.js';
import { TlsError } from './errors.js';
import { MAX_PLAINTEXT } from './wire.js';

/** Options of {@link connectTls}. */
export interface ConnectTlsOptions extends ClientCoreOptions {
  /** Give up the handshake after this many milliseconds. Default 30000; 0 disables. */
  handshakeTimeoutMs?: number | undefined;
  /** Abort the handshake (rejects with `ERR_TLS_DESTROYED`); ignored once it has finished. */
  signal?: AbortSignal | undefined;
  /**
   * Keep the writable side open after the server's close_notify or EOF. Default true. (A net.Socket
   * transport must itself be created with `allowHalfOpen: true` to write after the server's FIN.)
   */
  allowHalfOpen?: boolean | undefined;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * Run a TLS handshake (1.2, or 1.3 when the profile offers it) over `transport` and return the
 * plaintext stream.
 *
 * @param transport - a connected (or connecting) Duplex, e.g. a net.Socket.
 * @param options - server name, profile, certificate checks, timeout.
 * @returns the connection once the server's Finished has been verified.
 * @throws TlsError for any handshake failure (the transport is destroyed first);
 *   InvalidArgumentError for bad options.
 * @example
 * ```ts
 * const socket = net.connect(443, '192.0.2.1')
 * const tls = await connectTls(socket, { serverName: 'example.com' })
 * tls.write('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')
 * tls.pipe(process.stdout)
 * ```
 */
export function connectTls(transport: Duplex, options: ConnectTlsOptions): Promise<TlsConnection> {
  checkOptions(options);
  const conn = new TlsConnection(transport, options);
  return conn.handshake;
}

function checkOptions(o: ConnectTlsOptions): void {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('"options" expected an object');
  if (o.serverName !== undefined && (typeof o.serverName !== 'string' || !/^[\x21-\x7e]{1,253}$/.test(o.serverName))) {
    throw new InvalidArgumentError('"serverName" expected an ASCII host name or IP address (use punycode for IDNs)');
  }
  const pinned = o.pinnedCertificate !== undefined;
  const skip = o.dangerouslySkipVerification === true;
  if (!pinned && !skip && (o.serverName === undefined || o.serverName === '')) {
    throw new InvalidArgumentError('"serverName" is required unless "pinnedCertificate" or "dangerouslySkipVerification" is set');
  }
  const t = o.handshakeTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
    throw new InvalidArgumentError('"handshakeTimeoutMs" expected a non-negative number');
  }
  for (const p of o.alpnProtocols ?? []) {
    if (typeof p !== 'string' || p.length === 0 || Buffer.byteLength(p) > 255) {
      throw new InvalidArgumentError('"alpnProtocols" expected non-empty strings of at most 255 bytes');
    }
  }
}

/**
 * A TLS client connection: a Duplex of plaintext over a transport Duplex.
 *
 * Create it with {@link connectTls}. Writes are cut into records of at most 16384 bytes;
 * `end()` sends close_notify and then ends the transport; `destroy(err)` closes at once. Emits
 * `session-ticket` (count so far) for each TLS 1.3 NewSessionTicket after the handshake.
 */
export class TlsConnection extends Duplex {
  /** The transport carrying the records (e.g. the TCP socket, for setNoDelay). */
  readonly transport: Duplex;
  /** Settles when the handshake finishes or fails. */
  readonly handshake: Promise<TlsConnection>;
  readonly #core: ClientCore;
  #settle: { resolve: (c: TlsConnection) => void; reject: (e: TlsError) => void } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #rawClose = false;
  #transportPaused = false;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  readonly #onEnd = (): void => this.#transportEnded();
  readonly #onError = (err: Error): void => {
    this.#fail(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the transport failed', { cause: err }));
  };
  readonly #onClose = (): void => {
    // After a clean EOF the stream finishes on its own; a close before it is a truncation.
    if (!this.#eofPushed) this.#fail(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the transport closed'));
  };
  readonly #swallow = (): void => {};
  #eofPushed = false;
  #tickets = 0;
  /** A net.Socket hands each read to its 'data' listeners in a fresh buffer (see #receive). */
  readonly #freshReads: boolean;

  /** Use {@link connectTls} instead. */
  constructor(transport: Duplex, options: ConnectTlsOptions) {
    super({ allowHalfOpen: options.allowHalfOpen ?? true });
    this.transport = transport;
    this.#freshReads = transport instanceof Socket;
    this.#core = new ClientCore(options);
    this.handshake = new Promise<TlsConnection>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // A rejected handshake is reported through the promise; the stream must not also throw it.
    this.on('error', this.#swallow);
    transport.on('data', this.#onData);
    transport.on('end', this.#onEnd);
    transport.on('error', this.#onError);
    transport.on('close', this.#onClose);
    const timeout = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        this.#fail(new TlsError('ERR_TLS_HANDSHAKE_TIMEOUT', `handshake did not finish within ${timeout} ms`, { context: { timeout } }));
      }, timeout);
    }
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => {
        if (this.#settle !== undefined) this.#fail(new TlsError('ERR_TLS_DESTROYED', 'handshake aborted', { cause: signal.reason }));
      };
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void this.handshake.then(() => signal.removeEventListener('abort', onAbort), () => signal.removeEventListener('abort', onAbort));
      }
    }
    try {
      this.#send(this.#core.start());
    } catch (err) {
      this.#fail(err instanceof TlsError ? err : new TlsError('ERR_TLS_INTERNAL', 'could not start the handshake', { cause: err }));
    }
  }

  /** Everything the handshake settled (suite, ALPN, certificate, group, signature scheme). */
  get negotiatedParameters(): NegotiatedParameters {
    return this.#negotiated();
  }

  /** The negotiated cipher suite (after the handshake). */
  get cipherSuite(): CipherSuiteInfo | Tls13SuiteInfo {
    return this.#negotiated().suite;
  }

  /** The ALPN protocol the server chose, or null. */
  get alpnProtocol(): string | null {
    return this.#negotiated().alpnProtocol;
  }

  /** The server's leaf certificate. */
  get peerCertificate(): X509Certificate {
    return this.#negotiated().peerCertificate;
  }

  /** Whether the extended master secret (RFC 7627) was negotiated. */
  get extendedMasterSecret(): boolean {
    return this.#negotiated().extendedMasterSecret;
  }

  /** The ECDHE group used, or null for RSA key transport. */
  get group(): number | null {
    return this.#negotiated().group;
  }

  /** Sequence number of the next record this connection sends (1 right after the handshake). */
  get writeSequence(): bigint {
    return this.#core.writeSequence ?? 0n;
  }

  /** The negotiated version: 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3); 0 before the ServerHello. */
  get protocolVersion(): number {
    return this.#core.version;
  }

  /** Sequence number of the next record this connection reads under the current keys. */
  get readSequence(): bigint {
    return this.#core.readSequence ?? 0n;
  }

  /** The application data sent with our Finished (`sendWithFinished`), or null. */
  get sentWithFinished(): Buffer | null {
    return this.#core.sentWithFinished;
  }

  /** TLS 1.3 NewSessionTicket messages received since the handshake. */
  get ticketsReceived(): number {
    return this.#tickets;
  }

  /**
   * The TLS 1.2 session secrets, as a TapDance tag carries them.
   *
   * @returns copies of master secret, randoms, suite and key block.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or for TLS 1.3.
   */
  secrets(): TlsSecrets {
    return this.#core.secrets();
  }

  /**
   * The TLS 1.3 session state a TapDance tag carries: both current application traffic secrets
   * and both sequence numbers. Read it right before sealing the tag.
   *
   * @returns copies of the secrets, and the sequence numbers.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake finished or for TLS 1.2.
   */
  tls13Secrets(): Tls13Secrets {
    return this.#core.tls13Secrets();
  }

  /**
   * The first `n` keystream bytes of the next record this connection sends: a record written
   * next with plaintext `p` has ciphertext `p XOR nextRecordKeystream(p.length)`.
   *
   * @param n - 0..16384.
   * @returns n bytes.
   * @throws TlsError `ERR_TLS_INVALID_STATE` before the handshake or after end.
   */
  nextRecordKeystream(n: number): Buffer {
    return this.#core.keystream(n);
  }

  /**
   * Write exactly one application-data record, in one transport write.
   *
   * @param plaintext - at most 16384 bytes.
   * @returns resolves when the record has been handed to the transport.
   * @throws TlsError `ERR_TLS_INVALID_STATE` (rejects) when stream writes are still queued, the
   *   writable side has ended, or the plaintext is too long.
   */
  writeRecord(plaintext: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!(plaintext instanceof Uint8Array) || plaintext.length > MAX_PLAINTEXT) {
        reject(new TlsError('ERR_TLS_INVALID_STATE', `writeRecord takes at most ${MAX_PLAINTEXT} bytes`));
        return;
      }
      if (this.writableLength > 0 || this.writableEnded || this.destroyed) {
        reject(new TlsError('ERR_TLS_INVALID_STATE', 'writeRecord needs an idle, open writable side'));
        return;
      }
      let record: Buffer;
      try {
        record = this.#core.sealRecord(plaintext);
      } catch (err) {
        reject(err);
        return;
      }
      this.transport.write(record, (err) => {
        if (err) reject(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the transport failed', { cause: err }));
        else resolve();
      });
    });
  }

  /**
   * Half-close the transport (TCP FIN) without close_notify; reading goes on until the server
   * closes. This is how a TapDance client ends a flow while draining the station's data.
   *
   * @returns resolves when the writable side has finished.
   */
  closeWriteRaw(): Promise<void> {
    this.#rawClose = true;
    return new Promise<void>((resolve, reject) => {
      if (this.writableFinished) {
        resolve();
        return;
      }
      const onError = (err: Error): void => reject(err);
      this.once('error', onError);
      this.end(() => {
        this.off('error', onError);
        resolve();
      });
    });
  }

  // ---- stream implementation -------------------------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeChunks([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#writeChunks(chunks.map((c) => c.chunk), callback);
  }

  /** Seal and hand records to the transport in one vectored write; wait for drain if it is full. */
  #writeChunks(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    let parts: Buffer[];
    try {
      parts = chunks.length === 1 ? this.#core.sealApplicationDataParts(chunks[0]!) : chunks.flatMap((c) => this.#core.sealApplicationDataParts(c));
    } catch (err) {
      callback(err as Error);
      return;
    }
    const t = this.transport;
    if (parts.length === 0) {
      callback();
      return;
    }
    t.cork();
    for (const p of parts) t.write(p);
    t.uncork();
    // write() said "full" while corked; what counts is whether the flush left data queued.
    if (t.writableLength < t.writableHighWaterMark) callback();
    else t.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#rawClose) {
      try {
        this.transport.write(this.#core.closeNotify());
      } catch (err) {
        callback(err as Error);
        return;
      }
    }
    this.transport.end(() => callback());
  }

  override _read(): void {
    if (this.#transportPaused) {
      this.#transportPaused = false;
      this.transport.resume();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cleanup();
    if (!this.transport.destroyed) this.transport.destroy();
    if (this.#settle !== undefined) {
      const err = error instanceof TlsError ? error : new TlsError('ERR_TLS_DESTROYED', 'connection destroyed during the handshake',
        error === null ? {} : { cause: error });
      this.#settle.reject(err);
      this.#settle = undefined;
    }
    callback(error);
  }

  // ---- transport events ------------------------------------------------------------------------

  #receive(chunk: Buffer): void {
    let result;
    try {
      // When we are its only reader, a net.Socket's read is ours: records are opened where they lie.
      result = this.#core.receive(chunk, this.#freshReads && this.transport.listenerCount('data') === 1);
    } catch (err) {
      this.#fail(err as TlsError);
      return;
    }
    for (const out of result.output) this.#send(out);
    if (result.tickets > 0) {
      this.#tickets += result.tickets;
      this.emit('session-ticket', this.#tickets);
    }
    if (result.handshakeComplete) this.#handshakeDone();
    let more = true;
    for (const p of result.plaintext) more = this.push(p);
    if (result.closeNotify) this.#pushEof();
    else if (!more && !this.#transportPaused) {
      this.#transportPaused = true;
      this.transport.pause();
    }
  }

  #transportEnded(): void {
    if (this.#settle !== undefined) {
      this.#fail(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the server closed the connection during the handshake',
        { context: { state: this.#core.state } }));
      return;
    }
    if (this.#core.bufferedBytes > 0) {
      this.#fail(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the connection ended inside a record', { context: { buffered: this.#core.bufferedBytes } }));
      return;
    }
    // EOF without close_notify ends the stream like node:tls does; HTTP decoys do this.
    this.#pushEof();
  }

  #pushEof(): void {
    if (this.#eofPushed) return;
    this.#eofPushed = true;
    this.push(null);
  }

  #handshakeDone(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const settle = this.#settle;
    this.#settle = undefined;
    // The stream reports errors from now on.
    this.off('error', this.#swallow);
    settle?.resolve(this);
  }

  #send(bytes: Buffer): void {
    if (!this.transport.destroyed && !this.transport.writableEnded) this.transport.write(bytes);
  }

  #fail(err: TlsError): void {
    if (this.destroyed) return;
    const alert = this.#core.state === 'Start' ? null : safeAlert(this.#core, err);
    if (alert !== null && !this.transport.destroyed && !this.transport.writableEnded) {
      // Best effort: the alert may or may not leave before the socket is torn down.
      this.transport.end(alert);
    }
    this.destroy(err);
  }

  #cleanup(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.transport.off('data', this.#onData);
    this.transport.off('end', this.#onEnd);
    this.transport.off('error', this.#onError);
    this.transport.off('close', this.#onClose);
    // Swallow late transport errors after we let go of it.
    this.transport.on('error', () => {});
  }

  #negotiated(): NegotiatedParameters {
    const n = this.#core.negotiated;
    if (n === undefined) throw new TlsError('ERR_TLS_INVALID_STATE', 'the handshake has not finished');
    return n;
  }
}

function safeAlert(core: ClientCore, err: TlsError): Buffer | null {
  try {
    return err instanceof TlsError ? core.alertFor(err) : null;
  } catch {
    return null;
  }
}

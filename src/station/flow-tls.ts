/**
 * The station's end of one taken-over TLS flow: a Duplex of plaintext over the repaired TCP
 * socket, continuing the client's TLS session from the secrets in its tag.
 *
 * TLS 1.2 (tag variant 0x00): the client's Finished and ours (really the decoy's) used sequence
 * number 0 in each direction, and the tagged request is the client's record 1, so reading starts
 * by opening that record and writing starts at sequence 1. TLS 1.3 (variant 0x13, recognised by
 * its suite when the variant is not passed): the tag carries both application traffic secrets,
 * the tagged record's sequence number and how many records the decoy had sent, which is where
 * our writing starts (SPEC.md "TLS 1.3 tag"). There is no handshake here: a ClientHello,
 * renegotiation, ChangeCipherSpec or TLS 1.3 handshake message on a taken-over flow is a protocol
 * error.
 *
 * @module
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { RecordDeframer } from '../tls/record-deframer.js';
import { BufferPool } from './buffer-pool.js';
import { ContentType, AlertDescription } from '../tls/wire.js';
import { TlsError } from '../tls/errors.js';
import { continueTaggedSession, type StationTlsSession } from '../protocol/tag-reader.js';

/**
 * Secrets of the flow, as decoded from the tag: for TLS 1.3 the three byte fields hold the packed
 * application traffic secrets and sequence numbers (`encodeTls13Secrets`).
 */
export interface FlowSecrets {
  suite: number;
  masterSecret: Uint8Array;
  clientRandom: Uint8Array;
  serverRandom: Uint8Array;
  /** Tag variant (0x00 TLS 1.2, 0x13 TLS 1.3); when absent, a TLS 1.3 suite means variant 0x13. */
  variant?: number | undefined;
}

const ALERT_WARNING = 1;
/** Where sealed downstream records wait for the kernel, shared by all flows of the process. */
const SEALED_BUFFERS = new BufferPool();
/** Plaintext bytes queued on a flow before `write()` asks the writer to wait. */
const FLOW_WRITE_HIGH_WATER = 256 * 1024;

/**
 * Plaintext Duplex over a taken-over socket.
 *
 * Reading yields the client's application data after the tagged record; `end()` sends
 * close_notify and a FIN; `closeWriteRaw()` sends only a FIN.
 */
export class FlowTls extends Duplex {
  /** The repaired TCP socket. */
  readonly socket: Socket;
  /** Plaintext of the tagged request (the incomplete HTTP request with X-Proto). */
  readonly request: Uint8Array;
  readonly #session: StationTlsSession;
  readonly #deframer = new RecordDeframer();
  #paused = false;
  #eof = false;
  #rawClose = false;
  #closeNotify = false;
  /** Plaintext bytes read from and written to the client on this flow. */
  bytesIn = 0;
  bytesOut = 0;

  /**
   * @param socket - the repaired socket (its first unread byte follows the tagged record)
   * @param secrets - from the tag
   * @param taggedRecord - the tagged record (whole, header included), opened here to move the
   *   read sequence past it and to return the request plaintext
   * @throws TlsError when the tagged record does not open with these secrets; CryptoError
   *   `ERR_TAG_PAYLOAD` for an unknown variant or malformed TLS 1.3 fields
   */
  constructor(socket: Socket, secrets: FlowSecrets, taggedRecord: Uint8Array) {
    // A write-side high-water mark above the covert socket's 64 KiB reads, so that one read does not
    // pause the covert socket (and resume it a tick later) every time.
    super({ allowHalfOpen: true, writableHighWaterMark: FLOW_WRITE_HIGH_WATER });
    this.socket = socket;
    const { session, plaintext } = continueTaggedSession({
      cipherSuite: secrets.suite, masterSecret: secrets.masterSecret, clientRandom: secrets.clientRandom,
      serverRandom: secrets.serverRandom, variant: secrets.variant,
    }, taggedRecord);
    this.#session = session;
    this.request = plaintext;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('end', () => this.#transportEnded());
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.#eof) this.destroy(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the flow closed without a FIN'));
    });
    // The socket may come paused (a takeover that had to look at its first bytes).
    socket.resume();
  }

  /** Whether the client ended its side with close_notify (a deliberate close, not a flow switch). */
  get closeNotifyReceived(): boolean {
    return this.#closeNotify;
  }

  /** Half-close with a bare FIN (no close_notify): how a flow ends before the next one. */
  closeWriteRaw(): void {
    this.#rawClose = true;
    this.end();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#writeChunks([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.#writeChunks(chunks.map((c) => c.chunk), callback);
  }

  /**
   * Seal the chunks as records filled up to 16384 bytes across chunk boundaries (one native call
   * and one buffer for the batch with the record addon, else views without copies) and hand them
   * to the socket in one vectored write.
   */
  #writeChunks(chunks: Buffer[], callback: (err?: Error | null) => void): void {
    let parts: Buffer[];
    let pooled: Buffer | undefined;
    try {
      parts = this.#session.write.sealRecords(ContentType.application_data, chunks, (n) => (pooled = SEALED_BUFFERS.take(n)));
    } catch (err) {
      callback(err as Error);
      return;
    }
    for (const c of chunks) this.bytesOut += c.length;
    if (parts.length === 0) {
      callback();
      return;
    }
    const s = this.socket;
    s.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) s.write(parts[i]);
    // Back to the pool once the kernel has the bytes (or the write failed): nothing reads it then.
    if (pooled === undefined) s.write(parts[last]);
    else s.write(parts[last], () => SEALED_BUFFERS.give(pooled!));
    s.uncork();
    // write() said "full" while corked; what counts is whether the flush left data queued.
    if (s.writableLength < s.writableHighWaterMark) callback();
    else s.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.#rawClose && !this.socket.destroyed) {
      try {
        this.socket.write(this.#session.write.seal(ContentType.alert, Uint8Array.of(ALERT_WARNING, AlertDescription.close_notify)));
      } catch (err) {
        callback(err as Error);
        return;
      }
    }
    this.socket.end(() => callback());
  }

  override _read(): void {
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.socket.destroyed) this.socket.destroy();
    callback(err);
  }

  #receive(chunk: Buffer): void {
    if (this.#eof) return;
    // The repaired socket's reads are fresh buffers and this is their only reader: records are
    // opened where they lie (with the native AEAD), without a copy.
    this.#deframer.push(chunk, this.socket.listenerCount('data') === 1);
    // node:crypto is done with each body at once: a record across reads may be joined in a reused
    // buffer. The native AEAD opens a fresh join in place, saving the copy out of a reused one.
    const transient = !this.#session.read.native;
    let more = true;
    try {
      for (let raw = this.#deframer.next(transient); raw !== null; raw = this.#deframer.next(transient)) {
        const { contentType, plaintext } = this.#session.read.openFragment(raw.contentType, raw.version, raw.body, raw.owned);
        if (contentType === ContentType.application_data) {
          this.bytesIn += plaintext.length;
          if (plaintext.length > 0) more = this.push(plaintext);
        } else if (contentType === ContentType.alert) {
          if (plaintext.length === 2 && plaintext[1] === AlertDescription.close_notify) {
            this.#closeNotify = true;
            this.#pushEof();
            return;
          }
          throw new TlsError('ERR_TLS_ALERT_RECEIVED', `client sent alert ${plaintext[1] ?? '?'}`,
            { context: { level: plaintext[0], description: plaintext[1] } });
        } else {
          throw new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', `content type ${contentType} on a taken-over flow`,
            { context: { contentType } });
        }
      }
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (!more && !this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  #transportEnded(): void {
    if (this.#deframer.buffered > 0) {
      this.destroy(new TlsError('ERR_TLS_TRANSPORT_CLOSED', 'the flow ended inside a record', { context: { buffered: this.#deframer.buffered } }));
      return;
    }
    this.#pushEof();
  }

  #pushEof(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.push(null);
  }
}

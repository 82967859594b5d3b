/**
 * Cuts a TLS byte stream, arriving in chunks of any size, into records (RFC 5246 §6.2.1), and
 * frames plaintext records (`frameRecord`).
 *
 * Sans-IO: `push` bytes in, take records out with `next`. The header is checked as soon as its
 * five bytes are in, so garbage (an HTTP answer, a wrong protocol) fails at once instead of
 * waiting for a length that will never come. A record body is a view into the pushed chunk when
 * it lies in one chunk; only records that cross chunks are copied.
 *
 * No decryption here (see `record-layer.ts`).
 *
 * @module
 */
import { TlsError } from './errors.js';
import { ContentType, MAX_CIPHERTEXT, RECORD_HEADER_LENGTH } from './wire.js';

/** One record as framed on the wire. */
export interface RawRecord {
  /** Content type from the header. */
  contentType: number;
  /** Version field from the header. */
  version: number;
  /** The record body (ciphertext once protection is on). */
  body: Uint8Array;
  /**
   * The body's memory is the taker's to overwrite (to decrypt in place): a view of a chunk pushed
   * as owned, or a fresh join of several chunks.
   */
  owned: boolean;
}

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(ContentType));

/**
 * Record framer for one direction of a connection.
 *
 * @example
 * ```ts
 * const d = new RecordDeframer()
 * d.push(chunk)
 * for (let rec = d.next(); rec !== null; rec = d.next()) handle(rec)
 * ```
 */
export class RecordDeframer {
  #chunks: Uint8Array[] = [];
  /** Whether each of `#chunks` was pushed as owned. */
  #owned: boolean[] = [];
  #length = 0;
  /** Where a record that spans chunks is joined when the caller takes it as transient. */
  #scratch: Buffer | undefined;

  /** Bytes buffered that do not yet form a whole record. */
  get buffered(): number {
    return this.#length;
  }

  /**
   * Add bytes from the transport.
   *
   * @param chunk - any number of bytes; kept by reference, so do not modify it afterwards.
   * @param owned - the caller gives up the chunk's memory (a fresh socket read nobody else
   *   holds): records lying in it are marked `owned`, so their bodies may be decrypted in place.
   */
  push(chunk: Uint8Array, owned = false): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#owned.push(owned);
    this.#length += chunk.length;
  }

  /**
   * Take the next whole record, if one is buffered.
   *
   * @param transient - the caller is done with the body before its next call (it decrypts it
   *   at once): a record that spans chunks is then joined in a buffer reused by later calls
   *   instead of a new one.
   * @returns the record, or null when more bytes are needed.
   * @throws TlsError `ERR_TLS_UNEXPECTED_MESSAGE` for an unknown content type, `ERR_TLS_DECODE`
   *   for a version that is not 3.x, `ERR_TLS_RECORD_OVERFLOW` for a body over 2^14 + 2048.
   */
  next(transient = false): RawRecord | null {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= RECORD_HEADER_LENGTH) {
      // The common case: the whole header in the first chunk, read in place.
      const contentType = first[0]!;
      checkType(contentType);
      if (first[1] !== 3) throw notTls(first[1]!);
      const length = (first[3]! << 8) | first[4]!;
      if (length > MAX_CIPHERTEXT) throw overflow(length);
      if (this.#length < RECORD_HEADER_LENGTH + length) return null;
      return this.#takeRecord(contentType, (first[1] << 8) | first[2]!, length, transient);
    }
    if (this.#length < RECORD_HEADER_LENGTH) {
      // Check what we have of the header early: garbage should fail without waiting.
      if (this.#length > 0) checkType(this.#peek(0));
      if (this.#length > 1 && this.#peek(1) !== 3) throw notTls(this.#peek(1));
      return null;
    }
    const contentType = this.#peek(0);
    checkType(contentType);
    const version = (this.#peek(1) << 8) | this.#peek(2);
    if (version >>> 8 !== 3) throw notTls(version >>> 8);
    const length = (this.#peek(3) << 8) | this.#peek(4);
    if (length > MAX_CIPHERTEXT) throw overflow(length);
    if (this.#length < RECORD_HEADER_LENGTH + length) return null;
    return this.#takeRecord(contentType, version, length, transient);
  }

  /** Take the buffered record whose header says `length`, noting whether its memory is the taker's. */
  #takeRecord(contentType: number, version: number, length: number, transient: boolean): RawRecord {
    const n = RECORD_HEADER_LENGTH + length;
    // A view of the first chunk is as owned as that chunk; a join is fresh unless transient.
    const owned = this.#chunks[0]!.length >= n ? this.#owned[0]! : !transient;
    return { contentType, version, body: this.#take(n, transient).subarray(RECORD_HEADER_LENGTH), owned };
  }

  #peek(i: number): number {
    for (const c of this.#chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    return 0; // unreachable: callers check #length first
  }

  #take(n: number, transient: boolean): Uint8Array {
    const first = this.#chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      // Every byte is written below.
      out = transient ? (this.#scratch ??= Buffer.allocUnsafe(RECORD_HEADER_LENGTH + MAX_CIPHERTEXT)).subarray(0, n) : Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(c.length, n - off);
        out.set(c.subarray(0, k), off);
        off += k;
        if (k === c.length) this.#shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#length -= n;
    return out;
  }

  #shift(): void {
    this.#chunks.shift();
    this.#owned.shift();
  }
}

/**
 * Frame an unprotected record: header and body (handshake before ChangeCipherSpec, alerts).
 *
 * @param type - content type.
 * @param version - record version field.
 * @param body - at most 2^14 bytes (not checked: callers build their own messages).
 * @returns the record.
 */
export function frameRecord(type: number, version: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + body.length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(body.length, 3);
  out.set(body, RECORD_HEADER_LENGTH);
  return out;
}

function checkType(type: number): void {
  if (!KNOWN_TYPES.has(type)) {
    throw new TlsError('ERR_TLS_UNEXPECTED_MESSAGE', `unknown record content type ${type}`, { context: { contentType: type } });
  }
}

function overflow(length: number): TlsError {
  return new TlsError('ERR_TLS_RECORD_OVERFLOW', `record length ${length} exceeds 2^14 + 2048`, { context: { length } });
}

function notTls(major: number): TlsError {
  return new TlsError('ERR_TLS_DECODE', 'record version is not TLS (major version 3)', { context: { major } });
}

/**
 * Byte readers and writers for TLS structures: big-endian integers and length-prefixed vectors
 * (RFC 5246 §4).
 *
 * {@link Reader} reads from a view without copying and throws only `TlsError` `ERR_TLS_DECODE`,
 * so any parser built on it fails with a typed error on any input. {@link Writer} grows a list of
 * parts and fills in vector lengths when a vector closes.
 *
 * @module
 */
import { decodeError } from './errors.js';

/**
 * A cursor over bytes from the peer. Every read checks bounds first.
 *
 * @example
 * ```ts
 * const r = new Reader(body, 'ServerHello')
 * const version = r.u16()
 * const random = r.bytes(32)
 * const sessionId = r.vec8()
 * r.end()
 * ```
 */
export class Reader {
  readonly #buf: Uint8Array;
  readonly #what: string;
  #off = 0;

  /**
   * @param buf - the bytes to read.
   * @param what - name of the structure, for error messages.
   */
  constructor(buf: Uint8Array, what: string) {
    this.#buf = buf;
    this.#what = what;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#buf.length - this.#off;
  }

  #take(n: number): Uint8Array {
    if (n > this.remaining) throw decodeError(this.#what, { need: n, have: this.remaining });
    const out = this.#buf.subarray(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }

  /** Read one byte. */
  u8(): number {
    return this.#take(1)[0]!;
  }

  /** Read a big-endian 16-bit integer. */
  u16(): number {
    const b = this.#take(2);
    return (b[0]! << 8) | b[1]!;
  }

  /** Read a big-endian 24-bit integer. */
  u24(): number {
    const b = this.#take(3);
    return (b[0]! << 16) | (b[1]! << 8) | b[2]!;
  }

  /** Read `n` bytes (a view, not a copy). */
  bytes(n: number): Uint8Array {
    return this.#take(n);
  }

  /** Read a vector with a 1-byte length. */
  vec8(): Uint8Array {
    return this.#take(this.u8());
  }

  /** Read a vector with a 2-byte length. */
  vec16(): Uint8Array {
    return this.#take(this.u16());
  }

  /** Read a vector with a 3-byte length. */
  vec24(): Uint8Array {
    return this.#take(this.u24());
  }

  /** Read everything left. */
  rest(): Uint8Array {
    return this.#take(this.remaining);
  }

  /** Require that everything was read (no trailing bytes). */
  end(): void {
    if (this.remaining !== 0) throw decodeError(this.#what, { trailing: this.remaining });
  }
}

/**
 * Builds TLS structures. Vectors are opened with a length width and closed when the callback
 * returns, so lengths are always right.
 *
 * @example
 * ```ts
 * const w = new Writer()
 * w.u16(0x0303)
 * w.vec(1, (w) => w.bytes(sessionId))
 * const bytes = w.finish()
 * ```
 */
export class Writer {
  #parts: number[] = [];

  /** Append one byte. */
  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }

  /** Append a big-endian 16-bit integer. */
  u16(v: number): this {
    this.#parts.push((v >>> 8) & 0xff, v & 0xff);
    return this;
  }

  /** Append a big-endian 24-bit integer. */
  u24(v: number): this {
    this.#parts.push((v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }

  /** Append bytes. */
  bytes(b: Uint8Array): this {
    for (const x of b) this.#parts.push(x);
    return this;
  }

  /**
   * Append a vector: a `width`-byte length, then what `body` writes.
   *
   * @param width - 1, 2 or 3 bytes of length.
   * @param body - writes the vector's content.
   */
  vec(width: 1 | 2 | 3, body: (w: this) => void): this {
    const at = this.#parts.length;
    for (let i = 0; i < width; i++) this.#parts.push(0);
    body(this);
    const len = this.#parts.length - at - width;
    if (len >= 2 ** (8 * width)) throw new RangeError(`vector of ${len} bytes does not fit a ${width}-byte length`);
    for (let i = 0; i < width; i++) this.#parts[at + i] = (len >>> (8 * (width - 1 - i))) & 0xff;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#parts.length;
  }

  /** The finished bytes. */
  finish(): Buffer {
    return Buffer.from(this.#parts);
  }
}

/**
 * The type-length framing TapDance runs inside the TLS stream, in both directions (reference
 * gotapdance `getMsgWithHeader`, station `protocol_outer_framing.rs`; SPEC.md "Framing"):
 *
 * ```
 * TL = int16, big endian
 *   TL < 0   covert data follows, −TL bytes (1..32768)
 *   TL > 0   a protobuf follows, TL bytes (1..32767)
 *   TL = 0   a protobuf follows whose length is the next 4 bytes (uint32, big endian)
 * ```
 *
 * The encoder never writes a 32768-byte data chunk (TL = −32768): the public client's decoder
 * overflows on it. It writes an empty protobuf in the extended form (TL = 0, length 0) because a
 * short form cannot express length 0. The decoder accepts every form, including TL = −32768.
 *
 * Sans-IO: {@link FrameDecoder} takes byte chunks of any size and returns whole frames.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { abytes } from '../crypto/bytes.js';
import { ProtocolError } from './errors.js';

/** Largest data chunk the encoder writes (the int16 maximum). */
export const MAX_DATA_CHUNK = 32767;
/** Largest protobuf that fits the short form. */
export const MAX_SHORT_PROTOBUF = 32767;
/** Default limit of {@link FrameDecoder} for one protobuf: 1 MiB (a 3,000-decoy ClientConf is ~200 KB). */
export const DEFAULT_MAX_PROTOBUF_LENGTH = 1 << 20;

/** One decoded frame. */
export type Frame =
  | { readonly type: 'data'; readonly data: Uint8Array }
  | { readonly type: 'protobuf'; readonly message: Uint8Array };

/**
 * Frame one chunk of covert data.
 *
 * @param chunk - 1..32767 bytes
 * @returns header (2 bytes, −length) followed by the data
 * @throws {@link InvalidArgumentError} for an empty or oversized chunk
 */
export function encodeDataFrame(chunk: Uint8Array): Uint8Array {
  abytes(chunk, 'chunk');
  if (chunk.length < 1 || chunk.length > MAX_DATA_CHUNK) {
    throw new InvalidArgumentError(`"chunk" expected 1..${MAX_DATA_CHUNK} bytes, got ${chunk.length}`);
  }
  const out = new Uint8Array(2 + chunk.length);
  new DataView(out.buffer).setInt16(0, -chunk.length);
  out.set(chunk, 2);
  return out;
}

/**
 * Frame covert data of any length as consecutive data frames of at most `maxChunk` bytes.
 *
 * @param data - the bytes (empty gives no frames)
 * @param maxChunk - largest chunk, 1..32767 (default 32767)
 * @returns the frames, concatenated
 * @throws {@link InvalidArgumentError} when `maxChunk` is out of range
 * @example
 * ```ts
 * tls.write(encodeDataFrames(payload))
 * ```
 */
export function encodeDataFrames(data: Uint8Array, maxChunk = MAX_DATA_CHUNK): Uint8Array {
  abytes(data, 'data');
  if (!Number.isInteger(maxChunk) || maxChunk < 1 || maxChunk > MAX_DATA_CHUNK) {
    throw new InvalidArgumentError(`"maxChunk" expected 1..${MAX_DATA_CHUNK}, got ${maxChunk}`);
  }
  const frames = Math.ceil(data.length / maxChunk);
  const out = new Uint8Array(data.length + 2 * frames);
  const view = new DataView(out.buffer);
  for (let i = 0, o = 0; i < data.length; i += maxChunk) {
    const n = Math.min(maxChunk, data.length - i);
    view.setInt16(o, -n);
    out.set(data.subarray(i, i + n), o + 2);
    o += 2 + n;
  }
  return out;
}

/**
 * The 2-byte header of a data frame of `length` bytes, for writers that send the header and the
 * data as separate buffers (a vectored write, no copy of the data).
 *
 * @param length - 1..32767
 * @returns the header (−length, int16 big endian)
 * @throws {@link InvalidArgumentError} for a length out of range
 */
export function encodeDataFrameHeader(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > MAX_DATA_CHUNK) {
    throw new InvalidArgumentError(`"length" expected 1..${MAX_DATA_CHUNK}, got ${length}`);
  }
  const out = new Uint8Array(2);
  out[0] = (-length >> 8) & 0xff;
  out[1] = -length & 0xff;
  return out;
}

/**
 * Frame one serialized protobuf: short form up to 32767 bytes, extended form above (and for an
 * empty message).
 *
 * @param message - protobuf bytes (up to 2^32−1)
 * @param options - `extended`: always use the extended form
 * @returns header followed by the message
 */
export function encodeProtobufFrame(message: Uint8Array, options: { extended?: boolean } = {}): Uint8Array {
  abytes(message, 'message');
  if (message.length > 0xffffffff) throw new InvalidArgumentError('"message" longer than 2^32-1 bytes');
  const extended = options.extended === true || message.length === 0 || message.length > MAX_SHORT_PROTOBUF;
  const header = extended ? 6 : 2;
  const out = new Uint8Array(header + message.length);
  const view = new DataView(out.buffer);
  if (extended) view.setUint32(2, message.length);
  else view.setInt16(0, message.length);
  out.set(message, header);
  return out;
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest protobuf accepted, in bytes (default {@link DEFAULT_MAX_PROTOBUF_LENGTH}). */
  maxProtobufLength?: number;
}

/**
 * Streaming decoder: push bytes as they arrive, get complete frames back.
 *
 * Memory is bounded: at most one frame (≤ 32768 data bytes or `maxProtobufLength`) plus a header
 * is buffered. An announced protobuf above the limit is refused as soon as its header is read.
 *
 * @example
 * ```ts
 * const dec = new FrameDecoder({ maxProtobufLength: 64 * 1024 })
 * tls.on('data', (chunk) => { for (const f of dec.push(chunk)) handle(f) })
 * tls.on('end', () => dec.end())
 * ```
 */
export class FrameDecoder {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #failed: ProtocolError | null = null;

  /**
   * @param options - see {@link FrameDecoderOptions}
   * @throws {@link InvalidArgumentError} when `maxProtobufLength` is not a non-negative integer
   */
  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxProtobufLength ?? DEFAULT_MAX_PROTOBUF_LENGTH;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new InvalidArgumentError(`"maxProtobufLength" expected integer 0..2^32-1, got ${max}`);
    }
    this.#max = max;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedLength(): number {
    return this.#buffered;
  }

  /**
   * Add bytes and return every frame they complete, in order.
   *
   * @param chunk - the next bytes of the stream (any length, including 0); returned frames may be
   *   views into it, so do not modify a chunk after pushing it
   * @returns complete frames (possibly none)
   * @throws {@link ProtocolError} `ERR_PROTO_FRAME_TOO_LARGE` when a protobuf exceeds the limit;
   *   the decoder then stays failed and throws the same error on every later call
   */
  push(chunk: Uint8Array): Frame[] {
    abytes(chunk, 'chunk');
    if (this.#failed) throw this.#failed;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.#next();
      if (frame === null) return frames;
      frames.push(frame);
    }
  }

  /**
   * The fast path of a relay: when nothing is buffered and `chunk` is exactly one data frame (what
   * a station's full TLS record holds: a 2-byte header and up to 16382 bytes), its data as a view
   * without building a frame list. Otherwise null, and the caller uses {@link FrameDecoder.push}.
   *
   * @param chunk - the next bytes of the stream (not consumed when null is returned)
   * @returns the frame's data, or null
   */
  wholeDataFrame(chunk: Uint8Array): Uint8Array | null {
    if (this.#buffered !== 0 || this.#failed || chunk.length < 3 || chunk[0]! < 0x80) return null;
    return 0x10000 - ((chunk[0]! << 8) | chunk[1]!) === chunk.length - 2 ? chunk.subarray(2) : null;
  }

  /**
   * Declare the end of the stream.
   *
   * @throws {@link ProtocolError} `ERR_PROTO_FRAME_TRUNCATED` when a partial frame is buffered
   */
  end(): void {
    if (this.#failed) throw this.#failed;
    if (this.#buffered > 0) {
      throw new ProtocolError('ERR_PROTO_FRAME_TRUNCATED', `stream ended inside a frame (${this.#buffered} bytes buffered)`, {
        context: { buffered: this.#buffered },
      });
    }
  }

  #next(): Frame | null {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= 2 && first[0]! >= 0x80) {
      // The common case, a data frame: its header read in place, its data a view when it lies in
      // the first chunk.
      const n = 0x10000 - ((first[0]! << 8) | first[1]!);
      if (this.#buffered < 2 + n) return null;
      if (first.length < 2 + n) {
        this.#skip(2);
        return { type: 'data', data: this.#take(n) };
      }
      this.#buffered -= 2 + n;
      if (first.length === 2 + n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(2 + n);
      return { type: 'data', data: first.subarray(2, 2 + n) };
    }
    if (this.#buffered < 2) return null;
    const head = this.#peek(Math.min(this.#buffered, 6));
    const tl = new DataView(head.buffer, head.byteOffset, head.byteLength).getInt16(0);
    if (tl < 0) {
      if (this.#buffered < 2 - tl) return null;
      this.#skip(2);
      return { type: 'data', data: this.#take(-tl) };
    }
    let header = 2;
    let length = tl;
    if (tl === 0) {
      if (head.length < 6) return null;
      header = 6;
      length = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(2);
    }
    if (length > this.#max) {
      this.#failed = new ProtocolError('ERR_PROTO_FRAME_TOO_LARGE', `protobuf frame of ${length} bytes exceeds the limit of ${this.#max}`, {
        context: { length, limit: this.#max },
      });
      this.#chunks = [];
      this.#buffered = 0;
      throw this.#failed;
    }
    if (this.#buffered < header + length) return null;
    this.#skip(header);
    return { type: 'protobuf', message: this.#take(length) };
  }

  /** The first n buffered bytes (n ≤ buffered), copied only when they span chunks. */
  #peek(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.#chunks) {
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  /** Remove and return the first n buffered bytes (n ≤ buffered). */
  #take(n: number): Uint8Array {
    const out = this.#peek(n);
    this.#skip(n);
    return out;
  }

  #skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const first = this.#chunks[0]!;
      if (first.length > n) {
        this.#chunks[0] = first.subarray(n);
        return;
      }
      n -= first.length;
      this.#chunks.shift();
    }
  }
}

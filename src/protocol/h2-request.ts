/**
 * The tagged request for decoys that select HTTP/2 (SPEC.md "HTTP/2 decoys"): Chrome's first
 * HTTP/2 record (connection preface, SETTINGS, WINDOW_UPDATE), then — once the decoy has answered
 * it — a HEADERS frame for `GET /` without END_HEADERS whose header block ends inside the value of
 * an `x-ignore` header made of `#` padding and the stego bytes. The frame ends at the record's end,
 * so the tag sits where the station looks for it; the decoy, having a HEADERS frame without
 * END_HEADERS, waits for a CONTINUATION frame and sends nothing. The give-up completion is that
 * CONTINUATION: the rest of the value and END_HEADERS, after which the decoy answers a complete
 * GET like any browser's.
 *
 * Also here: the few HPACK encodings the request needs (RFC 7541 §5, §6: integers, raw strings,
 * indexed and literal fields), a frame reader for what the decoy sends before the tag, and the
 * station-side search for the `x-proto` field. No Huffman coding, no dynamic table use.
 *
 * @module
 */
import { abytes } from '../crypto/bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { GIVE_UP_PADDING_RANGE, meanRandomInt, systemRandomInt, xIgnorePaddingLength, type RandomInt } from './padding.js';
import { embedTag, sharedHeaders, TAPDANCE_USER_AGENT, type EmbedTagOptions } from './tagged-request.js';

/** HTTP/2 frame types used here (RFC 9113 §6). */
export const H2FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;

/** Frame flags (RFC 9113 §6). */
export const H2Flag = { ACK: 0x1, END_STREAM: 0x1, END_HEADERS: 0x4, PRIORITY: 0x20 } as const;

const FRAME_HEADER = 9;
const PREFACE_MAGIC = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Encode one frame. */
export function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream & 0x7fffffff, 5);
  out.set(payload, FRAME_HEADER);
  return out;
}

/**
 * Chrome's first HTTP/2 record, byte for byte as Chromium 156 sends it: the preface, SETTINGS
 * (header table 65536, push off, initial window 6291456, max header list 262144) and a connection
 * WINDOW_UPDATE of 15663105. 70 bytes.
 */
export const CHROME_H2_PREFACE: Uint8Array = Buffer.concat([
  PREFACE_MAGIC,
  h2Frame(H2FrameType.SETTINGS, 0, 0, Buffer.from('000100010000' + '000200000000' + '000400600000' + '000600040000', 'hex')),
  h2Frame(H2FrameType.WINDOW_UPDATE, 0, 0, Buffer.from('00ef0001', 'hex')),
]);

/** An HPACK integer with an `n`-bit prefix whose other bits are `flags` (RFC 7541 §5.1). */
export function hpackInteger(value: number, n: number, flags = 0): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** An HPACK string literal without Huffman coding, with its declared length (RFC 7541 §5.2). */
function hpackString(bytes: Uint8Array, declaredLength = bytes.length): number[] {
  return [...hpackInteger(declaredLength, 7), ...bytes];
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Options of {@link buildH2TaggedRequest}. */
export interface H2TaggedRequestOptions extends EmbedTagOptions {
  /** Decoy host name for `:authority`. */
  host: string;
  /** X-Proto value (from `encodeXProto`); left out when absent or empty. */
  xProto?: string;
  /** User-Agent value (default the TapDance one, as in the HTTP/1.1 request). */
  userAgent?: string;
  /** Fixed `#` padding before the stego bytes (default drawn as for the HTTP/1.1 X-Ignore). */
  paddingLength?: number;
  /** Fixed length of the value's rest, sent only to give up (default mean of 5 draws from [456, 789]). */
  completionLength?: number;
  /** Random source for the lengths. */
  randomInt?: RandomInt;
}

/** The HEADERS record and the CONTINUATION that completes it. */
export interface H2TaggedRequest {
  /** Plaintext of the tagged record: one HEADERS frame on stream 1 (no END_HEADERS). */
  headers: Uint8Array;
  /** The give-up CONTINUATION frame: the rest of the `x-ignore` value, END_HEADERS. */
  completion: Uint8Array;
}

/**
 * Build the tagged HEADERS frame for an HTTP/2 decoy (send {@link CHROME_H2_PREFACE} first).
 *
 * Header block: `:method GET`, `:authority`, `:scheme https`, `:path /` (Chrome's order),
 * `user-agent`, `x-proto` (never indexed), then `x-ignore` (never indexed) whose declared length
 * covers padding, stego bytes and the completion; the frame ends after the stego bytes. Flags
 * END_STREAM and PRIORITY (exclusive, weight 256, as Chrome sends), not END_HEADERS.
 *
 * @param options - host, X-Proto, tag, keystream of the record (for TLS 1.3 also the inner
 *   content type and a fitting tag function), lengths
 * @returns the HEADERS frame and the give-up CONTINUATION frame
 * @throws {@link InvalidArgumentError} for header values with control characters or bad lengths
 * @example
 * ```ts
 * await tls.writeRecord(CHROME_H2_PREFACE)
 * // … wait for the decoy's SETTINGS ACK …
 * const { headers } = buildH2TaggedRequest({ host, xProto, tag, keystream: (n) => tls.nextRecordKeystream(n) })
 * await tls.writeRecord(headers)
 * ```
 */
export function buildH2TaggedRequest(options: H2TaggedRequestOptions): H2TaggedRequest {
  const { host } = options;
  const userAgent = options.userAgent ?? TAPDANCE_USER_AGENT;
  const xProto = options.xProto ?? '';
  for (const [name, value] of [['host', host], ['userAgent', userAgent], ['xProto', xProto]] as const) {
    if (typeof value !== 'string' || /[\x00-\x1f\x7f]/.test(value)) throw new InvalidArgumentError(`"${name}" must be a string without control characters`);
  }
  const random = options.randomInt ?? systemRandomInt;
  // The same length rule as the HTTP/1.1 X-Ignore, measured on the same shared headers.
  const padding = options.paddingLength ?? xIgnorePaddingLength(Buffer.byteLength(sharedHeaders(host, userAgent, xProto)), random);
  const rest = options.completionLength ?? meanRandomInt(GIVE_UP_PADDING_RANGE[0], GIVE_UP_PADDING_RANGE[1], 5, random);
  for (const [name, v] of [['paddingLength', padding], ['completionLength', rest]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`"${name}" expected a non-negative integer, got ${v}`);
  }
  const tagLength = typeof options.tag === 'function' ? options.tagLength ?? 180 : abytes(options.tag, 'tag').length;
  const stegoInFrame = (tagLength / 3) * 4 - (options.innerContentType === undefined ? 0 : 1);
  const block = [
    0x82, // :method GET (static index 2)
    ...hpackInteger(1, 6, 0x40), ...hpackString(ascii(host)), // :authority, literal with incremental indexing
    0x87, // :scheme https (7)
    0x84, // :path / (4)
    ...hpackInteger(58, 4, 0x00), ...hpackString(ascii(userAgent)), // user-agent (58), without indexing
    ...(xProto === '' ? [] : [0x10, ...hpackString(ascii('x-proto')), ...hpackString(ascii(xProto))]),
    0x10, ...hpackString(ascii('x-ignore')), ...hpackInteger(padding + stegoInFrame + rest, 7),
    ...ascii('#'.repeat(padding)),
  ];
  const priority = [0x80, 0, 0, 0, 255]; // exclusive, depends on stream 0, weight 256
  const payloadLength = priority.length + block.length + stegoInFrame;
  const head = h2Frame(H2FrameType.HEADERS, H2Flag.END_STREAM | H2Flag.PRIORITY, 1, Buffer.from([...priority, ...block]));
  head.writeUIntBE(payloadLength, 0, 3);
  const headers = embedTag(head, options);
  // DEL (7f) is not a valid field-value character (RFC 9110 §5.5; nghttp2 drops such a field).
  // '?' (3f) differs from it only in bit 6, so the ciphertext keeps its low 6 stego bits.
  for (let i = head.length; i < headers.length; i++) if (headers[i] === 0x7f) headers[i] = 0x3f;
  return { headers, completion: h2Frame(H2FrameType.CONTINUATION, H2Flag.END_HEADERS, 1, ascii('#'.repeat(rest))) };
}

/** One HTTP/2 frame read from a byte stream. */
export interface H2Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}

/**
 * Reads HTTP/2 frames from what the decoy sends before the tag (its SETTINGS, WINDOW_UPDATE and
 * the ACK of ours). Sans-IO; frames longer than `maxFrame` are an error (a decoy's early frames
 * are small).
 */
export class H2FrameReader {
  #buf: Uint8Array = new Uint8Array(0);
  readonly #maxFrame: number;

  /** @param maxFrame - largest payload accepted (default 16384, the HTTP/2 default maximum). */
  constructor(maxFrame = 16384) {
    this.#maxFrame = maxFrame;
  }

  /**
   * Add bytes and take the whole frames now available.
   *
   * @param chunk - decrypted bytes from the decoy
   * @returns the frames completed by this chunk
   * @throws {@link InvalidArgumentError} for a frame over the limit
   */
  push(chunk: Uint8Array): H2Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: H2Frame[] = [];
    while (this.#buf.length >= FRAME_HEADER) {
      const b = this.#buf;
      const length = (b[0]! << 16) | (b[1]! << 8) | b[2]!;
      if (length > this.#maxFrame) throw new InvalidArgumentError(`HTTP/2 frame of ${length} bytes from the decoy`);
      if (b.length < FRAME_HEADER + length) break;
      out.push({
        type: b[3]!, flags: b[4]!, stream: ((b[5]! << 24) | (b[6]! << 16) | (b[7]! << 8) | b[8]!) & 0x7fffffff,
        payload: b.subarray(FRAME_HEADER, FRAME_HEADER + length),
      });
      this.#buf = b.subarray(FRAME_HEADER + length);
    }
    return out;
  }
}

/** Whether a frame acknowledges our SETTINGS. */
export function isSettingsAck(f: H2Frame): boolean {
  return f.type === H2FrameType.SETTINGS && (f.flags & H2Flag.ACK) !== 0 && f.stream === 0;
}

const XPROTO_FIELD = Buffer.from([0x10, 0x07, ...ascii('x-proto')]);

/**
 * Station side: the value of the `x-proto` field in a tagged HEADERS frame, as this module encodes
 * it (never-indexed literal, raw string). Total on any input.
 *
 * @param plaintext - the decrypted tagged record
 * @returns the base64 value, or null when absent or malformed
 */
export function findH2XProtoValue(plaintext: Uint8Array): string | null {
  const at = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).indexOf(XPROTO_FIELD);
  if (at < 0) return null;
  let i = at + XPROTO_FIELD.length;
  if (i >= plaintext.length || (plaintext[i]! & 0x80) !== 0) return null; // Huffman: not ours
  let length = plaintext[i++]! & 0x7f;
  if (length === 0x7f) {
    let shift = 0;
    for (let b = 0x80; (b & 0x80) !== 0; shift += 7) {
      if (i >= plaintext.length || shift > 21) return null;
      b = plaintext[i++]!;
      length += (b & 0x7f) << shift;
    }
  }
  if (i + length > plaintext.length) return null;
  const value = Buffer.from(plaintext.subarray(i, i + length)).toString('latin1');
  return /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? value : null;
}

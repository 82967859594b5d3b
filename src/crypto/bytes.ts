/**
 * Small byte helpers shared by the crypto, protocol and CLI layers: argument checks, hex,
 * concatenation, constant-time comparison and views of Node `Buffer`s as plain `Uint8Array`s.
 *
 * No I/O and no crypto here.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/**
 * Check that `value` is a `Uint8Array` (optionally of one of the given lengths).
 *
 * @param value - the argument to check
 * @param name - the argument's name for the error message
 * @param lengths - accepted lengths; any length when empty
 * @returns `value`, typed
 * @throws {@link InvalidArgumentError} when the type or length is wrong
 */
export function abytes(value: unknown, name: string, ...lengths: number[]): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`"${name}" expected Uint8Array, got ${describe(value)}`);
  }
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new InvalidArgumentError(`"${name}" expected ${lengths.join(' or ')} bytes, got ${value.length}`, {
      context: { argument: name, length: value.length },
    });
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/**
 * View a Node `Buffer` (or any `Uint8Array` subclass) as a plain `Uint8Array` without copying.
 *
 * @param buf - bytes from a Node API
 * @returns a `Uint8Array` over the same memory
 */
export function u8(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Decode a hex string (upper or lower case, even length, no prefix or separators).
 *
 * @param hex - the text
 * @param name - what the text is, for the error message (e.g. `--station-secret`)
 * @returns the bytes
 * @throws {@link InvalidArgumentError} naming the first bad character or an odd length
 */
export function hexToBytes(hex: string, name = 'hex'): Uint8Array {
  if (typeof hex !== 'string') throw new InvalidArgumentError(`"${name}" expected hex string, got ${describe(hex)}`);
  if (hex.length % 2 !== 0) {
    throw new InvalidArgumentError(`"${name}" is not hex: odd number of digits (${hex.length})`, {
      context: { argument: name, length: hex.length },
    });
  }
  const bad = /[^0-9a-fA-F]/.exec(hex);
  if (bad) {
    throw new InvalidArgumentError(`"${name}" is not hex: unexpected character at position ${bad.index}`, {
      context: { argument: name, position: bad.index },
    });
  }
  return u8(Buffer.from(hex, 'hex'));
}

/**
 * View bytes as a Buffer over the same memory (no copy).
 *
 * @param bytes - the bytes
 * @returns `bytes` itself when it is a Buffer, else a Buffer view of its memory
 */
export function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encode bytes as lower-case hex.
 *
 * @param bytes - the bytes
 * @returns hex text
 */
export function bytesToHex(bytes: Uint8Array): string {
  return bufferView(bytes).toString('hex');
}

/**
 * Concatenate byte arrays into a new `Uint8Array`.
 *
 * @param parts - the pieces, in order
 * @returns a fresh array holding all pieces
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Compare two byte arrays in time that depends only on their lengths.
 *
 * @param a - first array
 * @param b - second array
 * @returns whether they hold the same bytes
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Steganographic embedding of bytes into TLS ciphertext, 6 bits per ciphertext byte (the public
 * client's `reverseEncrypt`; see SPEC.md "Stego encoding").
 *
 * The client knows the keystream of the record it is about to send, so it can choose plaintext
 * bytes whose ciphertext carries chosen bits. Every 3 data bytes (24 bits, big-endian) become four
 * 6-bit groups s0..s3; for keystream byte k the plaintext byte is `((k & 0x3f) ^ s) + 0x40`, a
 * printable character in 0x40..0x7f, and the ciphertext byte `p ^ k` has `s` in its low 6 bits.
 * The station reads the low 6 bits of the ciphertext and needs no key for that.
 *
 * Pure functions on byte arrays; no knowledge of where the bytes sit in a record.
 *
 * @module
 */
import { abytes } from './bytes.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * Number of stego bytes that carry `dataLength` data bytes.
 *
 * @param dataLength - a multiple of 3
 * @returns `dataLength / 3 * 4`
 * @throws {@link InvalidArgumentError} when `dataLength` is not a non-negative multiple of 3
 */
export function stegoEncodedLength(dataLength: number): number {
  if (!Number.isInteger(dataLength) || dataLength < 0 || dataLength % 3 !== 0) {
    throw new InvalidArgumentError(`"dataLength" expected a multiple of 3, got ${dataLength}`);
  }
  return (dataLength / 3) * 4;
}

/**
 * Choose plaintext bytes whose encryption under `keystream` carries `data`.
 *
 * @param data - bytes to hide; length a multiple of 3 (a tag is 180)
 * @param keystream - keystream bytes at the positions the plaintext will occupy; at least
 *   `data.length / 3 * 4` (extra bytes are ignored)
 * @returns plaintext of `data.length / 3 * 4` bytes, each in 0x40..0x7f
 * @throws {@link InvalidArgumentError} for a length that is not a multiple of 3 or a short keystream
 * @example
 * ```ts
 * const plain = stegoEncode(tag, keystream.subarray(prefix.length))
 * ```
 */
export function stegoEncode(data: Uint8Array, keystream: Uint8Array): Uint8Array {
  abytes(data, 'data');
  abytes(keystream, 'keystream');
  const n = stegoEncodedLength(data.length);
  if (keystream.length < n) {
    throw new InvalidArgumentError(`"keystream" expected at least ${n} bytes, got ${keystream.length}`);
  }
  const out = new Uint8Array(n);
  for (let i = 0, o = 0; i < data.length; i += 3, o += 4) {
    const x = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    out[o] = ((keystream[o]! & 0x3f) ^ (x >>> 18)) + 0x40;
    out[o + 1] = ((keystream[o + 1]! & 0x3f) ^ ((x >>> 12) & 0x3f)) + 0x40;
    out[o + 2] = ((keystream[o + 2]! & 0x3f) ^ ((x >>> 6) & 0x3f)) + 0x40;
    out[o + 3] = ((keystream[o + 3]! & 0x3f) ^ (x & 0x3f)) + 0x40;
  }
  return out;
}

/**
 * Recover hidden bytes from ciphertext: the low 6 bits of every byte, packed 4 → 3.
 *
 * Total: works on any bytes (garbage in, garbage out); the caller authenticates the result.
 *
 * @param ciphertext - stego ciphertext; length a multiple of 4
 * @returns `ciphertext.length / 4 * 3` bytes
 * @throws {@link InvalidArgumentError} when the length is not a multiple of 4
 */
export function stegoDecode(ciphertext: Uint8Array): Uint8Array {
  abytes(ciphertext, 'ciphertext');
  if (ciphertext.length % 4 !== 0) {
    throw new InvalidArgumentError(`"ciphertext" length expected a multiple of 4, got ${ciphertext.length}`);
  }
  const out = new Uint8Array((ciphertext.length / 4) * 3);
  for (let i = 0, o = 0; i < ciphertext.length; i += 4, o += 3) {
    const x =
      ((ciphertext[i]! & 0x3f) << 18) |
      ((ciphertext[i + 1]! & 0x3f) << 12) |
      ((ciphertext[i + 2]! & 0x3f) << 6) |
      (ciphertext[i + 3]! & 0x3f);
    out[o] = x >>> 16;
    out[o + 1] = (x >>> 8) & 0xff;
    out[o + 2] = x & 0xff;
  }
  return out;
}

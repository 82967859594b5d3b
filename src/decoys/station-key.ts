/**
 * The `--station-key HEX|FILE` argument: a station's X25519 public key given as 64 hex digits, or
 * as a file holding either the 32 raw bytes (`pubkey` from `tapdance keygen`) or 64 hex digits.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { hexToBytes } from '../crypto/bytes.js';
import { DecoyError } from './errors.js';

const HEX_KEY = /^(?:0x)?([0-9a-fA-F]{64})$/;

/**
 * Load a station public key from a hex string or a file.
 *
 * @param value - 64 hex digits (optional `0x`), or a file path
 * @param read - file reader (tests)
 * @returns the 32-byte key
 * @throws {@link DecoyError} `ERR_DECOY_STATION_KEY` when the value is neither
 * @example
 * ```ts
 * const key = await loadStationKey('keys/pubkey')
 * ```
 */
export async function loadStationKey(value: string, read: (path: string) => Promise<Uint8Array> = readFile): Promise<Uint8Array> {
  const hex = HEX_KEY.exec(value.trim());
  if (hex) return hexToBytes(hex[1]!.toLowerCase());
  let bytes: Uint8Array;
  try {
    bytes = await read(value);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new DecoyError('ERR_DECOY_STATION_KEY', `station key "${value}" is not 64 hex digits and not a readable file (${why})`,
      { cause: err });
  }
  if (bytes.length === 32) return Uint8Array.from(bytes);
  const text = HEX_KEY.exec(Buffer.from(bytes).toString('latin1').trim());
  if (text) return hexToBytes(text[1]!.toLowerCase());
  throw new DecoyError('ERR_DECOY_STATION_KEY',
    `station key file ${value} must hold 32 bytes or 64 hex digits, got ${bytes.length} bytes`, { context: { length: bytes.length } });
}

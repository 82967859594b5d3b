/**
 * The optional native record AEAD (record-native/, `ring` through napi-rs), as `ws` uses
 * `bufferutil`: when the addon is built (`npm run build:native`), the TLS record layers seal and
 * open each record with one native call on a key expanded once, instead of a node:crypto cipher
 * object per record, which at 16 KiB records costs several times the cipher itself. Without it
 * they use node:crypto and produce the same bytes. `TAPDANCE_NATIVE_AEAD=0` turns it off.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { addonPath } from '../addon-path.js';
import type { AeadKind } from './cipher-suites.js';

/** One direction's key in the native AEAD. */
export interface NativeAead {
  /**
   * Copy the concatenated `pieces` into `out` and seal them there, tag last.
   *
   * @param nonce - 12 bytes
   * @param aad - the additional data
   * @param pieces - the plaintext in order
   * @param out - exactly the pieces' length plus 16 bytes, overlapping no input
   */
  seal(nonce: Uint8Array, aad: Uint8Array, pieces: readonly Uint8Array[], out: Uint8Array): void;
  /**
   * Copy `input` (ciphertext then tag) into `out` and check and decrypt it there.
   *
   * @returns the plaintext length (at the start of `out`), or -1 when authentication fails
   */
  open(nonce: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array): number;
  /**
   * Check and decrypt `buf` (ciphertext then tag) where it lies: for memory the caller owns.
   *
   * @returns the plaintext length (at the start of `buf`), or -1 when authentication fails
   *   (`buf` then holds unspecified bytes)
   */
  openInPlace(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array): number;
  /**
   * Seal the concatenated `chunks` as TLS 1.2 records (each up to 16384 bytes) from sequence
   * number `seq` into `out`, which is exactly their size.
   *
   * @param iv - the 4-byte AES-GCM salt when `explicitNonce`, else the 12-byte ChaCha20 IV
   * @returns the number of records
   */
  sealTls12Records(iv: Uint8Array, explicitNonce: boolean, seq: bigint, contentType: number, chunks: readonly Uint8Array[], out: Uint8Array): number;
}

interface RawAddon {
  AeadCipher: new (algorithm: string, key: Uint8Array) => NativeAead;
}

/** Whether the addon is in use, where it was looked for, and why not when it is not. */
export interface NativeAeadStatus {
  loaded: boolean;
  path: string;
  reason?: string;
}

let addon: RawAddon | null | undefined;
let status: NativeAeadStatus | undefined;

function load(): RawAddon | null {
  if (addon !== undefined) return addon;
  const p = addonPath('record-native', 'tapdance-record');
  addon = null;
  if (process.env.TAPDANCE_NATIVE_AEAD === '0') {
    status = { loaded: false, path: p, reason: 'TAPDANCE_NATIVE_AEAD=0' };
  } else if (!existsSync(p)) {
    status = { loaded: false, path: p, reason: 'not built (npm run build:native)' };
  } else {
    try {
      const loaded = createRequire(import.meta.url)(p) as RawAddon;
      // A build from an older checkout lacks newer methods: use node:crypto rather than fail later.
      if (typeof loaded.AeadCipher?.prototype?.openInPlace !== 'function') {
        status = { loaded: false, path: p, reason: 'out of date (npm run build:native)' };
      } else {
        addon = loaded;
        status = { loaded: true, path: p };
      }
    } catch (err) {
      status = { loaded: false, path: p, reason: `failed to load: ${(err as Error).message}` };
    }
  }
  return addon;
}

/**
 * A native AEAD for `aead` under `key`, or null when the addon is not in use (then the caller
 * uses node:crypto).
 */
export function nativeAead(aead: AeadKind, key: Uint8Array): NativeAead | null {
  const a = load();
  return a === null ? null : new a.AeadCipher(aead, key);
}

/** Whether the native AEAD is in use, where it was looked for and why not (diagnostics, tests). */
export function nativeAeadStatus(): NativeAeadStatus {
  load();
  return status!;
}

/**
 * The transport's persistent state under `TOR_PT_STATE_LOCATION`.
 *
 * tor gives every transport of one tor the same directory (`<DataDirectory>/pt_state/`), so ours
 * lives in a `tapdance/` subdirectory. It holds `ClientConf`, the binary ClientConf protobuf as
 * the public TapDance client keeps it: the decoy list and station keys, updated in-band by
 * stations. Writes are atomic (temporary file, then rename) so a crash never leaves half a file.
 * Directories are 0700, files 0600: the decoy list is not public.
 *
 * This module stores bytes; decoding the protobuf belongs to the protocol layer.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PtError } from './errors.js';

/** Largest ClientConf accepted from disk or from a station (the public one is ~0.3 MB). */
export const MAX_CLIENT_CONF_BYTES = 8 * 1024 * 1024;

/**
 * Our part of the state directory.
 *
 * @example
 * ```ts
 * const state = PtState.open(env.stateLocation)
 * const saved = state.readClientConf()      // undefined before the first update
 * state.writeClientConf(bytesFromStation)
 * ```
 */
export class PtState {
  /** Our directory, `<TOR_PT_STATE_LOCATION>/tapdance`. */
  readonly dir: string;
  /** Path of the saved ClientConf. */
  readonly clientConfPath: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.clientConfPath = join(dir, 'ClientConf');
  }

  /**
   * Create (if needed) and open the state directory.
   *
   * @param stateLocation - `TOR_PT_STATE_LOCATION`
   * @returns the state
   * @throws {PtError} `ERR_PT_STATE` when the directory cannot be created
   */
  static open(stateLocation: string): PtState {
    const dir = join(stateLocation, 'tapdance');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw stateError('cannot create the state directory', cause);
    }
    return new PtState(dir);
  }

  /**
   * The saved ClientConf bytes.
   *
   * @returns the bytes, or undefined when none was saved
   * @throws {PtError} `ERR_PT_STATE` when the file exists but cannot be read or is too large
   */
  readClientConf(): Uint8Array | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.clientConfPath);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw stateError('cannot read the saved ClientConf', cause);
    }
    if (bytes.length > MAX_CLIENT_CONF_BYTES) throw stateError('the saved ClientConf is too large', undefined, bytes.length);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /**
   * Replace the saved ClientConf atomically.
   *
   * @param bytes - serialized ClientConf
   * @throws {PtError} `ERR_PT_STATE` when too large or the write fails
   */
  writeClientConf(bytes: Uint8Array): void {
    if (bytes.length > MAX_CLIENT_CONF_BYTES) throw stateError('ClientConf update is too large', undefined, bytes.length);
    const temp = join(this.dir, `.ClientConf.${randomBytes(5).toString('hex')}.tmp`);
    try {
      writeFileSync(temp, bytes, { mode: 0o600, flag: 'wx' });
      renameSync(temp, this.clientConfPath);
    } catch (cause) {
      rmSync(temp, { force: true });
      throw stateError('cannot save the ClientConf', cause);
    }
  }
}

function stateError(message: string, cause: unknown, length?: number): PtError {
  const errno = (cause as { code?: unknown } | undefined)?.code;
  return new PtError('ERR_PT_STATE', message, {
    ...(cause === undefined ? {} : { cause }),
    context: { ...(typeof errno === 'string' ? { errno } : {}), ...(length === undefined ? {} : { length }) },
  });
}

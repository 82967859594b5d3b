/**
 * Station key files on disk: `privkey` (secret key then public key, mode 0600) and `pubkey`
 * (public key), the layout of the public station's `genkey` (byte formats in `keys.ts`).
 *
 * Files are written to a temporary name in the same directory and renamed into place, so a
 * crash never leaves half a key behind.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeStationKeyFile, parseStationKeyFile, parseStationPublicKeyFile, type StationKeyPair } from './keys.js';
import { u8 } from './bytes.js';

/** File name of the station's secret key file inside a key directory. */
export const PRIVATE_KEY_FILE = 'privkey';
/** File name of the station's public key file inside a key directory. */
export const PUBLIC_KEY_FILE = 'pubkey';

async function writeAtomic(path: string, data: Uint8Array, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(5).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Write `privkey` (0600) and `pubkey` (0644) into `dir`, creating it if needed.
 *
 * @param dir - target directory
 * @param pair - the key pair
 * @returns the paths written
 * @throws Node file-system errors (`EACCES`, …) unchanged
 * @example
 * ```ts
 * await writeStationKeyFiles('/etc/tapdance', generateStationKeyPair())
 * ```
 */
export async function writeStationKeyFiles(
  dir: string,
  pair: StationKeyPair,
): Promise<{ privateKeyPath: string; publicKeyPath: string }> {
  const body = encodeStationKeyFile(pair);
  await mkdir(dir, { recursive: true });
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  await writeAtomic(privateKeyPath, body, 0o600);
  await writeAtomic(publicKeyPath, pair.publicKey, 0o644);
  return { privateKeyPath, publicKeyPath };
}

/**
 * Read a station `privkey` file (64 bytes, or a bare 32-byte secret).
 *
 * @param path - file path
 * @returns the key pair
 * @throws {@link CryptoError} `ERR_CRYPTO_KEY_FILE` for a malformed file; Node errors for I/O
 */
export async function readStationKeyFile(path: string): Promise<StationKeyPair> {
  return parseStationKeyFile(u8(await readFile(path)));
}

/**
 * Read a station `pubkey` file.
 *
 * @param path - file path
 * @returns the 32-byte public key
 * @throws {@link CryptoError} `ERR_CRYPTO_KEY_FILE` for a malformed file; Node errors for I/O
 */
export async function readStationPublicKeyFile(path: string): Promise<Uint8Array> {
  return parseStationPublicKeyFile(u8(await readFile(path)));
}

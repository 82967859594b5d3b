/**
 * ClientConf files and decoy helpers.
 *
 * A ClientConf file is the binary protobuf `ClientConf`, as the public client keeps it in its
 * assets directory. Writes are atomic: a temporary `.ClientConf.<random>.tmp` next to the target
 * is renamed over it, so readers never see half a file.
 *
 * The decoy helpers read a `TLSDecoySpec` without changing it (the public client mutates specs in
 * place to apply its floors; we return the effective values instead):
 * - address: IPv4 when present, else IPv6, always port 443;
 * - timeout: below 20000 ms counts as 30000 ms;
 * - tcpwin: below 14400 bytes counts as 15614 bytes;
 * - station key: the decoy's own `pubkey` if it has one, else the ClientConf `default_pubkey`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isFieldSet } from '@bufbuild/protobuf';
import { hexToBytes } from '../crypto/bytes.js';
import { ProtocolError } from './errors.js';
import { decodeClientConf, encodeClientConf, bytesToIpv6, fixed32ToIpv4, TLSDecoySpecSchema, type ClientConf, type TLSDecoySpec } from './messages.js';
import { systemRandomInt, type RandomInt } from './padding.js';

/** TCP port of every TapDance decoy. */
export const DECOY_PORT = 443;
/** Decoy timeouts below this (ms) are replaced by {@link DECOY_TIMEOUT_DEFAULT}. */
export const DECOY_TIMEOUT_MIN = 20000;
/** Effective timeout (ms) of decoys with a smaller or missing timeout. */
export const DECOY_TIMEOUT_DEFAULT = 30000;
/** Decoy TCP windows below this (bytes) are replaced by {@link DECOY_TCPWIN_DEFAULT}. */
export const DECOY_TCPWIN_MIN = 14400;
/** Effective TCP window (bytes) of decoys with a smaller or missing window. */
export const DECOY_TCPWIN_DEFAULT = 15614;
/** The public client's built-in TapDance station key (gotapdance `assets.go`). */
export const PUBLIC_DEFAULT_STATION_KEY = hexToBytes('515868be7f45ab6f310afed4b229b7a479fc9fde553dea4ccdb369ab1899e70c');

/**
 * Read a binary ClientConf file.
 *
 * @param path - file path
 * @returns the ClientConf (unknown fields kept)
 * @throws {@link ProtocolError} `ERR_PROTO_DECODE` for a damaged file; Node errors for I/O
 * @example
 * ```ts
 * const conf = await readClientConf('assets/ClientConf')
 * console.log(conf.generation, conf.decoyList?.tlsDecoys.length)
 * ```
 */
export async function readClientConf(path: string): Promise<ClientConf> {
  return decodeClientConf(new Uint8Array(await readFile(path)));
}

/**
 * Write a ClientConf file atomically (temporary file in the same directory, then rename).
 *
 * @param path - file path
 * @param conf - the ClientConf
 * @throws Node file-system errors unchanged (the temporary file is removed)
 */
export async function writeClientConf(path: string, conf: ClientConf): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(5).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, encodeClientConf(conf), { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Network address of a decoy. */
export interface DecoyAddress {
  /** IP address text. */
  address: string;
  /** Always 443. */
  port: number;
  /** 4 or 6. */
  family: 4 | 6;
}

/**
 * The address to connect to for a decoy: IPv4 if present, else IPv6, port 443.
 *
 * @param spec - the decoy
 * @returns the address, or `null` when the decoy has neither (or an IPv6 field of the wrong size)
 */
export function decoyAddress(spec: TLSDecoySpec): DecoyAddress | null {
  if (isFieldSet(spec, TLSDecoySpecSchema.field.ipv4addr)) {
    return { address: fixed32ToIpv4(spec.ipv4addr), port: DECOY_PORT, family: 4 };
  }
  if (spec.ipv6addr.length === 16) return { address: bytesToIpv6(spec.ipv6addr), port: DECOY_PORT, family: 6 };
  return null;
}

/**
 * The TLS server name (SNI and Host) of a decoy: its hostname, or its address text without one.
 *
 * @param spec - the decoy
 * @returns the name ('' when the decoy has neither)
 */
export function decoyServerName(spec: TLSDecoySpec): string {
  return spec.hostname !== '' ? spec.hostname : (decoyAddress(spec)?.address ?? '');
}

/**
 * The effective idle timeout of a decoy in ms (values below 20000, or none, count as 30000).
 *
 * @param spec - the decoy
 * @returns milliseconds
 */
export function decoyTimeout(spec: TLSDecoySpec): number {
  return spec.timeout < DECOY_TIMEOUT_MIN ? DECOY_TIMEOUT_DEFAULT : spec.timeout;
}

/**
 * The effective TCP window of a decoy in bytes (values below 14400, or none, count as 15614).
 *
 * @param spec - the decoy
 * @returns bytes
 */
export function decoyTcpWindow(spec: TLSDecoySpec): number {
  return spec.tcpwin < DECOY_TCPWIN_MIN ? DECOY_TCPWIN_DEFAULT : spec.tcpwin;
}

/**
 * The station public key to tag connections to a decoy with.
 *
 * @param spec - the decoy
 * @param conf - the ClientConf it came from
 * @returns the 32-byte key, or `null` when neither the decoy nor the ClientConf has a 32-byte key
 */
export function decoyStationKey(spec: TLSDecoySpec, conf: ClientConf): Uint8Array | null {
  const own = spec.pubkey?.key;
  if (own !== undefined && own.length === 32) return own;
  const fallback = conf.defaultPubkey?.key;
  return fallback !== undefined && fallback.length === 32 ? fallback : null;
}

/**
 * Pick a decoy uniformly at random, as the public client does (no weights).
 *
 * @param conf - the ClientConf
 * @param randomInt - random source
 * @returns one of `conf.decoyList.tlsDecoys`
 * @throws {@link ProtocolError} `ERR_PROTO_CLIENT_CONF` when the list is empty
 */
export function pickDecoy(conf: ClientConf, randomInt: RandomInt = systemRandomInt): TLSDecoySpec {
  const decoys = conf.decoyList?.tlsDecoys ?? [];
  if (decoys.length === 0) throw new ProtocolError('ERR_PROTO_CLIENT_CONF', 'ClientConf has no decoys');
  return decoys[randomInt(0, decoys.length - 1)]!;
}

/**
 * Turning the kept decoys into a ClientConf: one `TLSDecoySpec` per kept decoy with its hostname,
 * its IPv4 or IPv6 address, `timeout` (the measured hold, ms) and `tcpwin` (the measured window,
 * bytes); `default_pubkey` from the station key; and the generation.
 *
 * Generation: the one asked for, else the previous file's plus one, else 1. Everything else in a
 * previous file (Conjure phantom subnets, conjure key, DNS registrar settings, unknown fields) is
 * carried over, so rebuilding the TapDance decoy list does not lose them; the station key is too,
 * unless a new one is given.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { clone, create } from '@bufbuild/protobuf';
import {
  ClientConfSchema, DecoyListSchema, KeyType, PubKeySchema, TLSDecoySpecSchema, decodeClientConf, ipv4ToFixed32, ipv6ToBytes,
  type ClientConf, type TLSDecoySpec,
} from '../protocol/messages.js';
import { DecoyError } from './errors.js';

/** A kept decoy's ClientConf values. */
export interface KeptDecoy {
  /** Host name, or null for an address-only decoy. */
  hostname: string | null;
  /** IPv4 or IPv6 text. */
  address: string;
  /** Measured incomplete-request hold, ms. */
  timeoutMs: number;
  /** Measured TCP window, bytes. */
  window: number;
}

/** Options of {@link assembleClientConf}. */
export interface AssembleOptions {
  generation: number;
  /** The station's public key for `default_pubkey`, or null to keep the previous one. */
  stationKey: Uint8Array | null;
  /** The ClientConf being replaced, whose other fields are kept. */
  previous: ClientConf | null;
}

/**
 * One decoy as a `TLSDecoySpec`.
 *
 * @param d - the kept decoy
 * @returns the spec (hostname unset for address-only decoys)
 */
export function decoySpec(d: KeptDecoy): TLSDecoySpec {
  return create(TLSDecoySpecSchema, {
    ...(d.hostname === null ? {} : { hostname: d.hostname }),
    ...(isIPv4(d.address) ? { ipv4addr: ipv4ToFixed32(d.address) } : { ipv6addr: ipv6ToBytes(d.address) }),
    timeout: Math.max(0, Math.min(0xffffffff, Math.round(d.timeoutMs))),
    tcpwin: Math.max(0, Math.min(0xffffffff, Math.round(d.window))),
  });
}

/**
 * Build the ClientConf for the kept decoys.
 *
 * @param kept - the decoys, in the order they should appear
 * @param options - generation, station key, previous ClientConf
 * @returns the new ClientConf
 */
export function assembleClientConf(kept: readonly KeptDecoy[], options: AssembleOptions): ClientConf {
  const conf = options.previous === null ? create(ClientConfSchema) : clone(ClientConfSchema, options.previous);
  conf.decoyList = create(DecoyListSchema, { tlsDecoys: kept.map(decoySpec) });
  conf.generation = options.generation;
  if (options.stationKey !== null) conf.defaultPubkey = create(PubKeySchema, { key: options.stationKey, type: KeyType.AES_GCM_128 });
  return conf;
}

/**
 * Read the ClientConf a build will replace.
 *
 * @param path - the output path
 * @returns the ClientConf, or null when there is no file
 * @throws {@link DecoyError} `ERR_DECOY_PREVIOUS_CONF` when the file exists but cannot be read or decoded
 */
export async function readPreviousClientConf(path: string): Promise<ClientConf | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DecoyError('ERR_DECOY_PREVIOUS_CONF', `cannot read the existing ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return decodeClientConf(new Uint8Array(bytes));
  } catch (err) {
    throw new DecoyError('ERR_DECOY_PREVIOUS_CONF',
      `the existing ${path} is not a ClientConf; give --generation or move it away`, { cause: err });
  }
}

/**
 * The generation of the new ClientConf.
 *
 * @param explicit - the generation asked for, if any
 * @param previous - the ClientConf being replaced, if any
 * @returns `explicit`, else previous generation + 1, else 1
 * @throws {@link DecoyError} `ERR_DECOY_OPTIONS` when the previous generation is already 2^32 − 1
 */
export function nextGeneration(explicit: number | undefined, previous: ClientConf | null): number {
  if (explicit !== undefined) return explicit;
  if (previous === null) return 1;
  if (previous.generation >= 0xffffffff) {
    throw new DecoyError('ERR_DECOY_OPTIONS', 'the previous generation is 4294967295 and cannot grow; give --generation');
  }
  return previous.generation + 1;
}

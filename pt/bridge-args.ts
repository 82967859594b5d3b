/**
 * TapDance's bridge-line arguments: what a `Bridge tapdance …` line in torrc tells the transport.
 *
 * | key | value | meaning |
 * |---|---|---|
 * | `pubkey` | 64 hex digits | the station's X25519 public key |
 * | `clientconf` | absolute path | a ClientConf file (decoys and keys) to start from |
 * | `covert` | `host:port`, IPv6 in brackets | where the station connects; default: the bridge address |
 * | `decoy` | `name@ip` or `name@ip:port`, repeatable | a decoy to use (SNI name, address; port 443) |
 *
 * Each key but `decoy` may appear once; unknown keys are refused so that a typo is reported
 * rather than silently ignored. Whether the set is sufficient (a key and some decoys, from the
 * line or from a ClientConf) is the dialer's call, since a saved ClientConf can supply both.
 * Pure, no I/O.
 *
 * @module
 */
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import type { PtArgs } from './args.js';
import type { PtTarget } from './dialer.js';
import { PtError } from './errors.js';

/** One decoy named on the bridge line. */
export interface DecoyHint {
  /** Name for SNI and the HTTP Host header. */
  hostname: string;
  /** IP literal (IPv6 without brackets). */
  address: string;
  /** TCP port (443 unless given). */
  port: number;
}

/** The parsed bridge line. */
export interface TapDanceBridge {
  /** Covert destination the station connects to. */
  covert: PtTarget;
  /** Station public key (32 bytes), when given. */
  stationPublicKey: Uint8Array | undefined;
  /** ClientConf file to start from, when given. */
  clientConfPath: string | undefined;
  /** Decoys named on the line, in order. */
  decoys: DecoyHint[];
}

/** Keys understood on a TapDance bridge line. */
export const BRIDGE_KEYS: readonly string[] = Object.freeze(['pubkey', 'clientconf', 'covert', 'decoy']);

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parse TapDance bridge arguments.
 *
 * @param args - arguments from the SOCKS request
 * @param bridgeAddress - the SOCKS target (the bridge line's address), the default covert address
 * @returns the bridge
 * @throws {PtError} `ERR_PT_BRIDGE_ARGS` naming the offending key
 * @example
 * ```ts
 * parseBridgeArgs(parsePtArgs('pubkey=5158…e70c;decoy=decoy.example@192.0.2.10'), { host: '127.0.0.1', port: 9001 })
 * ```
 */
export function parseBridgeArgs(args: PtArgs, bridgeAddress: PtTarget): TapDanceBridge {
  for (const key of args.keys()) {
    if (!BRIDGE_KEYS.includes(key)) throw bridgeError(`unknown bridge argument "${printable(key)}" (known: ${BRIDGE_KEYS.join(', ')})`, key);
  }
  const pubkey = single(args, 'pubkey');
  const clientconf = single(args, 'clientconf');
  const covert = single(args, 'covert');
  if (pubkey !== undefined && !/^[0-9a-fA-F]{64}$/.test(pubkey)) throw bridgeError('pubkey must be 64 hex digits', 'pubkey');
  if (clientconf !== undefined && !isAbsolute(clientconf)) throw bridgeError('clientconf must be an absolute path', 'clientconf');
  return {
    covert: covert === undefined ? { ...bridgeAddress } : parseHostPort(covert, 'covert'),
    stationPublicKey: pubkey === undefined ? undefined : Uint8Array.from(Buffer.from(pubkey, 'hex')),
    clientConfPath: clientconf,
    decoys: (args.get('decoy') ?? []).map(parseDecoy),
  };
}

function single(args: PtArgs, key: string): string | undefined {
  const values = args.get(key);
  if (values === undefined) return undefined;
  if (values.length !== 1) throw bridgeError(`${key} may appear only once`, key);
  return values[0];
}

function parseDecoy(value: string): DecoyHint {
  const at = value.indexOf('@');
  if (at <= 0) throw bridgeError('decoy must be name@address or name@address:port', 'decoy');
  const hostname = value.slice(0, at);
  if (!HOSTNAME.test(hostname)) throw bridgeError('decoy name is not a host name', 'decoy');
  const rest = value.slice(at + 1);
  // An address without port (IPv4, or IPv6 in brackets) means port 443.
  if (isIP(rest) === 4) return { hostname, address: rest, port: 443 };
  if (rest.startsWith('[') && rest.endsWith(']') && isIP(rest.slice(1, -1)) === 6) return { hostname, address: rest.slice(1, -1), port: 443 };
  const target = parseHostPort(rest, 'decoy');
  if (isIP(target.host) === 0) throw bridgeError('decoy address must be an IP address', 'decoy');
  return { hostname, address: target.host, port: target.port };
}

function parseHostPort(text: string, key: string): PtTarget {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || port < 1 || port > 65535) throw bridgeError(`${key} must be host:port`, key);
  if (m[1] !== undefined && isIP(host) !== 6) throw bridgeError(`${key} has a malformed IPv6 address`, key);
  if (m[2] !== undefined && isIP(host) === 0 && !HOSTNAME.test(host)) throw bridgeError(`${key} has an invalid host`, key);
  return { host, port };
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 40);
}

function bridgeError(message: string, key: string): PtError {
  return new PtError('ERR_PT_BRIDGE_ARGS', message, { context: { key: printable(key) } });
}

/**
 * The managed-proxy environment a parent (tor, Arti) sets for a PT client (pt-spec §3.2).
 *
 * Everything is checked before the first line is written: `ENV-ERROR` and `VERSION-ERROR` are
 * only accepted by tor before `VERSION` (its `handle_proxy_line` refuses them in any later
 * state), and then tor logs our message instead of a generic protocol failure. `TOR_PT_PROXY` is
 * only read here; it is judged later, after `VERSION`, because `PROXY-ERROR` must come after it.
 *
 * Pure: takes an environment object, returns the parsed form or throws. Server mode is not
 * implemented and is refused with `ENV-ERROR`.
 *
 * @module
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { isAbsolute } from 'node:path';
import { PtError } from './errors.js';

/** The protocol version this PT speaks. */
export const PT_PROTOCOL_VERSION = '1';

/** A parent's environment: names to values (unset names absent or undefined). */
export type PtEnvironment = Readonly<Record<string, string | undefined>>;

/** The parsed client environment. */
export interface ClientEnv {
  /** `TOR_PT_STATE_LOCATION`: directory for persistent state (may not exist yet). */
  stateLocation: string;
  /** `TOR_PT_CLIENT_TRANSPORTS` in order, empty entries dropped; may name transports we lack. */
  transports: string[];
  /** `TOR_PT_EXIT_ON_STDIN_CLOSE` is exactly `1`. */
  exitOnStdinClose: boolean;
  /** `TOR_PT_PROXY` as given, or undefined (an empty value counts as unset). */
  proxy: string | undefined;
  /** `TOR_PT_OUTBOUND_BIND_ADDRESS_V4`, or undefined when unset, empty or loopback. */
  bindAddressV4: string | undefined;
  /** `TOR_PT_OUTBOUND_BIND_ADDRESS_V6` without brackets, or undefined when unset, empty or `::1`. */
  bindAddressV6: string | undefined;
}

/**
 * Check `TOR_PT_MANAGED_TRANSPORT_VER`: a comma-separated list that must contain `1`.
 *
 * @param env - the environment
 * @returns the version chosen, `'1'`
 * @throws {PtError} `ERR_PT_ENV` when unset or empty; `ERR_PT_VERSION` when `1` is not offered
 */
export function chooseProtocolVersion(env: PtEnvironment): typeof PT_PROTOCOL_VERSION {
  const offered = env.TOR_PT_MANAGED_TRANSPORT_VER;
  if (offered === undefined || offered === '') {
    throw new PtError('ERR_PT_ENV', 'no TOR_PT_MANAGED_TRANSPORT_VER environment variable');
  }
  // No escaping is defined, and each version is a plain token: exact match on `1`.
  if (!offered.split(',').includes(PT_PROTOCOL_VERSION)) {
    throw new PtError('ERR_PT_VERSION', 'no-version', { context: { offered } });
  }
  return PT_PROTOCOL_VERSION;
}

/**
 * Parse the rest of a client's environment (after {@link chooseProtocolVersion}).
 *
 * @param env - the environment
 * @returns the parsed environment
 * @throws {PtError} `ERR_PT_ENV` naming the variable that is missing or malformed
 * @example
 * ```ts
 * const ver = chooseProtocolVersion(process.env)
 * const client = parseClientEnv(process.env)
 * if (client.transports.includes('tapdance')) ...
 * ```
 */
export function parseClientEnv(env: PtEnvironment): ClientEnv {
  const client = nonEmpty(env.TOR_PT_CLIENT_TRANSPORTS);
  const server = nonEmpty(env.TOR_PT_SERVER_TRANSPORTS);
  if (client !== undefined && server !== undefined) {
    throw new PtError('ERR_PT_ENV', 'TOR_PT_CLIENT_TRANSPORTS and TOR_PT_SERVER_TRANSPORTS are both set');
  }
  if (server !== undefined) throw new PtError('ERR_PT_ENV', 'server mode is not supported, only TOR_PT_CLIENT_TRANSPORTS');
  if (client === undefined) throw new PtError('ERR_PT_ENV', 'no TOR_PT_CLIENT_TRANSPORTS environment variable');

  const stateLocation = nonEmpty(env.TOR_PT_STATE_LOCATION);
  if (stateLocation === undefined) throw new PtError('ERR_PT_ENV', 'no TOR_PT_STATE_LOCATION environment variable');
  if (!isAbsolute(stateLocation)) throw new PtError('ERR_PT_ENV', 'TOR_PT_STATE_LOCATION is not an absolute path');

  return {
    stateLocation,
    transports: client.split(',').filter((name) => name.length > 0),
    exitOnStdinClose: env.TOR_PT_EXIT_ON_STDIN_CLOSE === '1',
    proxy: nonEmpty(env.TOR_PT_PROXY),
    bindAddressV4: parseBindV4(nonEmpty(env.TOR_PT_OUTBOUND_BIND_ADDRESS_V4)),
    bindAddressV6: parseBindV6(nonEmpty(env.TOR_PT_OUTBOUND_BIND_ADDRESS_V6)),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

// The spec: "MUST be ignored" for loopback (tor may pass the address it binds for itself).
function parseBindV4(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!isIPv4(value)) throw new PtError('ERR_PT_ENV', 'TOR_PT_OUTBOUND_BIND_ADDRESS_V4 is not an IPv4 address');
  return loopback.check(value, 'ipv4') ? undefined : value;
}

// Always bracketed by tor (`[2001:db8::4]`); a bare address is accepted too.
function parseBindV6(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (!isIPv6(bare)) throw new PtError('ERR_PT_ENV', 'TOR_PT_OUTBOUND_BIND_ADDRESS_V6 is not an IPv6 address');
  return loopback.check(bare, 'ipv6') ? undefined : bare;
}

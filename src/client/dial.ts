/**
 * `dial()` and `createConnection()`: the client's entry points.
 *
 * The ClientConf (decoy list, station keys, generation) comes as an object, as protobuf bytes, or
 * as a file path in the binary format the public client keeps (`assets/ClientConf`). With a path,
 * newer ClientConfs sent by stations are written back atomically.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { writeClientConf } from '../protocol/client-conf.js';
import { decodeClientConf, type ClientConf } from '../protocol/messages.js';
import { InvalidArgumentError } from '../errors.js';
import { DecoyChooser } from './decoys.js';
import { TapDanceSocket } from './socket.js';
import type { ClientSessionOptions } from './session.js';
import type { FlowOptions, TcpConnector } from './flow.js';
import { ClientError } from './errors.js';

/** Options of {@link dial} and {@link createConnection}. */
export interface DialOptions {
  /** Covert destination `host:port` (IPv6 as `[addr]:port`); omitted → the station's default proxy. */
  target?: string | undefined;
  /** The ClientConf: a message or its protobuf bytes. */
  clientConf?: ClientConf | Uint8Array | undefined;
  /** Path of a binary ClientConf; updates from stations are written back to it. */
  clientConfPath?: string | undefined;
  /** Abort the dial (and the session's redials). */
  signal?: AbortSignal | undefined;
  /** Give up the initial dial after this many ms (all attempts together). */
  timeout?: number | undefined;
  /** TLS options toward decoys: `ca`, `pinnedCertificate`, `profile`, `dangerouslySkipVerification`. */
  tls?: FlowOptions['tls'];
  /** TCP connector for decoy connections (e.g. through an upstream proxy). */
  connect?: TcpConnector | undefined;
  /** Decoy port (default 443, as in every public ClientConf). */
  decoyPort?: number | undefined;
  /** Relative decoy weights by hostname or address. */
  weights?: Readonly<Record<string, number>> | undefined;
  /** Initial attempts (default 20) and attempts per redial (default 5). */
  attempts?: number | undefined;
  reconnectAttempts?: number | undefined;
  /** Deadline for TCP and TLS to a decoy, per attempt (default random 11175–14231 ms). */
  decoyConnectTimeoutMs?: number | undefined;
  /** How long to wait for the station after the tag (default max(2 × handshake, 2 s)). */
  stationTimeoutMs?: number | undefined;
  /** Representative bits randomised in tags (default 0xc0; 0x80 suits stations that clear one bit). */
  topBitsMask?: number | undefined;
  /**
   * TLS 1.2 decoys: send the tagged request with our Finished (False Start), saving a round trip
   * (default true). Set false for a station that only follows the public station's rule.
   */
  falseStart?: boolean | undefined;
  /**
   * Carry the first bytes written to the socket (up to a few hundred) inside the tag, so the
   * covert server has them one round trip sooner (default true). A station without this
   * project's extension would ignore them, so set false for such stations.
   */
  earlyData?: boolean | undefined;
  /** Override every decoy's TCP window (bytes) or timeout (ms), e.g. for tests. */
  tcpWindow?: number | undefined;
  decoyTimeoutMs?: number | undefined;
  /** Back-off before attempt i (default min(25·2^i, 15000) ms). */
  backoffMs?: ((attempt: number) => number) | undefined;
  /**
   * Called with a newer ClientConf sent by a station (instead of, or besides, writing it back to
   * `clientConfPath`). Errors are ignored.
   */
  onClientConf?: ((conf: ClientConf) => void | Promise<void>) | undefined;
}

/** Load the ClientConf from options. */
function loadConf(o: DialOptions): ClientConf {
  if (o.clientConf instanceof Uint8Array) return decodeClientConf(o.clientConf);
  if (o.clientConf !== undefined) return o.clientConf;
  if (o.clientConfPath !== undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(o.clientConfPath);
    } catch (err) {
      throw new InvalidArgumentError(`cannot read ClientConf ${o.clientConfPath}: ${(err as Error).message}`, { cause: err });
    }
    return decodeClientConf(bytes);
  }
  throw new InvalidArgumentError('"clientConf" or "clientConfPath" is required');
}

function sessionOptions(o: DialOptions): ClientSessionOptions {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('"options" expected an object');
  if (o.target !== undefined && (typeof o.target !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/.test(o.target))) {
    throw new InvalidArgumentError(`"target" expected host:port, got ${JSON.stringify(o.target)}`);
  }
  if (o.timeout !== undefined && (!Number.isFinite(o.timeout) || o.timeout <= 0)) {
    throw new InvalidArgumentError(`"timeout" expected a positive number of ms, got ${o.timeout}`);
  }
  const conf = loadConf(o);
  const chooser = new DecoyChooser(conf, { port: o.decoyPort, weights: o.weights });
  if (chooser.decoys.length === 0) throw new ClientError('ERR_NO_DECOYS', 'the ClientConf has no usable decoy (address and station key)');
  const signals = [o.signal, o.timeout === undefined ? undefined : AbortSignal.timeout(o.timeout)].filter((s): s is AbortSignal => s !== undefined);
  const path = o.clientConfPath;
  const hook = o.onClientConf;
  return {
    chooser,
    covertAddress: o.target,
    generation: () => chooser.conf.generation,
    onClientConf: path === undefined && hook === undefined ? undefined : async (c) => {
      if (path !== undefined) await writeClientConf(path, c);
      await hook?.(c);
    },
    flow: {
      tls: o.tls, connect: o.connect, stationTimeoutMs: o.stationTimeoutMs, topBitsMask: o.topBitsMask,
      decoyDeadlineMs: o.decoyConnectTimeoutMs, falseStart: o.falseStart,
    },
    earlyData: o.earlyData,
    attempts: o.attempts,
    reconnectAttempts: o.reconnectAttempts,
    tcpWindow: o.tcpWindow,
    decoyTimeoutMs: o.decoyTimeoutMs,
    backoffMs: o.backoffMs,
    signal: signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals),
  };
}

/**
 * Open a covert connection through TapDance.
 *
 * @param options - see {@link DialOptions}
 * @returns a connected {@link TapDanceSocket}
 * @throws {@link InvalidArgumentError} for bad options (before any network activity)
 * @throws {@link ClientError} when no flow could be established (`ERR_STATION_REFUSED`,
 *   `ERR_STATION_NO_RESPONSE`, `ERR_DECOY_CONNECT`, `ERR_DIAL_TIMEOUT`, `ERR_DIAL_ABORTED`, …)
 * @example
 * ```ts
 * import { dial } from 'tapdance'
 * const socket = await dial({ target: '192.0.2.10:80', clientConfPath: './ClientConf' })
 * ```
 */
export async function dial(options: DialOptions): Promise<TapDanceSocket> {
  const socket = new TapDanceSocket(sessionOptions(options));
  await socket.connect();
  return socket;
}

/**
 * Like `net.createConnection`: returns the socket at once and connects in the background
 * ('connect' when up, 'error' on failure). Writes before the connection are queued.
 *
 * @param options - see {@link DialOptions}
 * @param onConnect - added as a 'connect' listener
 * @returns the socket
 * @throws {@link InvalidArgumentError} for bad options
 */
export function createConnection(options: DialOptions, onConnect?: () => void): TapDanceSocket {
  const socket = new TapDanceSocket(sessionOptions(options));
  if (onConnect !== undefined) socket.once('connect', onConnect);
  socket.connect({ emitError: true }).catch(() => {}); // the socket emits 'error'
  return socket;
}

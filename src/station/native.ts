/**
 * The one adapter between TypeScript and the station's Rust data plane (`station-native/`, a
 * napi-rs addon built by `npm run build:native`).
 *
 * It loads `station-native/tapdance-station.<platform>-<arch>.node`, gives the addon's functions
 * types, and turns its `CODE: message` failures into typed errors. It does no packet work itself
 * and keeps no state besides the loaded module.
 *
 * | code | meaning |
 * |---|---|
 * | `ERR_NATIVE_MISSING` | the addon is not built for this platform (run `npm run build:native`) |
 * | `ERR_CAPTURE_AFPACKET` | the AF_PACKET socket/ring could not be set up (the step is named) |
 * | `ERR_CAPTURE_PFRING` | libpfring.so or the pf_ring kernel module is missing, or PF_RING failed |
 * | `ERR_CAPTURE_FILE` | a pcap/pcapng file is unreadable, not a capture, or cut short |
 * | `ERR_STATION_STATE` | start/stop/sendDecoyRst called in the wrong state |
 * | `ERR_STATION_FLOW` | sendDecoyRst for a flow that is not (or no longer) tracked |
 * | `ERR_STATION_RST` | the raw socket for the spoofed RST failed |
 * | `ERR_STATION_CONFIG` | a bad option (thrown as {@link StationConfigError}) |
 *
 * @module
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

import { addonPath as sharedAddonPath } from '../addon-path.js';
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';
import { StationConfigError } from './errors.js';

/** Codes of {@link StationNativeError}. */
export type StationNativeErrorCode =
  | 'ERR_NATIVE_MISSING'
  | 'ERR_CAPTURE_AFPACKET'
  | 'ERR_CAPTURE_PFRING'
  | 'ERR_CAPTURE_FILE'
  | 'ERR_STATION_STATE'
  | 'ERR_STATION_FLOW'
  | 'ERR_STATION_RST'
  | 'ERR_STATION_THREAD';

/** A failure of the native data plane. */
export class StationNativeError extends TapDanceError {
  static override brand = 'StationNativeError';
  declare readonly code: StationNativeErrorCode;
  constructor(code: StationNativeErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

/** TCP state of a tracked flow as the data plane saw it (both directions). */
export interface FlowInfo {
  clientAddress: string;
  clientPort: number;
  serverAddress: string;
  serverPort: number;
  ipv6: boolean;
  clientIsn: number;
  serverIsn: number;
  /** Highest client `seq + len` seen. */
  clientNextSeq: number;
  clientAck: number;
  /** Latest raw (unscaled) client window. */
  clientWindow: number;
  clientTsval: number;
  /** The decoy's snd_nxt as observed. */
  serverNextSeq: number;
  /** The decoy's latest ACK (its rcv_nxt). */
  serverAck: number;
  serverWindow: number;
  serverTsval: number;
  /** Sequence number just after the tagged segment. */
  taggedEnd: number;
  clientMss: number;
  serverMss: number;
  clientWscale?: number | null;
  serverWscale?: number | null;
  /** Both SYNs offered SACK. */
  sackPermitted: boolean;
  /** Both SYNs offered timestamps. */
  timestamps: boolean;
}

/** A flow whose tag and TLS secrets verified (and, live, the repaired socket). */
export interface TaggedFlowInfo {
  /** Handle for {@link NativeStation.sendDecoyRst}. */
  flowId: string;
  worker: number;
  /** Which station key opened the tag. */
  keyIndex: number;
  /** SHA-256 of the X25519 shared secret: AES key (0..16) and tag IV (16..28); opens X-Proto. */
  keyMaterial: Buffer;
  /** The 132-byte tag payload. */
  payload: Buffer;
  flags: number;
  cipherSuite: number;
  masterSecret: Buffer;
  serverRandom: Buffer;
  clientRandom: Buffer;
  connectionId: Buffer;
  /** The tagged TLS record (header included); decrypts at sequence number 1. */
  record: Buffer;
  /** Base64-decoded X-Proto value (`iv12 || ciphertext`), when present. */
  xProto?: Buffer | null;
  /** The decoy's ACK of the tagged segment was seen before the takeover. */
  ackSeen: boolean;
  flow: FlowInfo;
  /** Descriptor of the repaired socket (live takeover); wrap with `new net.Socket({ fd })`. */
  fd?: number | null;
  /** Why the takeover failed, when it did (the flow is still reported). */
  error?: string | null;
}

/** Flow-tracking and tag options shared by replay and the live station. */
export interface PipelineOptions {
  /** Decoy TLS ports (default [443]). */
  tlsPorts?: number[];
  /** Flow table capacity per worker (default 65536). */
  flowCapacity?: number;
  /** Handshake timeout (default 10000 ms). */
  handshakeTimeoutMs?: number;
  /** Bounded wait for the decoy's ACK of the tagged segment (default 200 ms). */
  ackWaitMs?: number;
  /** Idle time after which a taken-over flow is forgotten (default 300000 ms). */
  takenIdleTimeoutMs?: number;
  /** Tag layout (default 'current'). */
  layout?: 'current' | 'legacy';
  /** AND-mask for byte 31 of the representative (default 0x3f). */
  representativeMask?: number;
  /** Replay passes over the file (benchmarks; default 1). */
  passes?: number;
}

/** Counters of one worker (or a sum), by name. */
export type NativeCounters = Record<string, number>;

/** Result of {@link replayCapture}. */
export interface ReplayResult {
  tagged: TaggedFlowInfo[];
  counters: NativeCounters;
  elapsedNs: number;
  tableMemory: number;
  tableCapacity: number;
}

/** A tag opened by {@link checkTag}. */
export interface TagCheck {
  keyIndex: number;
  keyMaterial: Buffer;
  payload: Buffer;
}

/** Options of the live station. */
export interface NativeStationOptions {
  /** 32-byte X25519 station secrets, tried in order. */
  keys: Uint8Array[];
  /** Interface carrying the mirrored traffic. */
  interface: string;
  /** Capture workers (default 1). */
  workers?: number;
  /** Capture backend (default 'afpacket'). */
  capture?: 'afpacket' | 'pfring';
  /** AF_PACKET fanout group id (unique per interface on a host). */
  fanoutGroup?: number;
  /** PF_RING cluster id (default 99). */
  pfringCluster?: number;
  /** Build TCP_REPAIR sockets (default true); false reports verified flows only. */
  takeover?: boolean;
  pipeline?: PipelineOptions;
}

/** Options of {@link synthesizeCapture}. */
export interface SynthOptions {
  seed?: number;
  flows: number;
  tagged: number;
  stationPublic: Uint8Array;
}

/** A tagged flow written by {@link synthesizeCapture}. */
export interface SynthFlow {
  clientAddress: string;
  clientPort: number;
  connectionId: Buffer;
  taggedEnd: number;
  serverNextSeq: number;
}

interface RawStation {
  start(onTakeover: (ev: TaggedFlowInfo) => void): void;
  stop(): void;
  counters(): NativeCounters[];
  sendDecoyRst(flowId: string): number;
  setKeys(keys: Buffer[]): number;
}

interface RawAddon {
  replayCapture(path: string, keys: Buffer[], options?: PipelineOptions): ReplayResult;
  checkTag(record: Buffer, keys: Buffer[], options?: PipelineOptions): TagCheck | null;
  benchCheckTag(record: Buffer, keys: Buffer[], iterations: number): number;
  stationPublicKey(secret: Buffer): Buffer;
  synthesizeCapture(path: string, options: SynthOptions & { stationPublic: Buffer }): SynthFlow[];
  NativeStation: new (options: Omit<NativeStationOptions, 'keys'> & { keys: Buffer[] }) => RawStation;
}

/** Where the addon is expected for this platform. */
export function addonPath(): string {
  return sharedAddonPath('station-native', 'tapdance-station');
}

let cached: RawAddon | undefined;

/**
 * Loads the addon once.
 *
 * @returns the raw module
 * @throws {@link StationNativeError} `ERR_NATIVE_MISSING` when it is not built
 */
function addon(): RawAddon {
  if (cached) return cached;
  const p = addonPath();
  if (!existsSync(p)) {
    throw new StationNativeError('ERR_NATIVE_MISSING', `station native addon not built for ${process.platform}-${process.arch}: run npm run build:native`, {
      context: { path: p },
    });
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(p) as RawAddon;
  } catch (cause) {
    throw new StationNativeError('ERR_NATIVE_MISSING', `station native addon failed to load: run npm run build:native`, { cause, context: { path: p } });
  }
  return cached;
}

/** True when the addon is built and loads. */
export function nativeAvailable(): boolean {
  try {
    addon();
    return true;
  } catch {
    return false;
  }
}

const NATIVE_CODES = new Set<string>(['ERR_CAPTURE_AFPACKET', 'ERR_CAPTURE_PFRING', 'ERR_CAPTURE_FILE', 'ERR_STATION_STATE', 'ERR_STATION_FLOW', 'ERR_STATION_RST', 'ERR_STATION_THREAD']);

/** Runs `fn`, mapping the addon's `CODE: message` errors to typed errors. */
function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const m = /^([A-Z_]+): (.*)$/s.exec((err as Error)?.message ?? '');
    if (m && m[1] === 'ERR_STATION_CONFIG') throw new StationConfigError(m[2]!, { cause: err });
    if (m && NATIVE_CODES.has(m[1]!)) throw new StationNativeError(m[1] as StationNativeErrorCode, m[2]!, { cause: err });
    throw err;
  }
}

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Runs a pcap or pcapng file through the data plane's worker pipeline (no takeover): the same
 * flow tracking, tag check and TLS secret check as the live station.
 *
 * @param file - path of a pcap/pcapng file (Ethernet, raw IP or Linux cooked link type)
 * @param keys - 32-byte station secrets
 * @param options - pipeline options
 * @returns the verified tagged flows and the counters
 * @throws {@link StationNativeError} `ERR_CAPTURE_FILE`, `ERR_NATIVE_MISSING`; {@link StationConfigError}
 * @example
 * ```ts
 * const { tagged, counters } = replayCapture('mirror.pcap', [stationSecret])
 * for (const t of tagged) console.log(t.flow.clientAddress, t.connectionId.toString('hex'))
 * ```
 */
export function replayCapture(file: string, keys: readonly Uint8Array[], options: PipelineOptions = {}): ReplayResult {
  return call(() => addon().replayCapture(file, keys.map(buf), options));
}

/**
 * Looks for a tag in one TLS record (for tests and benchmarks).
 *
 * @param record - a whole TLS record, header included
 * @param keys - 32-byte station secrets
 * @param options - `layout`, `representativeMask`
 * @returns the opened tag, or `null`
 * @throws {@link StationConfigError} for a key that is not 32 bytes
 */
export function checkTag(record: Uint8Array, keys: readonly Uint8Array[], options: PipelineOptions = {}): TagCheck | null {
  return call(() => addon().checkTag(buf(record), keys.map(buf), options));
}

/**
 * Times `iterations` Rust tag checks of one record without crossing into JavaScript per check.
 *
 * @returns elapsed nanoseconds
 * @throws {@link StationConfigError} for a bad key
 */
export function benchCheckTag(record: Uint8Array, keys: readonly Uint8Array[], iterations: number): number {
  return call(() => addon().benchCheckTag(buf(record), keys.map(buf), iterations));
}

/**
 * The X25519 public key of a station secret.
 *
 * @throws {@link StationConfigError} for a secret that is not 32 bytes
 */
export function stationPublicKey(secret: Uint8Array): Buffer {
  return call(() => addon().stationPublicKey(buf(secret)));
}

/**
 * Writes a synthetic capture: a realistic mix of TLS flows (IPv4, IPv6, VLAN, port-80 noise),
 * `tagged` of them carrying tags for `stationPublic`. Test and benchmark fixture.
 *
 * @returns the tagged flows written
 * @throws {@link StationNativeError} `ERR_CAPTURE_FILE` when the file cannot be written
 */
export function synthesizeCapture(file: string, options: SynthOptions): SynthFlow[] {
  return call(() => addon().synthesizeCapture(file, { ...options, stationPublic: buf(options.stationPublic) }));
}

/**
 * The live data plane: capture workers on a mirrored interface, tag detection, and TCP takeover
 * of verified flows (root or CAP_NET_RAW + CAP_NET_ADMIN).
 *
 * @example
 * ```ts
 * const station = new NativeStation({ keys: [secret], interface: 'tap0', workers: 2 })
 * station.start((ev) => {
 *   if (ev.fd == null) return log.warn(ev.error)
 *   const sock = new net.Socket({ fd: ev.fd, readable: true, writable: true })
 *   // … continue the TLS session with ev.masterSecret / randoms at sequence 1 …
 * })
 * ```
 */
export class NativeStation {
  readonly #raw: RawStation;

  /**
   * @param options - keys, interface, workers, capture kind, pipeline options
   * @throws {@link StationConfigError} for bad options; {@link StationNativeError} `ERR_NATIVE_MISSING`
   */
  constructor(options: NativeStationOptions) {
    const Ctor = addon().NativeStation;
    this.#raw = call(() => new Ctor({ ...options, keys: options.keys.map(buf) }));
  }

  /**
   * Opens the captures (failing with one clear line when the backend is missing) and starts.
   *
   * @param onTakeover - called on the JS thread for every verified tagged flow
   * @throws {@link StationNativeError} `ERR_CAPTURE_*`, `ERR_STATION_STATE`
   */
  start(onTakeover: (event: TaggedFlowInfo) => void): void {
    call(() => this.#raw.start(onTakeover));
  }

  /** Stops the workers; idempotent. */
  stop(): void {
    this.#raw.stop();
  }

  /**
   * Replaces the station keys while running (key rotation on SIGHUP): each capture worker checks
   * new flows with `keys` from its next poll on (within 50 ms); flows already handed over are
   * sockets and are not affected. Before {@link start}, sets the keys the station starts with.
   *
   * @param keys - 32-byte X25519 station secrets, tried in order
   * @returns the key generation (1 after the first replacement while running, 0 before start)
   * @throws {@link StationConfigError} for an empty list or a key that is not 32 bytes
   */
  setKeys(keys: readonly Uint8Array[]): number {
    return call(() => this.#raw.setKeys(keys.map(buf)));
  }

  /**
   * Counters of each worker.
   *
   * @returns one object per worker (empty before start)
   */
  counters(): NativeCounters[] {
    return this.#raw.counters();
  }

  /**
   * Sends the spoofed RST(s) from the client to the decoy of a taken-over flow, so the decoy's
   * socket goes away once the hijacked flow has ended.
   *
   * @param flowId - {@link TaggedFlowInfo.flowId}
   * @returns how many RST packets were sent (1 or 2)
   * @throws {@link StationNativeError} `ERR_STATION_FLOW`, `ERR_STATION_RST`, `ERR_STATION_STATE`
   */
  sendDecoyRst(flowId: string): number {
    return call(() => this.#raw.sendDecoyRst(flowId));
  }
}

/**
 * Sums per-worker counters (gauges such as `flows_tracked` are summed too).
 *
 * @param list - per-worker counters
 * @returns one object with the same names
 */
export function sumCounters(list: readonly NativeCounters[]): NativeCounters {
  const out: NativeCounters = {};
  for (const c of list) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * The station's configuration file: one JSON document, validated field by field with messages
 * that name the field and say what was expected. Relative paths are resolved against the
 * directory of the file. Defaults follow what the deployed TapDance station did (30 s reconnect
 * window, 120 s flow lifetime, 2 s decoy RST delay, 30 clients per decoy). `examples/station/`
 * holds a commented example.
 *
 * No I/O except reading the file and the key files it names.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { CovertAllowlist, type AllowRuleSpec } from './allowlist.js';
import { StationConfigError } from './errors.js';

/** Capture back-ends of the native data plane. */
export type CaptureKind = 'afpacket' | 'pfring' | 'pcap';

/** A host and port, parsed. */
export interface HostPort {
  host: string;
  port: number;
}

/** The validated station configuration. */
export interface StationConfig {
  /** Key files: 32-byte X25519 secret (binary, optionally followed by the public key) or hex. */
  keyFiles: string[];
  capture: {
    kind: CaptureKind;
    /** Interface that receives the mirrored traffic (afpacket, pfring). */
    interface: string;
    /** pcap or pcapng file (pcap kind). */
    file?: string;
    /** Worker threads; packets of one client-IP/decoy-IP pair always go to the same worker. */
    workers: number;
    /** Server ports whose TLS flows are checked for tags. */
    tlsPorts: number[];
    /** Capacity of the per-worker flow table. */
    flowTableCapacity: number;
    /**
     * AF_PACKET fanout group id. The kernel splits an interface's packets among the sockets of
     * one group, so two station processes on one interface need different ids.
     */
    fanoutGroup: number;
    /**
     * How long to wait for the decoy's ACK of the tagged segment before taking over, ms. 0
     * (default) takes over as soon as the tag verifies, half a round trip sooner.
     */
    ackWaitMs: number;
  };
  covert: {
    /** Destinations a client may ask for; everything else gets S2C_ERROR. */
    allow: AllowRuleSpec[];
    /** Where SESSION_INIT sessions (no covert address) are connected: a forward proxy. */
    defaultProxy?: HostPort;
    /** Resolve host names in covert addresses (each resolved address is checked). */
    resolveNames: boolean;
    connectTimeoutMs: number;
  };
  sessions: {
    /** A session without a live flow ends after this long (CLIENT_TIMEOUT). */
    reconnectWindowMs: number;
    /** A flow is ended by the station after this long, before the decoy can reset it. */
    flowLifetimeMs: number;
    /** Bytes buffered per direction per session before back-pressure applies. */
    bufferBytes: number;
    /** Concurrent sessions; more get S2C_ERROR STATION_INTERNAL. */
    maxSessions: number;
    /** Delay before the spoofed RST that lets the decoy free its socket. */
    decoyRstDelayMs: number;
  };
  limits: {
    /** Concurrent clients per decoy address unless overridden. */
    perDecoy: number;
    /** Per-decoy overrides keyed by decoy IP address. */
    perDecoyOverrides: Record<string, number>;
    /** Concurrent clients over all decoys (all stations sharing the Redis store); unset = no cap. */
    total?: number;
  };
  /** ClientConf served to clients that report an older generation. */
  clientConfPath?: string;
  /** Redis URL for state shared between stations; unset = in-process counts. */
  redisUrl?: string;
  /** How this station takes part in the shared Redis store (used only with `redisUrl`). */
  redis: {
    /** Keys are `<keyPrefix>:…`; stations that share limits share the prefix. */
    keyPrefix: string;
    /** How often the station refreshes its liveness key and re-publishes its counts. */
    heartbeatMs: number;
    /** Lifetime of the liveness key: a station silent this long no longer counts. */
    expiryMs: number;
  };
  /** Station name sent to clients in StationToClient.station_id. */
  stationId?: string;
  metrics: {
    /** Address of the Prometheus endpoint; unset = no endpoint. */
    listen?: HostPort;
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
    /** Bits of a client address kept in logs: 0 (default) logs none. */
    clientAddressPrefixBits: number;
  };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(readonly obj: Json, readonly path: string, readonly known: Set<string> = new Set()) {}

  #name(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  #get(key: string): unknown {
    this.known.add(key);
    return this.obj[key];
  }

  section(key: string): Reader {
    const v = this.#get(key);
    if (v === undefined) return new Reader({}, this.#name(key));
    if (!isObject(v)) throw new StationConfigError(`${this.#name(key)}: expected an object`);
    return new Reader(v, this.#name(key));
  }

  string(key: string, fallback?: string): string {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== 'string' || v === '') {
      throw new StationConfigError(`${this.#name(key)}: expected a non-empty string${v === undefined ? ' (required)' : ''}`);
    }
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.#get(key) === undefined ? undefined : this.string(key);
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new StationConfigError(`${this.#name(key)}: expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== 'boolean') throw new StationConfigError(`${this.#name(key)}: expected true or false`);
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      throw new StationConfigError(`${this.#name(key)}: expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }

  array(key: string, fallback?: unknown[]): unknown[] {
    const v = this.#get(key) ?? fallback;
    if (!Array.isArray(v)) throw new StationConfigError(`${this.#name(key)}: expected an array${v === undefined ? ' (required)' : ''}`);
    return v;
  }

  raw(key: string): unknown {
    return this.#get(key);
  }

  /** Reject keys nobody read: a typo in a config key must not silently fall back to a default. */
  finish(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.known.has(key)) throw new StationConfigError(`${this.#name(key)}: unknown setting`);
    }
  }
}

/**
 * Parse `host:port` (IPv6 in brackets).
 * @throws {StationConfigError} naming `where`.
 */
export function parseHostPort(text: string, where: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535 || (text.startsWith('[') && isIP(m[1] as string) !== 6)) {
    throw new StationConfigError(`${where}: expected host:port (IPv6 as [addr]:port), got ${JSON.stringify(text)}`);
  }
  return { host: m[1] as string, port };
}

/**
 * Validate a parsed JSON document as a station config.
 *
 * @param doc - the parsed JSON.
 * @param baseDir - directory that relative paths are resolved against.
 * @throws {StationConfigError} on the first invalid or unknown setting, naming it.
 */
export function parseStationConfig(doc: unknown, baseDir: string): StationConfig {
  if (!isObject(doc)) throw new StationConfigError('config: expected a JSON object at the top level');
  const top = new Reader(doc, '');
  const path = (p: string): string => resolve(baseDir, p);

  const keyFiles = top.array('keyFiles').map((k, i) => {
    if (typeof k !== 'string' || k === '') throw new StationConfigError(`keyFiles[${i}]: expected a file path`);
    return path(k);
  });
  if (keyFiles.length === 0) throw new StationConfigError('keyFiles: at least one station key is required');

  const cap = top.section('capture');
  const kind = cap.oneOf('kind', ['afpacket', 'pfring', 'pcap'] as const, 'afpacket');
  const capture: StationConfig['capture'] = {
    kind,
    interface: kind === 'pcap' ? (cap.optionalString('interface') ?? '') : cap.string('interface'),
    workers: cap.int('workers', 1, 1, 256),
    tlsPorts: cap.array('tlsPorts', [443]).map((p, i) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
        throw new StationConfigError(`capture.tlsPorts[${i}]: expected a port 1-65535`);
      }
      return p;
    }),
    flowTableCapacity: cap.int('flowTableCapacity', 1 << 20, 16, 1 << 28),
    fanoutGroup: cap.int('fanoutGroup', 0x7d01, 0, 0xffff),
    ackWaitMs: cap.int('ackWaitMs', 0, 0, 5_000),
  };
  if (kind === 'pcap') capture.file = path(cap.string('file'));
  else cap.raw('file');
  cap.finish();

  const cov = top.section('covert');
  const allow = cov.array('allow').map((r, i) => {
    if (!isObject(r) || typeof r.cidr !== 'string' || typeof r.ports !== 'string' || Object.keys(r).some((k) => k !== 'cidr' && k !== 'ports')) {
      throw new StationConfigError(`covert.allow[${i}]: expected { "cidr": "10.0.0.0/8", "ports": "443" }`);
    }
    return { cidr: r.cidr, ports: r.ports };
  });
  CovertAllowlist.from(allow); // validates every rule now, at start-up
  const proxy = cov.optionalString('defaultProxy');
  const covert: StationConfig['covert'] = {
    allow,
    resolveNames: cov.bool('resolveNames', true),
    connectTimeoutMs: cov.int('connectTimeoutMs', 10_000, 100, 600_000),
  };
  if (proxy !== undefined) covert.defaultProxy = parseHostPort(proxy, 'covert.defaultProxy');
  cov.finish();

  const ses = top.section('sessions');
  const sessions: StationConfig['sessions'] = {
    reconnectWindowMs: ses.int('reconnectWindowMs', 30_000, 1_000, 3_600_000),
    flowLifetimeMs: ses.int('flowLifetimeMs', 120_000, 1_000, 3_600_000),
    bufferBytes: ses.int('bufferBytes', 1 << 20, 16 * 1024, 1 << 30),
    maxSessions: ses.int('maxSessions', 100_000, 1, 10_000_000),
    decoyRstDelayMs: ses.int('decoyRstDelayMs', 2_000, 0, 60_000),
  };
  ses.finish();

  const lim = top.section('limits');
  const overridesRaw = lim.raw('perDecoyOverrides') ?? {};
  if (!isObject(overridesRaw)) throw new StationConfigError('limits.perDecoyOverrides: expected an object of "ip": limit');
  const perDecoyOverrides: Record<string, number> = {};
  for (const [ip, n] of Object.entries(overridesRaw)) {
    if (isIP(ip) === 0) throw new StationConfigError(`limits.perDecoyOverrides: "${ip}" is not an IP address`);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new StationConfigError(`limits.perDecoyOverrides["${ip}"]: expected a non-negative integer`);
    }
    perDecoyOverrides[ip] = n;
  }
  const limits: StationConfig['limits'] = { perDecoy: lim.int('perDecoy', 30, 0, 1_000_000), perDecoyOverrides };
  if (lim.raw('total') !== undefined) limits.total = lim.int('total', 0, 0, 100_000_000);
  lim.finish();

  const rd = top.section('redis');
  const keyPrefix = rd.string('keyPrefix', 'tapdance');
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) {
    throw new StationConfigError('redis.keyPrefix: expected 1-64 characters of A-Z a-z 0-9 _ . : -');
  }
  const heartbeatMs = rd.int('heartbeatMs', 2_000, 100, 60_000);
  const expiryMs = rd.int('expiryMs', 3 * heartbeatMs, 200, 600_000);
  if (expiryMs < 2 * heartbeatMs) {
    throw new StationConfigError(`redis.expiryMs: expected at least twice redis.heartbeatMs (${2 * heartbeatMs}), got ${expiryMs}`);
  }
  const redisOptions: StationConfig['redis'] = { keyPrefix, heartbeatMs, expiryMs };
  rd.finish();

  const met = top.section('metrics');
  const listen = met.optionalString('listen');
  const metrics: StationConfig['metrics'] = listen === undefined ? {} : { listen: parseHostPort(listen, 'metrics.listen') };
  met.finish();

  const lg = top.section('log');
  const log: StationConfig['log'] = {
    level: lg.oneOf('level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, 'info'),
    clientAddressPrefixBits: lg.int('clientAddressPrefixBits', 0, 0, 24),
  };
  lg.finish();

  const config: StationConfig = { keyFiles, capture, covert, sessions, limits, redis: redisOptions, metrics, log };
  const clientConf = top.optionalString('clientConfPath');
  if (clientConf !== undefined) config.clientConfPath = path(clientConf);
  const redis = top.optionalString('redisUrl');
  if (redis !== undefined) {
    if (!/^rediss?:\/\//.test(redis)) throw new StationConfigError('redisUrl: expected redis://host:port[/db]');
    config.redisUrl = redis;
  }
  const id = top.optionalString('stationId');
  if (id !== undefined) config.stationId = id;
  top.finish();
  return config;
}

/**
 * Read and validate a station config file.
 * @throws {StationConfigError} when the file cannot be read, is not JSON, or is invalid.
 */
export function loadStationConfig(file: string): StationConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StationConfigError(`config: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StationConfigError(`config: ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseStationConfig(doc, dirname(resolve(file)));
}

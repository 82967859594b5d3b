/**
 * The station process: configuration → native data plane (capture, tag check, TCP_REPAIR
 * takeover) → session table (TLS continued from the tag, covert connections) → decoy clean-up.
 *
 * For each takeover the native addon hands over a repaired socket's file descriptor; it is
 * wrapped as a `net.Socket` and given to the session table. When that socket has closed, a
 * spoofed RST (after `decoyRstDelayMs`) lets the decoy free the connection it still holds.
 *
 * Around that: per-decoy limits (in process, or shared through Redis with `redisUrl`), the
 * Prometheus endpoint (`metrics.listen`), and {@link Station.reload} for SIGHUP, which applies
 * a new config, new keys and a new ClientConf without dropping live sessions.
 *
 * @module
 */
import { Socket } from 'node:net';
import type { Logger } from 'pino';
import { readStationKeyFile } from '../crypto/key-files.js';
import { decodeTagPayload, tagKeyFromMaterial } from '../crypto/tag.js';
import { readClientConf } from '../protocol/client-conf.js';
import { nativeAeadStatus } from '../tls/native-aead.js';
import type { ClientConf } from '../protocol/messages.js';
import { CovertAllowlist } from './allowlist.js';
import type { StationConfig } from './config.js';
import { LocalDecoyLoad, type DecoyLoad } from './decoy-load.js';
import { RedisDecoyLoad } from './redis-load.js';
import { createStationLogger } from './log.js';
import { StationMetrics, type MetricsSource } from './metrics.js';
import { NativeStation, sumCounters, type NativeCounters, type TaggedFlowInfo } from './native.js';
import { SessionTable } from './session-table.js';
import { StationStats } from './stats.js';
import { StationConfigError } from './errors.js';

/** Optional collaborators (tests inject their own). */
export interface StationDeps {
  log?: Logger;
  /** Per-decoy load store (default: Redis with `redisUrl`, else in-process counts). */
  load?: DecoyLoad;
}

/** What {@link Station.reload} changed. */
export interface ReloadResult {
  /** Settings that changed but take effect only after a restart (`capture`, `redisUrl`, `redis`). */
  restartNeeded: string[];
  /** Whether new keys were installed in the data plane. */
  keysChanged: boolean;
  /** The ClientConf generation now offered, if any. */
  clientConfGeneration: number | undefined;
}

/** Counters of the whole station: native data plane (summed over workers) and sessions. */
export interface StationCounters {
  native: NativeCounters;
  sessions: Record<string, unknown>;
}

/**
 * A running station.
 *
 * @example
 * ```ts
 * const station = await Station.start(loadStationConfig('/etc/tapdance/station.json'))
 * process.on('SIGTERM', () => void station.stop())
 * ```
 */
export class Station {
  readonly log: Logger;
  readonly stats = new StationStats();
  readonly #native: NativeStation;
  readonly #table: SessionTable;
  readonly #load: DecoyLoad;
  readonly #rstTimers = new Set<NodeJS.Timeout>();
  readonly #reloads = new Map<string, number>();
  #metrics: StationMetrics | undefined;
  #metricsAddress: string | undefined;
  #config: StationConfig;
  #keys: Uint8Array[];
  #clientConf: { generation: number; conf: ClientConf } | undefined;
  #stopped = false;

  private constructor(config: StationConfig, keys: Uint8Array[], clientConf: ClientConf | undefined, deps: StationDeps) {
    this.#config = config;
    this.#keys = keys;
    this.log = deps.log ?? createStationLogger({ level: config.log.level });
    this.#load = deps.load ?? (config.redisUrl === undefined ? new LocalDecoyLoad(config.limits) : new RedisDecoyLoad({
      url: config.redisUrl, limits: config.limits, log: this.log, stationId: config.stationId, ...config.redis,
    }));
    this.#clientConf = clientConf === undefined ? undefined : { generation: clientConf.generation, conf: clientConf };
    this.#table = new SessionTable({
      log: this.log,
      stats: this.stats,
      covert: Station.#covertPolicy(config),
      load: this.#load,
      maxSessions: config.sessions.maxSessions,
      bufferBytes: config.sessions.bufferBytes,
      reconnectWindowMs: config.sessions.reconnectWindowMs,
      flowLifetimeMs: config.sessions.flowLifetimeMs,
      clientAddressPrefixBits: config.log.clientAddressPrefixBits,
      stationId: config.stationId,
      clientConf: () => this.#clientConf,
    });
    if (config.capture.kind === 'pcap') {
      throw new StationConfigError('capture.kind "pcap" replays a file offline: use `tapdance-station replay`');
    }
    this.#native = new NativeStation({
      keys,
      interface: config.capture.interface,
      workers: config.capture.workers,
      capture: config.capture.kind,
      fanoutGroup: config.capture.fanoutGroup,
      takeover: true,
      pipeline: { tlsPorts: config.capture.tlsPorts, flowCapacity: config.capture.flowTableCapacity, ackWaitMs: config.capture.ackWaitMs },
    });
  }

  /**
   * Load keys and ClientConf, then start capturing and serving.
   * @throws {@link StationConfigError} for unusable keys or ClientConf; native errors for capture set-up
   */
  static async start(config: StationConfig, deps: StationDeps = {}): Promise<Station> {
    const keys = await Station.#loadKeys(config);
    const clientConf = await Station.#loadClientConf(config);
    const station = new Station(config, keys, clientConf, deps);
    try {
      if (station.#load instanceof RedisDecoyLoad) await station.#load.start();
      if (config.metrics.listen !== undefined) await station.#listenMetrics(config.metrics.listen);
      station.#native.start((ev) => station.#onTakeover(ev));
    } catch (err) {
      await station.#metrics?.close();
      await station.#load.close();
      throw err;
    }
    const aead = nativeAeadStatus();
    station.log.info({
      interface: config.capture.interface, workers: config.capture.workers, capture: config.capture.kind,
      keys: keys.length, tlsPorts: config.capture.tlsPorts, clientConfGeneration: clientConf?.generation,
      loadStore: station.#load instanceof RedisDecoyLoad ? 'redis' : 'local', metrics: station.#metricsAddress,
      // Which record AEAD seals and opens the flows' TLS records (record-native/ when built).
      recordAead: aead.loaded ? 'native' : `node:crypto (${aead.reason ?? ''})`,
    }, 'station started');
    return station;
  }

  /** Serve metrics on `where` (none when undefined); the old endpoint closes once the new one is bound. */
  async #listenMetrics(where: StationConfig['metrics']['listen']): Promise<void> {
    let next: StationMetrics | undefined;
    let address: string | undefined;
    if (where !== undefined) {
      next = new StationMetrics(this.metricsSource());
      const bound = await next.listen(where);
      address = `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`;
    }
    await this.#metrics?.close();
    this.#metrics = next;
    this.#metricsAddress = address;
  }

  static async #loadKeys(config: StationConfig): Promise<Uint8Array[]> {
    return Promise.all(config.keyFiles.map(async (file) => {
      try {
        return (await readStationKeyFile(file)).secretKey;
      } catch (err) {
        throw new StationConfigError(`keyFiles: cannot use ${file}: ${(err as Error).message}`, { cause: err });
      }
    }));
  }

  static async #loadClientConf(config: StationConfig): Promise<ClientConf | undefined> {
    if (config.clientConfPath === undefined) return undefined;
    try {
      return await readClientConf(config.clientConfPath);
    } catch (err) {
      throw new StationConfigError(`clientConfPath: cannot use ${config.clientConfPath}: ${(err as Error).message}`, { cause: err });
    }
  }

  static #covertPolicy(config: StationConfig): ConstructorParameters<typeof SessionTable>[0]['covert'] {
    return {
      allowlist: CovertAllowlist.from(config.covert.allow),
      defaultProxy: config.covert.defaultProxy,
      resolveNames: config.covert.resolveNames,
      connectTimeoutMs: config.covert.connectTimeoutMs,
    };
  }

  /** Sessions live or starting. */
  get sessions(): number {
    return this.#table.size;
  }

  /** Counters of the data plane and the session layer. */
  counters(): StationCounters {
    return { native: sumCounters(this.#native.counters()), sessions: this.stats.snapshot() };
  }

  /** What the Prometheus metrics read (see {@link StationMetrics}). */
  metricsSource(): MetricsSource {
    return {
      nativeCounters: () => this.#native.counters(),
      stats: this.stats,
      loadStatus: () => this.#load.status(),
      clientConfGeneration: () => this.#clientConf?.generation,
      reloads: this.#reloads,
    };
  }

  /** The bound address of the metrics endpoint (`host:port`), if it is serving. */
  get metricsAddress(): string | undefined {
    return this.#metricsAddress;
  }

  /**
   * Apply a new configuration without dropping live sessions. Keys, ClientConf, covert policy,
   * limits, timeouts and the metrics address take effect at once, for new flows and sessions;
   * flows already taken over are sockets and go on unchanged. Nothing is applied when the new
   * keys or ClientConf cannot be read, or the new metrics address cannot be bound. Capture and
   * Redis settings need a restart and are reported. Failures are logged and counted
   * (`tapdance_config_reloads_total{result="failed"}`) before they are thrown.
   *
   * @param next - the validated new configuration, or a function that reads it (its failure counts as a failed reload)
   * @returns what changed and what needs a restart
   * @throws {@link StationConfigError} when the config, a key file or the ClientConf is unusable (the old config stays)
   * @example
   * ```ts
   * process.on('SIGHUP', () => void station.reload(() => loadStationConfig(file)).catch(() => {}))
   * ```
   */
  async reload(next: StationConfig | (() => StationConfig)): Promise<ReloadResult> {
    let config: StationConfig;
    let keys: Uint8Array[];
    let clientConf: ClientConf | undefined;
    try {
      config = typeof next === 'function' ? next() : next;
      [keys, clientConf] = await Promise.all([Station.#loadKeys(config), Station.#loadClientConf(config)]);
      if (JSON.stringify(config.metrics) !== JSON.stringify(this.#config.metrics)) await this.#listenMetrics(config.metrics.listen);
    } catch (err) {
      StationStats.bump(this.#reloads, 'failed');
      this.log.error({ err: (err as Error).message }, 'reload failed; keeping the old config');
      throw err;
    }
    const keysChanged = !sameKeys(keys, this.#keys);
    if (keysChanged) this.#native.setKeys(keys);
    this.#keys = keys;
    this.#table.update({
      covert: Station.#covertPolicy(config),
      maxSessions: config.sessions.maxSessions,
      bufferBytes: config.sessions.bufferBytes,
      reconnectWindowMs: config.sessions.reconnectWindowMs,
      flowLifetimeMs: config.sessions.flowLifetimeMs,
      clientAddressPrefixBits: config.log.clientAddressPrefixBits,
      stationId: config.stationId,
    });
    this.#load.setLimits(config.limits);
    this.#clientConf = clientConf === undefined ? undefined : { generation: clientConf.generation, conf: clientConf };
    const restartNeeded = (['capture', 'redisUrl', 'redis'] as const)
      .filter((k) => JSON.stringify(config[k]) !== JSON.stringify(this.#config[k]));
    this.#config = config;
    StationStats.bump(this.#reloads, 'ok');
    const result = { restartNeeded, keysChanged, clientConfGeneration: clientConf?.generation };
    this.log.info({ ...result, keys: keys.length, metrics: this.#metricsAddress }, 'configuration reloaded');
    return result;
  }

  /** Stop capturing, end every session, and release resources. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#table.close();
    const counters = this.counters();
    this.#native.stop();
    for (const t of this.#rstTimers) clearTimeout(t);
    await this.#metrics?.close();
    await this.#load.close();
    this.log.info({ counters }, 'station stopped');
  }

  #onTakeover(ev: TaggedFlowInfo): void {
    if (ev.fd === undefined || ev.fd === null) {
      // Counted by the data plane (takeover_failed_socket); the session layer never saw it.
      this.log.warn({ decoy: ev.flow.serverAddress, err: ev.error }, 'takeover failed in the data plane');
      return;
    }
    if (this.#stopped) {
      new Socket({ fd: ev.fd }).destroy();
      return;
    }
    const socket = new Socket({ fd: ev.fd, readable: true, writable: true, allowHalfOpen: true });
    socket.setNoDelay(true);
    socket.once('close', () => this.#scheduleDecoyRst(ev.flowId));
    void this.#table.accept({
      socket,
      payload: decodeTagPayload(ev.payload),
      tagKey: tagKeyFromMaterial(ev.keyMaterial),
      taggedRecord: ev.record,
      decoyAddress: ev.flow.serverAddress,
      clientAddress: ev.flow.clientAddress,
    });
  }

  #scheduleDecoyRst(flowId: string): void {
    const timer = setTimeout(() => {
      this.#rstTimers.delete(timer);
      try {
        this.#native.sendDecoyRst(flowId);
      } catch (err) {
        this.log.debug({ err: (err as { code?: string }).code }, 'decoy RST not sent');
      }
    }, this.#config.sessions.decoyRstDelayMs);
    this.#rstTimers.add(timer);
  }
}

/** Same keys in the same order (the order decides which key a tag is tried with first). */
function sameKeys(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((k, i) => Buffer.from(k).equals(b[i]!));
}

/**
 * The station process: configuration → native data plane (capture, tag check, TCP_REPAIR
 * takeover) → session table (TLS continued from the tag, covert connections) → decoy clean-up.
 *
 * For each takeover the native addon hands over a repaired socket's file descriptor; it is
 * wrapped as a `net.Socket` and given to the session table. When that socket has closed, a
 * spoofed RST (after `decoyRstDelayMs`) lets the decoy free the connection it still holds.
 *
 * @module
 */
import { Socket } from 'node:net';
import type { Logger } from 'pino';
import { readStationKeyFile } from '../crypto/key-files.js';
import { decodeTagPayload, tagKeyFromMaterial } from '../crypto/tag.js';
import { readClientConf } from '../protocol/client-conf.js';
import type { ClientConf } from '../protocol/messages.js';
import { CovertAllowlist } from './allowlist.js';
import type { StationConfig } from './config.js';
import { LocalDecoyLoad, type DecoyLoad } from './decoy-load.js';
import { createStationLogger } from './log.js';
import { NativeStation, sumCounters, type NativeCounters, type TaggedFlowInfo } from './native.js';
import { SessionTable } from './session-table.js';
import { StationStats } from './stats.js';
import { StationConfigError } from './errors.js';

/** Optional collaborators (tests inject their own). */
export interface StationDeps {
  log?: Logger;
  /** Per-decoy load store (default: in-process counts). */
  load?: DecoyLoad;
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
  #config: StationConfig;
  #clientConf: { generation: number; conf: ClientConf } | undefined;
  #stopped = false;

  private constructor(config: StationConfig, keys: Uint8Array[], clientConf: ClientConf | undefined, deps: StationDeps) {
    this.#config = config;
    this.log = deps.log ?? createStationLogger({ level: config.log.level });
    this.#load = deps.load ?? new LocalDecoyLoad(config.limits);
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
      takeover: true,
      pipeline: { tlsPorts: config.capture.tlsPorts, flowCapacity: config.capture.flowTableCapacity },
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
    station.#native.start((ev) => station.#onTakeover(ev));
    station.log.info({
      interface: config.capture.interface, workers: config.capture.workers, capture: config.capture.kind,
      keys: keys.length, tlsPorts: config.capture.tlsPorts, clientConfGeneration: clientConf?.generation,
    }, 'station started');
    return station;
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

  /**
   * Apply a new configuration without dropping live sessions: covert policy, limits, timeouts
   * and ClientConf take effect for new sessions. Keys and capture settings need a restart of the
   * data plane and are reported if they changed.
   */
  async reload(config: StationConfig): Promise<{ restartNeeded: string[] }> {
    const clientConf = await Station.#loadClientConf(config);
    this.#table.update({
      covert: Station.#covertPolicy(config),
      maxSessions: config.sessions.maxSessions,
      bufferBytes: config.sessions.bufferBytes,
      reconnectWindowMs: config.sessions.reconnectWindowMs,
      flowLifetimeMs: config.sessions.flowLifetimeMs,
      clientAddressPrefixBits: config.log.clientAddressPrefixBits,
      stationId: config.stationId,
    });
    if (this.#load instanceof LocalDecoyLoad) this.#load.setLimits(config.limits);
    this.#clientConf = clientConf === undefined ? undefined : { generation: clientConf.generation, conf: clientConf };
    const restartNeeded = [
      JSON.stringify(config.keyFiles) !== JSON.stringify(this.#config.keyFiles) ? 'keyFiles' : '',
      JSON.stringify(config.capture) !== JSON.stringify(this.#config.capture) ? 'capture' : '',
    ].filter(Boolean);
    this.#config = config;
    this.log.info({ clientConfGeneration: clientConf?.generation, restartNeeded }, 'configuration reloaded');
    return { restartNeeded };
  }

  /** Stop capturing, end every session, and release resources. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#table.close();
    const counters = this.counters();
    this.#native.stop();
    for (const t of this.#rstTimers) clearTimeout(t);
    await this.#load.close();
    this.log.info({ counters }, 'station stopped');
  }

  #onTakeover(ev: TaggedFlowInfo): void {
    if (ev.fd === undefined || ev.fd === null) {
      StationStats.bump(this.stats.takeoverFailures, ev.error ?? 'native');
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

/**
 * A complete TapDance path in the namespace testbed: nginx decoy(s), the covert HTTP server and
 * CONNECT proxy, a station key, a ClientConf for the client, and a `tapdance-station` process in
 * the station namespace watching the router's port mirror. Clients run in the client namespace
 * (`examples/fetch-page`). Used by the end-to-end tests, `npm run demo` and `npm run bench:e2e`.
 *
 * More station processes can watch the same mirror ({@link StationPath.startExtraStation}), each
 * with its own decoy ports and fanout group, e.g. two stations sharing decoy limits in Redis.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { create } from '@bufbuild/protobuf';
import { Testbed, type TestbedOptions } from '../testbed/testbed.js';
import { nodeArgv } from '../testbed/node-child.js';
import type { Decoy, CovertServices, DecoyOptions, RunResult } from '../testbed/testbed.js';
import { generateStationKeyPair, encodeStationKeyFile, type StationKeyPair } from '../crypto/keys.js';
import { writeClientConf } from '../protocol/client-conf.js';
import { ClientConfSchema, KeyType, ipv4ToFixed32, type ClientConf } from '../protocol/messages.js';

/** Options of {@link StationPath.up}. */
export interface StationPathOptions {
  testbed?: TestbedOptions;
  /** Settings of each decoy (one decoy per entry; default one with nginx defaults). */
  decoys?: DecoyOptions[];
  /** Extra station config (merged over the defaults). */
  station?: Record<string, unknown>;
  /** TCP window and timeout written into the ClientConf for every decoy. */
  tcpwin?: number;
  timeoutMs?: number;
  /** Start the station now (default true). */
  startStation?: boolean;
  /** More TLS ports every decoy serves besides 443 (same certificate, no plain HTTP), e.g. [8443]. */
  extraDecoyPorts?: number[];
}

/** A JSON log line of the station. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** Summary printed by `examples/fetch-page --json`. */
export interface FetchSummary {
  status: number;
  bytes: number;
  sha256: string;
  headerSha256?: string;
  /** The response body when it is at most 4 KiB. */
  body?: string;
  uploaded?: { bytes: number; sha256: string };
  ms: { connect: number; firstByte: number; total: number };
  firstFlow?: { tcpMs: number; tlsMs: number; stationMs: number };
  /** Covert bytes sent inside the tag, and whether the tag left with the TLS 1.2 Finished. */
  earlyBytes?: number;
  falseStart?: boolean;
  flows?: number;
  decoy?: string;
  /** CPU time of the client process (user + system), ms. */
  cpuMs?: number;
}

// Run TypeScript entries from sources (tests) and JavaScript ones from dist (demo, benchmarks).
const EXT = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const STATION_ENTRY = new URL(`../station/cli.${EXT}`, import.meta.url);
const FETCH_ENTRY = new URL(`../../examples/fetch-page.${EXT}`, import.meta.url);

/**
 * One `tapdance-station run` process in the station namespace, with its output collected: JSON
 * log lines parsed, everything (stdout and stderr) kept raw for privacy scans.
 */
export class StationProcess {
  readonly tb: Testbed;
  readonly configPath: string;
  /** Log lines of every run of this process so far (JSON). */
  readonly log: LogLine[];
  /** Raw stdout+stderr of every run so far. */
  output = '';
  readonly #wrap: readonly string[];
  #child: ChildProcess | null = null;

  /**
   * @param tb - the testbed
   * @param configPath - station config file
   * @param log - array to collect log lines in (default a new one)
   * @param wrap - a command line that runs the station (e.g. `setpriv …`); default none
   */
  constructor(tb: Testbed, configPath: string, log: LogLine[] = [], wrap: readonly string[] = []) {
    this.tb = tb;
    this.configPath = configPath;
    this.log = log;
    this.#wrap = wrap;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** Process id while running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Start the station and wait until it captures. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.#child !== null) throw new Error('station already running');
    const args = ['run', '--config', this.configPath];
    const [cmd, ...rest] = this.#wrap;
    const child = cmd === undefined ? this.tb.spawnNode('station', STATION_ENTRY, args)
      : this.tb.spawn('station', cmd, [...rest, ...nodeArgv(STATION_ENTRY, args)]);
    this.#child = child;
    const seen = this.log.length;
    child.stderr?.on('data', (d: Buffer) => { this.output += d.toString(); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.output += `${line}\n`;
      try {
        this.log.push(JSON.parse(line) as LogLine);
      } catch {
        // not JSON: kept in output
      }
    });
    child.once('exit', () => { if (this.#child === child) this.#child = null; });
    await this.waitForLog((l) => l.msg === 'station started' && this.log.indexOf(l) >= seen, timeoutMs, 'station start');
  }

  /** Stop the station (`signal`, then SIGKILL after 5 s) and wait for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.#child = null;
  }

  /** Send a signal to the running station (e.g. SIGHUP). */
  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  /** Wait for a log line that matches. */
  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.log.find(pred);
      if (hit !== undefined) return hit;
      if (this.#child === null) throw new Error(`station exited while waiting for ${what}: ${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The running path. */
export class StationPath {
  readonly tb: Testbed;
  readonly decoys: Decoy[];
  covert: CovertServices;
  readonly key: StationKeyPair;
  readonly clientConf: ClientConf;
  readonly clientConfPath: string;
  readonly stationConfigPath: string;
  /** The station config written to `stationConfigPath` (defaults merged with the options). */
  readonly stationConfig: Record<string, unknown>;
  /** Station log lines so far (JSON). */
  readonly stationLog: LogLine[] = [];
  /** The path's own station process. */
  readonly station: StationProcess;
  /** Stations started with {@link startExtraStation}. */
  readonly extraStations = new Map<string, StationProcess>();

  private constructor(tb: Testbed, decoys: Decoy[], covert: CovertServices, key: StationKeyPair, clientConf: ClientConf,
    clientConfPath: string, stationConfigPath: string, stationConfig: Record<string, unknown>) {
    this.tb = tb;
    this.decoys = decoys;
    this.covert = covert;
    this.key = key;
    this.clientConf = clientConf;
    this.clientConfPath = clientConfPath;
    this.stationConfigPath = stationConfigPath;
    this.stationConfig = stationConfig;
    this.station = new StationProcess(tb, stationConfigPath, this.stationLog);
  }

  /** Raw station stdout+stderr, for privacy scans. */
  get stationOutput(): string {
    return this.station.output;
  }

  /** Bring up testbed, decoys, covert services and (by default) the station. */
  static async up(options: StationPathOptions = {}): Promise<StationPath> {
    const decoySpecs = options.decoys ?? [{}];
    const tb = await Testbed.up({ ...options.testbed, decoys: decoySpecs.length, station: 'kernel' });
    try {
      const decoys: Decoy[] = [];
      for (const [index, d] of decoySpecs.entries()) decoys.push(await tb.startDecoy({ ...d, index }));
      for (const port of options.extraDecoyPorts ?? []) {
        for (const [index, d] of decoySpecs.entries()) await tb.startDecoy({ ...d, index, port, httpPort: 0 });
      }
      const covert = await tb.startCovert();
      const key = generateStationKeyPair();
      const keyPath = join(tb.workDir, 'station.key');
      writeFileSync(keyPath, encodeStationKeyFile(key), { mode: 0o600 });
      const clientConf = create(ClientConfSchema, {
        generation: 1,
        decoyList: {
          tlsDecoys: decoys.map((d) => ({
            hostname: d.servername, ipv4addr: ipv4ToFixed32(d.address),
            timeout: options.timeoutMs ?? 60_000, tcpwin: options.tcpwin ?? 65_535,
            pubkey: { key: key.publicKey, type: KeyType.AES_GCM_128 },
          })),
        },
        defaultPubkey: { key: key.publicKey, type: KeyType.AES_GCM_128 },
      });
      const clientConfPath = join(tb.workDir, 'ClientConf');
      await writeClientConf(clientConfPath, clientConf);
      writeFileSync(join(tb.workDir, 'decoy-ca.pem'), decoys[0]!.ca);
      const stationConfig = {
        keyFiles: [keyPath],
        capture: { kind: 'afpacket', interface: tb.interfaces.stationTap, workers: 2, tlsPorts: [443] },
        covert: {
          allow: [{ cidr: `${covert.address}/32`, ports: `${covert.httpPort},${covert.proxyPort}` }],
          defaultProxy: `${covert.address}:${covert.proxyPort}`,
          resolveNames: false,
        },
        log: { level: 'info' },
        ...options.station,
      };
      const stationConfigPath = join(tb.workDir, 'station.json');
      writeFileSync(stationConfigPath, JSON.stringify(stationConfig, null, 2));
      const path = new StationPath(tb, decoys, covert, key, clientConf, clientConfPath, stationConfigPath, stationConfig);
      if (options.startStation !== false) await path.startStation();
      return path;
    } catch (err) {
      await tb.down();
      throw err;
    }
  }

  /** Kill the covert services (SIGKILL) and start them again on the same ports. */
  async restartCovert(): Promise<void> {
    const { httpPort, proxyPort } = this.covert;
    this.covert.kill('SIGKILL');
    await this.covert.stop();
    this.covert = await this.tb.startCovert({ httpPort, proxyPort });
  }

  /** Path of the CA that signed the decoys' certificates. */
  get caPath(): string {
    return join(this.tb.workDir, 'decoy-ca.pem');
  }

  /** Start `tapdance-station run` in the station namespace and wait until it captures. */
  async startStation(timeoutMs = 20_000): Promise<void> {
    await this.station.start(timeoutMs);
  }

  /** Stop the station (SIGTERM, then SIGKILL) and wait for it to exit. */
  async stopStation(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.station.stop(signal);
  }

  /** Send a signal to the running station (e.g. SIGHUP). */
  signalStation(signal: NodeJS.Signals): void {
    this.station.signal(signal);
  }

  /** Wait for a station log line that matches. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return this.station.waitForLog(pred, timeoutMs, what);
  }

  /**
   * Start another station process on the same mirror, with the path's station config plus
   * `overrides` (top-level keys replace the defaults'), written to `station-<name>.json`. Give it
   * its own `capture.tlsPorts` and `capture.fanoutGroup`: two stations must not take over the
   * same flow, nor share one fanout group.
   *
   * @param o.wrap - a command line that runs the station, e.g. `['setpriv', '--reuid=65534', …, '--']`
   * @returns the running process (stopped by {@link down})
   */
  async startExtraStation(name: string, overrides: Record<string, unknown>, o: { timeoutMs?: number; wrap?: string[] } = {}): Promise<StationProcess> {
    if (this.extraStations.has(name)) throw new Error(`station ${name} already exists`);
    const configPath = join(this.tb.workDir, `station-${name}.json`);
    writeFileSync(configPath, JSON.stringify({ ...this.stationConfig, ...overrides }, null, 2));
    const proc = new StationProcess(this.tb, configPath, [], o.wrap);
    this.extraStations.set(name, proc);
    await proc.start(o.timeoutMs);
    return proc;
  }

  /** Arguments of `examples/fetch-page` for this path. */
  fetchArgs(o: {
    path?: string; upload?: number; target?: string; clientConfPath?: string; tcpWindow?: number; decoyTimeoutMs?: number; attempts?: number;
    decoyPort?: number; publicRule?: boolean;
  } = {}): string[] {
    return [
      '--client-conf', o.clientConfPath ?? this.clientConfPath,
      '--target', o.target ?? `${this.covert.address}:${this.covert.httpPort}`,
      '--path', o.path ?? '/',
      '--ca', this.caPath,
      '--json',
      ...(o.upload === undefined ? [] : ['--upload', String(o.upload)]),
      ...(o.tcpWindow === undefined ? [] : ['--tcp-window', String(o.tcpWindow)]),
      ...(o.decoyTimeoutMs === undefined ? [] : ['--decoy-timeout-ms', String(o.decoyTimeoutMs)]),
      ...(o.attempts === undefined ? [] : ['--attempts', String(o.attempts)]),
      ...(o.decoyPort === undefined ? [] : ['--decoy-port', String(o.decoyPort)]),
      ...(o.publicRule === true ? ['--public-rule'] : []),
    ];
  }

  /** Run `examples/fetch-page` in the client namespace. */
  fetchRaw(o: Parameters<StationPath['fetchArgs']>[0] = {}, timeoutMs = 120_000): Promise<RunResult> {
    return this.tb.runNode('client', FETCH_ENTRY, this.fetchArgs(o), { timeoutMs });
  }

  /** Fetch through TapDance and return the client's summary. @throws when the client failed */
  async fetch(o: Parameters<StationPath['fetchArgs']>[0] = {}, timeoutMs = 120_000): Promise<FetchSummary> {
    const r = await this.fetchRaw(o, timeoutMs);
    if (r.code !== 0) throw new Error(`fetch-page exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as FetchSummary;
  }

  /** Stop everything and remove the testbed. */
  async down(): Promise<void> {
    for (const p of this.extraStations.values()) await p.stop().catch(() => {});
    await this.stopStation().catch(() => {});
    await this.tb.down();
  }
}

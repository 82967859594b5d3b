/**
 * A complete TapDance path in the namespace testbed: nginx decoy(s), the covert HTTP server and
 * CONNECT proxy, a station key, a ClientConf for the client, and a `tapdance-station` process in
 * the station namespace watching the router's port mirror. Clients run in the client namespace
 * (`examples/fetch-page`). Used by the end-to-end tests, `npm run demo` and `npm run bench:e2e`.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { create } from '@bufbuild/protobuf';
import { Testbed, type TestbedOptions } from '../testbed/testbed.js';
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
  flows?: number;
  decoy?: string;
  /** CPU time of the client process (user + system), ms. */
  cpuMs?: number;
}

// Run TypeScript entries from sources (tests) and JavaScript ones from dist (demo, benchmarks).
const EXT = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const STATION_ENTRY = new URL(`../station/cli.${EXT}`, import.meta.url);
const FETCH_ENTRY = new URL(`../../examples/fetch-page.${EXT}`, import.meta.url);

/** The running path. */
export class StationPath {
  readonly tb: Testbed;
  readonly decoys: Decoy[];
  covert: CovertServices;
  readonly key: StationKeyPair;
  readonly clientConf: ClientConf;
  readonly clientConfPath: string;
  readonly stationConfigPath: string;
  /** Station log lines so far (JSON). */
  readonly stationLog: LogLine[] = [];
  /** Raw station stdout+stderr, for privacy scans. */
  stationOutput = '';
  #station: ChildProcess | null = null;

  private constructor(tb: Testbed, decoys: Decoy[], covert: CovertServices, key: StationKeyPair, clientConf: ClientConf,
    clientConfPath: string, stationConfigPath: string) {
    this.tb = tb;
    this.decoys = decoys;
    this.covert = covert;
    this.key = key;
    this.clientConf = clientConf;
    this.clientConfPath = clientConfPath;
    this.stationConfigPath = stationConfigPath;
  }

  /** Bring up testbed, decoys, covert services and (by default) the station. */
  static async up(options: StationPathOptions = {}): Promise<StationPath> {
    const decoySpecs = options.decoys ?? [{}];
    const tb = await Testbed.up({ ...options.testbed, decoys: decoySpecs.length, station: 'kernel' });
    try {
      const decoys: Decoy[] = [];
      for (const [index, d] of decoySpecs.entries()) decoys.push(await tb.startDecoy({ ...d, index }));
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
      const path = new StationPath(tb, decoys, covert, key, clientConf, clientConfPath, stationConfigPath);
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
    if (this.#station !== null) throw new Error('station already running');
    const child = this.tb.spawnNode('station', STATION_ENTRY, ['run', '--config', this.stationConfigPath]);
    this.#station = child;
    child.stderr?.on('data', (d: Buffer) => { this.stationOutput += d.toString(); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.stationOutput += `${line}\n`;
      try {
        this.stationLog.push(JSON.parse(line) as LogLine);
      } catch {
        // not JSON: kept in stationOutput
      }
    });
    child.once('exit', () => { if (this.#station === child) this.#station = null; });
    await this.waitForLog((l) => l.msg === 'station started', timeoutMs, 'station start');
  }

  /** Stop the station (SIGTERM, then SIGKILL) and wait for it to exit. */
  async stopStation(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#station;
    if (child === null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.#station = null;
  }

  /** Send a signal to the running station (e.g. SIGHUP). */
  signalStation(signal: NodeJS.Signals): void {
    this.#station?.kill(signal);
  }

  /** Wait for a station log line that matches. */
  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.stationLog.find(pred);
      if (hit !== undefined) return hit;
      if (this.#station === null && !this.stationLog.some(pred)) {
        throw new Error(`station exited while waiting for ${what}: ${this.stationOutput.slice(-2000)}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${this.stationOutput.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Arguments of `examples/fetch-page` for this path. */
  fetchArgs(o: {
    path?: string; upload?: number; target?: string; clientConfPath?: string; tcpWindow?: number; decoyTimeoutMs?: number; attempts?: number;
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
    await this.stopStation().catch(() => {});
    await this.tb.down();
  }
}

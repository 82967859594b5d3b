/**
 * The network-namespace testbed: a client, a router with a port mirror, one or more decoys, a
 * station and a covert side, each in its own namespace, built in well under a second and
 * always torn down (on `down()`, process exit, SIGINT/SIGTERM/SIGHUP, uncaught errors; and a
 * SIGKILLed owner's leftovers are reaped by the next `up()`).
 *
 * Topology and addresses: see `topology.ts`. Everything the testbed does targets its own
 * namespaces (`td-<6 hex>-<role>`); naming any other namespace throws
 * `ERR_TESTBED_FOREIGN_NETNS`, and the host namespace is never modified. Needs root.
 *
 * Services: {@link Testbed.startDecoy} runs Debian's nginx in a decoy namespace with a
 * certificate from the testbed's own CA; {@link Testbed.startCovert} runs the covert HTTP
 * server and CONNECT proxy in the covert namespace. Processes of your own run in any namespace
 * with {@link Testbed.spawn}, {@link Testbed.spawnNode} and {@link Testbed.runNode}.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyNetSetup, type NetSetupOptions, type NetSetupReport } from '../station/net-setup.js';
import { startCapture, type Capture, type CaptureOptions } from './capture.js';
import type { ConnectProxyStats } from './connect-proxy.js';
import { tunOpenerArgv } from './delay-line.js';
import { TestbedError } from './errors.js';
import { assertRoot, type ExecResult, type RunOptions } from './exec.js';
import { parseLinkStats, parseNstat, parseSsTcp, type LinkStats, type TcpSocketInfo } from './facts.js';
import {
  checkImpairment, delayRouteLines, lossScript, rateLines, type Impairment,
} from './impair.js';
import { NetnsSet } from './netns.js';
import { startNginx, type NginxServer } from './nginx.js';
import { nodeArgv, siblingEntry, waitReady } from './node-child.js';
import { TestCa, type KeyKind } from './pki.js';
import { removeMarker, reapOrphans, track, untrack, writeMarker } from './teardown.js';
import {
  IFACE, MAX_DECOYS, routerDecoyIface, topologyAddresses, topologyNames, topologyPlan,
  type PlanStep, type TopologyAddresses, type TopologyNames,
} from './topology.js';

/** How the station namespace is prepared for takeover. */
export type StationMode =
  /** Kernel path: net-setup with the tap given the router's client-port MAC. */
  | 'kernel'
  /** Tun path: net-setup without the MAC, with `IFACE.stationTun` (`tdtun0`) as an extra input interface. */
  | 'tun'
  /** Nothing beyond the topology (mirrored frames stay PACKET_OTHERHOST). */
  | 'none';

/** Options of {@link Testbed.up}. */
export interface TestbedOptions {
  /** Number of decoys, each in its own namespace. Default 1. */
  decoys?: number;
  /** Station preparation. Default `kernel`. */
  station?: StationMode;
  /** Initial impairment of forwarded traffic. Default none. */
  impairment?: Impairment;
  /** Tear down on SIGINT/SIGTERM/SIGHUP (then re-raise). Default true. Exit is always watched. */
  handleSignals?: boolean;
  /** Keep the work directory (pcaps, logs) after `down()`. Default false. */
  keepWorkDir?: boolean;
}

/** A place to run something: a role, or a namespace name of this testbed. */
export type Where = 'client' | 'router' | 'station' | 'covert' | 'decoy' | `decoy${number}` | (string & {});

/** Options of {@link Testbed.startDecoy}. */
export interface DecoyOptions {
  /** Which decoy. Default 0. */
  index?: number;
  /** TLS port. Default 443. */
  port?: number;
  /** Plain-HTTP port too (0 for none). Default 80. */
  httpPort?: number;
  /** Certificate key type. Default `rsa`. */
  keyKind?: KeyKind;
  /** `ssl_protocols`. Default `TLSv1.2 TLSv1.3`. */
  protocols?: string;
  /** `ssl_ciphers` (TLS 1.2). Default nginx's. */
  ciphers?: string;
  /** `ssl_ecdh_curve`. Default nginx's. */
  ecdhCurve?: string;
  /** SO_RCVBUF of the TLS listener: small values give small TCP windows. */
  rcvbuf?: number;
  /** `client_header_timeout`, s. Default nginx's (60). */
  clientHeaderTimeout?: number;
  /** `keepalive_timeout`, s. Default nginx's (75). */
  keepaliveTimeout?: number;
  /** Offer HTTP/2 on the TLS port. */
  http2?: boolean;
  /** Files served (path → content). Default `index.html` = `decoy ok\n`. */
  files?: Record<string, string | Uint8Array>;
}

/** A running decoy. */
export interface Decoy {
  index: number;
  /** Decoy address. */
  address: string;
  /** TLS port. */
  port: number;
  /** Plain-HTTP port, or 0. */
  httpPort: number;
  /** Server name in the certificate (`decoy<i>.test`; the address is in it too). */
  servername: string;
  /** PEM of the CA that signed the certificate (trust it in clients). */
  ca: string;
  /** Path of that CA's PEM file. */
  caPath: string;
  /** The nginx instance (logs, pid, stop). */
  nginx: NginxServer;
}

/** The running covert services. */
export interface CovertServices {
  /** Address of both services (in the covert namespace; reachable only from the station). */
  address: string;
  /** Port of the HTTP server. */
  httpPort: number;
  /** Port of the CONNECT proxy. */
  proxyPort: number;
  /** Process id of the services. */
  pid: number;
  /** `http://address:httpPort` + path. */
  url(path?: string): string;
  /** The proxy's counters. */
  stats(): Promise<ConnectProxyStats>;
  /** Kill the process at once (e.g. to test a covert side dying mid-transfer). */
  kill(signal?: NodeJS.Signals): void;
  /** Stop gracefully and wait for the exit. Idempotent. */
  stop(): Promise<void>;
}

/** Result of {@link Testbed.runNode}. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface DelayLine {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * A network-namespace testbed.
 *
 * @example
 * ```ts
 * const tb = await Testbed.up({ decoys: 1 })
 * try {
 *   const decoy = await tb.startDecoy({ protocols: 'TLSv1.2' })
 *   const covert = await tb.startCovert()
 *   const cap = await tb.capture('station', { iface: tb.interfaces.stationTap })
 *   const r = await tb.runNode('client', new URL('./my-client.ts', import.meta.url), [decoy.address])
 *   const pcap = await cap.stop()
 * } finally {
 *   await tb.down()
 * }
 * ```
 */
export class Testbed {
  /** Testbed id and namespace prefix, `td-<6 hex>`. */
  readonly id: string;
  /** Namespace names. */
  readonly names: TopologyNames;
  /** Addresses. */
  readonly addresses: TopologyAddresses;
  /** Interface names (`routerDecoy(i)` for decoy ports). */
  readonly interfaces = { ...IFACE, routerDecoy: routerDecoyIface };
  /** Private directory for certificates, nginx prefixes, captures (removed by `down()`). */
  readonly workDir: string;

  readonly #set: NetnsSet;
  readonly #options: Required<Omit<TestbedOptions, 'impairment'>>;
  #state: 'building' | 'up' | 'down' = 'building';
  #downing: Promise<void> | undefined;
  #impairment: Required<Impairment> = { delayMs: 0, lossPercent: 0, rateKbit: 0 };
  #delayLine: DelayLine | undefined;
  #ca: TestCa | undefined;
  /** Running decoy servers by `index:port` (a decoy may run several, on different ports). */
  readonly #decoys = new Map<string, Decoy>();
  readonly #covert = new Set<CovertServices>();
  readonly #captures = new Set<Capture>();
  #captureSeq = 0;
  #netSetupOptions: NetSetupOptions | undefined;
  #netSetupReport: NetSetupReport | undefined;
  #routerClientMac = '';

  private constructor(id: string, options: Required<Omit<TestbedOptions, 'impairment'>>, workDir: string) {
    this.id = id;
    this.names = topologyNames(id, options.decoys);
    this.addresses = topologyAddresses(options.decoys);
    this.#set = new NetnsSet(id);
    this.#options = options;
    this.workDir = workDir;
  }

  /**
   * Build a testbed and bring it up.
   *
   * @param options - see {@link TestbedOptions}.
   * @returns the running testbed.
   * @throws {@link TestbedError} `ERR_TESTBED_NOT_ROOT`, `ERR_TESTBED_TOOL_MISSING` or
   *   `ERR_TESTBED_COMMAND` (everything made so far is torn down first); RangeError on bad options.
   */
  static async up(options: TestbedOptions = {}): Promise<Testbed> {
    const decoys = options.decoys ?? 1;
    if (!Number.isInteger(decoys) || decoys < 1 || decoys > MAX_DECOYS) {
      throw new RangeError(`"decoys" expected an integer 1…${MAX_DECOYS}, got ${String(options.decoys)}`);
    }
    const station = options.station ?? 'kernel';
    if (!['kernel', 'tun', 'none'].includes(station)) {
      throw new RangeError(`"station" expected kernel, tun or none, got ${String(options.station)}`);
    }
    const impairment = checkImpairment(options.impairment ?? {});
    assertRoot();
    reapOrphans();
    const id = `td-${randomBytes(3).toString('hex')}`;
    const workDir = mkdtempSync(join(tmpdir(), `${id}-`));
    const tb = new Testbed(id, {
      decoys, station, handleSignals: options.handleSignals ?? true, keepWorkDir: options.keepWorkDir ?? false,
    }, workDir);
    const n = tb.names;
    try {
      writeMarker({ id, namespaces: [n.client, n.router, n.station, n.covert, ...n.decoys], workDir });
    } catch (err) {
      rmSync(workDir, { recursive: true, force: true });
      throw err;
    }
    track(tb, tb.#options.handleSignals);
    try {
      await tb.#build();
      if (impairment.delayMs + impairment.lossPercent + impairment.rateKbit > 0) await tb.setImpairment(impairment);
    } catch (err) {
      await tb.down().catch(() => undefined);
      throw err;
    }
    return tb;
  }

  async #build(): Promise<void> {
    const n = this.names;
    await Promise.all([n.client, n.router, n.station, n.covert, ...n.decoys].map((ns) => this.#set.create(ns)));
    for (const stage of topologyPlan(n, this.addresses)) await Promise.all(stage.map((s) => this.#runStep(s)));
    const [rcli] = parseLinkStats((await this.#set.ip(n.router, ['-j', 'link', 'show', 'dev', IFACE.routerClient])).stdout);
    this.#routerClientMac = rcli?.mac ?? '';
    const mode = this.#options.station;
    if (mode !== 'none') {
      this.#netSetupOptions = {
        tap: IFACE.stationTap, netns: n.station, stateDir: this.workDir,
        ...(mode === 'kernel' ? { tapMac: this.#routerClientMac } : { extraInterfaces: [IFACE.stationTun] }),
        exec: async (argv, input) => {
          const [cmd, ...args] = argv as [string, ...string[]];
          return (await this.#set.exec(n.station, cmd, args, input === undefined ? {} : { input })).stdout;
        },
      };
      this.#netSetupReport = await applyNetSetup(this.#netSetupOptions);
    }
    this.#state = 'up';
  }

  #runStep(s: PlanStep): Promise<void> {
    switch (s.kind) {
      case 'sysctl': return this.#set.sysctl(s.ns, s.settings);
      case 'ip': return this.#set.ipBatch(s.ns, s.lines);
      case 'tc': return this.#set.tcBatch(s.ns, s.lines);
    }
  }

  /**
   * The options net-setup ran with in the station namespace (undefined with station mode
   * `none`); pass them to `undoNetSetup`/`applyNetSetup` to change the station's plumbing.
   * Their `exec` refuses to work once the testbed is down.
   */
  get netSetupOptions(): NetSetupOptions | undefined {
    return this.#netSetupOptions;
  }

  /** What net-setup did at `up()`. */
  get netSetupReport(): NetSetupReport | undefined {
    return this.#netSetupReport;
  }

  /** MAC of the router's client port (the tap MAC of the kernel path). */
  get routerClientMac(): string {
    return this.#routerClientMac;
  }

  /** Whether the testbed is up (built and not yet torn down). */
  get isUp(): boolean {
    return this.#state === 'up';
  }

  /** Current impairment of forwarded traffic. */
  get impairment(): Required<Impairment> {
    return { ...this.#impairment };
  }

  #assertUp(): void {
    if (this.#state !== 'up') {
      throw new TestbedError('ERR_TESTBED_STATE', `testbed ${this.id} is ${this.#state === 'down' ? 'torn down' : 'not up yet'}`,
        { context: { id: this.id, state: this.#state } });
    }
  }

  /**
   * The namespace name for a role (`client`, `router`, `station`, `covert`, `decoy` = `decoy0`,
   * `decoy<i>`), or a namespace name of this testbed.
   *
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS` for anything else.
   */
  netns(where: Where): string {
    const n = this.names;
    const m = /^decoy(\d*)$/.exec(where);
    const name = where === 'client' ? n.client : where === 'router' ? n.router : where === 'station' ? n.station
      : where === 'covert' ? n.covert : m !== null ? n.decoys[Number(m[1] || '0')] : where;
    if (name === undefined) {
      throw new TestbedError('ERR_TESTBED_FOREIGN_NETNS', `testbed ${this.id}: no such decoy: ${where}`, { context: { where } });
    }
    this.#set.assertOwned(name);
    return name;
  }

  /**
   * Run a program inside a namespace to completion.
   *
   * @param where - role or namespace of this testbed.
   * @param cmd - program.
   * @param args - arguments.
   * @param options - stdin, env, timeout.
   * @returns stdout and stderr.
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS`, `ERR_TESTBED_STATE`, `ERR_TESTBED_COMMAND`.
   */
  async exec(where: Where, cmd: string, args: readonly string[] = [], options?: RunOptions): Promise<ExecResult> {
    this.#assertUp();
    const ns = this.netns(where);
    return this.#set.exec(ns, cmd, args, options);
  }

  /**
   * Start a program inside a namespace. It is killed by `down()`. Stdio is piped by default:
   * read stdout and stderr (or pass `stdio: 'ignore'`), or a chatty program blocks.
   *
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS`, `ERR_TESTBED_STATE`.
   */
  spawn(where: Where, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    this.#assertUp();
    const ns = this.netns(where);
    return this.#set.spawn(ns, cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  }

  /**
   * Start a Node script inside a namespace (a `.ts` entry runs under this process's loader).
   *
   * @param where - role or namespace.
   * @param entry - path or `file:` URL of the script.
   * @param args - its arguments.
   * @param options - spawn options.
   * @throws {@link TestbedError} as {@link Testbed.spawn}.
   */
  spawnNode(where: Where, entry: string | URL, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const [node, ...rest] = nodeArgv(entry, args) as [string, ...string[]];
    return this.spawn(where, node, rest, options);
  }

  /**
   * Run a Node script inside a namespace to completion and collect its output.
   *
   * @param where - role or namespace.
   * @param entry - path or `file:` URL of the script.
   * @param args - its arguments.
   * @param options - `input` for stdin, `env`, `timeoutMs` (default 60000).
   * @returns exit code or signal, stdout and stderr (a non-zero exit is not an error here).
   * @throws {@link TestbedError} `ERR_TESTBED_CHILD` on a timeout (the script is killed).
   */
  async runNode(where: Where, entry: string | URL, args: readonly string[] = [],
    options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
    const child = this.spawnNode(where, entry, args, options.env === undefined ? {} : { env: { ...process.env, ...options.env } });
    return await new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.stdin?.end(options.input ?? '');
      const timeoutMs = options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new TestbedError('ERR_TESTBED_CHILD', `testbed: ${String(entry)} did not finish in ${timeoutMs} ms`,
          { context: { stderr: stderr.slice(-2000) } }));
      }, timeoutMs);
      child.once('error', (err) => { clearTimeout(timer); reject(new TestbedError('ERR_TESTBED_CHILD', err.message, { cause: err })); });
      child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    });
  }

  #pki(): TestCa {
    this.#ca ??= TestCa.create(join(this.workDir, 'pki'), `tapdance testbed ${this.id} CA`);
    return this.#ca;
  }

  /**
   * Start nginx as decoy `index` (TLS on 443 and plain HTTP on 80 by default) with a
   * certificate for `decoy<i>.test` and the decoy's address from the testbed's CA. Timeouts
   * not given keep nginx's defaults, as on a real decoy. A decoy can run several servers with
   * different settings on different ports (give the second one `httpPort: 0`).
   *
   * @param options - see {@link DecoyOptions}.
   * @returns the running decoy.
   * @throws {@link TestbedError} when nginx fails to start; RangeError for a bad index.
   */
  async startDecoy(options: DecoyOptions = {}): Promise<Decoy> {
    this.#assertUp();
    const index = options.index ?? 0;
    const address = this.addresses.decoys[index];
    if (address === undefined) throw new RangeError(`"index" expected 0…${this.addresses.decoys.length - 1}, got ${index}`);
    const port = options.port ?? 443;
    const httpPort = options.httpPort ?? 80;
    const key = `${index}:${port}`;
    if (this.#decoys.has(key)) {
      throw new TestbedError('ERR_TESTBED_STATE', `testbed ${this.id}: decoy ${index} already serves port ${port}`, { context: { index, port } });
    }
    const servername = `decoy${index}.test`;
    const ca = this.#pki();
    const leaf = ca.issue({ commonName: servername, ipAddresses: [address], keyKind: options.keyKind ?? 'rsa' });
    let nginx: NginxServer;
    try {
      nginx = await startNginx({
        prefix: join(this.workDir, `nginx-decoy${index}-${port}`), netns: this.netns(`decoy${index}`),
        listen: [
          {
            address, port, ssl: true, ...(options.http2 ? { http2: true } : {}),
            ...(options.rcvbuf === undefined ? {} : { rcvbuf: options.rcvbuf }),
          },
          ...(httpPort === 0 ? [] : [{ address, port: httpPort, ssl: false }]),
        ],
        certPath: leaf.certPath, keyPath: leaf.keyPath,
        ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
        ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
        ...(options.ecdhCurve === undefined ? {} : { ecdhCurve: options.ecdhCurve }),
        ...(options.clientHeaderTimeout === undefined ? {} : { clientHeaderTimeout: options.clientHeaderTimeout }),
        ...(options.keepaliveTimeout === undefined ? {} : { keepaliveTimeout: options.keepaliveTimeout }),
        ...(options.files === undefined ? {} : { files: options.files }),
      });
    } catch (err) {
      throw err instanceof TestbedError ? err
        : new TestbedError('ERR_TESTBED_CHILD', `testbed: decoy ${index}: ${(err as Error).message}`, { cause: err });
    }
    const decoy: Decoy = { index, address, port, httpPort, servername, ca: ca.root.cert, caPath: ca.root.certPath, nginx };
    this.#decoys.set(key, decoy);
    return decoy;
  }

  /**
   * Start the covert HTTP server and CONNECT proxy in the covert namespace (default ports 80
   * and 3128 on the covert address). Only the station's namespace can reach them.
   *
   * @param options - ports.
   * @returns the running services.
   * @throws {@link TestbedError} `ERR_TESTBED_CHILD` when they do not start.
   */
  async startCovert(options: { httpPort?: number; proxyPort?: number } = {}): Promise<CovertServices> {
    this.#assertUp();
    const address = this.addresses.covert;
    const child = this.spawnNode('covert', siblingEntry('covert-main'), [
      '--host', address, '--http-port', String(options.httpPort ?? 80), '--proxy-port', String(options.proxyPort ?? 3128),
    ]);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const pending: Array<(s: ConnectProxyStats) => void> = [];
    const ready = await waitReady(child, 'covert services', 30_000, (msg) => {
      if (msg.event === 'stats') pending.shift()?.(msg.proxy as ConnectProxyStats);
    });
    let stopping: Promise<void> | undefined;
    const svc: CovertServices = {
      address, httpPort: Number(ready.http), proxyPort: Number(ready.proxy), pid: child.pid ?? -1,
      url: (path = '/') => `http://${address}:${Number(ready.http)}${path}`,
      stats: () => new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          return reject(new TestbedError('ERR_TESTBED_CHILD', 'testbed: covert services are not running'));
        }
        pending.push(resolve);
        child.stdin?.write('stats\n');
      }),
      kill: (signal = 'SIGKILL') => { child.kill(signal); },
      stop: () => {
        stopping ??= (async () => {
          child.stdin?.end();
          const t = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
          this.#covert.delete(svc);
        })();
        return stopping;
      },
    };
    this.#covert.add(svc);
    return svc;
  }

  /**
   * Capture packets with tcpdump on an interface of a namespace, into a pcap file (default:
   * in the work directory). Resolves once tcpdump listens.
   *
   * @param where - role or namespace.
   * @param options - interface, filter, file path.
   * @returns the running capture; `stop()` returns the parsed file.
   * @throws {@link TestbedError} `ERR_TESTBED_CHILD` when tcpdump does not start.
   */
  async capture(where: Where, options: Omit<CaptureOptions, 'path'> & { path?: string }): Promise<Capture> {
    this.#assertUp();
    const ns = this.netns(where);
    const path = options.path ?? join(this.workDir, 'pcap', `${ns}-${options.iface}-${++this.#captureSeq}.pcap`);
    mkdirSync(join(path, '..'), { recursive: true });
    const cap = await startCapture((cmd, args) => this.#set.spawn(ns, cmd, args), { ...options, path });
    this.#captures.add(cap);
    return cap;
  }

  /**
   * Interface counters and state in a namespace.
   *
   * @param where - role or namespace.
   * @param iface - one interface, or all when omitted.
   * @throws {@link TestbedError} as {@link Testbed.exec}.
   */
  async linkStats(where: Where, iface?: string): Promise<LinkStats[]> {
    this.#assertUp();
    const ns = this.netns(where);
    const { stdout } = await this.#set.ip(ns, ['-s', '-j', 'link', 'show', ...(iface === undefined ? [] : ['dev', iface])]);
    return parseLinkStats(stdout);
  }

  /**
   * TCP sockets in a namespace with their internals (`ss -Htnio state all [filter]`).
   *
   * @param where - role or namespace.
   * @param filter - ss filter words, e.g. `['dport', '=', ':443']`.
   * @throws {@link TestbedError} as {@link Testbed.exec}.
   */
  async tcpSockets(where: Where, filter: readonly string[] = []): Promise<TcpSocketInfo[]> {
    const { stdout } = await this.exec(where, 'ss', ['-Htnio', 'state', 'all', ...filter]);
    return parseSsTcp(stdout);
  }

  /**
   * Kernel SNMP counters of a namespace (absolute values; a private history file per
   * namespace, since nstat's default one is shared across namespaces).
   *
   * @param where - role or namespace.
   * @throws {@link TestbedError} as {@link Testbed.exec}.
   */
  async nstat(where: Where): Promise<Record<string, number>> {
    const ns = this.netns(where);
    const { stdout } = await this.exec(where, 'nstat', ['-asz', '--json'], { env: { NSTAT_HISTORY: join(this.workDir, `nstat-${ns}`) } });
    return parseNstat(stdout);
  }

  /**
   * Change the impairment of forwarded traffic at run time; fields left out are turned off.
   *
   * @param impairment - delay, loss, rate (see {@link Impairment}).
   * @throws RangeError on bad values; {@link TestbedError} when a command fails.
   */
  async setImpairment(impairment: Impairment): Promise<void> {
    const next = checkImpairment(impairment);
    this.#assertUp();
    const rtr = this.names.router;
    const ports = [IFACE.routerClient, ...this.names.decoys.map((_, i) => routerDecoyIface(i))];
    const prev = this.#impairment;
    if (next.rateKbit !== prev.rateKbit) await this.#set.tcBatch(rtr, rateLines(ports, next.rateKbit, prev.rateKbit > 0));
    if (next.lossPercent !== prev.lossPercent) {
      const script = lossScript(ports, next.lossPercent, prev.lossPercent > 0);
      if (script !== undefined) await this.#set.exec(rtr, 'nft', ['-f', '-'], { input: script });
    }
    if (next.delayMs !== prev.delayMs) await this.#setDelay(next.delayMs, [...ports, IFACE.routerInject]);
    this.#impairment = next;
  }

  async #setDelay(delayMs: number, inputs: string[]): Promise<void> {
    const rtr = this.names.router;
    if (delayMs > 0 && this.#delayLine === undefined) {
      const [node, ...rest] = nodeArgv(siblingEntry('delay-line-main'), ['--delay-ms', String(delayMs)]) as [string, ...string[]];
      const [perl, ...args] = tunOpenerArgv(IFACE.delayTun, [node, ...rest]) as [string, ...string[]];
      const child = this.#set.spawn(rtr, perl, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await waitReady(child, 'delay line', 30_000);
      this.#delayLine = { child, exited };
      await this.#set.ipBatch(rtr, delayRouteLines(inputs, IFACE.delayTun, true));
    } else if (delayMs > 0 && this.#delayLine !== undefined) {
      this.#delayLine.child.stdin?.write(JSON.stringify({ delayMs }) + '\n');
    } else if (delayMs === 0 && this.#delayLine !== undefined) {
      await this.#set.ipBatch(rtr, delayRouteLines(inputs, IFACE.delayTun, false));
      await this.#stopDelayLine();
    }
  }

  async #stopDelayLine(): Promise<void> {
    const line = this.#delayLine;
    if (line === undefined) return;
    this.#delayLine = undefined;
    line.child.stdin?.end();
    const t = setTimeout(() => line.child.kill('SIGKILL'), 2000);
    await line.exited;
    clearTimeout(t);
  }

  /**
   * Tear everything down: services, captures, processes, namespaces, work directory.
   * Idempotent; safe after a failed `up()`.
   *
   * @throws {@link TestbedError} `ERR_TESTBED_COMMAND` when a namespace could not be deleted
   *   (after trying all of them).
   */
  down(): Promise<void> {
    this.#downing ??= (async () => {
      this.#state = 'down';
      const quiet = (p: Promise<unknown>): Promise<unknown> => p.catch(() => undefined);
      await Promise.all([
        quiet(this.#stopDelayLine()),
        ...[...this.#covert].map((c) => quiet(c.stop())),
        ...[...this.#decoys.values()].map((d) => quiet(d.nginx.stop())),
        ...[...this.#captures].map((c) => quiet(c.stop())),
      ]);
      const failed = await this.#set.destroy();
      untrack(this);
      if (!this.#options.keepWorkDir) rmSync(this.workDir, { recursive: true, force: true });
      removeMarker(this.id);
      if (failed.length > 0) {
        throw new TestbedError('ERR_TESTBED_COMMAND', `testbed ${this.id}: could not delete ${failed.join(', ')}`,
          { context: { namespaces: failed } });
      }
    })();
    return this.#downing;
  }

  /** Synchronous teardown for exit and signal handlers (see `teardown.ts`). Never throws. */
  destroySync(): void {
    this.#state = 'down';
    this.#set.destroySync();
    if (!this.#options.keepWorkDir) {
      try { rmSync(this.workDir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
    removeMarker(this.id);
  }
}

/**
 * A reusable harness that runs Debian's `tor` for transport tests: a bridge relay as destination
 * and a client tor that launches a pluggable transport (ours) as a managed proxy and reaches the
 * bridge through it. Tests then read tor's own log for the link handshake.
 *
 * Network isolation: by default each process runs in a private network namespace that has only
 * loopback (created here, removed by `stop()`), so tor cannot reach anything else even if it
 * tries. Callers that need a richer topology (the TapDance testbed) pass existing namespace
 * names. Independently of that, both tors get a fake directory authority on loopback and no
 * default fallback directories, so even on the host they never contact the real Tor network;
 * the client only ever talks to its bridge. tor will not bootstrap fully (there is no
 * consensus), which these tests do not need.
 *
 * Needs root (namespaces) and the `tor` and `iproute2` packages.
 *
 * @example
 * ```ts
 * const bed = await startTorTestbed({ dir, ptCommand: [...PT_FIXTURE, '--log-level', 'info'],
 *   bridgeArgs: (b) => `covert=127.0.0.1:${b.orPort}` })
 * await bed.client.waitForLog(/Bootstrapped 15% \(handshake_done\)/)
 * await bed.stop()
 * ```
 *
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const TOR = '/usr/bin/tor';
// A directory authority that does not exist, on a loopback port nobody listens on: replaces
// the real authorities (and with them the default fallback directories).
const FAKE_AUTHORITY =
  'DirAuthority tdptfake orport=9 no-v2 v3ident=0000000000000000000000000000000000000000 127.0.0.1:9 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000';

/** A network namespace that has only loopback, owned by whoever created it. */
export interface PrivateNetns {
  /** Name for `ip netns exec`. */
  name: string;
  /** Delete it (after its processes are gone). */
  remove(): Promise<void>;
}

/**
 * Create a network namespace with loopback up and nothing else.
 *
 * @param prefix - name prefix
 */
export async function createPrivateNetns(prefix = 'tdpt'): Promise<PrivateNetns> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    remove: async () => {
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
    },
  };
}

/** A running tor. */
export interface TorProcess {
  /** Its DataDirectory. */
  dataDir: string;
  /** Its log file. */
  logPath: string;
  /** The tor process. */
  child: ChildProcess;
  /** The log so far. */
  log(): string;
  /**
   * Wait for a log line matching `re`.
   *
   * @returns the line
   * @throws after `timeoutMs` (default 60000) or when tor exits first, quoting the log tail
   */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** A running bridge relay. */
export interface BridgeRelay extends TorProcess {
  /** Address of its ORPort. */
  address: string;
  /** Its ORPort. */
  orPort: number;
  /** RSA identity fingerprint, 40 hex digits. */
  fingerprint: string;
  /** ExtORPort `host:port`, when enabled. */
  extOrPort: string | undefined;
  /** ExtORPort auth cookie file, when enabled. */
  extOrPortCookie: string | undefined;
}

/** Options of {@link startBridgeRelay}. */
export interface BridgeRelayOptions {
  /** Directory for data and log (created). */
  dir: string;
  /** Network namespace to run in; omitted: the host. */
  netns?: string | undefined;
  /** ORPort address. Default `127.0.0.1`. */
  address?: string;
  /** Also open an ExtORPort on loopback (with cookie authentication). */
  extOrPort?: boolean;
  /** Extra torrc lines. */
  extraTorrc?: string[];
}

function startTor(dataDir: string, torrc: string[], netns: string | undefined, env: Record<string, string>): TorProcess {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logPath = join(dataDir, 'tor.log');
  const torrcPath = join(dataDir, 'torrc');
  writeFileSync(torrcPath, [...torrc, FAKE_AUTHORITY, 'UseDefaultFallbackDirs 0', 'RunAsDaemon 0', 'SafeLogging 0', 'AvoidDiskWrites 1', ''].join('\n'));
  const argv = ['-f', torrcPath, '--defaults-torrc', '/dev/null'];
  const child = netns === undefined
    ? spawn(TOR, argv, { stdio: ['ignore', 'ignore', 'pipe'], env })
    : spawn('ip', ['netns', 'exec', netns, TOR, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  return {
    dataDir,
    logPath,
    child,
    log,
    async waitForLog(re: RegExp, timeoutMs = 60_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = log().split('\n').find((l) => re.test(l));
        if (hit !== undefined) return hit;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`tor exited before logging ${re}\n${log().slice(-3000)}\nstderr: ${stderr}`);
        }
        if (Date.now() > deadline) throw new Error(`tor did not log ${re} within ${timeoutMs} ms\n${log().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Start a bridge relay (no exit, descriptor not published, reachability assumed).
 *
 * @param options - where and how
 * @returns the relay once its ORPort listens and its fingerprint is known
 */
export async function startBridgeRelay(options: BridgeRelayOptions): Promise<BridgeRelay> {
  const address = options.address ?? '127.0.0.1';
  const dataDir = join(options.dir, 'bridge');
  const torrc = [
    `DataDirectory ${dataDir}`,
    'SocksPort 0',
    `ORPort ${address.includes(':') ? `[${address}]` : address}:auto`,
    'BridgeRelay 1',
    'AssumeReachable 1',
    'PublishServerDescriptor 0',
    'ExitRelay 0',
    'ExitPolicy reject *:*',
    'Nickname tdptbridge',
    // Stops tor guessing its address from the host name (a DNS lookup).
    `Address ${address}`,
    'ContactInfo tapdance-pt test bridge',
    `Log info file ${join(dataDir, 'tor.log')}`,
    ...(options.extOrPort === true ? ['ExtORPort 127.0.0.1:auto', `ExtORPortCookieAuthFile ${join(dataDir, 'extended_orport_auth_cookie')}`] : []),
    ...(options.extraTorrc ?? []),
  ];
  const tor = startTor(dataDir, torrc, options.netns, { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  try {
    const orLine = await tor.waitForLog(/Opened OR listener connection \(ready\) on /);
    const orPort = Number(/:([0-9]+)$/.exec(orLine.trim())![1]);
    let extOrPort: string | undefined;
    if (options.extOrPort === true) {
      const extLine = await tor.waitForLog(/Opened Extended OR listener connection \(ready\) on /);
      extOrPort = /on (\S+)$/.exec(extLine.trim())![1];
    }
    const fpLine = await tor.waitForLog(/Your Tor server's identity key fingerprint is /);
    const fingerprint = /([0-9A-F]{40})/.exec(fpLine)![1]!;
    return {
      ...tor,
      address,
      orPort,
      fingerprint,
      extOrPort,
      extOrPortCookie: options.extOrPort === true ? join(dataDir, 'extended_orport_auth_cookie') : undefined,
    };
  } catch (err) {
    await tor.stop();
    throw err;
  }
}

/** A running client tor. */
export interface TorClient extends TorProcess {
  /** PID of the managed proxy tor spawned, once it has (from tor's log). */
  transportPid(): Promise<number>;
}

/** Options of {@link startTorClient}. */
export interface TorClientOptions {
  /** Directory for data and log (created). */
  dir: string;
  /** Network namespace to run in; omitted: the host. */
  netns?: string | undefined;
  /** Transport name. Default `tapdance`. */
  transport?: string;
  /** argv of the managed proxy (absolute paths; no spaces inside an argument). */
  ptCommand: readonly string[];
  /** Bridge lines without the leading `Bridge` (e.g. `tapdance 127.0.0.1:9001 FP k=v`). */
  bridges: string[];
  /** Environment for tor, which its managed proxies inherit (besides the TOR_PT_* variables). */
  env?: Record<string, string>;
  /** Extra torrc lines. */
  extraTorrc?: string[];
}

/**
 * Start a client tor that uses only the given bridges through the given transport.
 *
 * @param options - where, which transport and which bridges
 * @returns the client (already starting its managed proxy)
 */
export async function startTorClient(options: TorClientOptions): Promise<TorClient> {
  const dataDir = join(options.dir, 'client');
  const transport = options.transport ?? 'tapdance';
  for (const arg of options.ptCommand) if (/\s/.test(arg)) throw new Error(`ptCommand argument with white space: ${arg}`);
  const torrc = [
    `DataDirectory ${dataDir}`,
    'SocksPort 0',
    'UseBridges 1',
    'ClientUseIPv6 0',
    `ClientTransportPlugin ${transport} exec ${options.ptCommand.join(' ')}`,
    ...options.bridges.map((b) => `Bridge ${b}`),
    `Log info file ${join(dataDir, 'tor.log')}`,
    ...(options.extraTorrc ?? []),
  ];
  const tor = startTor(dataDir, torrc, options.netns, { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env });
  return {
    ...tor,
    async transportPid(): Promise<number> {
      const line = await tor.waitForLog(/Managed proxy at '.*' has spawned with PID '[0-9]+'/);
      return Number(/PID '([0-9]+)'/.exec(line)![1]);
    },
  };
}

/**
 * Format a bridge line for `relay` with transport arguments.
 *
 * @param transport - transport name
 * @param relay - the bridge
 * @param args - `k=v` items (no white space inside)
 */
export function bridgeLine(transport: string, relay: Pick<BridgeRelay, 'address' | 'orPort' | 'fingerprint'>, args: string[] = []): string {
  const host = relay.address.includes(':') ? `[${relay.address}]` : relay.address;
  return [transport, `${host}:${relay.orPort}`, relay.fingerprint, ...args].join(' ');
}

/** A bridge relay and a client tor using it through a transport. */
export interface TorTestbed {
  bridge: BridgeRelay;
  client: TorClient;
  /** The private namespace, when the testbed made one. */
  netns: PrivateNetns | undefined;
  /** Stop both tors and remove the private namespace. */
  stop(): Promise<void>;
}

/** Options of {@link startTorTestbed}. */
export interface TorTestbedOptions {
  /** Directory for both data directories (created). */
  dir: string;
  /** argv of the managed proxy. */
  ptCommand: readonly string[];
  /** Transport name. Default `tapdance`. */
  transport?: string;
  /** Transport arguments for the bridge line, given the running bridge. */
  bridgeArgs?: (bridge: BridgeRelay) => string[];
  /** More bridge lines (without `Bridge`) for the client, given the running bridge. */
  extraBridges?: (bridge: BridgeRelay) => string[];
  /** Environment for the client tor (inherited by the transport). */
  env?: Record<string, string>;
  /** `private` (default): a fresh loopback-only namespace for both; `host`: no namespace. */
  isolation?: 'private' | 'host';
  /** Bridge relay options. */
  bridge?: Omit<BridgeRelayOptions, 'dir' | 'netns'>;
}

/**
 * Start a bridge relay and a client tor reaching it through the transport.
 *
 * @param options - transport command, bridge arguments, isolation
 * @returns the running pair
 */
export async function startTorTestbed(options: TorTestbedOptions): Promise<TorTestbed> {
  const netns = options.isolation === 'host' ? undefined : await createPrivateNetns();
  const transport = options.transport ?? 'tapdance';
  let bridge: BridgeRelay | undefined;
  try {
    bridge = await startBridgeRelay({ ...options.bridge, dir: options.dir, netns: netns?.name });
    const relay = bridge;
    const client = await startTorClient({
      dir: options.dir,
      netns: netns?.name,
      transport,
      ptCommand: options.ptCommand,
      bridges: [bridgeLine(transport, relay, options.bridgeArgs?.(relay) ?? []), ...(options.extraBridges?.(relay) ?? [])],
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    return {
      bridge: relay,
      client,
      netns,
      async stop() {
        await client.stop();
        await relay.stop();
        await netns?.remove();
      },
    };
  } catch (err) {
    await bridge?.stop();
    await netns?.remove();
    throw err;
  }
}

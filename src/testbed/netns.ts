/**
 * The set of network namespaces one testbed owns, and the only door through which the testbed
 * touches the network: every command it builds targets one of these namespaces
 * (`ip -n NS …`, `ip netns exec NS …`), and asking for any other namespace throws
 * `ERR_TESTBED_FOREIGN_NETNS`. The host namespace is never a target; the only host-level
 * commands are `ip netns add|del|pids` on names this set created.
 *
 * It also tracks the processes it spawned, and can tear everything down asynchronously
 * (graceful) or synchronously (from an exit or signal handler).
 *
 * @module
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { TestbedError } from './errors.js';
import { run, runSync, toolMissing, type ExecResult, type RunOptions } from './exec.js';

/** Name pattern of a namespace the testbed may create: `td-<6 hex>-<role>`. */
const NAME_RE = /^td-[0-9a-f]{6}-[a-z][a-z0-9]{0,11}$/;

/**
 * Network namespaces created by one testbed, and the processes started inside them.
 *
 * @example
 * ```ts
 * const set = new NetnsSet('td-1a2b3c')
 * await set.create('td-1a2b3c-cli')
 * await set.ip('td-1a2b3c-cli', ['link', 'set', 'lo', 'up'])
 * await set.destroy()
 * ```
 */
export class NetnsSet {
  /** Name prefix shared by every namespace of the set, e.g. `td-1a2b3c`. */
  readonly prefix: string;
  readonly #owned = new Set<string>();
  readonly #children = new Set<ChildProcess>();

  /**
   * @param prefix - `td-` and 6 lowercase hex digits.
   * @throws RangeError on a malformed prefix.
   */
  constructor(prefix: string) {
    if (!/^td-[0-9a-f]{6}$/.test(prefix)) throw new RangeError(`"prefix" expected td-<6 hex>, got ${JSON.stringify(prefix)}`);
    this.prefix = prefix;
  }

  /** Names created so far, in creation order. */
  get names(): string[] {
    return [...this.#owned];
  }

  /** Whether `name` is a namespace of this set. */
  has(name: string): boolean {
    return this.#owned.has(name);
  }

  /**
   * Throw unless `name` is a namespace this set created.
   *
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS`.
   */
  assertOwned(name: string): void {
    if (!this.#owned.has(name)) {
      throw new TestbedError('ERR_TESTBED_FOREIGN_NETNS',
        `testbed ${this.prefix}: refusing to touch network namespace ${JSON.stringify(name)}, which it did not create`,
        { context: { netns: name, owned: this.names } });
    }
  }

  /**
   * Create a namespace. Fails if one of that name already exists: the set never adopts a
   * namespace someone else made.
   *
   * @param name - `<prefix>-<role>`.
   * @throws RangeError when the name does not carry this set's prefix; {@link TestbedError} when `ip` fails.
   */
  async create(name: string): Promise<void> {
    if (!name.startsWith(`${this.prefix}-`) || !NAME_RE.test(name)) {
      throw new RangeError(`"name" expected ${this.prefix}-<role>, got ${JSON.stringify(name)}`);
    }
    await run(['ip', 'netns', 'add', name]);
    this.#owned.add(name);
  }

  /**
   * Run `ip -n NS ARGS…`.
   *
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS` or `ERR_TESTBED_COMMAND`.
   */
  async ip(ns: string, args: readonly string[], options?: RunOptions): Promise<ExecResult> {
    this.assertOwned(ns);
    return run(['ip', '-n', ns, ...args], options);
  }

  /**
   * Run many `ip` commands in one process (`ip -n NS -batch -`), one command per line.
   *
   * @throws {@link TestbedError} as {@link NetnsSet.ip}; the message names the failing line.
   */
  async ipBatch(ns: string, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    this.assertOwned(ns);
    await run(['ip', '-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
  }

  /**
   * Run many `tc` commands in one process (`tc -n NS -batch -`).
   *
   * @throws {@link TestbedError} as {@link NetnsSet.ip}.
   */
  async tcBatch(ns: string, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    this.assertOwned(ns);
    await run(['tc', '-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
  }

  /**
   * Run a program inside the namespace (`ip netns exec NS CMD ARGS…`) to completion.
   *
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS`, `ERR_TESTBED_TOOL_MISSING` or `ERR_TESTBED_COMMAND`.
   */
  async exec(ns: string, cmd: string, args: readonly string[] = [], options?: RunOptions): Promise<ExecResult> {
    this.assertOwned(ns);
    try {
      return await run(['ip', 'netns', 'exec', ns, cmd, ...args], options);
    } catch (err) {
      throw missingInNetns(err, cmd);
    }
  }

  /**
   * Set sysctls inside the namespace in one `sysctl -w` call. Keys may use `/` separators
   * (needed when an interface name contains a dot).
   *
   * @throws {@link TestbedError} as {@link NetnsSet.exec}.
   */
  async sysctl(ns: string, settings: Readonly<Record<string, string | number>>): Promise<void> {
    const pairs = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    if (pairs.length > 0) await this.exec(ns, 'sysctl', ['-qw', ...pairs]);
  }

  /**
   * Start a long-running program inside the namespace. The child is tracked and killed by
   * {@link NetnsSet.destroy}; its `pid` is the program's own (`ip netns exec` execs it).
   *
   * @throws {@link TestbedError} `ERR_TESTBED_FOREIGN_NETNS`.
   */
  spawn(ns: string, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    this.assertOwned(ns);
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    // A failed spawn would otherwise be an unhandled 'error' event.
    child.once('error', () => this.#children.delete(child));
    return child;
  }

  /**
   * Process ids living in the namespace (`ip netns pids`).
   *
   * @throws {@link TestbedError} as {@link NetnsSet.exec}.
   */
  async pids(ns: string): Promise<number[]> {
    this.assertOwned(ns);
    const { stdout } = await run(['ip', 'netns', 'pids', ns]);
    return parsePids(stdout);
  }

  /**
   * Tear down: SIGTERM every process in the namespaces, SIGKILL what is left after
   * `graceMs`, then delete the namespaces (their veth links vanish with them). Idempotent;
   * errors on one namespace do not stop the others.
   *
   * @returns the namespaces that could not be deleted (empty on success).
   */
  async destroy(graceMs = 1000): Promise<string[]> {
    const names = this.names;
    for (const c of this.#children) c.kill('SIGTERM');
    const pidsOf = async (ns: string): Promise<number[]> => {
      try { return await this.pids(ns); } catch { return []; }
    };
    let alive = (await Promise.all(names.map(pidsOf))).flat();
    signalAll(alive, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      alive = (await Promise.all(names.map(pidsOf))).flat();
    }
    signalAll(alive, 'SIGKILL');
    const failed: string[] = [];
    for (const ns of names) {
      try {
        await run(['ip', 'netns', 'del', ns]);
        this.#owned.delete(ns);
      } catch {
        if (netnsExists(ns)) failed.push(ns);
        else this.#owned.delete(ns);
      }
    }
    return failed;
  }

  /**
   * Synchronous teardown for exit and signal handlers: SIGKILL every process in the
   * namespaces, then delete them. Never throws.
   */
  destroySync(): void {
    for (const c of this.#children) c.kill('SIGKILL');
    destroyNamespacesSync(this.names);
    for (const ns of this.names) if (!netnsExists(ns)) this.#owned.delete(ns);
  }
}

/**
 * SIGKILL the processes in the given namespaces and delete them, synchronously. Never throws.
 * Only for names that carry a testbed prefix (`td-<6 hex>-…`); others are skipped.
 *
 * @param names - namespace names.
 */
export function destroyNamespacesSync(names: readonly string[]): void {
  for (const ns of names) {
    if (!NAME_RE.test(ns) || !netnsExists(ns)) continue;
    try { signalAll(parsePids(runSync(['ip', 'netns', 'pids', ns])), 'SIGKILL'); } catch { /* gone already */ }
    try { runSync(['ip', 'netns', 'del', ns]); } catch { /* reported by the caller's check */ }
  }
}

/**
 * Whether a named network namespace exists (its bind mount under /run/netns).
 *
 * @param name - namespace name.
 */
export function netnsExists(name: string): boolean {
  try {
    return runSync(['ip', 'netns', 'list']).split('\n').some((l) => l.split(' ')[0] === name);
  } catch {
    return false;
  }
}

function parsePids(text: string): number[] {
  return text.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number).filter((p) => p !== process.pid);
}

function signalAll(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, sig); } catch { /* exited meanwhile */ }
  }
}

/** `ip netns exec` reports a missing program as `exec of "X" failed`; make it the typed error. */
function missingInNetns(err: unknown, cmd: string): unknown {
  const stderr = String((err as { context?: { stderr?: unknown } }).context?.stderr ?? '');
  return /exec of ".*" failed: No such file or directory/.test(stderr) ? toolMissing(cmd) : err;
}

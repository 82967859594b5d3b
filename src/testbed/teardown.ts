/**
 * Guaranteed teardown of testbeds: a process-wide registry of live ones, torn down
 * synchronously on process exit (normal end, `process.exit()`, an uncaught exception or an
 * unhandled rejection all pass through the `exit` event) and on SIGINT, SIGTERM and SIGHUP,
 * after which the signal is raised again so that the process still ends the way it would have.
 *
 * A process killed with SIGKILL cannot clean up. For that case every testbed writes a marker
 * file (`/run/tapdance-testbed/<id>.json`: owner pid, its start time, namespace names, work
 * directory) before it creates anything; {@link reapOrphans} deletes the namespaces of markers
 * whose owner is gone, and `Testbed.up()` calls it first.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { destroyNamespacesSync } from './netns.js';

/** Something the registry can tear down synchronously. */
export interface Teardownable {
  /** Kill its processes and delete its namespaces, synchronously; must not throw. */
  destroySync(): void;
}

/** Contents of a marker file. */
export interface Marker {
  /** Testbed id (`td-<6 hex>`). */
  id: string;
  /** Owner process id. */
  pid: number;
  /** Owner's start time in clock ticks since boot (`/proc/PID/stat` field 22), to detect pid reuse. */
  startTime: string;
  /** Namespace names the testbed creates. */
  namespaces: string[];
  /** The testbed's private work directory (removed with it). */
  workDir: string;
}

/** Directory of marker files. */
export const MARKER_DIR = '/run/tapdance-testbed';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const live = new Set<Teardownable>();
let exitInstalled = false;
let signalsInstalled = false;

function destroyAllSync(): void {
  for (const t of [...live]) {
    live.delete(t);
    try { t.destroySync(); } catch { /* keep going: the others still need it */ }
  }
}

function onExit(): void {
  destroyAllSync();
}

function onSignal(sig: NodeJS.Signals): void {
  destroyAllSync();
  uninstall();
  // Raise it again without our listener: with no other listener Node's default ends the
  // process; a listener such as signal-exit (tap) sees itself alone and does the same.
  process.kill(process.pid, sig);
}

function uninstall(): void {
  if (exitInstalled) process.off('exit', onExit);
  if (signalsInstalled) for (const s of SIGNALS) process.off(s, onSignal);
  exitInstalled = false;
  signalsInstalled = false;
}

/**
 * Register a live testbed; handlers are installed while at least one is registered.
 *
 * @param t - the testbed (or anything that tears down synchronously).
 * @param handleSignals - also tear down on SIGINT/SIGTERM/SIGHUP (default true). With false,
 *   only the `exit` event is watched and the application owns its signals (it must call
 *   `down()` or exit).
 */
export function track(t: Teardownable, handleSignals = true): void {
  live.add(t);
  if (!exitInstalled) {
    process.on('exit', onExit);
    exitInstalled = true;
  }
  if (handleSignals && !signalsInstalled) {
    for (const s of SIGNALS) process.on(s, onSignal);
    signalsInstalled = true;
  }
}

/**
 * Forget a testbed that has been torn down; handlers go when the last one does.
 *
 * @param t - a testbed passed to {@link track}.
 */
export function untrack(t: Teardownable): void {
  live.delete(t);
  if (live.size === 0) uninstall();
}

/**
 * Start time of a process (field 22 of `/proc/PID/stat`), or undefined when it does not exist.
 *
 * @param pid - process id.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Write the marker of a testbed about to be created.
 *
 * @param m - marker contents (pid and start time are the current process's).
 * @returns the marker's path.
 */
export function writeMarker(m: Omit<Marker, 'pid' | 'startTime'>): string {
  mkdirSync(MARKER_DIR, { recursive: true, mode: 0o700 });
  const path = join(MARKER_DIR, `${m.id}.json`);
  const full: Marker = { ...m, pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  writeFileSync(path, JSON.stringify(full) + '\n', { mode: 0o600 });
  return path;
}

/**
 * Remove the marker of a testbed that has been torn down.
 *
 * @param id - testbed id.
 */
export function removeMarker(id: string): void {
  rmSync(join(MARKER_DIR, `${id}.json`), { force: true });
}

/**
 * Delete the namespaces and work directories of testbeds whose owner process is gone (killed
 * with SIGKILL, or a crashed machine). Markers of living owners are left alone.
 *
 * @returns ids of the testbeds reaped.
 */
export function reapOrphans(): string[] {
  let files: string[];
  try {
    files = readdirSync(MARKER_DIR).filter((f) => /^td-[0-9a-f]{6}\.json$/.test(f));
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const f of files) {
    let m: Marker;
    try {
      m = JSON.parse(readFileSync(join(MARKER_DIR, f), 'utf8')) as Marker;
    } catch {
      continue;
    }
    if (processStartTime(m.pid) === m.startTime && m.startTime !== '') continue;
    const own = (m.namespaces ?? []).filter((n) => typeof n === 'string' && n.startsWith(`${m.id}-`));
    destroyNamespacesSync(own);
    if (typeof m.workDir === 'string' && m.workDir.includes(m.id)) rmSync(m.workDir, { recursive: true, force: true });
    removeMarker(m.id);
    reaped.push(m.id);
  }
  return reaped;
}

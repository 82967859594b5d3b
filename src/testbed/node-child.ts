/**
 * Helpers for Node child processes run inside a namespace: the argv that runs an entry script
 * (TypeScript sources under a loader such as tap's, or compiled JavaScript), and a reader that
 * waits for the child's one-line JSON "ready" report on stdout.
 *
 * The protocol of the testbed's entry scripts (covert services, delay line): each writes
 * JSON objects, one per line, to stdout; the first has `"event": "ready"`. They exit when
 * their stdin closes, so they never outlive the process that started them.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestbedError } from './errors.js';

/**
 * The argv (program first) that runs `entry` with the current Node. A `.ts` entry inherits
 * this process's loader flags (`--import=…`), so it runs under the same TypeScript hook as the
 * caller (tap's in tests); a `.js` entry runs plain.
 *
 * @param entry - absolute path or `file:` URL of the script.
 * @param args - its arguments.
 * @returns `[process.execPath, …flags, entry, …args]`.
 */
export function nodeArgv(entry: string | URL, args: readonly string[] = []): string[] {
  const path = entry instanceof URL || entry.startsWith('file:') ? fileURLToPath(entry) : entry;
  const flags = path.endsWith('.ts') ? process.execArgv.filter((a) => !a.startsWith('--inspect')) : [];
  return [process.execPath, ...flags, path, ...args];
}

/**
 * Path of a sibling entry script of this module (`name.ts` in sources, `name.js` once built).
 *
 * @param name - base name without extension, e.g. `covert-main`.
 * @returns absolute path.
 */
export function siblingEntry(name: string): string {
  const here = fileURLToPath(import.meta.url);
  return here.replace(/node-child\.(ts|js)$/, `${name}.$1`);
}

/**
 * Read JSON lines from a child's stdout and resolve with the first whose `event` is `ready`.
 * Rejects if the child exits first, prints an `error` event, or the timeout passes (the
 * child is then killed). Later lines go to `onLine`.
 *
 * @param child - a spawned process with piped stdout (and stderr, kept for the error message).
 * @param what - name for messages, e.g. `covert services`.
 * @param timeoutMs - how long to wait.
 * @param onLine - receives every parsed line after the ready one.
 * @returns the ready object.
 * @throws {@link TestbedError} `ERR_TESTBED_CHILD`.
 */
export function waitReady(child: ChildProcess, what: string, timeoutMs = 20_000,
  onLine?: (msg: Record<string, unknown>) => void): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let stderr = '';
    let ready = false;
    const fail = (why: string): void => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      reject(new TestbedError('ERR_TESTBED_CHILD', `testbed: ${what} ${why}${stderr.trim() ? `: ${lastLines(stderr)}` : ''}`,
        { context: { what, stderr: stderr.slice(-2000) } }));
    };
    const timer = setTimeout(() => {
      fail(`not ready after ${timeoutMs} ms`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8192); });
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown>;
        try { msg = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
        if (ready) { onLine?.(msg); continue; }
        if (msg.event === 'error') { fail(`failed: ${String(msg.message)}`); continue; }
        if (msg.event === 'ready') {
          ready = true;
          clearTimeout(timer);
          resolve(msg);
        }
      }
    });
    child.once('error', (err) => fail(`could not start: ${err.message}`));
    child.once('exit', (code, sig) => fail(`exited before ready (${sig ?? `code ${code}`})`));
  });
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-3).join(' | ');
}

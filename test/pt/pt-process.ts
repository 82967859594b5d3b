/**
 * Spawning managed proxies for process tests: our entries (the shipped `pt/main.ts` and the
 * loopback fixture, run from source through tap's TypeScript loader) and Debian's obfs4proxy,
 * with an exact environment, recording stdout lines and stderr.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const loader = new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).href;

/** Command line running the shipped bin's source. */
export const PT_MAIN: readonly string[] = [process.execPath, `--import=${loader}`, fileURLToPath(new URL('../../pt/main.ts', import.meta.url))];
/** Command line running the loopback-dialer fixture. */
export const PT_FIXTURE: readonly string[] = [process.execPath, `--import=${loader}`, fileURLToPath(new URL('./fixtures/loopback-pt.ts', import.meta.url))];
/** Command line running the built bin (`npm run build` first), as a real install would. */
export const PT_DIST: readonly string[] = [process.execPath, fileURLToPath(new URL('../../dist/pt/main.js', import.meta.url))];
/** Debian's obfs4proxy. */
export const OBFS4PROXY: readonly string[] = ['/usr/bin/obfs4proxy'];

/** Environment every child gets besides the PT variables (no NODE_OPTIONS from tap). */
export function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', TS_NODE_TRANSPILE_ONLY: '1' };
}

/** A running managed proxy. */
export interface PtProcess {
  child: ChildProcess;
  /** stdout lines so far (without LF). */
  lines: string[];
  /** stdout bytes that did not end in LF yet. */
  partial(): string;
  /** stderr so far. */
  stderr(): string;
  /** Resolves with the first line (already seen or future) matching `re`; rejects after `timeoutMs` or at exit. */
  waitLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves at exit. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawn `command` with exactly `env` (plus {@link baseEnv}).
 *
 * @param command - argv
 * @param env - PT variables
 * @param stdin - `pipe` to control stdin, `ignore` for /dev/null
 */
export function spawnPt(command: readonly string[], env: Record<string, string | undefined>, stdin: 'pipe' | 'ignore' = 'pipe'): PtProcess {
  const clean = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const child = spawn(command[0]!, command.slice(1), { env: { ...baseEnv(), ...clean }, stdio: [stdin, 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (d: string) => {
    buffer += d;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      // Let stdout drain before reporting the exit.
      child.stdout!.once('close', () => {
        for (const w of waiters) w();
        resolve({ code, signal });
      });
      if (child.stdout!.closed) resolve({ code, signal });
    });
  });
  let exitedFlag = false;
  void exited.then(() => (exitedFlag = true));
  return {
    child,
    lines,
    partial: () => buffer,
    stderr: () => stderr,
    exited,
    waitLine(re: RegExp, timeoutMs = 20_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) {
            done();
            resolve(hit);
          } else if (exitedFlag || child.exitCode !== null) {
            done();
            reject(new Error(`exited without a line matching ${re}; lines: ${JSON.stringify(lines)}; stderr: ${stderr.slice(0, 2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; lines: ${JSON.stringify(lines)}; stderr: ${stderr.slice(0, 2000)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** The keyword of a protocol line (`CMETHODS DONE` → `CMETHODS DONE`, others the first word). */
export function lineShape(line: string): string {
  if (line === 'CMETHODS DONE' || line === 'PROXY DONE') return line;
  return line.split(' ')[0]!;
}

/** Run until exit (with stdin at /dev/null unless given) and return lines and exit code. */
export async function runToExit(command: readonly string[], env: Record<string, string | undefined>): Promise<{ lines: string[]; code: number | null; partial: string }> {
  const p = spawnPt(command, env, 'ignore');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { lines: p.lines, code, partial: p.partial() };
}

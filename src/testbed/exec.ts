/**
 * Runs system tools (`ip`, `tc`, `nft`, `sysctl`, `tcpdump`, …) for the testbed and the station's
 * network set-up, turning every failure into a typed {@link TestbedError}: a missing tool names
 * its Debian package, a failed command carries its argv, exit code and stderr.
 *
 * No policy lives here: which namespace a command may touch is decided by the caller
 * ({@link NetnsSet} in `netns.ts`).
 *
 * @module
 */
import { execFile, execFileSync } from 'node:child_process';
import { TestbedError } from './errors.js';

/** Output of a finished command. */
export interface ExecResult {
  /** Standard output, UTF-8. */
  stdout: string;
  /** Standard error, UTF-8. */
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Bytes written to the command's standard input. */
  input?: string;
  /** Extra environment variables (added to the current environment). */
  env?: Record<string, string>;
  /** Kill the command after this many ms. Default 30000. */
  timeoutMs?: number;
}

/** Debian package of each tool the testbed runs, for the "not installed" message. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  ip: 'iproute2', tc: 'iproute2', ss: 'iproute2', nstat: 'iproute2', nft: 'nftables',
  sysctl: 'procps', tcpdump: 'tcpdump', nginx: 'nginx', perl: 'perl-base', openssl: 'openssl',
  ping: 'iputils-ping',
};

/**
 * The error for a tool that is not installed.
 *
 * @param tool - the program name.
 * @returns a `ERR_TESTBED_TOOL_MISSING` error naming the Debian package.
 */
export function toolMissing(tool: string): TestbedError {
  const pkg = PACKAGE_OF[tool];
  return new TestbedError('ERR_TESTBED_TOOL_MISSING',
    `testbed: "${tool}" is not installed${pkg === undefined ? '' : ` (Debian package ${pkg})`}`,
    { context: { tool, ...(pkg === undefined ? {} : { package: pkg }) } });
}

function failure(argv: readonly string[], err: Error & { stderr?: unknown }, code: number | string | null | undefined): TestbedError {
  if (code === 'ENOENT' && (err as { path?: string }).path === argv[0]) return toolMissing(argv[0] ?? '');
  const stderr = String(err.stderr ?? '').trim();
  const firstLine = stderr.split('\n')[0] ?? '';
  return new TestbedError('ERR_TESTBED_COMMAND',
    `testbed: \`${argv.join(' ')}\` failed${firstLine ? `: ${firstLine}` : ''}`,
    { cause: err, context: { argv: [...argv], exitCode: code ?? null, stderr: stderr.slice(0, 2000) } });
}

/**
 * Run a command to completion.
 *
 * @param argv - program and arguments (no shell).
 * @param options - stdin, environment, timeout.
 * @returns its stdout and stderr.
 * @throws {@link TestbedError} `ERR_TESTBED_TOOL_MISSING` or `ERR_TESTBED_COMMAND`.
 */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new TypeError('"argv" expected a program name, got []'));
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {
      encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 30_000,
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    }, (err, stdout, stderr) => {
      if (err === null) resolve({ stdout, stderr });
      else reject(failure(argv, Object.assign(err, { stderr }), err.code));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * Run a command synchronously; for exit handlers, where nothing asynchronous runs any more.
 *
 * @param argv - program and arguments.
 * @returns its stdout.
 * @throws {@link TestbedError} as {@link run}.
 */
export function runSync(argv: readonly string[], options: { timeoutMs?: number } = {}): string {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new TypeError('"argv" expected a program name, got []');
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 10_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null; stderr?: unknown };
    throw failure(argv, e, e.code === 'ENOENT' ? 'ENOENT' : e.status);
  }
}

/**
 * Throw one clear line unless the process runs as root (network namespaces need it).
 *
 * @throws {@link TestbedError} `ERR_TESTBED_NOT_ROOT`.
 */
export function assertRoot(): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new TestbedError('ERR_TESTBED_NOT_ROOT',
      'testbed: network namespaces need root; run as root (CI does)', { context: { uid: uid ?? null } });
  }
}

/**
 * The `tapdance-pt` process around {@link runManagedClient}: command-line flags, the package
 * version, and the process exit. Shared by the shipped bin (`pt/main.ts`) and test entries that
 * inject another dialer.
 *
 * Flags: `--log-level <error|warning|notice|info|debug>` (LOG lines sent to tor, default
 * `notice`), `--dial-timeout <seconds>` (how long one SOCKS request may take to become a
 * TapDance session, default 60), `--version`, `--help`. Flags go on the
 * `ClientTransportPlugin … exec` line.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fdLineSink } from './ipc.js';
import { LOG_SEVERITIES, lines, type LogSeverity } from './line.js';
import { runManagedClient, type DialerContext } from './managed.js';
import type { PtDialer } from './dialer.js';

/** Parsed command line. */
export interface CliOptions {
  /** `--log-level`. */
  logLevel: LogSeverity;
  /** `--dial-timeout`, in ms (undefined: the SOCKS server's default). */
  dialTimeoutMs: number | undefined;
  /** `--version` or `--help` was given. */
  info: 'version' | 'help' | undefined;
}

/**
 * Parse the command line.
 *
 * @param argv - arguments after the script path
 * @returns the options
 * @throws {Error} naming an unknown flag or bad value (the message is for the user)
 */
export function parseCli(argv: readonly string[]): CliOptions {
  const options: CliOptions = { logLevel: 'notice', dialTimeoutMs: undefined, info: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--version') options.info = 'version';
    else if (flag === '--help' || flag === '-h') options.info = 'help';
    else if (flag === '--log-level') {
      const value = inline ?? argv[++i];
      if (value === undefined || !(LOG_SEVERITIES as readonly string[]).includes(value)) {
        throw new Error(`--log-level expects one of ${LOG_SEVERITIES.join(', ')}`);
      }
      options.logLevel = value as LogSeverity;
    } else if (flag === '--dial-timeout') {
      const value = Number(inline ?? argv[++i]);
      if (!Number.isFinite(value) || value <= 0 || value > 3600) throw new Error('--dial-timeout expects seconds, 0 < n <= 3600');
      options.dialTimeoutMs = Math.round(value * 1000);
    } else throw new Error(`unknown argument ${JSON.stringify(arg).slice(0, 60)}`);
  }
  return options;
}

/**
 * The version of the `tapdance` package this file belongs to (read from its package.json, found
 * by walking up from this module, which sits at a different depth in sources and in dist/).
 *
 * @returns the version, or `unknown`
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tapdance' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

const HELP = `tapdance-pt: Tor pluggable transport (PT v1 managed client) for TapDance.
Run by tor, not by hand:  ClientTransportPlugin tapdance exec /path/to/tapdance-pt [--log-level info]
Flags: --log-level error|warning|notice|info|debug, --dial-timeout SECONDS (default 60), --version, --help
`;

/**
 * Run the process: parse flags, run the managed client with the given dialer, exit with its code.
 *
 * @param createDialer - builds the transport's dialer
 * @param argv - command-line arguments (default `process.argv.slice(2)`)
 * @returns never returns normally; the process exits
 */
export async function runMain(createDialer: (context: DialerContext) => PtDialer, argv = process.argv.slice(2)): Promise<never> {
  const stdout = fdLineSink(1);
  let cli: CliOptions;
  try {
    cli = parseCli(argv);
  } catch (err) {
    // Under tor, ENV-ERROR is the one way to get the problem into its log.
    const message = `tapdance-pt: ${(err as Error).message}`;
    if (process.env.TOR_PT_MANAGED_TRANSPORT_VER !== undefined) stdout.writeLine(lines.envError(message));
    else process.stderr.write(`${message}\n`);
    process.exit(2);
  }
  if (cli.info !== undefined) {
    stdout.writeLine(cli.info === 'version' ? `tapdance-pt ${packageVersion()}\n` : HELP);
    process.exit(0);
  }
  process.on('uncaughtException', (err) => {
    try {
      stdout.writeLine(lines.log('error', `tapdance-pt crashed: ${err.message}`));
    } finally {
      process.exit(70);
    }
  });
  const client = await runManagedClient({
    env: process.env,
    implementation: { name: 'tapdance-pt', version: packageVersion() },
    logLevel: cli.logLevel,
    createDialer,
    ...(cli.dialTimeoutMs === undefined ? {} : { socks: { dialTimeoutMs: cli.dialTimeoutMs } }),
  });
  process.exit(await client.exited);
}

#!/usr/bin/env node
/**
 * `tapdance-station`: run a station, check its config, replay a capture, or prepare the host's
 * network for takeover.
 *
 * Exit status: 0 success, 1 failure at run time, 2 usage or configuration error.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { TapDanceError } from '../errors.js';
import { loadStationConfig } from './config.js';
import { runReplay } from './replay.js';
import { applyNetSetup, undoNetSetup, formatNetSetupReport } from './net-setup.js';

const USAGE = `Usage: tapdance-station <command> [options]

Commands:
  run --config FILE           capture the mirrored link and serve TapDance sessions (default command)
  check-config --config FILE  validate a config file and print it with defaults filled in
  replay FILE --key-file FILE run a pcap/pcapng through the detection pipeline, no takeover
  net-setup --tap IFACE [--tap-mac MAC] [--mark N] [--table N] [--nft-table NAME]
            [--dry-run | --undo]
                              prepare (or undo) policy routing, the nft mark and sysctls for takeover

Signals (run): SIGTERM/SIGINT stop cleanly (ending sessions), SIGHUP reloads the config file
(keys, ClientConf, covert policy, limits, timeouts, metrics address) without dropping live
sessions; capture and Redis settings need a restart.

Options:
  -h, --help     this text
  -V, --version  print the version

Logs are JSON lines on stdout; client addresses are never logged unless
log.clientAddressPrefixBits > 0, and then only that many leading bits.`;

function version(): string {
  // dist/src/station/cli.js and src/station/cli.ts sit at different depths below package.json.
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'tapdance') return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

function fail(message: string, code = 2): number {
  process.stderr.write(`tapdance-station: ${message}\n`);
  return code;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  if (values.config === undefined) return fail('run needs --config FILE');
  const file = values.config;
  const config = loadStationConfig(file);
  const { Station } = await import('./station.js');
  const station = await Station.start(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    station.log.info({ signal }, 'stopping');
    void station.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // One reload at a time: a second SIGHUP during a reload runs once the first has finished.
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    // reload() logs and counts its failures; the old configuration stays.
    reloading = reloading.then(() => station.reload(() => loadStationConfig(file))).then(() => {}, () => {});
  });
  return new Promise<number>(() => {}); // runs until a signal
}

function checkConfig(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  if (values.config === undefined) return fail('check-config needs --config FILE');
  process.stdout.write(`${JSON.stringify(loadStationConfig(values.config), null, 2)}\n`);
  return 0;
}

async function netSetup(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tap: { type: 'string' }, 'tap-mac': { type: 'string' }, mark: { type: 'string' }, table: { type: 'string' },
      'nft-table': { type: 'string' }, 'dry-run': { type: 'boolean' }, undo: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.tap === undefined) return fail('net-setup needs --tap IFACE');
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new TapDanceError('ERR_INVALID_ARG', `--${name} expects a non-negative integer`);
    return n;
  };
  const options = {
    tap: values.tap,
    ...(values['tap-mac'] === undefined ? {} : { tapMac: values['tap-mac'] }),
    ...(values.mark === undefined ? {} : { mark: num(values.mark, 'mark')! }),
    ...(values.table === undefined ? {} : { table: num(values.table, 'table')! }),
    ...(values['nft-table'] === undefined ? {} : { nftTable: values['nft-table'] }),
  };
  const dryRun = values['dry-run'] === true;
  const report = values.undo === true ? await undoNetSetup(options, { dryRun }) : await applyNetSetup(options, { dryRun });
  process.stdout.write(`${formatNetSetupReport(report)}\n`);
  return 0;
}

/**
 * Run the command line.
 * @param argv - arguments after the program name
 * @returns the exit status (`run` does not return until a signal)
 */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.includes('-V') || argv.includes('--version')) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        return fail(`a command is required\n${USAGE}`);
      case 'run':
        return await run(rest);
      case 'check-config':
        return checkConfig(rest);
      case 'replay':
        return await runReplay(rest);
      case 'net-setup':
        return await netSetup(rest);
      default:
        if (command.startsWith('-')) return await run(argv);
        return fail(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof TapDanceError) {
      const usage = err.code === 'ERR_STATION_CONFIG' || err.code === 'ERR_INVALID_ARG';
      return fail(`${err.code}: ${err.message}`, usage ? 2 : 1);
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return fail((err as Error).message);
    return fail(`unexpected failure: ${(err as Error).stack ?? String(err)}`, 1);
  }
}

process.exitCode = await main(process.argv.slice(2));

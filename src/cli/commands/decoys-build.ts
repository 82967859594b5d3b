/**
 * `tapdance decoys build`: probe candidate decoys and write a ClientConf of the usable ones, with
 * a report of why each host was kept or dropped. The work is in `src/decoys/`; this module reads
 * the arguments and files, wires progress output, and writes the results.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DECOY_TCPWIN_MIN, DECOY_TIMEOUT_MIN, writeClientConf } from '../../protocol/client-conf.js';
import {
  DEFAULT_CONCURRENCY, DEFAULT_MAX_TIMEOUT_MS, DEFAULT_MIN_TIMEOUT_MS, DEFAULT_MIN_WINDOW, buildDecoyList,
} from '../../decoys/builder.js';
import { parseCandidates } from '../../decoys/candidates.js';
import { assembleClientConf, nextGeneration, readPreviousClientConf } from '../../decoys/client-conf-output.js';
import { DecoyError } from '../../decoys/errors.js';
import { barProgress, lineProgress } from '../../decoys/progress.js';
import { buildReport, formatReportTable } from '../../decoys/report.js';
import { loadStationKey } from '../../decoys/station-key.js';
import { probeStation } from '../../decoys/station-probe.js';
import { UsageError, type Command } from '../command.js';

interface Values {
  candidates?: string;
  out?: string;
  'station-key'?: string;
  'skip-station-test'?: boolean;
  report?: string;
  ca?: string;
  concurrency?: string;
  'min-window'?: string;
  'min-timeout'?: string;
  'max-timeout'?: string;
  generation?: string;
  'all-probes'?: boolean;
}

function integer(values: Values, name: keyof Values, fallback: number, min: number, max: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} expects an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function secondsMs(values: Values, name: 'min-timeout' | 'max-timeout', fallbackMs: number): number {
  const text = values[name];
  if (text === undefined) return fallbackMs;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 3600) {
    throw new UsageError(`--${name} expects seconds (0..3600, decimals allowed), got ${JSON.stringify(text)}`);
  }
  return Math.round(Number(text) * 1000);
}

async function readText(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${option} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The `decoys build` command. */
export const decoysBuildCommand: Command = {
  path: ['decoys', 'build'],
  summary: 'probe candidate decoys and write a ClientConf of the usable ones',
  help: `Usage: tapdance decoys build --candidates FILE --out ClientConf [options]

Probe each candidate decoy and keep those a TapDance client can use:
  - TLS 1.2 with a certificate valid for the name; for the Chrome 62 hello the
    decoy picks AES-GCM (an AEAD suite the station takes over), and it accepts a
    hello offering only AES-128-GCM;
  - robots.txt does not disallow "/" for TapDance (a "User-agent: TapDance" group,
    else the "*" group; unreachable robots.txt counts as a disallow, RFC 9309);
  - the TCP window it advertises after an incomplete request (read with ss) is at
    least --min-window bytes;
  - it holds an incomplete request at least --min-timeout seconds (measured up to
    --max-timeout; many hosts are probed at once);
  - with --station-key, a station answers a tagged request through it
    (SESSION_INIT, or an S2C_ERROR such as DECOY_OVERLOAD: a station is there).
Writes the kept decoys (with their measured timeout in ms and window in bytes) as a
binary ClientConf, prints a table of every candidate with its figures and reasons,
and shows progress on stderr (a bar on a terminal).

Candidates file: one per line, '#' comments:
  example.com                  name only (resolved; first IPv4 address)
  example.com 192.0.2.1        name and address
  example.com 192.0.2.1:8443   name, address and probe port (clients always use 443)
  example.com 2001:db8::1      IPv6 ([2001:db8::1]:8443 with a port)
  192.0.2.1                    address only

Options:
  --candidates FILE        the candidates file (required)
  --out FILE               the ClientConf to write (required); an existing one is
                           replaced atomically, keeping its other fields
  --station-key HEX|FILE   station public key (64 hex digits, or a 32-byte pubkey
                           file): becomes default_pubkey and enables the station test
  --skip-station-test      with --station-key: set the key, do not test
  --report FILE            also write the report as JSON
  --ca FILE                PEM trust anchors replacing the system roots
  --concurrency N          candidates probed at once (default ${DEFAULT_CONCURRENCY})
  --min-window BYTES       smallest TCP window kept (default ${DEFAULT_MIN_WINDOW})
  --min-timeout SECONDS    shortest incomplete-request hold kept (default ${DEFAULT_MIN_TIMEOUT_MS / 1000})
  --max-timeout SECONDS    how long to wait for a decoy to give up (default ${DEFAULT_MAX_TIMEOUT_MS / 1000})
  --generation N           ClientConf generation (default: existing file's + 1, else 1)
  --all-probes             run every probe even on hosts already dropped
  -h, --help               show this help

Exit status: 0 at least one decoy kept and the ClientConf written; 1 no decoy kept
(nothing written); 2 bad arguments or candidates file; 3 other failures.
`,
  async run(args, io) {
    let values: Values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          candidates: { type: 'string' }, out: { type: 'string' }, 'station-key': { type: 'string' },
          'skip-station-test': { type: 'boolean' }, report: { type: 'string' }, ca: { type: 'string' },
          concurrency: { type: 'string' }, 'min-window': { type: 'string' }, 'min-timeout': { type: 'string' },
          'max-timeout': { type: 'string' }, generation: { type: 'string' }, 'all-probes': { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.candidates === undefined) throw new UsageError('--candidates is required');
    if (values.out === undefined) throw new UsageError('--out is required');
    const concurrency = integer(values, 'concurrency', DEFAULT_CONCURRENCY, 1, 4096);
    const minWindow = integer(values, 'min-window', DEFAULT_MIN_WINDOW, 0, 0xffffffff);
    const generationArg = values.generation === undefined ? undefined : integer(values, 'generation', 0, 0, 0xffffffff);
    const minTimeoutMs = secondsMs(values, 'min-timeout', DEFAULT_MIN_TIMEOUT_MS);
    const maxTimeoutMs = secondsMs(values, 'max-timeout', DEFAULT_MAX_TIMEOUT_MS);
    if (maxTimeoutMs < minTimeoutMs || maxTimeoutMs === 0) {
      throw new UsageError('--max-timeout must be positive and not below --min-timeout');
    }
    if (values['skip-station-test'] && values['station-key'] === undefined) {
      throw new UsageError('--skip-station-test needs --station-key');
    }

    let candidates;
    try {
      candidates = parseCandidates(await readText(values.candidates, '--candidates'), values.candidates);
    } catch (err) {
      if (err instanceof DecoyError) throw new UsageError(err.message);
      throw err;
    }
    if (candidates.length === 0) throw new UsageError(`--candidates ${values.candidates} lists no candidate`);
    const ca = values.ca === undefined ? undefined : await readText(values.ca, '--ca');
    let stationKey: Uint8Array | null = null;
    if (values['station-key'] !== undefined) {
      try {
        stationKey = await loadStationKey(values['station-key']);
      } catch (err) {
        if (err instanceof DecoyError) throw new UsageError(`--station-key: ${err.message}`);
        throw err;
      }
    }
    const stationTest = stationKey !== null && values['skip-station-test'] !== true;
    const previous = await readPreviousClientConf(values.out);
    const generation = nextGeneration(generationArg, previous);

    // Clients raise values below these floors (SPEC §10.3), so a list built below them misleads.
    if (minTimeoutMs < DECOY_TIMEOUT_MIN) io.err(`warning: clients treat decoy timeouts below ${DECOY_TIMEOUT_MIN / 1000} s as 30 s\n`);
    if (minWindow < DECOY_TCPWIN_MIN) io.err(`warning: clients treat decoy windows below ${DECOY_TCPWIN_MIN} B as 15614 B\n`);
    if (stationKey === null && (previous?.defaultPubkey?.key.length ?? 0) !== 32) {
      io.err('warning: no --station-key and no previous default_pubkey: clients cannot tag for this ClientConf\n');
    }

    const progress = process.stderr.isTTY ? barProgress(process.stderr) : lineProgress(io.err);
    progress.start(candidates.length);
    let entries;
    try {
      entries = await buildDecoyList({
        candidates, minWindow, minTimeoutMs, maxTimeoutMs, concurrency, ca, stationKey, stationTest, generation,
        allProbes: values['all-probes'] === true,
        probes: { station: probeStation },
        onResult: (entry, done, total) => progress.result(entry, done, total),
      });
    } finally {
      progress.stop();
    }

    const kept = entries.filter((e) => e.keep);
    io.out(formatReportTable(entries));
    const wrote = kept.length > 0;
    if (wrote) {
      const conf = assembleClientConf(
        kept.map((e) => ({ hostname: e.hostname, address: e.address!, timeoutMs: e.figures.timeoutMs!, window: e.figures.window ?? 0 })),
        { generation, stationKey, previous },
      );
      await writeClientConf(values.out, conf);
      io.err(`wrote ${values.out}: generation ${generation}, ${kept.length} decoy${kept.length === 1 ? '' : 's'}\n`);
    } else {
      io.err(`no decoy kept; ${values.out} left unchanged\n`);
    }
    if (values.report !== undefined) {
      const report = buildReport(entries, {
        minWindow, minTimeoutMs, maxTimeoutMs, stationTest, out: wrote ? values.out : null, generation: wrote ? generation : null,
      });
      await writeFile(values.report, `${JSON.stringify(report, null, 2)}\n`);
      io.err(`wrote report ${values.report}\n`);
    }
    return wrote ? 0 : 1;
  },
};

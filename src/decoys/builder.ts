/**
 * The decoy-list builder: probe every candidate with bounded concurrency and decide keep or drop,
 * with the figures and the reasons, in candidate order.
 *
 * Per candidate, in order of cost: resolve the name (when no address was given; the first IPv4
 * address, else the first IPv6 one), the TLS probe, robots.txt, the incomplete-request probe
 * (window and hold, up to `maxTimeoutMs`), and the station test when asked. Once a host is
 * dropped its remaining probes are skipped (and the hold stops as soon as the window is known to
 * be too small) unless `allProbes` is set, so a large list does not wait two minutes on hosts
 * that are already out.
 *
 * Every probe is injectable, so the rules and the bookkeeping can be tested without a network.
 * Writing the ClientConf and the report is the caller's job (`client-conf-output.ts`, `report.ts`).
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { candidateLabel, candidateServerName, type Candidate } from './candidates.js';
import { toProbeFailure, type ProbeTarget, type ProbeTrust } from './connect.js';
import { decide, dropReasons, type Decision, type DropReason, type ProbeResults, type Thresholds } from './decide.js';
import { DecoyError } from './errors.js';
import { probeHold, type HoldProbeOptions, type HoldProbeResult } from './hold-probe.js';
import { fetchRobots, type RobotsFetchOptions, type RobotsProbeResult } from './robots-fetch.js';
import type { StationProbe } from './station-result.js';
import { probeTls, type TlsProbeOptions, type TlsProbeResult } from './tls-probe.js';
import type { TcpInfoReader } from './tcp-info.js';

/** Default smallest window: 15 KiB, the protocol's default `tcpwin` (15360). */
export const DEFAULT_MIN_WINDOW = 15 * 1024;
/** Default shortest hold: 30 s. */
export const DEFAULT_MIN_TIMEOUT_MS = 30_000;
/** Default cap of the hold probe: 120 s. */
export const DEFAULT_MAX_TIMEOUT_MS = 120_000;
/** Default number of candidates probed at once. */
export const DEFAULT_CONCURRENCY = 16;

/** The probes the builder runs; each can be replaced. */
export interface DecoyProbes {
  /** Name → address to probe; throws when the name does not resolve. */
  resolve: (hostname: string) => Promise<string>;
  tls: (target: ProbeTarget, options: TlsProbeOptions) => Promise<TlsProbeResult>;
  robots: (target: ProbeTarget, options: RobotsFetchOptions) => Promise<RobotsProbeResult>;
  hold: (target: ProbeTarget, options: HoldProbeOptions) => Promise<HoldProbeResult>;
  /** The station test; required when a station key is given and the test is on. */
  station?: StationProbe | undefined;
}

/** Options of {@link buildDecoyList}. */
export interface BuildOptions extends ProbeTrust {
  candidates: readonly Candidate[];
  /** Smallest TCP window kept, bytes. Default {@link DEFAULT_MIN_WINDOW}. */
  minWindow?: number | undefined;
  /** Shortest hold kept, ms. Default {@link DEFAULT_MIN_TIMEOUT_MS}. */
  minTimeoutMs?: number | undefined;
  /** Cap of the hold probe, ms (≥ minTimeoutMs). Default {@link DEFAULT_MAX_TIMEOUT_MS}. */
  maxTimeoutMs?: number | undefined;
  /** Candidates probed at once. Default {@link DEFAULT_CONCURRENCY}. */
  concurrency?: number | undefined;
  /** The station's public key; with `stationTest`, every decoy must reach a station. */
  stationKey?: Uint8Array | null | undefined;
  /** Run the station test (default: when a station key is given). */
  stationTest?: boolean | undefined;
  /** Generation reported to the station during its test. Default 0. */
  generation?: number | undefined;
  /** Run every probe even on hosts already dropped. */
  allProbes?: boolean | undefined;
  /** Replacement probes (tests). */
  probes?: Partial<DecoyProbes> | undefined;
  /** TCP-state reader for the default hold probe (tests). */
  readTcpInfo?: TcpInfoReader | undefined;
  /** Called when a candidate starts being probed. */
  onStart?: ((candidate: Candidate) => void) | undefined;
  /** Called after each candidate with the number done so far. */
  onResult?: ((entry: DecoyEntry, done: number, total: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** The figures a report shows for a decoy (null = not measured). */
export interface DecoyFigures {
  /** TCP window after the incomplete request, bytes. */
  window: number | null;
  /** Incomplete-request hold, ms (the cap when capped). */
  timeoutMs: number | null;
  /** The decoy was still holding at the cap. */
  timeoutCapped: boolean;
  /** The suite chosen for the Chrome 62 hello. */
  suite: string | null;
  /** AES-128-GCM accepted when offered alone. */
  aes128Gcm: boolean | null;
  /** ALPN chosen on the incomplete-request connection. */
  alpn: string | null;
  /** robots.txt: `allowed`, `opted out (…)`, `unreachable`, … */
  robots: string | null;
  /** Station test: `answered in N ms`, `no station`, … */
  station: string | null;
}

/** One candidate's result. */
export interface DecoyEntry {
  /** Line in the candidates file. */
  line: number;
  /** `name (address)` label. */
  label: string;
  hostname: string | null;
  /** The address probed (null when the name did not resolve). */
  address: string | null;
  port: number;
  keep: boolean;
  reasons: DropReason[];
  figures: DecoyFigures;
  /** The raw probe results (`undefined` = skipped). */
  probes: ProbeResults;
}

interface Settings extends Thresholds {
  maxTimeoutMs: number;
  concurrency: number;
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new DecoyError('ERR_DECOY_OPTIONS', `${name} must be an integer in ${min}..${max}, got ${v}`);
  }
  return v;
}

function checkOptions(o: BuildOptions): Settings {
  const minWindow = integerOption('minWindow', o.minWindow, DEFAULT_MIN_WINDOW, 0, 0xffffffff);
  const minTimeoutMs = integerOption('minTimeoutMs', o.minTimeoutMs, DEFAULT_MIN_TIMEOUT_MS, 0, 3_600_000);
  const maxTimeoutMs = integerOption('maxTimeoutMs', o.maxTimeoutMs, DEFAULT_MAX_TIMEOUT_MS, 1, 3_600_000);
  const concurrency = integerOption('concurrency', o.concurrency, DEFAULT_CONCURRENCY, 1, 4096);
  if (maxTimeoutMs < minTimeoutMs) {
    throw new DecoyError('ERR_DECOY_OPTIONS', `maxTimeoutMs (${maxTimeoutMs}) must not be below minTimeoutMs (${minTimeoutMs})`);
  }
  const key = o.stationKey ?? null;
  if (key !== null && (!(key instanceof Uint8Array) || key.length !== 32)) {
    throw new DecoyError('ERR_DECOY_OPTIONS', 'stationKey must be 32 bytes');
  }
  const requireStation = key !== null && (o.stationTest ?? true);
  if (requireStation && o.probes?.station === undefined) {
    throw new DecoyError('ERR_DECOY_OPTIONS', 'a station test needs a station probe (probes.station)');
  }
  return { minWindow, minTimeoutMs, maxTimeoutMs, concurrency, requireStation };
}

async function systemResolve(hostname: string): Promise<string> {
  const all = await lookup(hostname, { all: true });
  const pick = all.find((a) => a.family === 4) ?? all[0];
  if (pick === undefined) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
  return pick.address;
}

function robotsText(r: RobotsProbeResult): string {
  const v = r.verdict;
  if (v.source === 'unreachable') return 'unreachable';
  if (v.optedOut) return `opted out (${v.source === 'agent' ? 'TapDance' : '*'}: ${v.rule ?? ''})`;
  if (v.source === 'unavailable') return `allowed (HTTP ${r.status ?? '?'})`;
  return 'allowed';
}

function figuresOf(p: ProbeResults): DecoyFigures {
  const s = p.station;
  return {
    window: p.hold?.window ?? null,
    timeoutMs: p.hold?.holdMs ?? null,
    timeoutCapped: p.hold?.capped ?? false,
    suite: p.tls?.chrome62.suiteName ?? null,
    aes128Gcm: p.tls?.aes128Gcm === undefined || p.tls.aes128Gcm === null ? null : p.tls.aes128Gcm.ok,
    alpn: p.hold?.alpn ?? null,
    robots: p.robots === undefined ? null : robotsText(p.robots),
    station: s === undefined ? null : !s.reached ? (s.failure?.code ?? 'no answer')
      : s.refusal === null ? `answered in ${s.stationMs ?? '?'} ms` : `answered S2C_ERROR ${s.refusal}`,
  };
}

function unprobed(c: Candidate, code: DropReason['code'], detail: string): DecoyEntry {
  return {
    line: c.line, label: candidateLabel(c), hostname: c.hostname, address: c.address, port: c.port,
    keep: false, reasons: [{ code, detail }], figures: figuresOf({}), probes: {},
  };
}

/** Probe one candidate, stopping once it is dropped unless every probe is wanted. */
async function probeOne(c: Candidate, o: BuildOptions, s: Settings, probes: DecoyProbes): Promise<DecoyEntry> {
  const results: ProbeResults = {};
  const trust: ProbeTrust = { ca: o.ca };
  let address = c.address;
  const out = (d: Decision): DecoyEntry => ({
    line: c.line, label: candidateLabel(c), hostname: c.hostname, address, port: c.port,
    keep: d.keep, reasons: d.reasons, figures: figuresOf(results), probes: results,
  });
  const dropped = (): Decision | null => {
    const reasons = dropReasons(results, s);
    return !o.allProbes && reasons.length > 0 ? { keep: false, reasons } : null;
  };
  if (address === null) {
    try {
      address = await probes.resolve(c.hostname ?? '');
      results.resolve = { address, failure: null };
    } catch (err) {
      results.resolve = { address: null, failure: toProbeFailure(err) };
      return out(decide(results, s));
    }
  }
  const target: ProbeTarget = { serverName: candidateServerName(c), address, port: c.port };
  results.tls = await probes.tls(target, { ...trust, signal: o.signal });
  let stop = dropped();
  if (stop) return out(stop);
  results.robots = await probes.robots(target, { ...trust, signal: o.signal });
  if ((stop = dropped())) return out(stop);
  results.hold = await probes.hold(target, {
    ...trust, maxHoldMs: s.maxTimeoutMs, signal: o.signal, readTcpInfo: o.readTcpInfo,
    stopBelowWindow: o.allProbes ? undefined : s.minWindow,
  });
  if ((stop = dropped())) return out(stop);
  if (s.requireStation) {
    results.station = await probes.station!(target, o.stationKey!, { ...trust, generation: o.generation ?? 0, signal: o.signal });
  }
  return out(decide(results, s));
}

/**
 * Probe all candidates and decide each.
 *
 * @param options - candidates, thresholds, concurrency, trust, station key, probes
 * @returns one entry per candidate, in candidate order
 * @throws {@link DecoyError} `ERR_DECOY_OPTIONS` for bad options (before any probe runs)
 * @example
 * ```ts
 * const entries = await buildDecoyList({ candidates: parseCandidates(text), minTimeoutMs: 30_000 })
 * for (const e of entries) console.log(e.label, e.keep ? 'kept' : e.reasons.map((r) => r.code))
 * ```
 */
export async function buildDecoyList(options: BuildOptions): Promise<DecoyEntry[]> {
  const settings = checkOptions(options);
  const probes: DecoyProbes = {
    resolve: options.probes?.resolve ?? systemResolve,
    tls: options.probes?.tls ?? probeTls,
    robots: options.probes?.robots ?? fetchRobots,
    hold: options.probes?.hold ?? probeHold,
    station: options.probes?.station,
  };
  const list = options.candidates;
  const entries = new Array<DecoyEntry>(list.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      const c = list[i]!;
      if (options.signal?.aborted) {
        entries[i] = unprobed(c, 'incomplete', 'the build was aborted');
      } else {
        options.onStart?.(c);
        try {
          entries[i] = await probeOne(c, options, settings, probes);
        } catch (err) {
          // A probe must not throw; if one does, that host is out and the build goes on.
          const f = toProbeFailure(err);
          entries[i] = unprobed(c, 'probe-error', `${f.code}: ${f.message}`);
        }
      }
      options.onResult?.(entries[i]!, ++done, list.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, list.length) }, worker));
  return entries;
}

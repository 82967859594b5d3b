/**
 * The build report: a table for people (stdout) and a JSON document for programs (`--report`),
 * both saying for every candidate whether it was kept, its figures, and every reason it was
 * dropped. Pure formatting; no I/O.
 *
 * @module
 */
import type { DecoyEntry } from './builder.js';
import { addressWithPort } from './candidates.js';
import type { DropReasonCode } from './decide.js';

/** Settings echoed in the JSON report. */
export interface ReportSettings {
  minWindow: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  stationTest: boolean;
  /** Path of the ClientConf written (null when nothing was written). */
  out: string | null;
  /** Generation of that ClientConf. */
  generation: number | null;
}

/** The JSON report (`--report FILE`). */
export interface BuildReport {
  tool: 'tapdance decoys build';
  generatedAt: string;
  settings: ReportSettings;
  /** The rules applied, in words. */
  rules: Record<string, string>;
  summary: { candidates: number; kept: number; dropped: number; reasons: Partial<Record<DropReasonCode, number>> };
  decoys: Array<Record<string, unknown>>;
}

/** The keep rules, as the report states them. */
export function ruleText(s: ReportSettings): Record<string, string> {
  return {
    tls: 'TLS 1.2 handshake with a certificate valid for the name; for the Chrome 62 hello the decoy picks AES-128-GCM or AES-256-GCM; a hello offering only AES-128-GCM succeeds',
    robots: 'robots.txt must not disallow "/" for the product token TapDance (or, without a TapDance group, for *); 4xx = allowed, 5xx or no answer = disallowed (RFC 9309)',
    window: `TCP window advertised after the incomplete request (ss snd_wnd) >= ${s.minWindow} bytes`,
    timeout: `incomplete request held >= ${s.minTimeoutMs / 1000} s (measured up to ${s.maxTimeoutMs / 1000} s)`,
    station: s.stationTest ? 'a station answers a tagged SESSION_INIT through the decoy (S2C_SESSION_INIT, or S2C_ERROR such as DECOY_OVERLOAD, which also proves a station on the path)' : 'not tested',
  };
}

/**
 * The JSON report.
 *
 * @param entries - the build's entries
 * @param settings - thresholds and output
 * @param now - the report time
 * @returns a JSON-ready object
 */
export function buildReport(entries: readonly DecoyEntry[], settings: ReportSettings, now = new Date()): BuildReport {
  const reasons: Partial<Record<DropReasonCode, number>> = {};
  for (const e of entries) for (const r of e.reasons) reasons[r.code] = (reasons[r.code] ?? 0) + 1;
  const kept = entries.filter((e) => e.keep).length;
  return {
    tool: 'tapdance decoys build',
    generatedAt: now.toISOString(),
    settings,
    rules: ruleText(settings),
    summary: { candidates: entries.length, kept, dropped: entries.length - kept, reasons },
    decoys: entries.map((e) => ({
      line: e.line, hostname: e.hostname, address: e.address, port: e.port, keep: e.keep,
      reasons: e.reasons, ...e.figures, probes: e.probes,
    })),
  };
}

/** `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` → `ECDHE_RSA_AES_128_GCM`. */
function shortSuite(name: string | null): string {
  if (name === null) return '-';
  return name.replace(/^TLS_/, '').replace('_WITH_', '_').replace(/_SHA(256|384)?$/, '');
}

function seconds(ms: number | null, capped: boolean): string {
  if (ms === null) return '-';
  return `${capped ? '>=' : ''}${(ms / 1000).toFixed(1)} s`;
}

/**
 * The report as an aligned text table, one row per candidate, then a summary line.
 *
 * @param entries - the build's entries
 * @returns the table text, ending with a newline
 */
export function formatReportTable(entries: readonly DecoyEntry[]): string {
  const header = ['LINE', 'DECOY', 'ADDRESS', 'RESULT', 'WINDOW', 'TIMEOUT', 'SUITE', 'ROBOTS', 'STATION', 'REASONS'];
  const rows = entries.map((e) => [
    String(e.line),
    e.hostname ?? '-',
    e.address === null ? '-' : addressWithPort(e.address, e.port),
    e.keep ? 'kept' : 'DROPPED',
    e.figures.window === null ? '-' : `${e.figures.window} B`,
    seconds(e.figures.timeoutMs, e.figures.timeoutCapped),
    shortSuite(e.figures.suite),
    e.figures.robots ?? '-',
    e.figures.station ?? '-',
    e.reasons.length === 0 ? '' : e.reasons.map((r) => `${r.code} (${r.detail})`).join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const kept = entries.filter((e) => e.keep).length;
  return `${[line(header), ...rows.map(line)].join('\n')}\n\n${kept} of ${entries.length} candidates kept, ${entries.length - kept} dropped\n`;
}

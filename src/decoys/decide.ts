/**
 * Keep or drop a candidate decoy, with every reason, from its probe results. Pure: no I/O.
 *
 * A decoy is kept when all of these hold:
 * 1. its name resolved (when no address was given) and TCP + TLS 1.2 worked with a certificate
 *    valid for the name;
 * 2. for the Chrome 62 hello it picked an AES-GCM suite (an AEAD suite the station can take over;
 *    CBC gives no keystream, and this station does not run ChaCha20);
 * 3. it completed a handshake offering only AES-128-GCM suites;
 * 4. robots.txt does not opt it out (see `robots.ts`);
 * 5. the TCP window after the incomplete request is at least `minWindow` bytes (when the window
 *    cannot be read, only a `minWindow` of 0 keeps the decoy);
 * 6. it held the incomplete request for at least `minTimeoutMs`;
 * 7. when a station test is asked for, a station answered through it (SESSION_INIT, or an
 *    S2C_ERROR such as DECOY_OVERLOAD: either way a station took the connection over).
 *
 * A probe result given as `undefined` was not run (the builder skips costly probes once a host is
 * dropped); it adds no reason of its own, but a host missing a probe it needs is never kept.
 *
 * @module
 */
import type { HoldProbeResult } from './hold-probe.js';
import type { RobotsProbeResult } from './robots-fetch.js';
import type { StationProbeResult } from './station-result.js';
import type { TlsProbeResult } from './tls-probe.js';
import type { ProbeFailure } from './connect.js';

/** Stable codes of the reasons a decoy is dropped. */
export type DropReasonCode =
  /** The host name did not resolve. */
  | 'unresolved'
  /** TCP to the decoy failed (refused, timed out, unreachable). */
  | 'connect'
  /** The certificate is not valid for the name (untrusted, expired, wrong name). */
  | 'certificate'
  /** No TLS 1.2 handshake (version, alert, timeout, malformed answer). */
  | 'tls'
  /** For the Chrome 62 hello the decoy chose a suite without AEAD (CBC, 3DES). */
  | 'no-aead-suite'
  /** For the Chrome 62 hello the decoy chose an AEAD suite the station cannot take over. */
  | 'suite-not-station'
  /** The decoy refused a hello offering only AES-128-GCM suites. */
  | 'no-aes128gcm'
  /** robots.txt disallows `/` for TapDance. */
  | 'robots-opt-out'
  /** robots.txt could not be fetched (5xx or no answer): RFC 9309 counts it as a disallow. */
  | 'robots-unreachable'
  /** The incomplete-request probe could not run (TCP, TLS or write failed). */
  | 'hold-failed'
  /** The TCP window could not be read (no `ss`, or it does not print `snd_wnd`). */
  | 'window-unknown'
  /** The TCP window is below the minimum. */
  | 'window-small'
  /** The decoy gave up the incomplete request too soon. */
  | 'timeout-short'
  /** No station answered on the decoy's path. */
  | 'no-station'
  /** The station test failed otherwise (protocol error, TLS failure during the test). */
  | 'station-error'
  /** A needed probe did not run (or the build was aborted first). */
  | 'incomplete'
  /** A probe failed unexpectedly (a bug; the detail says what). */
  | 'probe-error';

/** One reason to drop a decoy. */
export interface DropReason {
  code: DropReasonCode;
  /** The figure or failure behind it, for people. */
  detail: string;
}

/** The thresholds a decoy must meet. */
export interface Thresholds {
  /** Smallest acceptable TCP window, bytes. */
  minWindow: number;
  /** Shortest acceptable incomplete-request hold, ms. */
  minTimeoutMs: number;
  /** Whether a station must answer through the decoy. */
  requireStation: boolean;
}

/** Everything probed about one candidate; `undefined` = not run. */
export interface ProbeResults {
  /** Name resolution: the address, or the failure. */
  resolve?: { address: string | null; failure: ProbeFailure | null } | undefined;
  tls?: TlsProbeResult | undefined;
  robots?: RobotsProbeResult | undefined;
  hold?: HoldProbeResult | undefined;
  station?: StationProbeResult | undefined;
}

/** The decision for one candidate. */
export interface Decision {
  keep: boolean;
  /** Every reason found (empty when kept). */
  reasons: DropReason[];
}

/** AEADs the station can take a session over with. */
export const STATION_AEADS: ReadonlySet<string> = new Set(['aes-128-gcm', 'aes-256-gcm']);

function failureText(f: ProbeFailure): string {
  return `${f.code}: ${f.message}`;
}

function tlsReasons(tls: TlsProbeResult): DropReason[] {
  const first = tls.chrome62;
  const f = first.failure;
  if (f !== null && f.code !== 'ERR_TLS_UNSUPPORTED_SUITE') {
    if (!f.code.startsWith('ERR_TLS_')) return [{ code: 'connect', detail: failureText(f) }];
    const cert = f.code.startsWith('ERR_TLS_CERT_') || f.code === 'ERR_TLS_BAD_CERTIFICATE';
    const out: DropReason[] = [{ code: cert ? 'certificate' : 'tls', detail: failureText(f) }];
    if (!cert && tls.aes128Gcm !== null && !tls.aes128Gcm.ok) out.push({ code: 'no-aes128gcm', detail: failureText(tls.aes128Gcm.failure!) });
    return out;
  }
  const out: DropReason[] = [];
  if (f !== null) {
    out.push({ code: 'no-aead-suite', detail: `Chrome 62 hello: decoy chose ${first.suiteName ?? 'an unusable suite'}` });
  } else if (first.aead === null || !STATION_AEADS.has(first.aead)) {
    out.push({ code: 'suite-not-station', detail: `Chrome 62 hello: decoy chose ${first.suiteName ?? '?'}` });
  }
  if (tls.aes128Gcm === null) out.push({ code: 'incomplete', detail: 'AES-128-GCM handshake not tried' });
  else if (!tls.aes128Gcm.ok) out.push({ code: 'no-aes128gcm', detail: failureText(tls.aes128Gcm.failure!) });
  return out;
}

function robotsReasons(r: RobotsProbeResult): DropReason[] {
  if (!r.verdict.optedOut) return [];
  if (r.verdict.source === 'unreachable') {
    const why = r.failure !== null ? failureText(r.failure) : `HTTP ${r.status ?? '?'}`;
    return [{ code: 'robots-unreachable', detail: `robots.txt unreachable (${why})` }];
  }
  const group = r.verdict.source === 'agent' ? 'User-agent: TapDance' : 'User-agent: *';
  return [{ code: 'robots-opt-out', detail: `${group} / ${r.verdict.rule ?? 'Disallow'}` }];
}

function holdReasons(h: HoldProbeResult, t: Thresholds): DropReason[] {
  if (h.failure !== null) return [{ code: 'hold-failed', detail: failureText(h.failure) }];
  const out: DropReason[] = [];
  // With no minimum, an unknown window is acceptable (the ClientConf then carries tcpwin 0, which
  // clients raise to their floor).
  if (h.window === null) {
    if (t.minWindow > 0) out.push({ code: 'window-unknown', detail: 'the kernel did not report the peer window (ss missing or too old)' });
  } else if (h.window < t.minWindow) out.push({ code: 'window-small', detail: `window ${h.window} B < ${t.minWindow} B` });
  if (h.holdMs !== null && h.holdMs < t.minTimeoutMs) {
    const how = h.ending === 'response' ? `answered "${h.response ?? ''}"` : h.ending === 'reset' ? 'reset' : 'closed';
    out.push({ code: 'timeout-short', detail: `${how} after ${(h.holdMs / 1000).toFixed(1)} s < ${(t.minTimeoutMs / 1000).toFixed(1)} s` });
  }
  return out;
}

function stationReasons(s: StationProbeResult): DropReason[] {
  if (s.reached) return [];
  const f = s.failure;
  const detail = f === null ? 'no answer' : failureText(f);
  if (f?.code === 'ERR_STATION_NO_RESPONSE') return [{ code: 'no-station', detail }];
  return [{ code: 'station-error', detail }];
}

/**
 * The reasons to drop a candidate found in the probes run so far (a probe not run adds none);
 * the builder uses it to stop probing a host that is already out.
 *
 * @param r - its probe results (`undefined` = not run)
 * @param t - the thresholds
 * @returns the reasons, empty when nothing speaks against the host yet
 */
export function dropReasons(r: ProbeResults, t: Thresholds): DropReason[] {
  const reasons: DropReason[] = [];
  if (r.resolve?.failure) reasons.push({ code: 'unresolved', detail: failureText(r.resolve.failure) });
  if (r.tls !== undefined) reasons.push(...tlsReasons(r.tls));
  if (r.robots !== undefined) reasons.push(...robotsReasons(r.robots));
  if (r.hold !== undefined) reasons.push(...holdReasons(r.hold, t));
  if (r.station !== undefined) reasons.push(...stationReasons(r.station));
  return reasons;
}

/**
 * Decide one candidate.
 *
 * @param r - its probe results (`undefined` = not run)
 * @param t - the thresholds
 * @returns keep or drop, with every reason found
 * @example
 * ```ts
 * const d = decide(results, { minWindow: 15360, minTimeoutMs: 30_000, requireStation: false })
 * if (!d.keep) console.log(d.reasons.map((r) => r.code).join(', '))
 * ```
 */
export function decide(r: ProbeResults, t: Thresholds): Decision {
  const reasons = dropReasons(r, t);
  if (reasons.length === 0) {
    const missing: string[] = (['tls', 'robots', 'hold'] as const).filter((k) => r[k] === undefined);
    if (t.requireStation && r.station === undefined) missing.push('station');
    if (missing.length > 0) reasons.push({ code: 'incomplete', detail: `not probed: ${missing.join(', ')}` });
  }
  return { keep: reasons.length === 0, reasons };
}

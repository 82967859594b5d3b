/**
 * Builders of probe results for the decision and builder tests: each returns the result of a
 * decoy that passes, with fields overridable.
 *
 * @module
 */
import type { HandshakeOutcome, TlsProbeResult } from '../../src/decoys/tls-probe.js';
import type { HoldProbeResult } from '../../src/decoys/hold-probe.js';
import type { RobotsProbeResult } from '../../src/decoys/robots-fetch.js';
import type { StationProbeResult } from '../../src/decoys/station-result.js';

/** A completed handshake with `suite`. */
export function handshakeOk(suite = 0xc02f, name = 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  aead: HandshakeOutcome['aead'] = 'aes-128-gcm'): HandshakeOutcome {
  return { ok: true, suite, suiteName: name, aead, version: 'TLS 1.2', alpn: 'http/1.1', handshakeMs: 3, failure: null };
}

/** A failed handshake. */
export function handshakeFailed(code: string, message = 'failed', suite: number | null = null, name: string | null = null): HandshakeOutcome {
  return { ok: false, suite, suiteName: name, aead: null, version: null, alpn: null, handshakeMs: null, failure: { code, message } };
}

/** A TLS probe result. */
export function tlsResult(chrome62 = handshakeOk(), aes128Gcm: HandshakeOutcome | null = handshakeOk()): TlsProbeResult {
  return { chrome62, aes128Gcm, certificate: null };
}

/** A robots.txt probe result. */
export function robotsResult(over: Partial<RobotsProbeResult> = {}): RobotsProbeResult {
  return { status: 404, redirects: 0, bytes: 0, verdict: { optedOut: false, source: 'unavailable', rule: null }, failure: null, ...over };
}

/** An incomplete-request probe result. */
export function holdResult(over: Partial<HoldProbeResult> = {}): HoldProbeResult {
  return {
    failure: null, windowAfterHandshake: 65535, window: 29200, windowScale: 7, holdMs: 60_000, capped: false, ending: 'close',
    response: null, alpn: 'http/1.1', ...over,
  };
}

/** A station probe result. */
export function stationResult(over: Partial<StationProbeResult> = {}): StationProbeResult {
  return { reached: true, refusal: null, stationMs: 12, failure: null, ...over };
}

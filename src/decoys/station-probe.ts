/**
 * The optional test connection through a station: one tagged TapDance flow to the decoy with the
 * station's public key, asking for SESSION_INIT. A decoy passes when a station answers:
 * S2C_SESSION_INIT, or S2C_ERROR with a reason (the station took the connection over but refused
 * the session, e.g. DECOY_OVERLOAD; the reason is reported). `ERR_STATION_NO_RESPONSE` means no
 * station sits on the path to this decoy (the client then completes the request so the decoy
 * answers it normally).
 *
 * The session is closed at once (close_notify and FIN, as the public client closes), so the
 * station sees an ordinary short session that ends without a covert connection.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { openFlow } from '../client/flow.js';
import { C2S_Transition, S2C_Transition } from '../protocol/messages.js';
import { toProbeFailure } from './connect.js';
import type { StationProbe } from './station-result.js';

/** Deadline for TCP and TLS to the decoy during the station test, ms. */
const DECOY_DEADLINE_MS = 15_000;
/** Default wait for the station after the tag, ms (a generous floor for slow paths). */
const STATION_WAIT_MS = 5_000;

/**
 * Test whether a station answers through a decoy (the default {@link StationProbe}).
 *
 * @param target - the decoy
 * @param stationKey - the station's 32-byte X25519 public key
 * @param options - trust anchors, generation, wait for the station, abort signal
 * @returns `reached` (with any refusal reason), the time to the answer, or the client error code;
 *   never throws
 * @example
 * ```ts
 * const r = await probeStation(target, stationKey, { generation: 7 })
 * if (!r.reached) console.log(r.failure?.code) // e.g. ERR_STATION_NO_RESPONSE
 * ```
 */
export const probeStation: StationProbe = async (target, stationKey, options) => {
  const t0 = performance.now();
  try {
    const flow = await openFlow({
      decoy: target,
      stationPublicKey: stationKey,
      connectionId: randomBytes(16),
      request: { transition: C2S_Transition.C2S_SESSION_INIT, generation: options.generation },
      expect: S2C_Transition.S2C_SESSION_INIT,
      tls: options.ca === undefined ? undefined : { ca: options.ca },
      decoyDeadlineMs: DECOY_DEADLINE_MS,
      stationTimeoutMs: options.stationWaitMs ?? STATION_WAIT_MS,
      signal: options.signal,
    });
    flow.tls.on('error', () => {});
    flow.tls.resume();
    flow.tls.end();
    setTimeout(() => flow.tls.destroy(), 2000).unref();
    return { reached: true, refusal: null, stationMs: Math.round(flow.timings.stationMs), failure: null };
  } catch (err) {
    const f = toProbeFailure(err);
    if (f.code === 'ERR_STATION_REFUSED') {
      return { reached: true, refusal: String(f.context?.['reason'] ?? 'unknown'), stationMs: Math.round(performance.now() - t0), failure: null };
    }
    return { reached: false, refusal: null, stationMs: null, failure: f };
  }
};

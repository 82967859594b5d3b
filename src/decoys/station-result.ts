/**
 * The shape of the station test connection's result, and of a function that runs it, kept apart
 * from the implementation (`station-probe.ts`, which dials through the client) so that the
 * decision rules and the builder can be tested with an injected probe.
 *
 * @module
 */
import type { ProbeFailure, ProbeTarget, ProbeTrust } from './connect.js';

/**
 * What the test connection through a station found.
 *
 * A station that answers with S2C_ERROR (e.g. `DECOY_OVERLOAD` while the decoy is busy, or
 * `COVERT_STREAM` when its default proxy is down) has still recognised the tag and taken the
 * connection over, which is what the test is about: the decoy is on a station's path. Such a
 * decoy counts as reached, and the refusal is reported.
 */
export interface StationProbeResult {
  /** A station answered through this decoy (SESSION_INIT, or S2C_ERROR with a reason). */
  reached: boolean;
  /** The S2C_ERROR reason when the station refused the session (e.g. `DECOY_OVERLOAD`), else null. */
  refusal: string | null;
  /** Time from the tagged request to the station's answer, ms (null when none answered). */
  stationMs: number | null;
  /**
   * Why no station answered: `ERR_STATION_NO_RESPONSE` (no station on the decoy's path), or
   * another client error code (`ERR_DECOY_CONNECT`, `ERR_STATION_PROTOCOL`, …); null when reached.
   */
  failure: ProbeFailure | null;
}

/** Options passed to a {@link StationProbe}. */
export interface StationProbeOptions extends ProbeTrust {
  /** ClientConf generation to report in X-Proto. */
  generation: number;
  /** How long to wait for a station after the tag, ms (default 5000). */
  stationWaitMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Opens one tagged flow to `target` for the station with public key `stationKey` and reports
 * whether a station answered. Must not throw for anything the network does.
 */
export type StationProbe = (target: ProbeTarget, stationKey: Uint8Array, options: StationProbeOptions) => Promise<StationProbeResult>;

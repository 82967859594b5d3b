/**
 * The decoy-list builder behind `tapdance decoys build`: candidates file parsing, one probe per
 * property a TapDance decoy needs (TLS suites, TCP window, incomplete-request timeout, robots.txt
 * opt-out, a station on the path), the keep/drop rules, the ClientConf and the report.
 *
 * Layering: `candidates`, `robots`, `http-response`, `tcp-info` parsing, `decide`, `report` are
 * sans-IO; `connect` opens probe connections for `tls-probe`, `robots-fetch` and `hold-probe`;
 * `station-probe` dials through the client; `builder` runs them all with bounded concurrency.
 *
 * @module
 */
export { DecoyError } from './errors.js';
export type { DecoyErrorCode } from './errors.js';
export { parseCandidates, addressWithPort, candidateLabel, candidateServerName, DEFAULT_DECOY_PORT } from './candidates.js';
export type { Candidate, CandidateLineError } from './candidates.js';
export { parseRobots, robotsVerdict, robotsVerdictForFetch, TAPDANCE_PRODUCT_TOKEN } from './robots.js';
export type { RobotsGroup, RobotsRule, RobotsVerdict } from './robots.js';
export { fetchRobots, ROBOTS_USER_AGENT } from './robots-fetch.js';
export type { RobotsProbeResult, RobotsFetchOptions } from './robots-fetch.js';
export { HttpResponseParser } from './http-response.js';
export type { HttpResponse } from './http-response.js';
export { parseSsTcpInfo, readTcpInfo, ssArguments } from './tcp-info.js';
export type { TcpInfo, TcpInfoReader } from './tcp-info.js';
export { probeTls, suiteName, AES_128_GCM_ONLY, AES_128_GCM_SUITES } from './tls-probe.js';
export type { TlsProbeResult, TlsProbeOptions, HandshakeOutcome } from './tls-probe.js';
export { probeHold, incompleteRequest } from './hold-probe.js';
export type { HoldProbeResult, HoldProbeOptions, HoldEnding } from './hold-probe.js';
export { probeStation } from './station-probe.js';
export type { StationProbe, StationProbeResult, StationProbeOptions } from './station-result.js';
export { openProbeConnection, toProbeFailure } from './connect.js';
export type { ProbeTarget, ProbeTrust, ProbeFailure, ProbeConnection } from './connect.js';
export { decide, dropReasons, STATION_AEADS } from './decide.js';
export type { Decision, DropReason, DropReasonCode, ProbeResults, Thresholds } from './decide.js';
export {
  buildDecoyList, DEFAULT_CONCURRENCY, DEFAULT_MAX_TIMEOUT_MS, DEFAULT_MIN_TIMEOUT_MS, DEFAULT_MIN_WINDOW,
} from './builder.js';
export type { BuildOptions, DecoyEntry, DecoyFigures, DecoyProbes } from './builder.js';
export { assembleClientConf, decoySpec, nextGeneration, readPreviousClientConf } from './client-conf-output.js';
export type { KeptDecoy, AssembleOptions } from './client-conf-output.js';
export { buildReport, formatReportTable, ruleText } from './report.js';
export type { BuildReport, ReportSettings } from './report.js';
export { loadStationKey } from './station-key.js';
export { barProgress, lineProgress, progressLine } from './progress.js';
export type { BuildProgress } from './progress.js';

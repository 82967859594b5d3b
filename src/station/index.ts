/**
 * tapdance/station: the station wrapper (config, sessions, covert policy) around the native
 * data plane.
 *
 * @module
 */
export { Station } from './station.js';
export type { StationCounters, StationDeps } from './station.js';
export { loadStationConfig, parseStationConfig } from './config.js';
export type { StationConfig } from './config.js';
export { CovertAllowlist } from './allowlist.js';
export { SessionTable } from './session-table.js';
export type { Takeover, SessionTableOptions } from './session-table.js';
export { StationError, StationConfigError } from './errors.js';
export { LocalDecoyLoad } from './decoy-load.js';
export type { DecoyLoad, DecoyLimits } from './decoy-load.js';
export { RedisDecoyLoad } from './redis-load.js';
export type { RedisDecoyLoadOptions } from './redis-load.js';
export { StationMetrics } from './metrics.js';
export type { MetricsSource } from './metrics.js';
export type { ReloadResult } from './station.js';
export type { DecoyLoadStatus } from './decoy-load.js';

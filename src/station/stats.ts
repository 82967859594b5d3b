/**
 * The station wrapper's counters: sessions, flows, bytes, and failures by reason. Plain numbers,
 * cheap to bump on every event; the metrics endpoint reads them.
 *
 * @module
 */

/** Counters of the session layer (the native addon keeps its own per-worker counters). */
export class StationStats {
  sessionsActive = 0;
  sessionsTotal = 0;
  flowsActive = 0;
  flowsTotal = 0;
  reconnects = 0;
  /** Covert bytes from clients to covert destinations. */
  bytesUp = 0;
  /** Covert bytes from covert destinations to clients. */
  bytesDown = 0;
  /** Takeovers the wrapper could not turn into a flow, by reason. */
  readonly takeoverFailures = new Map<string, number>();
  /** Covert connection failures by error code. */
  readonly covertErrors = new Map<string, number>();
  /** S2C_ERROR messages sent, by reason name. */
  readonly errorsSent = new Map<string, number>();
  /** Sessions ended, by how they ended. */
  readonly sessionEnds = new Map<string, number>();
  /** Failed decoys reported by clients. */
  failedDecoysReported = 0;

  /** Add one to a counter in one of the maps. */
  static bump(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  /** A JSON-friendly snapshot. */
  snapshot(): Record<string, unknown> {
    const obj = (m: Map<string, number>): Record<string, number> => Object.fromEntries(m);
    return {
      sessionsActive: this.sessionsActive,
      sessionsTotal: this.sessionsTotal,
      flowsActive: this.flowsActive,
      flowsTotal: this.flowsTotal,
      reconnects: this.reconnects,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      takeoverFailures: obj(this.takeoverFailures),
      covertErrors: obj(this.covertErrors),
      errorsSent: obj(this.errorsSent),
      sessionEnds: obj(this.sessionEnds),
      failedDecoysReported: this.failedDecoysReported,
    };
  }
}

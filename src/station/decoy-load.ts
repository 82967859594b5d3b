/**
 * Per-decoy load limits: how many clients may use one decoy at once.
 *
 * A decoy that suddenly holds many long incomplete requests stands out and may suffer, so the
 * deployment capped active clients per decoy (30, later 45). A session takes a slot for its decoy
 * when it starts and gives it back when it ends; a session that would exceed the limit gets
 * S2C_ERROR DECOY_OVERLOAD and the client moves to another decoy.
 *
 * {@link LocalDecoyLoad} counts in this process (one station). A shared implementation for several
 * stations (Redis) implements the same interface.
 *
 * @module
 */

/** Where per-decoy counts live. */
export interface DecoyLoad {
  /** Take a slot for a client on `decoy`; false when the decoy is at its limit. */
  acquire(decoy: string): Promise<boolean>;
  /** Give a slot back. Never below zero. */
  release(decoy: string): Promise<void>;
  /** Current count for `decoy` (for metrics). */
  count(decoy: string): Promise<number>;
  /** Stop timers and connections. */
  close(): Promise<void>;
}

/** Limits of {@link DecoyLoad} implementations. */
export interface DecoyLimits {
  perDecoy: number;
  perDecoyOverrides: Readonly<Record<string, number>>;
}

/** The limit that applies to `decoy`. */
export function limitFor(limits: DecoyLimits, decoy: string): number {
  return limits.perDecoyOverrides[decoy] ?? limits.perDecoy;
}

/** In-process per-decoy counts for a single station. */
export class LocalDecoyLoad implements DecoyLoad {
  readonly #counts = new Map<string, number>();
  #limits: DecoyLimits;

  constructor(limits: DecoyLimits) {
    this.#limits = limits;
  }

  /** Replace the limits (config reload); current counts stay. */
  setLimits(limits: DecoyLimits): void {
    this.#limits = limits;
  }

  async acquire(decoy: string): Promise<boolean> {
    const n = this.#counts.get(decoy) ?? 0;
    if (n >= limitFor(this.#limits, decoy)) return false;
    this.#counts.set(decoy, n + 1);
    return true;
  }

  async release(decoy: string): Promise<void> {
    const n = (this.#counts.get(decoy) ?? 0) - 1;
    if (n <= 0) this.#counts.delete(decoy);
    else this.#counts.set(decoy, n);
  }

  async count(decoy: string): Promise<number> {
    return this.#counts.get(decoy) ?? 0;
  }

  async close(): Promise<void> {}
}

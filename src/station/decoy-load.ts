/**
 * Per-decoy load limits: how many clients may use one decoy at once.
 *
 * A decoy that suddenly holds many long incomplete requests stands out and may suffer, so the
 * deployment capped active clients per decoy (30, later 45). A session takes a slot for its decoy
 * when it starts and gives it back when it ends; a session that would exceed the limit gets
 * S2C_ERROR DECOY_OVERLOAD and the client moves to another decoy.
 *
 * {@link LocalDecoyLoad} counts in this process (one station). {@link RedisDecoyLoad}
 * (`redis-load.ts`) shares the counts of several stations through Redis.
 *
 * @module
 */

/** Per-decoy counts as a load store sees them (metrics). */
export interface DecoyLoadStatus {
  /** `local`: this process only; `redis`: shared between stations. */
  store: 'local' | 'redis';
  /** Whether the shared store answered its last request (always true for `local`). */
  up: boolean;
  /** Requests to the shared store that failed since start. */
  storeErrors: number;
  /** Slots taken by the in-process fallback while the shared store was unreachable. */
  fallbackAcquires: number;
  /**
   * Per decoy with clients: this station's count, and the count of every live station sharing
   * the store (equal to `station` for a local store, or while the store is unreachable).
   */
  decoys: Map<string, { station: number; all: number }>;
}

/** Where per-decoy counts live. */
export interface DecoyLoad {
  /** Take a slot for a client on `decoy`; false when the decoy (or the total) is at its limit. */
  acquire(decoy: string): Promise<boolean>;
  /** Give a slot back. Never below zero. */
  release(decoy: string): Promise<void>;
  /** Current count for `decoy` over every station sharing the store. */
  count(decoy: string): Promise<number>;
  /** Replace the limits (config reload); current counts stay. */
  setLimits(limits: DecoyLimits): void;
  /** Counts and store health for metrics. Never rejects. */
  status(): Promise<DecoyLoadStatus>;
  /** Give back this station's slots where they are shared, stop timers and connections. */
  close(): Promise<void>;
}

/** Limits of {@link DecoyLoad} implementations. */
export interface DecoyLimits {
  /** Concurrent clients per decoy unless overridden. */
  perDecoy: number;
  /** Per-decoy limits by decoy IP address. */
  perDecoyOverrides: Readonly<Record<string, number>>;
  /** Concurrent clients over all decoys; unset = no cap. */
  total?: number | undefined;
}

/** The limit that applies to `decoy`. */
export function limitFor(limits: DecoyLimits, decoy: string): number {
  return limits.perDecoyOverrides[decoy] ?? limits.perDecoy;
}

/**
 * Counts of one station's own clients per decoy, with the checks of {@link DecoyLimits}. Used
 * as the whole store by {@link LocalDecoyLoad} and as the record of this station's slots (and
 * the fallback while Redis is unreachable) by the shared store.
 */
export class DecoyCounts {
  readonly #counts = new Map<string, number>();
  #total = 0;

  /** Clients of this station on `decoy`. */
  get(decoy: string): number {
    return this.#counts.get(decoy) ?? 0;
  }

  /** Clients of this station over all decoys. */
  get total(): number {
    return this.#total;
  }

  /** Add one if `limits` allow another client on `decoy` here; returns whether it did. */
  tryAdd(decoy: string, limits: DecoyLimits): boolean {
    if (this.get(decoy) >= limitFor(limits, decoy)) return false;
    if (limits.total !== undefined && this.#total >= limits.total) return false;
    this.add(decoy, 1);
    return true;
  }

  /** Add `by` (may be negative) to `decoy`; counts never go below zero. */
  add(decoy: string, by: number): void {
    const before = this.get(decoy);
    const n = Math.max(0, before + by);
    this.#total += n - before;
    if (n === 0) this.#counts.delete(decoy);
    else this.#counts.set(decoy, n);
  }

  /** Decoys with at least one client, and their counts. */
  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }
}

/** In-process per-decoy counts for a single station. */
export class LocalDecoyLoad implements DecoyLoad {
  readonly #counts = new DecoyCounts();
  #limits: DecoyLimits;

  /** @param limits - per-decoy and total limits */
  constructor(limits: DecoyLimits) {
    this.#limits = limits;
  }

  setLimits(limits: DecoyLimits): void {
    this.#limits = limits;
  }

  async acquire(decoy: string): Promise<boolean> {
    return this.#counts.tryAdd(decoy, this.#limits);
  }

  async release(decoy: string): Promise<void> {
    this.#counts.add(decoy, -1);
  }

  async count(decoy: string): Promise<number> {
    return this.#counts.get(decoy);
  }

  async status(): Promise<DecoyLoadStatus> {
    const decoys = new Map<string, { station: number; all: number }>();
    for (const [d, n] of this.#counts.entries()) decoys.set(d, { station: n, all: n });
    return { store: 'local', up: true, storeErrors: 0, fallbackAcquires: 0, decoys };
  }

  async close(): Promise<void> {}
}

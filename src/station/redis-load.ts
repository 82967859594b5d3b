/**
 * Per-decoy client counts shared by several stations through Redis, so that one limit holds for
 * a decoy however many stations see its traffic.
 *
 * Layout (every key starts with the configured prefix, `tapdance` by default):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `<p>:decoy:<ip>` | hash | station member → that station's clients on the decoy |
 * | `<p>:total` | hash | station member → that station's clients over all decoys |
 * | `<p>:alive:<member>` | string with a TTL | present while the station is alive |
 *
 * A member is the station id plus a random suffix chosen at start, so a restarted station never
 * inherits the slots of its previous run (whose sessions died with it).
 *
 * - Acquire is one Lua script: sum the fields of live members (a member without its liveness key
 *   is dead and its field is deleted on the way), compare with the limit, increment. Two stations
 *   can never both take the last slot.
 * - Every `heartbeatMs` the station sets its liveness key with a TTL of `expiryMs` and
 *   re-publishes its own counts (this process is the truth for its own slots). A killed station
 *   stops refreshing, and its slots stop counting at most `expiryMs` later.
 * - Redis unreachable (refused, timed out, lost): the station **fails open to a per-station
 *   limit**. It keeps serving and counts in process with the same limits, logs one warning when
 *   the store goes away and one line when it is back, and counts failed requests and fallback
 *   slots (metrics). Refusing every user during a Redis outage would hurt more than the bounded
 *   extra load (at most one limit per station) on a decoy. When Redis answers again the next
 *   heartbeat publishes every slot, including those taken meanwhile.
 *
 * Standalone Redis only: the scripts touch liveness keys they compute, which Redis Cluster does
 * not allow.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DecoyCounts, limitFor, type DecoyLimits, type DecoyLoad, type DecoyLoadStatus } from './decoy-load.js';

/** Options of {@link RedisDecoyLoad}. */
export interface RedisDecoyLoadOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  limits: DecoyLimits;
  log: Logger;
  /** Station name (default: the host name); a random suffix is added per process. */
  stationId?: string | undefined;
  /** Key prefix shared by the stations that share limits (default `tapdance`). */
  keyPrefix?: string | undefined;
  /** Liveness refresh and count publication interval (default 2000 ms). */
  heartbeatMs?: number | undefined;
  /** Liveness key TTL (default 3 × heartbeatMs). */
  expiryMs?: number | undefined;
  /** A request slower than this counts as a failure (default 1000 ms). */
  commandTimeoutMs?: number | undefined;
}

// Sums a hash's fields over live members (ARGV[1] is this station; ARGV[2] the liveness-key
// prefix), deleting the fields of dead ones.
const LIVE_SUM = `
local function live_sum(key, me, alive)
  local sum = 0
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local who = fields[i]
    if who == me or redis.call('EXISTS', alive .. who) == 1 then
      sum = sum + tonumber(fields[i + 1])
    else
      redis.call('HDEL', key, who)
    end
  end
  return sum
end
`;

// KEYS: decoy hash, total hash. ARGV: member, alive prefix, decoy limit, total limit (-1: none).
// Returns 1 (taken), 0 (decoy full), -1 (total full).
const ACQUIRE = `${LIVE_SUM}
if live_sum(KEYS[1], ARGV[1], ARGV[2]) >= tonumber(ARGV[3]) then return 0 end
local total = tonumber(ARGV[4])
if total >= 0 and live_sum(KEYS[2], ARGV[1], ARGV[2]) >= total then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
`;

// KEYS: decoy hash, total hash. ARGV: member.
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('HINCRBY', key, ARGV[1], -1) <= 0 then redis.call('HDEL', key, ARGV[1]) end
end
return 1
`;

// KEYS: hashes to sum. ARGV: member, alive prefix. Returns the live sums in order.
const COUNTS = `${LIVE_SUM}
local out = {}
for i, key in ipairs(KEYS) do out[i] = live_sum(key, ARGV[1], ARGV[2]) end
return out
`;

// KEYS: liveness key, total hash. ARGV: member, expiry ms, decoy-hash prefix, total, then
// decoy/count pairs (count 0 removes the field).
const HEARTBEAT = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
local me = ARGV[1]
if tonumber(ARGV[4]) > 0 then redis.call('HSET', KEYS[2], me, ARGV[4]) else redis.call('HDEL', KEYS[2], me) end
for i = 5, #ARGV, 2 do
  local key = ARGV[3] .. ARGV[i]
  if tonumber(ARGV[i + 1]) > 0 then redis.call('HSET', key, me, ARGV[i + 1]) else redis.call('HDEL', key, me) end
end
return 1
`;

type Arg = string | number;

/** How long a decoy this station was asked for stays in its metrics without clients here. */
const SEEN_MS = 10 * 60_000;
interface Scripts {
  tdAcquire(decoyKey: string, totalKey: string, ...args: Arg[]): Promise<number>;
  tdRelease(decoyKey: string, totalKey: string, member: string): Promise<number>;
  tdCounts(n: number, ...keysAndArgs: Arg[]): Promise<number[]>;
  tdHeartbeat(aliveKey: string, totalKey: string, ...args: Arg[]): Promise<number>;
}

/**
 * Per-decoy limits shared by every station using the same Redis and key prefix.
 *
 * @example
 * ```ts
 * const load = new RedisDecoyLoad({ url: 'redis://10.0.0.5:6379', limits: config.limits, log, stationId: 'isp-a-1' })
 * await load.start()
 * if (!(await load.acquire('192.0.2.7'))) refuseWith('DECOY_OVERLOAD')
 * ```
 */
export class RedisDecoyLoad implements DecoyLoad {
  /** This process's name in the shared hashes. */
  readonly member: string;
  readonly #redis: Redis;
  readonly #scripts: Scripts;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #heartbeatMs: number;
  readonly #expiryMs: number;
  /** This station's slots: the truth the heartbeat publishes, and the fallback's counts. */
  readonly #mine = new DecoyCounts();
  /** Decoys whose field this station may have written since the last heartbeat. */
  readonly #published = new Set<string>();
  /** Decoys this station was asked for, and when last (their shared counts go to metrics). */
  readonly #seen = new Map<string, number>();
  #limits: DecoyLimits;
  #up = false;
  #storeErrors = 0;
  #fallbackAcquires = 0;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #closed = false;

  /**
   * Creates the store; nothing is sent until {@link start}.
   *
   * @param options - see {@link RedisDecoyLoadOptions}
   */
  constructor(options: RedisDecoyLoadOptions) {
    this.#limits = options.limits;
    this.#log = options.log;
    this.#prefix = options.keyPrefix ?? 'tapdance';
    this.#heartbeatMs = options.heartbeatMs ?? 2_000;
    this.#expiryMs = options.expiryMs ?? 3 * this.#heartbeatMs;
    this.member = `${options.stationId ?? hostname()}/${randomBytes(4).toString('hex')}`;
    const timeout = options.commandTimeoutMs ?? 1_000;
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      // Fail fast while disconnected: the fallback answers instead of a queue that grows.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeout,
      connectTimeout: Math.max(timeout, 1_000),
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2_000),
    });
    // Without a listener, ioredis would print connection errors itself; they are counted and
    // logged once per outage by #down().
    this.#redis.on('error', (err: Error) => this.#down(err));
    this.#redis.on('ready', () => void this.#heartbeat());
    this.#redis.defineCommand('tdAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    this.#redis.defineCommand('tdRelease', { numberOfKeys: 2, lua: RELEASE });
    this.#redis.defineCommand('tdCounts', { lua: COUNTS });
    this.#redis.defineCommand('tdHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT });
    this.#scripts = this.#redis as unknown as Scripts;
  }

  /**
   * Connects and publishes the first heartbeat. Never rejects: when Redis cannot be reached the
   * store starts in fallback mode and keeps trying in the background.
   *
   * @returns whether Redis answered
   */
  async start(): Promise<boolean> {
    this.#timer = setInterval(() => void this.#heartbeat(), this.#heartbeatMs);
    this.#timer.unref();
    try {
      await this.#redis.connect();
      await this.#heartbeat();
    } catch (err) {
      this.#down(err as Error);
    }
    if (!this.#up) this.#log.warn({ store: 'redis' }, 'decoy load store unreachable at start; limits apply per station until it answers');
    return this.#up;
  }

  /** Whether the last request to Redis succeeded. */
  get up(): boolean {
    return this.#up;
  }

  setLimits(limits: DecoyLimits): void {
    this.#limits = limits;
  }

  #key(decoy: string): string {
    return `${this.#prefix}:decoy:${decoy}`;
  }

  get #totalKey(): string {
    return `${this.#prefix}:total`;
  }

  get #alivePrefix(): string {
    return `${this.#prefix}:alive:`;
  }

  async acquire(decoy: string): Promise<boolean> {
    this.#seen.set(decoy, Date.now());
    if (!this.#up || this.#closed) return this.#fallbackAcquire(decoy);
    const limits = this.#limits;
    // Counted before the answer, so a heartbeat sent meanwhile publishes it (over-counting for
    // one heartbeat at most is the safe direction for the decoy).
    this.#mine.add(decoy, 1);
    this.#published.add(decoy);
    let result: number;
    try {
      result = await this.#scripts.tdAcquire(this.#key(decoy), this.#totalKey, this.member, this.#alivePrefix,
        limitFor(limits, decoy), limits.total ?? -1);
    } catch (err) {
      this.#mine.add(decoy, -1);
      this.#down(err as Error);
      return this.#fallbackAcquire(decoy);
    }
    if (result !== 1) this.#mine.add(decoy, -1);
    return result === 1;
  }

  #fallbackAcquire(decoy: string): boolean {
    if (!this.#mine.tryAdd(decoy, this.#limits)) return false;
    this.#fallbackAcquires++;
    this.#published.add(decoy);
    return true;
  }

  async release(decoy: string): Promise<void> {
    if (this.#mine.get(decoy) === 0) return;
    this.#mine.add(decoy, -1);
    if (!this.#up || this.#closed) return; // the next heartbeat publishes the lower count
    try {
      await this.#scripts.tdRelease(this.#key(decoy), this.#totalKey, this.member);
    } catch (err) {
      this.#down(err as Error);
    }
  }

  async count(decoy: string): Promise<number> {
    if (this.#up) {
      try {
        const [n] = await this.#scripts.tdCounts(1, this.#key(decoy), this.member, this.#alivePrefix);
        return Number(n);
      } catch (err) {
        this.#down(err as Error);
      }
    }
    return this.#mine.get(decoy);
  }

  async status(): Promise<DecoyLoadStatus> {
    const decoys = new Map<string, { station: number; all: number }>();
    // Decoys this station holds slots on or was asked for in the last ten minutes.
    const since = Date.now() - SEEN_MS;
    for (const [d, at] of this.#seen) if (at < since && this.#mine.get(d) === 0) this.#seen.delete(d);
    const names = [...new Set([...this.#seen.keys(), ...[...this.#mine.entries()].map(([d]) => d)])];
    let all: number[] | undefined;
    if (this.#up && names.length > 0) {
      try {
        all = (await this.#scripts.tdCounts(names.length, ...names.map((d) => this.#key(d)), this.member, this.#alivePrefix)).map(Number);
      } catch (err) {
        this.#down(err as Error);
      }
    }
    names.forEach((d, i) => {
      const station = this.#mine.get(d);
      const shared = all?.[i] ?? station;
      if (station > 0 || shared > 0) decoys.set(d, { station, all: shared });
    });
    return { store: 'redis', up: this.#up, storeErrors: this.#storeErrors, fallbackAcquires: this.#fallbackAcquires, decoys };
  }

  /** Refresh liveness and publish this station's counts (one at a time). */
  #heartbeat(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#beating ??= this.#beat().finally(() => { this.#beating = undefined; });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#redis.status !== 'ready') return;
    const pairs: Arg[] = [];
    const zeroed: string[] = [];
    for (const d of this.#published) {
      const n = this.#mine.get(d);
      pairs.push(d, n);
      if (n === 0) zeroed.push(d);
    }
    try {
      await this.#scripts.tdHeartbeat(`${this.#alivePrefix}${this.member}`, this.#totalKey, this.member, this.#expiryMs,
        `${this.#prefix}:decoy:`, this.#mine.total, ...pairs);
    } catch (err) {
      this.#down(err as Error);
      return;
    }
    for (const d of zeroed) if (this.#mine.get(d) === 0) this.#published.delete(d);
    if (!this.#up) {
      this.#up = true;
      this.#log.info({ store: 'redis', member: this.member }, 'decoy load store reachable; limits are shared');
    }
  }

  #down(err: Error): void {
    this.#storeErrors++;
    if (!this.#up) return;
    this.#up = false;
    this.#log.warn({ store: 'redis', err: (err as { code?: string }).code ?? err.message },
      'decoy load store unreachable; limits apply per station until it answers');
  }

  /**
   * Removes this station's slots and liveness key from Redis (when reachable) and disconnects.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#beating;
    if (this.#up) {
      const tx = this.#redis.multi().del(`${this.#alivePrefix}${this.member}`).hdel(this.#totalKey, this.member);
      for (const d of this.#published) tx.hdel(this.#key(d), this.member);
      try {
        await tx.exec();
        await this.#redis.quit();
        return;
      } catch {
        // fall through to a hard disconnect; the liveness key expires on its own
      }
    }
    this.#redis.disconnect();
  }
}

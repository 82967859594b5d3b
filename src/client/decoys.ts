/**
 * Choosing decoys from a ClientConf: uniform random choice as the public client makes it (or by
 * caller-given weights), the floors on window and timeout, and the connect back-off.
 *
 * @module
 */
import type { ClientConf, TLSDecoySpec } from '../protocol/messages.js';
import { decoyAddress, decoyServerName, decoyStationKey, decoyTcpWindow, decoyTimeout, DECOY_PORT } from '../protocol/client-conf.js';
import { systemRandomInt, type RandomInt } from '../protocol/padding.js';
import type { DecoyTarget } from './flow.js';
import { ClientError } from './errors.js';

/** A decoy with everything a flow needs. */
export interface Decoy {
  spec: TLSDecoySpec;
  target: DecoyTarget;
  /** Station key to tag for (the decoy's own, else the ClientConf default). */
  stationKey: Uint8Array;
  /** Effective incomplete-request timeout, ms (floor applied). */
  timeoutMs: number;
  /** Effective TCP window, bytes (floor applied). */
  tcpWindow: number;
  /** `"hostname ip:port"` as failed decoys are reported. */
  label: string;
}

/** Options of {@link DecoyChooser}. */
export interface DecoyChoiceOptions {
  /** Relative weights by hostname (or address when a decoy has no name); others weigh 1. */
  weights?: Readonly<Record<string, number>> | undefined;
  /** Connect to this port instead of 443 (test decoys). */
  port?: number | undefined;
  randomInt?: RandomInt | undefined;
}

/**
 * Turn a decoy spec into a {@link Decoy}, or null when it has no address or no station key.
 */
export function resolveDecoy(spec: TLSDecoySpec, conf: ClientConf, port = DECOY_PORT): Decoy | null {
  const addr = decoyAddress(spec);
  const stationKey = decoyStationKey(spec, conf);
  if (addr === null || stationKey === null) return null;
  const serverName = decoyServerName(spec);
  return {
    spec,
    target: { serverName, address: addr.address, port },
    stationKey,
    timeoutMs: decoyTimeout(spec),
    tcpWindow: decoyTcpWindow(spec),
    label: `${serverName} ${addr.family === 6 ? `[${addr.address}]` : addr.address}:${port}`,
  };
}

/** Random decoy choice over a ClientConf. */
export class DecoyChooser {
  #conf: ClientConf;
  #decoys: Decoy[] = [];
  readonly #o: DecoyChoiceOptions;

  constructor(conf: ClientConf, options: DecoyChoiceOptions = {}) {
    this.#o = options;
    this.#conf = conf;
    this.setConf(conf);
  }

  /** The ClientConf choices are made from. */
  get conf(): ClientConf {
    return this.#conf;
  }

  /** Usable decoys. */
  get decoys(): readonly Decoy[] {
    return this.#decoys;
  }

  /** Switch to a new ClientConf (update from a station). */
  setConf(conf: ClientConf): void {
    this.#conf = conf;
    this.#decoys = (conf.decoyList?.tlsDecoys ?? [])
      .map((s) => resolveDecoy(s, conf, this.#o.port))
      .filter((d): d is Decoy => d !== null);
  }

  /** Whether a decoy (by label) is still in the list. */
  has(decoy: Decoy): boolean {
    return this.#decoys.some((d) => d.label === decoy.label);
  }

  /**
   * Pick one decoy at random (by weight), avoiding `exclude` while others remain.
   * @throws {@link ClientError} `ERR_NO_DECOYS` when the ClientConf has no usable decoy
   */
  pick(exclude: ReadonlySet<string> = new Set()): Decoy {
    if (this.#decoys.length === 0) throw new ClientError('ERR_NO_DECOYS', 'the ClientConf has no usable decoy (address and station key)');
    const fresh = this.#decoys.filter((d) => !exclude.has(d.label));
    const pool = fresh.length > 0 ? fresh : this.#decoys;
    const random = this.#o.randomInt ?? systemRandomInt;
    const weights = this.#o.weights;
    if (weights === undefined) return pool[random(0, pool.length - 1)]!;
    const w = pool.map((d) => Math.max(0, weights[d.target.serverName] ?? weights[d.target.address] ?? 1));
    const total = w.reduce((a, b) => a + b, 0);
    if (total <= 0) return pool[random(0, pool.length - 1)]!;
    // Integer draw in [0, total·1000) keeps weights with three decimals exact enough.
    let x = random(0, Math.ceil(total * 1000) - 1) / 1000;
    for (let i = 0; i < pool.length; i++) {
      x -= w[i]!;
      if (x < 0) return pool[i]!;
    }
    return pool[pool.length - 1]!;
  }
}

/** Back-off before connect attempt `i` (0-based): 0, then min(25·2^i, 15000) ms. */
export function connectBackoffMs(attempt: number): number {
  return attempt <= 0 ? 0 : Math.min(25 * 2 ** attempt, 15_000);
}

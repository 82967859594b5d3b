/**
 * Privacy-preserving JSON logs for the station (pino).
 *
 * A station's logs must never let anyone learn who its users are. Client addresses reach the log
 * only through {@link redactClientAddress}, which keeps a configurable number of leading bits
 * (0 by default: nothing). Decoy and covert addresses are not user data and may be logged.
 * Session ids are logged as a short keyed hash, never as the 16-byte connection id itself, since
 * the id travels inside the tag and would link log lines to captured traffic.
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { pino, type Logger, type DestinationStream } from 'pino';

/** Options of {@link createStationLogger}. */
export interface StationLogOptions {
  level: string;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
}

/** Create the station's JSON logger. */
export function createStationLogger(options: StationLogOptions): Logger {
  return pino({ level: options.level, base: { svc: 'tapdance-station' } }, options.destination);
}

/**
 * Reduce a client address to its first `prefixBits` bits for logging, in CIDR form
 * (`10.20.0.0/16`), or `undefined` when `prefixBits` is 0. IPv6 addresses keep at most
 * `prefixBits * 2` bits (an IPv4 /16 is about as coarse as an IPv6 /32).
 */
export function redactClientAddress(address: string, prefixBits: number): string | undefined {
  if (prefixBits <= 0) return undefined;
  const family = isIP(address);
  if (family === 4) {
    const bits = Math.min(prefixBits, 24);
    const n = address.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    const masked = n & (((1n << BigInt(bits)) - 1n) << BigInt(32 - bits));
    return `${[24n, 16n, 8n, 0n].map((s) => (masked >> s) & 255n).join('.')}/${bits}`;
  }
  if (family === 6) {
    const bits = Math.min(prefixBits * 2, 48);
    const groups = expandIpv6(address);
    const kept = groups.map((g, i) => {
      const lo = i * 16;
      if (lo >= bits) return 0;
      const keep = Math.min(16, bits - lo);
      return g & (0xffff << (16 - keep)) & 0xffff;
    });
    return `${kept.map((g) => g.toString(16)).join(':')}/${bits}`;
  }
  return undefined;
}

function expandIpv6(address: string): number[] {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').flatMap((g) => {
    if (g.includes('.')) {
      const o = g.split('.').map(Number) as [number, number, number, number];
      return [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
    }
    return [parseInt(g, 16)];
  }));
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * Turns connection ids into short log labels with a per-process key, so that lines of one
 * session can be correlated within one run but not matched against tags seen elsewhere.
 */
export class SessionLabeler {
  readonly #key = randomBytes(32);

  /** A 12-hex-digit label for the connection id. */
  label(connectionId: Uint8Array): string {
    return createHmac('sha256', this.#key).update(connectionId).digest('hex').slice(0, 12);
  }
}

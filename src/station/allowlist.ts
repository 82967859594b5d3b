/**
 * The covert allowlist: which destinations a station may connect to on a client's behalf.
 *
 * A station that connected anywhere a tag asked would be an open proxy into the ISP's network,
 * so covert connections are denied unless an address-and-port rule allows them. Rules are CIDR
 * blocks (IPv4 or IPv6) with port ranges, e.g. `10.20.0.0/16 443,8443` or `2001:db8::/32 1-65535`.
 * Names are resolved by the caller and every resolved address is checked here; this module does
 * no I/O.
 *
 * @module
 */
import { BlockList, isIP } from 'node:net';
import { StationConfigError } from './errors.js';

/** One allowlist rule as written in the station config. */
export interface AllowRuleSpec {
  /** CIDR block, e.g. `192.0.2.0/24` or `2001:db8::/48`; a bare address means a single host. */
  cidr: string;
  /** Ports: `443`, `80,443`, `8000-8100`, or `*` for every port. */
  ports: string;
}

interface Rule {
  readonly spec: AllowRuleSpec;
  readonly block: BlockList;
  readonly family: 'ipv4' | 'ipv6';
  readonly ports: ReadonlyArray<readonly [number, number]>;
}

/** Parse a port list such as `22,443,8000-8100` or `*` into inclusive ranges. */
export function parsePortRanges(text: string, where = 'ports'): Array<[number, number]> {
  const trimmed = text.trim();
  if (trimmed === '*') return [[1, 65535]];
  const out: Array<[number, number]> = [];
  for (const part of trimmed.split(',')) {
    const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || lo < 1 || hi > 65535 || lo > hi) {
      throw new StationConfigError(`${where}: "${part.trim()}" is not a port or port range (1-65535)`);
    }
    out.push([lo, hi]);
  }
  return out;
}

function parseRule(spec: AllowRuleSpec, where: string): Rule {
  const [address, prefixText, extra] = spec.cidr.trim().split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) {
    throw new StationConfigError(`${where}: "${spec.cidr}" is not an IPv4 or IPv6 CIDR block`);
  }
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) {
    throw new StationConfigError(`${where}: prefix length of "${spec.cidr}" must be 0-${max}`);
  }
  const block = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  block.addSubnet(address as string, prefix, type);
  return { spec, block, family: type, ports: parsePortRanges(spec.ports, `${where} ports`) };
}

/**
 * An immutable set of allow rules.
 *
 * @example
 * ```ts
 * const allow = CovertAllowlist.from([{ cidr: '10.30.0.0/16', ports: '443' }])
 * allow.allows('10.30.1.2', 443) // true
 * allow.allows('127.0.0.1', 443) // false
 * ```
 */
export class CovertAllowlist {
  readonly #rules: readonly Rule[];

  private constructor(rules: Rule[]) {
    this.#rules = rules;
  }

  /**
   * Build an allowlist from rule specs.
   * @throws {StationConfigError} naming the first bad rule.
   */
  static from(specs: readonly AllowRuleSpec[], where = 'covert.allow'): CovertAllowlist {
    return new CovertAllowlist(specs.map((s, i) => parseRule(s, `${where}[${i}]`)));
  }

  /** The rules as configured. */
  get rules(): AllowRuleSpec[] {
    return this.#rules.map((r) => ({ ...r.spec }));
  }

  /**
   * Whether a connection to `address`:`port` is allowed. IPv4-mapped IPv6 addresses are checked
   * as IPv4, so `::ffff:10.0.0.1` cannot slip past an IPv4 rule set.
   */
  allows(address: string, port: number): boolean {
    let addr = address;
    let family = isIP(addr);
    const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr) : null;
    if (mapped) {
      addr = mapped[1] as string;
      family = 4;
    }
    if (family === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    return this.#rules.some((r) => r.family === type && r.ports.some(([lo, hi]) => port >= lo && port <= hi)
      && r.block.check(addr, type));
  }
}

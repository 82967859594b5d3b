/**
 * Link impairments on the testbed's router (what `netem` would do where the kernel has it):
 * a fixed delay, random loss and a rate limit, each applied to every packet the router
 * forwards, in both directions. The commands are planned here (no I/O); `testbed.ts` runs them.
 *
 * How, since this kernel has no `sch_netem`:
 * - **rate**: a `tbf` root qdisc on each router port facing the client or a decoy (so the limit
 *   holds per direction); the ports' `clsact` mirror hooks are untouched;
 * - **loss**: an nft `forward` chain that drops `numgen random` packets leaving those ports
 *   (counted once per packet, also when the delay line is in the path);
 * - **delay**: policy routing sends everything arriving on the router's client, decoy and
 *   station ports to a tun device, where a user-space delay line (`delay-line-main.ts`) holds
 *   each packet and writes it back; from the tun it is routed normally. RTT grows by twice the
 *   delay. The station's tap still sees packets as they enter the router, before the delay.
 *
 * @module
 */

/** Impairments of forwarded traffic; unset or 0 means off. */
export interface Impairment {
  /** Added one-way delay, ms, in each direction (RTT grows by twice this). */
  delayMs?: number;
  /** Packets dropped, percent (0–100), in each direction. */
  lossPercent?: number;
  /** Rate limit, kbit/s, in each direction. */
  rateKbit?: number;
}

/** Routing table of the delay line. */
export const DELAY_TABLE = 201;
/** Priority of the delay line's policy rules (before `main`, after `local`). */
export const DELAY_RULE_PRIORITY = 900;
/** nft table (family ip) of the loss rule. */
export const LOSS_NFT_TABLE = 'td_impair';

/**
 * Check an impairment and fill unset fields with 0.
 *
 * @param i - requested impairment.
 * @returns every field set.
 * @throws RangeError on a negative, non-finite or out-of-range value.
 */
export function checkImpairment(i: Impairment): Required<Impairment> {
  const num = (v: number | undefined, name: string, max: number): number => {
    const x = v ?? 0;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > max) {
      throw new RangeError(`"${name}" expected a number 0…${max}, got ${String(v)}`);
    }
    return x;
  };
  return {
    delayMs: num(i.delayMs, 'delayMs', 60_000),
    lossPercent: num(i.lossPercent, 'lossPercent', 100),
    rateKbit: Math.round(num(i.rateKbit, 'rateKbit', 100_000_000)),
  };
}

/**
 * `tc` batch lines that set (or with 0 remove) the rate limit on the given ports.
 *
 * @param ports - router interfaces.
 * @param rateKbit - new rate, 0 for none.
 * @param wasSet - whether a limit is installed now (only then is there a qdisc to delete).
 */
export function rateLines(ports: readonly string[], rateKbit: number, wasSet: boolean): string[] {
  if (rateKbit === 0) return wasSet ? ports.map((p) => `qdisc del dev ${p} root`) : [];
  // Burst: at least 10 ms worth of tokens and never below a few full frames.
  const burst = Math.max(16 * 1024, Math.ceil((rateKbit * 1000) / 8 / 100));
  return ports.map((p) => `qdisc replace dev ${p} root tbf rate ${rateKbit}kbit burst ${burst} latency 200ms`);
}

/**
 * nft script that installs (atomically replacing) or, with 0, removes the loss rule.
 *
 * @param ports - router interfaces whose outgoing forwarded packets may be dropped.
 * @param lossPercent - loss, percent.
 * @param wasSet - whether the table exists now.
 * @returns the script, or undefined when there is nothing to do.
 */
export function lossScript(ports: readonly string[], lossPercent: number, wasSet: boolean): string | undefined {
  if (lossPercent === 0) return wasSet ? `delete table ip ${LOSS_NFT_TABLE}\n` : undefined;
  const ppm = Math.round(lossPercent * 10_000);
  const set = `{ ${ports.map((p) => `"${p}"`).join(', ')} }`;
  return `table ip ${LOSS_NFT_TABLE}
delete table ip ${LOSS_NFT_TABLE}
table ip ${LOSS_NFT_TABLE} {
  chain loss {
    type filter hook forward priority filter; policy accept;
    oifname ${set} ${ppm >= 1_000_000 ? '' : `numgen random mod 1000000 < ${ppm} `}counter drop
  }
}
`;
}

/**
 * `ip` batch lines that divert (or stop diverting) the given input ports to the delay line's
 * tun device. Install only once the tun is up.
 *
 * @param inputs - router interfaces whose arriving packets are delayed.
 * @param tun - tun interface name.
 * @param on - install (true) or remove (false).
 */
export function delayRouteLines(inputs: readonly string[], tun: string, on: boolean): string[] {
  const verb = on ? 'add' : 'del';
  const rules = inputs.map((i) => `rule ${verb} iif ${i} lookup ${DELAY_TABLE} priority ${DELAY_RULE_PRIORITY}`);
  const route = `route ${verb} default dev ${tun} table ${DELAY_TABLE}`;
  // Add the route before the rules and delete the rules before the route: no packet ever
  // meets a rule pointing at an empty table.
  return on ? [`link set ${tun} up`, route, ...rules] : [...rules, route];
}

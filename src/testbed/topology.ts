/**
 * The testbed's topology as data: namespace names, interface names, addresses, and the plan of
 * `ip`/`tc`/`sysctl` commands that builds it. No I/O here; `testbed.ts` runs the plan.
 *
 * ```
 *  client            router (ip_forward=1)                       decoy i (one namespace each)
 *  c0 10.10.1.2 ---- r-cli 10.10.1.1        r-dec<i> 10.11.i.1 ---- d0 10.11.i.2  (nginx)
 *                     clsact ingress on r-cli and every r-dec<i>:
 *                     u32 match-all -> mirred egress mirror dev r-tap
 *                    r-tap (no address)     r-inj 10.10.3.1
 *                      |                      |
 *  station          s-tap (no address)     s-inj 10.10.3.2, default via 10.10.3.1 (injection uplink)
 *                   s-cov 10.12.0.1 ---- v0 10.12.0.2  covert (HTTP server, CONNECT proxy)
 * ```
 *
 * Mirroring at the ingress of the router's client and decoy ports copies each packet once, in
 * both directions, before the router touches it; the station's own packets enter on `r-inj`
 * and are not mirrored. The covert network hangs off the station only: the router has no route
 * to it and the station does not forward, so only the station reaches covert servers. IPv6 is
 * off in every namespace (no router solicitations or DAD noise on the mirror).
 *
 * Addresses are the same in every testbed: each lives in its own namespaces.
 *
 * @module
 */

/** Largest number of decoys (each gets its own /24 in 10.11.0.0/16). */
export const MAX_DECOYS = 64;

/** Interface names (each unique within its namespace). */
export const IFACE = Object.freeze({
  /** Client's link to the router. */
  client: 'c0',
  /** Router's port facing the client (client→decoy frames enter here: its MAC is the tap MAC of the kernel path). */
  routerClient: 'r-cli',
  /** Decoy's link to the router (in each decoy namespace). */
  decoy: 'd0',
  /** Router's mirror port. */
  routerTap: 'r-tap',
  /** Station's capture interface (receives the mirror, never sends). */
  stationTap: 's-tap',
  /** Router's port facing the station's injection uplink. */
  routerInject: 'r-inj',
  /** Station's injection uplink. */
  stationInject: 's-inj',
  /** Station's link to the covert network. */
  stationCovert: 's-cov',
  /** Covert namespace's link to the station. */
  covert: 'v0',
  /** Tun device of the router's delay line (exists while a delay is set). */
  delayTun: 'tdl0',
  /** Name the station's tun path uses for its re-injection device (net-setup's extra interface in `tun` mode). */
  stationTun: 'tdtun0',
});

/**
 * Router port facing decoy `i`.
 *
 * @param i - decoy index.
 */
export function routerDecoyIface(i: number): string {
  return `r-dec${i}`;
}

/** Namespace names of one testbed. */
export interface TopologyNames {
  /** `<id>-cli` */
  client: string;
  /** `<id>-rtr` */
  router: string;
  /** `<id>-sta` */
  station: string;
  /** `<id>-cov` */
  covert: string;
  /** `<id>-dec0`, `<id>-dec1`, … */
  decoys: string[];
}

/** Addresses (IPv4, dotted) of one testbed. */
export interface TopologyAddresses {
  client: string;
  routerClient: string;
  /** Decoy `i`'s address. */
  decoys: string[];
  /** Router's address on decoy `i`'s link. */
  routerDecoys: string[];
  routerInject: string;
  stationInject: string;
  stationCovert: string;
  covert: string;
}

/**
 * Namespace names for a testbed id.
 *
 * @param id - `td-<6 hex>`.
 * @param decoys - number of decoys.
 */
export function topologyNames(id: string, decoys: number): TopologyNames {
  return {
    client: `${id}-cli`, router: `${id}-rtr`, station: `${id}-sta`, covert: `${id}-cov`,
    decoys: Array.from({ length: decoys }, (_, i) => `${id}-dec${i}`),
  };
}

/**
 * Addresses of a testbed with `decoys` decoys.
 *
 * @param decoys - number of decoys (1…{@link MAX_DECOYS}).
 */
export function topologyAddresses(decoys: number): TopologyAddresses {
  return {
    client: '10.10.1.2', routerClient: '10.10.1.1',
    decoys: Array.from({ length: decoys }, (_, i) => `10.11.${i}.2`),
    routerDecoys: Array.from({ length: decoys }, (_, i) => `10.11.${i}.1`),
    routerInject: '10.10.3.1', stationInject: '10.10.3.2',
    stationCovert: '10.12.0.1', covert: '10.12.0.2',
  };
}

/** One step of the build plan. */
export type PlanStep =
  | { readonly kind: 'sysctl'; readonly ns: string; readonly settings: Readonly<Record<string, string>> }
  | { readonly kind: 'ip'; readonly ns: string; readonly lines: readonly string[] }
  | { readonly kind: 'tc'; readonly ns: string; readonly lines: readonly string[] };

/**
 * The commands that build the topology in already-created, empty namespaces. Steps within one
 * stage are independent; stages run in order (sysctls before links exist, so new interfaces
 * inherit IPv6-off and rp_filter 0; links before addresses in the peers' namespaces).
 *
 * @param n - namespace names.
 * @param a - addresses.
 * @returns stages of steps.
 */
export function topologyPlan(n: TopologyNames, a: TopologyAddresses): PlanStep[][] {
  const all = [n.client, n.router, n.station, n.covert, ...n.decoys];
  const quiet = { 'net/ipv6/conf/all/disable_ipv6': '1', 'net/ipv6/conf/default/disable_ipv6': '1' };
  const noRpf = { 'net/ipv4/conf/all/rp_filter': '0', 'net/ipv4/conf/default/rp_filter': '0' };
  const sysctls: PlanStep[] = all.map((ns) => ({
    kind: 'sysctl', ns,
    settings: ns === n.router ? { ...quiet, ...noRpf, 'net/ipv4/ip_forward': '1' }
      : ns === n.station ? { ...quiet, ...noRpf, 'net/ipv4/ip_forward': '0' }
        : quiet,
  }));
  const rd = routerDecoyIface;
  const router: PlanStep = {
    kind: 'ip', ns: n.router, lines: [
      'link set lo up',
      `link add ${IFACE.routerClient} type veth peer name ${IFACE.client} netns ${n.client}`,
      ...n.decoys.map((d, i) => `link add ${rd(i)} type veth peer name ${IFACE.decoy} netns ${d}`),
      `link add ${IFACE.routerTap} type veth peer name ${IFACE.stationTap} netns ${n.station}`,
      `link add ${IFACE.routerInject} type veth peer name ${IFACE.stationInject} netns ${n.station}`,
      `addr add ${a.routerClient}/24 dev ${IFACE.routerClient}`,
      ...a.routerDecoys.map((r, i) => `addr add ${r}/24 dev ${rd(i)}`),
      `addr add ${a.routerInject}/24 dev ${IFACE.routerInject}`,
      `link set ${IFACE.routerClient} up`,
      ...n.decoys.map((_, i) => `link set ${rd(i)} up`),
      `link set ${IFACE.routerTap} up`,
      `link set ${IFACE.routerInject} up`,
    ],
  };
  const station: PlanStep = {
    kind: 'ip', ns: n.station, lines: [
      'link set lo up',
      `link add ${IFACE.stationCovert} type veth peer name ${IFACE.covert} netns ${n.covert}`,
      `link set ${IFACE.stationTap} arp off`,
      `link set ${IFACE.stationTap} up`,
      `addr add ${a.stationInject}/24 dev ${IFACE.stationInject}`,
      `link set ${IFACE.stationInject} up`,
      `addr add ${a.stationCovert}/24 dev ${IFACE.stationCovert}`,
      `link set ${IFACE.stationCovert} up`,
      `route add default via ${a.routerInject}`,
    ],
  };
  const leaf = (ns: string, dev: string, addr: string, gw: string): PlanStep => ({
    kind: 'ip', ns, lines: ['link set lo up', `addr add ${addr}/24 dev ${dev}`, `link set ${dev} up`, `route add default via ${gw}`],
  });
  const leaves: PlanStep[] = [
    leaf(n.client, IFACE.client, a.client, a.routerClient),
    ...n.decoys.map((d, i) => leaf(d, IFACE.decoy, a.decoys[i] as string, a.routerDecoys[i] as string)),
  ];
  const covert = leaf(n.covert, IFACE.covert, a.covert, a.stationCovert);
  const mirrorPorts = [IFACE.routerClient, ...n.decoys.map((_, i) => rd(i))];
  const mirror: PlanStep = {
    kind: 'tc', ns: n.router, lines: mirrorPorts.flatMap((dev) => [
      `qdisc add dev ${dev} clsact`,
      // u32 "match u32 0 0" matches every frame (cls_matchall is not built into every kernel).
      `filter add dev ${dev} ingress protocol all prio 1 u32 match u32 0 0 action mirred egress mirror dev ${IFACE.routerTap}`,
    ]),
  };
  return [sysctls, [router], [station, ...leaves, mirror], [covert]];
}

/**
 * The station's Prometheus endpoint (prom-client): counters of the native data plane per capture
 * worker, of the session layer, of the per-decoy load store, and of configuration reloads.
 *
 * Nothing is counted here: every metric reads its value from the station when Prometheus scrapes
 * (`collect`), so the packet path pays nothing for metrics. No metric carries a client address;
 * decoy addresses (public servers) label the per-decoy load.
 *
 * The endpoint serves `GET /metrics` on `metrics.listen` and 404 for anything else. It has no
 * authentication: bind it to a management address.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { HostPort } from './config.js';
import type { DecoyLoadStatus } from './decoy-load.js';
import { StationConfigError } from './errors.js';
import type { NativeCounters } from './native.js';
import type { StationStats } from './stats.js';

/** What the metrics read, at scrape time. */
export interface MetricsSource {
  /** Counters of each capture worker (index = worker). */
  nativeCounters(): NativeCounters[];
  /** The session layer's counters. */
  stats: StationStats;
  /** Per-decoy counts and load-store health. */
  loadStatus(): Promise<DecoyLoadStatus>;
  /** Generation of the ClientConf offered to clients, if any. */
  clientConfGeneration(): number | undefined;
  /** Configuration reloads by result (`ok`, `failed`). */
  reloads: ReadonlyMap<string, number>;
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** How a native counter is published: metric name, and labels besides `worker`. */
interface NativeMetric {
  metric: string;
  /** Given on the first counter of each metric. */
  help?: string;
  labels?: Labels;
  gauge?: boolean;
}

/** Native counter name → metric. Counters the table does not know are published as `tapdance_native_<name>_total`. */
const NATIVE: Readonly<Record<string, NativeMetric>> = {
  packets: { metric: 'tapdance_capture_packets_total', help: 'Frames captured on the mirrored link' },
  bytes: { metric: 'tapdance_capture_bytes_total', help: 'Bytes of frames captured' },
  drops: { metric: 'tapdance_capture_drops_total', help: 'Frames the kernel or capture library dropped before the station saw them' },
  truncated: { metric: 'tapdance_capture_skipped_total', help: 'Frames not tracked, by reason', labels: { reason: 'truncated' } },
  not_ip: { metric: 'tapdance_capture_skipped_total', labels: { reason: 'not_ip' } },
  fragments: { metric: 'tapdance_capture_skipped_total', labels: { reason: 'fragment' } },
  not_tcp: { metric: 'tapdance_capture_skipped_total', labels: { reason: 'not_tcp' } },
  other_ports: { metric: 'tapdance_capture_skipped_total', labels: { reason: 'other_port' } },
  ip_options: { metric: 'tapdance_capture_ip_options_total', help: 'IPv4 packets with options (still processed)' },
  syns: { metric: 'tapdance_flow_syns_total', help: 'Client SYNs to a decoy TLS port' },
  flows_tracked: { metric: 'tapdance_flows_tracked', help: 'Flows in the data plane\'s flow table', gauge: true },
  flows_created: { metric: 'tapdance_flows_created_total', help: 'Flows added to the flow table' },
  flows_evicted: { metric: 'tapdance_flows_removed_total', help: 'Flows removed from the flow table, by reason', labels: { reason: 'timeout' } },
  flows_closed: { metric: 'tapdance_flows_removed_total', labels: { reason: 'closed' } },
  table_full: { metric: 'tapdance_flow_table_full_total', help: 'SYNs not tracked because the flow table was full' },
  tls_bogus: { metric: 'tapdance_flows_unchecked_total', help: 'Flows whose first record could not be checked, by reason', labels: { reason: 'not_tls' } },
  records_split: { metric: 'tapdance_flows_unchecked_total', labels: { reason: 'record_split' } },
  tag_too_short: { metric: 'tapdance_flows_unchecked_total', labels: { reason: 'too_short' } },
  tag_checks: { metric: 'tapdance_tag_checks_total', help: 'Tag checks run (one per TLS flow)' },
  tags_found: { metric: 'tapdance_tag_hits_total', help: 'Tags that authenticated with a station key' },
  verify_unsupported_suite: { metric: 'tapdance_tag_verify_failures_total', help: 'Tags whose TLS secrets could not be used, by reason', labels: { reason: 'unsupported_suite' } },
  verify_bad_mac: { metric: 'tapdance_tag_verify_failures_total', labels: { reason: 'bad_mac' } },
  verify_malformed: { metric: 'tapdance_tag_verify_failures_total', labels: { reason: 'malformed' } },
  tagged_flows: { metric: 'tapdance_tagged_flows_total', help: 'Verified tagged flows queued for takeover' },
  takeover_ack_timeout: { metric: 'tapdance_takeover_ack_timeouts_total', help: 'Takeovers started without seeing the decoy\'s ACK of the tag' },
  takeover_no_finished: { metric: 'tapdance_takeover_failures_total', labels: { reason: 'no_decoy_finished' } },
  takeover_decoy_answered: { metric: 'tapdance_takeover_failures_total', labels: { reason: 'decoy_answered' } },
  takeovers: { metric: 'tapdance_takeovers_total', help: 'TCP takeovers completed by the data plane' },
  takeover_failed_socket: { metric: 'tapdance_takeover_failures_total', help: 'Takeovers the data plane could not complete, by reason', labels: { reason: 'socket' } },
  takeover_failed_queue: { metric: 'tapdance_takeover_failures_total', labels: { reason: 'queue_full' } },
  decoy_acks_due: { metric: 'tapdance_decoy_acks_due_total', help: 'False Start flows whose client acknowledged the decoy\'s Finished' },
  decoy_acks_sent: { metric: 'tapdance_decoy_acks_total', help: 'Spoofed ACKs of the decoy\'s Finished sent after a False Start takeover' },
  rsts_sent: { metric: 'tapdance_decoy_rsts_total', help: 'Spoofed RSTs sent to decoys after a taken-over flow ended' },
  keys: { metric: 'tapdance_station_keys', help: 'Station keys each capture worker checks tags with', gauge: true },
  key_updates: { metric: 'tapdance_key_updates_total', help: 'Times a capture worker switched to reloaded keys' },
};

/** One metric whose samples are computed at scrape time. */
function mirror(registry: Registry, kind: 'counter' | 'gauge', name: string, help: string, labelNames: string[],
  read: () => Iterable<Sample> | Promise<Iterable<Sample>>): void {
  const Ctor = kind === 'counter' ? Counter : Gauge;
  // prom-client calls collect with the metric as `this`; reset, then publish current values.
  new Ctor({
    name, help, labelNames, registers: [registry],
    async collect(this: Counter | Gauge) {
      this.reset();
      for (const [labels, value] of await read()) {
        if (this instanceof Gauge) this.set(labels, value);
        else this.inc(labels, value);
      }
    },
  });
}

const entries = (m: ReadonlyMap<string, number>, label: string): Sample[] => [...m].map(([k, v]) => [{ [label]: k }, v]);

/**
 * The station's metrics in their own registry (not prom-client's global one).
 *
 * @example
 * ```ts
 * const metrics = new StationMetrics(station.metricsSource())
 * await metrics.listen({ host: '127.0.0.1', port: 9464 })
 * ```
 */
export class StationMetrics {
  readonly registry = new Registry();
  #server: Server | undefined;
  #load: Promise<DecoyLoadStatus> | undefined;

  /**
   * @param source - where values are read at scrape time
   * @param options - `processMetrics`: also publish prom-client's process metrics (CPU, memory, event loop; default true)
   */
  constructor(source: MetricsSource, options: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    if (options.processMetrics !== false) collectDefaultMetrics({ register: r, prefix: 'tapdance_station_' });
    this.#nativeMetrics(source);

    const s = source.stats;
    mirror(r, 'gauge', 'tapdance_sessions_active', 'Sessions live or starting', [], () => [[{}, s.sessionsActive]]);
    mirror(r, 'counter', 'tapdance_sessions_total', 'Sessions started', [], () => [[{}, s.sessionsTotal]]);
    mirror(r, 'counter', 'tapdance_session_ends_total', 'Sessions ended, by how', ['how'], () => entries(s.sessionEnds, 'how'));
    mirror(r, 'gauge', 'tapdance_session_flows_active', 'Client flows attached to sessions', [], () => [[{}, s.flowsActive]]);
    mirror(r, 'counter', 'tapdance_session_flows_total', 'Client flows attached to sessions since start', [], () => [[{}, s.flowsTotal]]);
    mirror(r, 'counter', 'tapdance_reconnects_total', 'Flows that continued an existing session', [], () => [[{}, s.reconnects]]);
    mirror(r, 'counter', 'tapdance_covert_bytes_total', 'Covert bytes relayed, by direction', ['direction'],
      () => [[{ direction: 'upstream' }, s.bytesUp], [{ direction: 'downstream' }, s.bytesDown]]);
    mirror(r, 'counter', 'tapdance_covert_errors_total', 'Covert connections refused or failed, by code', ['code'], () => entries(s.covertErrors, 'code'));
    mirror(r, 'counter', 'tapdance_s2c_errors_total', 'S2C_ERROR messages sent to clients, by reason', ['reason'], () => entries(s.errorsSent, 'reason'));
    mirror(r, 'counter', 'tapdance_session_takeover_failures_total', 'Taken-over flows the session layer could not continue, by reason', ['reason'],
      () => entries(s.takeoverFailures, 'reason'));
    mirror(r, 'counter', 'tapdance_failed_decoys_reported_total', 'Failed decoys reported by clients', [], () => [[{}, s.failedDecoysReported]]);

    // One load-store read per scrape, shared by the metrics below.
    const load = (): Promise<DecoyLoadStatus> => (this.#load ??= source.loadStatus().finally(() => { setImmediate(() => { this.#load = undefined; }); }));
    mirror(r, 'gauge', 'tapdance_decoy_clients', 'Clients of this station per decoy', ['decoy'],
      async () => [...(await load()).decoys].map(([decoy, c]) => [{ decoy }, c.station]));
    mirror(r, 'gauge', 'tapdance_decoy_clients_all_stations', 'Clients per decoy over every live station sharing the load store', ['decoy'],
      async () => [...(await load()).decoys].map(([decoy, c]) => [{ decoy }, c.all]));
    mirror(r, 'gauge', 'tapdance_load_store_up', 'Whether the decoy load store answered (1) or limits apply per station (0)', ['store'],
      async () => { const l = await load(); return [[{ store: l.store }, l.up ? 1 : 0]]; });
    mirror(r, 'counter', 'tapdance_load_store_errors_total', 'Requests to the shared load store that failed', [], async () => [[{}, (await load()).storeErrors]]);
    mirror(r, 'counter', 'tapdance_load_fallback_acquires_total', 'Decoy slots taken with per-station limits while the shared store was unreachable', [],
      async () => [[{}, (await load()).fallbackAcquires]]);

    mirror(r, 'gauge', 'tapdance_clientconf_generation', 'Generation of the ClientConf offered to clients (absent: none)', [], () => {
      const g = source.clientConfGeneration();
      return g === undefined ? [] : [[{}, g]];
    });
    mirror(r, 'counter', 'tapdance_config_reloads_total', 'Configuration reloads (SIGHUP), by result', ['result'], () => entries(source.reloads, 'result'));
  }

  #nativeMetrics(source: MetricsSource): void {
    // Group native counter names by metric so each metric collects once per scrape.
    const groups = new Map<string, { help: string; gauge: boolean; labelNames: Set<string>; parts: Array<[string, Labels]> }>();
    const add = (name: string, m: NativeMetric): void => {
      let g = groups.get(m.metric);
      if (g === undefined) groups.set(m.metric, g = { help: m.help ?? m.metric, gauge: m.gauge === true, labelNames: new Set(['worker']), parts: [] });
      for (const k of Object.keys(m.labels ?? {})) g.labelNames.add(k);
      g.parts.push([name, m.labels ?? {}]);
    };
    for (const [name, m] of Object.entries(NATIVE)) add(name, m);
    // Counters the table does not name yet are still published.
    const known = new Set(Object.keys(NATIVE));
    for (const name of Object.keys(source.nativeCounters()[0] ?? {})) {
      if (!known.has(name)) add(name, { metric: `tapdance_native_${name}_total`, help: `Native data plane counter ${name}` });
    }
    for (const [metric, g] of groups) {
      mirror(this.registry, g.gauge ? 'gauge' : 'counter', metric, g.help, [...g.labelNames], () => {
        const out: Sample[] = [];
        source.nativeCounters().forEach((c, worker) => {
          for (const [name, labels] of g.parts) {
            const v = c[name];
            if (v !== undefined) out.push([{ worker: String(worker), ...labels }, v]);
          }
        });
        return out;
      });
    }
  }

  /** The exposition text, as served. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Serve `GET /metrics` on `where`.
   *
   * @returns the bound address (port 0 picks a free one)
   * @throws {@link StationConfigError} when the address cannot be bound (names `metrics.listen`)
   */
  async listen(where: HostPort): Promise<HostPort> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      this.text().then((body) => {
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new StationConfigError(
        `metrics.listen: cannot listen on ${where.host}:${where.port}: ${err.code ?? err.message}`, { cause: err })));
      server.listen(where.port, where.host, () => resolve());
    });
    server.on('error', () => {}); // after listening, errors belong to single requests
    this.#server = server;
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Stop serving. Idempotent. */
  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

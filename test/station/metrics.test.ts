/**
 * The Prometheus endpoint: every counter reads the station's live values at scrape time, native
 * counters per worker, maps by label, and the HTTP side (path, content type, bind failures).
 */
import t from 'tap';
import { StationMetrics, type MetricsSource } from '../../src/station/metrics.js';
import { StationStats } from '../../src/station/stats.js';
import type { DecoyLoadStatus } from '../../src/station/decoy-load.js';

function source(): MetricsSource & { workers: Array<Record<string, number>>; load: DecoyLoadStatus; reloadsMap: Map<string, number> } {
  const stats = new StationStats();
  const workers = [
    { packets: 10, bytes: 1000, tag_checks: 4, tags_found: 1, takeovers: 1, takeover_failed_socket: 0, takeover_failed_queue: 0, flows_tracked: 3, verify_bad_mac: 2, keys: 1, some_new_counter: 5 },
    { packets: 7, bytes: 700, tag_checks: 2, tags_found: 2, takeovers: 1, takeover_failed_socket: 1, takeover_failed_queue: 0, flows_tracked: 1, verify_bad_mac: 0, keys: 1, some_new_counter: 0 },
  ];
  const load: DecoyLoadStatus = { store: 'redis', up: true, storeErrors: 2, fallbackAcquires: 1, decoys: new Map([['192.0.2.7', { station: 2, all: 5 }]]) };
  const reloadsMap = new Map<string, number>();
  return {
    workers, load, reloadsMap, stats,
    nativeCounters: () => workers,
    loadStatus: async () => load,
    clientConfGeneration: () => 1234,
    reloads: reloadsMap,
  };
}

t.test('serves native counters per worker, session counters, per-decoy load and reloads', async (t) => {
  const src = source();
  const m = new StationMetrics(src, { processMetrics: false });
  src.stats.sessionsActive = 3;
  src.stats.sessionsTotal = 9;
  src.stats.bytesUp = 111;
  src.stats.bytesDown = 2222;
  StationStats.bump(src.stats.errorsSent, 'DECOY_OVERLOAD', 4);
  StationStats.bump(src.stats.covertErrors, 'ERR_COVERT_DENIED');
  StationStats.bump(src.stats.takeoverFailures, 'ERR_TLS_BAD_RECORD_MAC');
  StationStats.bump(src.stats.sessionEnds, 'client_closed', 6);
  src.reloadsMap.set('ok', 2);
  const text = await m.text();
  for (const line of [
    'tapdance_capture_packets_total{worker="0"} 10',
    'tapdance_capture_packets_total{worker="1"} 7',
    'tapdance_tag_checks_total{worker="0"} 4',
    'tapdance_tag_hits_total{worker="1"} 2',
    'tapdance_takeovers_total{worker="1"} 1',
    'tapdance_takeover_failures_total{worker="1",reason="socket"} 1',
    'tapdance_takeover_failures_total{worker="0",reason="queue_full"} 0',
    'tapdance_tag_verify_failures_total{worker="0",reason="bad_mac"} 2',
    'tapdance_flows_tracked{worker="0"} 3',
    'tapdance_station_keys{worker="1"} 1',
    'tapdance_native_some_new_counter_total{worker="0"} 5',
    'tapdance_sessions_active 3',
    'tapdance_sessions_total 9',
    'tapdance_covert_bytes_total{direction="upstream"} 111',
    'tapdance_covert_bytes_total{direction="downstream"} 2222',
    'tapdance_s2c_errors_total{reason="DECOY_OVERLOAD"} 4',
    'tapdance_covert_errors_total{code="ERR_COVERT_DENIED"} 1',
    'tapdance_session_takeover_failures_total{reason="ERR_TLS_BAD_RECORD_MAC"} 1',
    'tapdance_session_ends_total{how="client_closed"} 6',
    'tapdance_decoy_clients{decoy="192.0.2.7"} 2',
    'tapdance_decoy_clients_all_stations{decoy="192.0.2.7"} 5',
    'tapdance_load_store_up{store="redis"} 1',
    'tapdance_load_store_errors_total 2',
    'tapdance_load_fallback_acquires_total 1',
    'tapdance_clientconf_generation 1234',
    'tapdance_config_reloads_total{result="ok"} 2',
  ]) t.ok(text.split('\n').includes(line), line);
  t.match(text, /# TYPE tapdance_flows_tracked gauge/);
  t.match(text, /# TYPE tapdance_tag_checks_total counter/);

  // Values are read again at every scrape; a decoy without clients disappears.
  src.workers[0]!.packets = 50;
  src.load.decoys.clear();
  src.load.up = false;
  const again = await m.text();
  t.ok(again.includes('tapdance_capture_packets_total{worker="0"} 50'));
  t.notMatch(again, /tapdance_decoy_clients\{/);
  t.ok(again.includes('tapdance_load_store_up{store="redis"} 0'));
});

t.test('the endpoint serves /metrics, 404 elsewhere, and a busy address is a config error', async (t) => {
  const m = new StationMetrics(source());
  t.teardown(() => m.close());
  const bound = await m.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`http://127.0.0.1:${bound.port}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const body = await res.text();
  t.match(body, /tapdance_station_process_cpu_seconds_total/, 'process metrics are included by default');
  t.match(body, /tapdance_capture_packets_total\{worker="0"\} 10/);
  t.equal((await fetch(`http://127.0.0.1:${bound.port}/`)).status, 404);
  t.equal((await fetch(`http://127.0.0.1:${bound.port}/metrics`, { method: 'POST' })).status, 404);

  const other = new StationMetrics(source(), { processMetrics: false });
  await t.rejects(other.listen({ host: '127.0.0.1', port: bound.port }), { code: 'ERR_STATION_CONFIG', message: /metrics\.listen: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/ });
  await m.close();
  await m.close();
});

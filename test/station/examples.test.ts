/**
 * The operator examples in examples/station stay true: the config parses, every setting in it is
 * explained in the README, the systemd unit verifies, and every metric the README and the
 * alerting rules name is one the station serves (native counters taken from a real replay).
 */
import t from 'tap';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStationConfig } from '../../src/station/config.js';
import { StationMetrics } from '../../src/station/metrics.js';
import { StationStats } from '../../src/station/stats.js';
import { nativeAvailable, replayCapture, stationPublicKey, synthesizeCapture } from '../../src/station/native.js';

const dir = new URL('../../examples/station/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, dir), 'utf8');
const readme = read('README.md');

t.test('the example config is valid and says what the README says', async (t) => {
  const c = loadStationConfig(new URL('station.json', dir).pathname);
  t.equal(c.limits.perDecoy, 30);
  t.same(c.redis, { keyPrefix: 'tapdance', heartbeatMs: 2000, expiryMs: 6000 });
  t.same(c.metrics.listen, { host: '10.0.0.21', port: 9464 });
  t.equal(c.log.clientAddressPrefixBits, 0);
  const keys = new Set<string>();
  const walk = (o: unknown): void => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
    for (const [k, v] of Object.entries(o)) {
      if (!/^[0-9.:]+$/.test(k)) keys.add(k); // addresses in perDecoyOverrides are values, not settings
      walk(v);
    }
  };
  walk(JSON.parse(read('station.json')));
  // Named in backticks, alone or as part of a dotted path (`redis.keyPrefix`).
  for (const k of keys) t.match(readme, new RegExp(`\`(?:[A-Za-z]+\\.)*${k}(?:\\.[A-Za-z]+)*\``), `the README explains ${k}`);
});

t.test('the systemd unit verifies', { skip: hasCommand('systemd-analyze') ? false : 'no systemd-analyze' }, async (t) => {
  const out = execFileSync('systemd-analyze', ['verify', new URL('tapdance-station.service', dir).pathname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(out.trim(), '');
});

t.test('every metric named by the README and the alerting rules is served', { skip: nativeAvailable() ? false : 'native addon not built' }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'td-examples-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const secret = new Uint8Array(32).fill(7);
  synthesizeCapture(join(tmp, 'mix.pcap'), { flows: 20, tagged: 2, stationPublic: stationPublicKey(secret) });
  const { counters } = replayCapture(join(tmp, 'mix.pcap'), [secret]);
  const metrics = new StationMetrics({
    nativeCounters: () => [counters],
    stats: new StationStats(),
    loadStatus: async () => ({ store: 'redis', up: true, storeErrors: 0, fallbackAcquires: 0, decoys: new Map([['192.0.2.1', { station: 1, all: 1 }]]) }),
    clientConfGeneration: () => 1,
    reloads: new Map([['ok', 1]]),
  });
  const served = new Set([...(await metrics.text()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  t.ok(served.size > 40, `${served.size} metrics served`);
  const named = new Set([...`${readme}\n${read('tapdance-alerts.yml')}`.matchAll(/\btapdance_[a-z_]+[a-z]\b/g)].map((m) => m[0]));
  for (const name of named) {
    if (name === 'tapdance_station_process' || name === 'tapdance_station_nodejs') continue;
    t.ok(served.has(name), `${name} is served`);
  }
  t.ok([...served].some((n) => n.startsWith('tapdance_station_process_')) && [...served].some((n) => n.startsWith('tapdance_station_nodejs_')),
    'process metrics under the documented prefixes');
  t.ok(named.size > 30, `${named.size} metric names checked`);
});

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStationConfig, loadStationConfig, parseHostPort } from '../../src/station/config.js';

const minimal = { keyFiles: ['keys/privkey'], capture: { interface: 's-tap' }, covert: { allow: [] } };

t.test('fills defaults and resolves paths against the config directory', async (t) => {
  const c = parseStationConfig(minimal, '/etc/tapdance');
  t.same(c.keyFiles, ['/etc/tapdance/keys/privkey']);
  t.equal(c.capture.kind, 'afpacket');
  t.same(c.capture.tlsPorts, [443]);
  t.equal(c.sessions.reconnectWindowMs, 30_000);
  t.equal(c.sessions.flowLifetimeMs, 120_000);
  t.equal(c.limits.perDecoy, 30);
  t.equal(c.log.clientAddressPrefixBits, 0, 'logs no client address by default');
  t.equal(c.metrics.listen, undefined);
  t.equal(c.capture.fanoutGroup, 0x7d01);
  t.equal(c.limits.total, undefined, 'no total cap unless configured');
  t.same(c.redis, { keyPrefix: 'tapdance', heartbeatMs: 2000, expiryMs: 6000 });
});

t.test('reads the shared-store, total-limit and fanout settings', async (t) => {
  const c = parseStationConfig({
    ...minimal, capture: { interface: 'eth1', fanoutGroup: 7 }, limits: { perDecoy: 45, total: 900 },
    redisUrl: 'redis://10.0.0.5:6379/2', redis: { keyPrefix: 'isp-a', heartbeatMs: 1000 },
  }, '/');
  t.equal(c.capture.fanoutGroup, 7);
  t.same(c.limits, { perDecoy: 45, perDecoyOverrides: {}, total: 900 });
  t.same(c.redis, { keyPrefix: 'isp-a', heartbeatMs: 1000, expiryMs: 3000 }, 'the expiry defaults to three heartbeats');
  const bad: Array<[unknown, RegExp]> = [
    [{ ...minimal, redis: { heartbeatMs: 1000, expiryMs: 1500 } }, /redis\.expiryMs: expected at least twice redis\.heartbeatMs \(2000\), got 1500/],
    [{ ...minimal, redis: { keyPrefix: 'a b' } }, /redis\.keyPrefix/],
    [{ ...minimal, redis: { heartbeat: 1 } }, /redis\.heartbeat: unknown setting/],
    [{ ...minimal, limits: { total: -1 } }, /limits\.total: expected an integer/],
    [{ ...minimal, capture: { interface: 'x', fanoutGroup: 70000 } }, /capture\.fanoutGroup/],
  ];
  for (const [doc, re] of bad) t.throws(() => parseStationConfig(doc, '/'), { code: 'ERR_STATION_CONFIG', message: re });
});

t.test('accepts a full config', async (t) => {
  const c = parseStationConfig({
    ...minimal,
    capture: { kind: 'afpacket', interface: 'eth1', workers: 4, tlsPorts: [443, 8443], flowTableCapacity: 4096 },
    covert: { allow: [{ cidr: '10.0.0.0/8', ports: '443' }], defaultProxy: '[::1]:3128', connectTimeoutMs: 5000, resolveNames: false },
    sessions: { reconnectWindowMs: 20000, flowLifetimeMs: 90000, bufferBytes: 65536, maxSessions: 10, decoyRstDelayMs: 0 },
    limits: { perDecoy: 45, perDecoyOverrides: { '192.0.2.1': 5 } },
    metrics: { listen: '127.0.0.1:9464' }, log: { level: 'debug', clientAddressPrefixBits: 16 },
    clientConfPath: 'ClientConf', redisUrl: 'redis://127.0.0.1:6379/0', stationId: 'st-1',
  }, '/srv');
  t.same(c.covert.defaultProxy, { host: '::1', port: 3128 });
  t.same(c.metrics.listen, { host: '127.0.0.1', port: 9464 });
  t.equal(c.clientConfPath, '/srv/ClientConf');
  t.same(c.limits.perDecoyOverrides, { '192.0.2.1': 5 });
  t.equal(c.capture.workers, 4);
});

t.test('names the field of every invalid or unknown setting', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /top level/],
    [{ ...minimal, keyFiles: [] }, /keyFiles: at least one/],
    [{ ...minimal, capture: {} }, /capture\.interface: expected a non-empty string \(required\)/],
    [{ ...minimal, capture: { interface: 'x', workers: 0 } }, /capture\.workers: expected an integer in 1\.\.256, got 0/],
    [{ ...minimal, capture: { interface: 'x', kind: 'xdp' } }, /capture\.kind: expected one of afpacket, pfring, pcap/],
    [{ ...minimal, capture: { kind: 'pcap' } }, /capture\.file/],
    [{ ...minimal, covert: { allow: [{ cidr: '10.0.0.0/8' }] } }, /covert\.allow\[0\]/],
    [{ ...minimal, covert: { allow: [], defaultProxy: 'nohost' } }, /covert\.defaultProxy: expected host:port/],
    [{ ...minimal, sessions: { flowLifetimeMs: 'long' } }, /sessions\.flowLifetimeMs/],
    [{ ...minimal, limits: { perDecoyOverrides: { 'decoy.example': 3 } } }, /not an IP address/],
    [{ ...minimal, log: { clientAddressPrefixBits: 32 } }, /log\.clientAddressPrefixBits/],
    [{ ...minimal, redisUrl: 'localhost:6379' }, /redisUrl/],
    [{ ...minimal, captur: {} }, /captur: unknown setting/],
    [{ ...minimal, sessions: { reconectWindowMs: 1 } }, /sessions\.reconectWindowMs: unknown setting/],
  ];
  for (const [doc, re] of bad) t.throws(() => parseStationConfig(doc, '/'), { code: 'ERR_STATION_CONFIG', message: re });
});

t.test('loads a file and reports unreadable or non-JSON files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'td-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'station.json'), JSON.stringify(minimal));
  t.same(loadStationConfig(join(dir, 'station.json')).keyFiles, [join(dir, 'keys/privkey')]);
  writeFileSync(join(dir, 'bad.json'), '{ nope');
  t.throws(() => loadStationConfig(join(dir, 'bad.json')), /not valid JSON/);
  t.throws(() => loadStationConfig(join(dir, 'missing.json')), /cannot read/);
});

t.test('parses host:port forms', async (t) => {
  t.same(parseHostPort('proxy.local:3128', 'x'), { host: 'proxy.local', port: 3128 });
  t.same(parseHostPort('[2001:db8::1]:443', 'x'), { host: '2001:db8::1', port: 443 });
  t.throws(() => parseHostPort('[nope]:1', 'x'));
  t.throws(() => parseHostPort('host:0', 'x'));
  t.throws(() => parseHostPort('2001:db8::1:443', 'x'));
});

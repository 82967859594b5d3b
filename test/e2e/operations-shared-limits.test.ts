/**
 * Two stations on one mirror share per-decoy limits through one Redis (Debian's redis-server,
 * started by this test inside the station namespace). Station A takes over flows to port 443,
 * station B flows to port 8443 (every decoy's nginx serves both), so clients choose their
 * station with the decoy port while both count the same decoy address. Needs root and the
 * native addon, as CI has.
 */
import t from 'tap';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { StationPath, type StationProcess } from '../../src/demo/station-path.js';
import { writeClientConf } from '../../src/protocol/client-conf.js';
import { ClientConfSchema } from '../../src/protocol/messages.js';
import { HeldClient } from '../station/fixtures/held-client.js';
import { startRedisServer, type RedisServer } from '../station/fixtures/redis-server.js';
import { findAddressForms, metricValue } from '../station/fixtures/ops.js';

const LIMIT = 2;
const REDIS_PORT = 6390;
const HEARTBEAT_MS = 500;
const EXPIRY_MS = 2000;

const path = await StationPath.up({
  decoys: [{}, {}],
  extraDecoyPorts: [8443],
  startStation: false,
  station: {
    redisUrl: `redis://127.0.0.1:${REDIS_PORT}`,
    redis: { heartbeatMs: HEARTBEAT_MS, expiryMs: EXPIRY_MS },
    limits: { perDecoy: LIMIT },
    stationId: 'station-a',
    metrics: { listen: '127.0.0.1:9464' },
  },
});
t.teardown(() => path.down());
const spawnInStation = (cmd: string, args: string[], options: object) => path.tb.spawn('station', cmd, args, options);
let redis: RedisServer = await startRedisServer({ port: REDIS_PORT, spawn: spawnInStation });
t.teardown(() => redis.stop());
await path.startStation();
const a = path.station;
const base = path.stationConfig as { capture: Record<string, unknown> };
const b = await path.startExtraStation('b', {
  capture: { ...base.capture, tlsPorts: [8443], fanoutGroup: 0x7d02 },
  stationId: 'station-b',
  metrics: { listen: '127.0.0.1:9465' },
  log: { level: 'info', clientAddressPrefixBits: 16 },
});

const [X, Y] = path.decoys as [typeof path.decoys[0], typeof path.decoys[0]];
const label = (d: typeof X, port: number): string => `${d.servername} ${d.address}:${port}`;
const onlyX = join(path.tb.workDir, 'ClientConf.x');
{
  const c = create(ClientConfSchema, path.clientConf);
  c.decoyList!.tlsDecoys = c.decoyList!.tlsDecoys.filter((d) => d.hostname === X.servername);
  await writeClientConf(onlyX, c);
}

const clients: HeldClient[] = [];
t.teardown(() => Promise.all(clients.map((c) => c.kill())));
function hold(o: { conf: string; port: number; weights?: Record<string, number>; attempts?: number }): HeldClient {
  const c = HeldClient.start(path.tb, [
    '--client-conf', o.conf, '--target', `${path.covert.address}:${path.covert.httpPort}`, '--ca', path.caPath,
    '--decoy-port', String(o.port),
    ...(o.weights === undefined ? [] : ['--weights', JSON.stringify(o.weights)]),
    ...(o.attempts === undefined ? [] : ['--attempts', String(o.attempts)]),
  ]);
  clients.push(c);
  return c;
}

async function redisCli(...args: string[]): Promise<string[]> {
  const r = await path.tb.exec('station', 'redis-cli', ['-p', String(REDIS_PORT), ...args]);
  return r.stdout.split('\n').filter((l) => l !== '');
}

async function slots(decoy: string): Promise<Record<string, number>> {
  const l = await redisCli('HGETALL', `tapdance:decoy:${decoy}`);
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < l.length; i += 2) out[l[i]!.replace(/\/[0-9a-f]{8}$/, '')] = Number(l[i + 1]);
  return out;
}

async function scrape(port: number): Promise<string> {
  return (await path.tb.exec('station', 'curl', ['-sf', `http://127.0.0.1:${port}/metrics`])).stdout;
}

async function until(pred: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const member = (s: StationProcess): string =>
  String(s.log.find((l) => l.msg === 'decoy load store reachable; limits are shared')?.member);

t.test('with limit N, the (N+1)th concurrent client on a decoy is refused by the other station and succeeds on another decoy', async (t) => {
  for (let i = 0; i < LIMIT; i++) {
    const c = hold({ conf: onlyX, port: 443 });
    const up = await c.next('connected');
    t.equal(up.decoy, label(X, 443), `client ${i + 1} through station A on decoy X`);
    t.same(up.failedDecoys, []);
  }
  t.same(await slots(X.address), { 'station-a': LIMIT }, 'Redis holds station A\'s slots');

  const next = hold({ conf: path.clientConfPath, port: 8443, weights: { [Y.address]: 0 } });
  const up = await next.next('connected');
  t.same(up.failedDecoys, [label(X, 8443)], 'station B refused decoy X (the client tried it first)');
  t.equal(up.decoy, label(Y, 8443), 'and the client moved on to decoy Y');
  next.send('get /bytes/4096');
  t.equal((await next.next('response')).status, 200, 'its session works');
  await b.waitForLog((l) => l.msg === 'decoy at its client limit' && l.decoy === X.address, 5000, 'station B\'s refusal');
  t.same(await slots(Y.address), { 'station-b': 1 });

  // Shared counts settle at LIMIT; under CI load a client attempt the station answered too late
  // for can hold a slot briefly until its session fails and hands it back.
  let mb = await scrape(9465);
  await until(async () => {
    mb = await scrape(9465);
    return metricValue(mb, 'tapdance_decoy_clients_all_stations', { decoy: X.address }) === LIMIT;
  }, 'the shared count of decoy X to settle', 35_000).catch(() => {});
  t.equal(metricValue(mb, 'tapdance_s2c_errors_total', { reason: 'DECOY_OVERLOAD' }), 1);
  t.equal(metricValue(mb, 'tapdance_decoy_clients_all_stations', { decoy: X.address }), LIMIT, 'station B sees station A\'s clients');
  t.equal(metricValue(mb, 'tapdance_decoy_clients', { decoy: Y.address }), 1);
  t.equal(metricValue(mb, 'tapdance_load_store_up', { store: 'redis' }), 1);
  const ma = await scrape(9464);
  t.equal(metricValue(ma, 'tapdance_decoy_clients', { decoy: X.address }), LIMIT);
});

t.test('a slot given back on one station can be taken through the other; the limit keeps holding', async (t) => {
  t.same(await clients[0]!.close(), { code: 0 });
  await until(async () => (await slots(X.address))['station-a'] === LIMIT - 1, 'station A to give the slot back', 10_000);
  const c = hold({ conf: onlyX, port: 8443 });
  const up = await c.next('connected');
  t.equal(up.decoy, label(X, 8443));
  t.same(up.failedDecoys, [], 'the freed slot on X was taken through station B');
  t.same(await slots(X.address), { 'station-a': LIMIT - 1, 'station-b': 1 });

  const refused = hold({ conf: onlyX, port: 8443, attempts: 2 });
  const err = await refused.next('error');
  t.equal(err.code, 'ERR_STATION_REFUSED', 'a client with no other decoy is refused');
  t.match(String(err.message), /DECOY_OVERLOAD/);
});

t.test('killing a station frees its slots within the liveness expiry', async (t) => {
  const dead = member(a);
  t.match(dead, /^station-a\/[0-9a-f]{8}$/);
  const ttl = Number((await redisCli('PTTL', `tapdance:alive:${dead}`))[0]);
  t.ok(ttl > 0 && ttl <= EXPIRY_MS, `station A's liveness key lapses within ${EXPIRY_MS} ms unless refreshed (PTTL ${ttl})`);
  await a.stop('SIGKILL');
  await until(async () => (await redisCli('EXISTS', `tapdance:alive:${dead}`))[0] === '0', 'station A\'s liveness key to expire', 20 * EXPIRY_MS);

  const c = hold({ conf: onlyX, port: 8443 });
  const up = await c.next('connected');
  t.same(up.failedDecoys, [], 'the dead station\'s slot on X is free');
  t.equal(up.decoy, label(X, 8443));
  t.same(await slots(X.address), { 'station-b': 2 }, 'station A\'s field was swept');
  const mb = await scrape(9465);
  t.equal(metricValue(mb, 'tapdance_decoy_clients_all_stations', { decoy: X.address }), 2);
});

t.test('while Redis is down the station keeps serving with per-station limits and republishes when it is back', async (t) => {
  await redis.stop('SIGKILL', true);
  const c = hold({ conf: path.clientConfPath, port: 8443, weights: { [X.address]: 0 } });
  const up = await c.next('connected');
  t.equal(up.decoy, label(Y, 8443), 'a new client is served on a decoy below the limit');
  await b.waitForLog((l) => l.msg === 'decoy load store unreachable; limits apply per station until it answers', 10_000, 'the warning');
  let m = await scrape(9465);
  t.equal(metricValue(m, 'tapdance_load_store_up', { store: 'redis' }), 0);
  t.equal(metricValue(m, 'tapdance_load_fallback_acquires_total'), 1);
  t.ok((metricValue(m, 'tapdance_load_store_errors_total') ?? 0) > 0);

  redis = await startRedisServer({ port: REDIS_PORT, dir: redis.dir, spawn: spawnInStation });
  await until(async () => metricValue(await scrape(9465), 'tapdance_load_store_up', { store: 'redis' }) === 1, 'station B to reconnect', 30_000);
  await until(async () => (await slots(Y.address))['station-b'] === 2, 'station B to republish its slots', 10_000);
  t.same(await slots(X.address), { 'station-b': 2 }, 'into the empty Redis, every slot it holds');
  m = await scrape(9465);
  t.equal(metricValue(m, 'tapdance_decoy_clients_all_stations', { decoy: Y.address }), 2);
});

t.test('the stations\' output holds no client address, only the configured prefix', async (t) => {
  await Promise.all(clients.map((c) => c.kill()));
  await b.stop();
  const client = path.tb.addresses.client;
  t.ok(a.log.length >= 4 && b.log.length >= 4, `both stations logged (${a.log.length}, ${b.log.length} lines)`);
  t.same(findAddressForms(a.output, client), [], 'station A (no prefix)');
  t.same(findAddressForms(b.output, client), [], 'station B (16-bit prefix)');
  const prefix = `${client.split('.').slice(0, 2).join('.')}.0.0/16`;
  t.ok(b.log.some((l) => l.client === prefix), `station B logs the prefix ${prefix}`);
  t.notOk(a.log.some((l) => 'client' in l && l.client !== undefined), 'station A logs no client field');
  const keys = await redisCli('--scan');
  t.same(findAddressForms(keys.join('\n'), client), [], 'nor do the Redis keys');
});

/**
 * Shared per-decoy limits on a real redis-server (Debian's package) started by this test on a
 * free loopback port: atomic check-and-increment across stations, liveness expiry of a killed
 * station, clean hand-back, and the per-station fallback while Redis is unreachable.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { RedisDecoyLoad, type RedisDecoyLoadOptions } from '../../src/station/redis-load.js';
import { LocalDecoyLoad } from '../../src/station/decoy-load.js';
import { nodeArgv } from '../../src/testbed/node-child.js';
import { freeLoopbackPort, startRedisServer } from './fixtures/redis-server.js';

const server = await startRedisServer();
t.teardown(() => server.stop());
const admin = new Redis(server.url);
t.teardown(() => admin.quit());

const DECOY = '192.0.2.10';
let prefixes = 0;

function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } });
  return { log: pino({ level: 'info' }, sink), lines };
}

/** Stores sharing one fresh key prefix (one "deployment" per test). */
function deployment(t: { teardown(fn: () => unknown): void }, url = server.url, extra: Partial<RedisDecoyLoadOptions> = {}) {
  const keyPrefix = `td-test-${++prefixes}`;
  return {
    keyPrefix,
    store(stationId: string, more: Partial<RedisDecoyLoadOptions> = {}): RedisDecoyLoad {
      const s = new RedisDecoyLoad({
        url, keyPrefix, stationId, log: pino({ level: 'silent' }), heartbeatMs: 200,
        limits: { perDecoy: 3, perDecoyOverrides: {} }, ...extra, ...more,
      });
      t.teardown(() => s.close());
      return s;
    },
  };
}

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('two stations sharing Redis hold one limit per decoy; overrides and other decoys count apart', async (t) => {
  const d = deployment(t, server.url, { limits: { perDecoy: 3, perDecoyOverrides: { '192.0.2.99': 1 } } });
  const a = d.store('a');
  const b = d.store('b');
  t.equal(await a.start(), true);
  t.equal(await b.start(), true);
  t.same([await a.acquire(DECOY), await b.acquire(DECOY), await a.acquire(DECOY)], [true, true, true]);
  t.equal(await b.acquire(DECOY), false, 'the 4th client on a decoy with limit 3 is refused, whichever station sees it');
  t.equal(await a.acquire(DECOY), false);
  t.equal(await b.count(DECOY), 3);
  t.equal(await b.acquire('192.0.2.11'), true, 'another decoy has its own count');
  t.equal(await a.acquire('192.0.2.99'), true);
  t.equal(await b.acquire('192.0.2.99'), false, 'a per-decoy override applies across stations');
  await b.release(DECOY);
  t.equal(await a.acquire(DECOY), true, 'a released slot can be taken by the other station');
  await b.release(DECOY); // b holds none on DECOY any more: no effect
  t.equal(await a.count(DECOY), 3, 'a station cannot release slots it does not hold');
  const st = await a.status();
  t.same([...st.decoys.entries()].sort(), [[DECOY, { station: 3, all: 3 }], ['192.0.2.99', { station: 1, all: 1 }]]);
  t.equal(st.up, true);
  t.equal(st.store, 'redis');
  // b holds nothing on DECOY or 192.0.2.99 any more, but was asked for them: after its
  // heartbeats (200 ms) it still reports the shared counts there.
  await new Promise((r) => setTimeout(r, 600));
  const sb = await b.status();
  t.same(sb.decoys.get(DECOY), { station: 0, all: 3 });
  t.same(sb.decoys.get('192.0.2.99'), { station: 0, all: 1 }, 'including a decoy it was refused on');
});

t.test('concurrent acquires from two stations never exceed the limit', async (t) => {
  const d = deployment(t, server.url, { limits: { perDecoy: 7, perDecoyOverrides: {} } });
  const a = d.store('a');
  const b = d.store('b');
  await Promise.all([a.start(), b.start()]);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).acquire(DECOY)));
  t.equal(results.filter(Boolean).length, 7, 'exactly the limit was granted');
  t.equal(await a.count(DECOY), 7);
  const held = (await a.status()).decoys.get(DECOY)!.station + (await b.status()).decoys.get(DECOY)!.station;
  t.equal(held, 7, 'the stations\' own records agree with Redis');
  await Promise.all(Array.from({ length: 7 }, () => Promise.all([a.release(DECOY), b.release(DECOY)])));
  t.equal(await a.count(DECOY), 0);
  t.same(await admin.hgetall(`${d.keyPrefix}:decoy:${DECOY}`), {}, 'no field is left behind');
});

t.test('a total limit caps clients over all decoys and stations', async (t) => {
  const d = deployment(t, server.url, { limits: { perDecoy: 10, perDecoyOverrides: {}, total: 3 } });
  const a = d.store('a');
  const b = d.store('b');
  await Promise.all([a.start(), b.start()]);
  t.same([await a.acquire('192.0.2.1'), await b.acquire('192.0.2.2'), await a.acquire('192.0.2.3')], [true, true, true]);
  t.equal(await b.acquire('192.0.2.4'), false);
  await a.release('192.0.2.1');
  t.equal(await b.acquire('192.0.2.4'), true);
});

t.test('reloaded limits apply to the next client', async (t) => {
  const d = deployment(t);
  const a = d.store('a');
  await a.start();
  for (let i = 0; i < 3; i++) await a.acquire(DECOY);
  t.equal(await a.acquire(DECOY), false);
  a.setLimits({ perDecoy: 4, perDecoyOverrides: {} });
  t.equal(await a.acquire(DECOY), true);
  a.setLimits({ perDecoy: 1, perDecoyOverrides: {} });
  t.equal(await a.acquire(DECOY), false, 'a lower limit refuses new clients and keeps the existing ones');
  t.equal(await a.count(DECOY), 4);
});

t.test('a killed station\'s slots stop counting once its liveness key expires', async (t) => {
  const expiryMs = 1500;
  const [node, ...args] = nodeArgv(new URL('./fixtures/load-holder.ts', import.meta.url), [server.url, DECOY, '3', '300', String(expiryMs)]);
  const child = spawn(node!, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env } });
  t.teardown(() => { child.kill('SIGKILL'); });
  // The holder uses the default key prefix.
  const a = new RedisDecoyLoad({ url: server.url, keyPrefix: 'tapdance', stationId: 'a', log: pino({ level: 'silent' }), heartbeatMs: 200, limits: { perDecoy: 3, perDecoyOverrides: {} } });
  t.teardown(() => a.close());
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  const { member, taken } = JSON.parse(line) as { member: string; taken: number };
  t.equal(taken, 3);
  await a.start();
  t.equal(await a.acquire(DECOY), false, 'the live holder fills the decoy');
  const ttl = await admin.pttl(`tapdance:alive:${member}`);
  t.ok(ttl > 0 && ttl <= expiryMs, `the holder's liveness key expires within ${expiryMs} ms unless refreshed (PTTL ${ttl})`);

  child.kill('SIGKILL');
  await until(async () => (await admin.exists(`tapdance:alive:${member}`)) === 0, 'the liveness key to expire', 10 * expiryMs);
  t.same([await a.acquire(DECOY), await a.acquire(DECOY), await a.acquire(DECOY)], [true, true, true], 'the dead station\'s slots are free');
  const fields = await admin.hgetall(`tapdance:decoy:${DECOY}`);
  t.notOk(member in fields, 'the dead station\'s field was swept');
  t.equal(fields[a.member], '3');
});

t.test('a station that stops cleanly gives its slots back at once', async (t) => {
  const d = deployment(t);
  const a = d.store('a');
  const b = d.store('b');
  await Promise.all([a.start(), b.start()]);
  for (let i = 0; i < 3; i++) await a.acquire(DECOY);
  t.equal(await b.acquire(DECOY), false);
  await a.close();
  t.equal(await admin.exists(`${d.keyPrefix}:alive:${a.member}`), 0, 'the liveness key is gone');
  t.equal(await b.acquire(DECOY), true);
  t.equal(await b.count(DECOY), 1);
});

t.test('while Redis is unreachable each station applies the limits alone; its counts are published when Redis is back', async (t) => {
  const own = await startRedisServer();
  t.teardown(() => own.stop());
  const d = deployment(t, own.url);
  const { log, lines } = capturingLogger();
  const a = d.store('a', { log });
  const b = d.store('b');
  await Promise.all([a.start(), b.start()]);
  t.equal(await a.acquire(DECOY), true);
  await own.stop('SIGKILL', true);
  t.same([await a.acquire(DECOY), await a.acquire(DECOY)], [true, true], 'new clients are still served');
  t.equal(await a.acquire(DECOY), false, 'up to the limit counted by this station alone');
  const down = await a.status();
  t.equal(down.up, false);
  t.ok(down.storeErrors > 0, 'failed requests are counted');
  t.equal(down.fallbackAcquires, 2);
  t.same(down.decoys.get(DECOY), { station: 3, all: 3 });
  await a.release(DECOY);

  const again = await startRedisServer({ port: own.port, dir: own.dir });
  t.teardown(() => again.stop());
  await until(() => a.up && b.up, 'both stations to reconnect');
  await until(async () => (await b.count(DECOY)) === 2, 'station a\'s slots to be published to the empty Redis');
  t.equal(await b.acquire(DECOY), true);
  t.equal(await b.acquire(DECOY), false, 'the shared limit holds again');
  const msgs = lines.map((l) => l.msg);
  t.equal(msgs.filter((m) => m === 'decoy load store unreachable; limits apply per station until it answers').length, 1, 'one warning per outage');
  t.equal(msgs.filter((m) => m === 'decoy load store reachable; limits are shared').length, 2, 'at start and after the outage');
});

t.test('a station that cannot reach Redis at start serves with per-station limits', async (t) => {
  const d = deployment(t, `redis://127.0.0.1:${await freeLoopbackPort()}`);
  const a = d.store('a');
  t.equal(await a.start(), false);
  t.same([await a.acquire(DECOY), await a.acquire(DECOY), await a.acquire(DECOY), await a.acquire(DECOY)], [true, true, true, false]);
  t.equal(await a.count(DECOY), 3);
  const st = await a.status();
  t.equal(st.up, false);
  t.equal(st.fallbackAcquires, 3);
});

t.test('the in-process store applies per-decoy, override and total limits and never goes below zero', async (t) => {
  const l = new LocalDecoyLoad({ perDecoy: 2, perDecoyOverrides: { '192.0.2.5': 0 }, total: 3 });
  t.same([await l.acquire('192.0.2.1'), await l.acquire('192.0.2.1'), await l.acquire('192.0.2.1')], [true, true, false]);
  t.equal(await l.acquire('192.0.2.5'), false, 'an override of 0 disables a decoy');
  t.equal(await l.acquire('192.0.2.2'), true);
  t.equal(await l.acquire('192.0.2.3'), false, 'the total is reached');
  await l.release('192.0.2.9');
  await l.release('192.0.2.1');
  t.equal(await l.count('192.0.2.1'), 1);
  t.equal(await l.acquire('192.0.2.3'), true);
  const st = await l.status();
  t.same([...st.decoys.entries()].sort(), [['192.0.2.1', { station: 1, all: 1 }], ['192.0.2.2', { station: 1, all: 1 }], ['192.0.2.3', { station: 1, all: 1 }]]);
  l.setLimits({ perDecoy: 5, perDecoyOverrides: {} });
  t.equal(await l.acquire('192.0.2.1'), true, 'no total after a reload without one');
});

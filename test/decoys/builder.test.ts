import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildDecoyList, type BuildOptions, type DecoyProbes } from '../../src/decoys/builder.js';
import { parseCandidates } from '../../src/decoys/candidates.js';
import type { ProbeTarget } from '../../src/decoys/connect.js';
import type { HoldProbeOptions } from '../../src/decoys/hold-probe.js';
import type { StationProbe } from '../../src/decoys/station-result.js';
import { handshakeFailed, holdResult, robotsResult, stationResult, tlsResult } from './helpers.js';

/** Probes that pass every host, recording calls; per-host overrides by address. */
function fakeProbes(over: Partial<Record<'tls' | 'robots' | 'hold', Record<string, unknown>>> = {}, delay = 0) {
  const calls: string[] = [];
  const holdOptions: HoldProbeOptions[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const track = async <T>(name: string, target: ProbeTarget, value: T): Promise<T> => {
    calls.push(`${name} ${target.serverName} ${target.address}:${target.port}`);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Later candidates finish first, so order must come from the builder, not from completion.
    await sleep(delay * (10 - Number(target.address.split('.').pop()) % 10));
    inFlight--;
    return value;
  };
  const probes: DecoyProbes = {
    resolve: async (name) => {
      calls.push(`resolve ${name}`);
      if (name === 'nowhere.example') throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      return '192.0.2.9';
    },
    tls: (target) => track('tls', target, (over.tls?.[target.address] as ReturnType<typeof tlsResult>) ?? tlsResult()),
    robots: (target) => track('robots', target, (over.robots?.[target.address] as ReturnType<typeof robotsResult>) ?? robotsResult()),
    hold: (target, options) => {
      holdOptions.push(options);
      return track('hold', target, (over.hold?.[target.address] as ReturnType<typeof holdResult>) ?? holdResult());
    },
  };
  return { probes, calls, holdOptions, maxInFlight: () => maxInFlight };
}

const candidates = parseCandidates([
  'a.example 192.0.2.1',
  'b.example 192.0.2.2:8443',
  'c.example 192.0.2.3',
  'd.example 192.0.2.4',
  'e.example 192.0.2.5',
].join('\n'));

t.test('returns entries in candidate order with figures, never more than `concurrency` at once', async (t) => {
  const f = fakeProbes({}, 3);
  const progress: number[] = [];
  const entries = await buildDecoyList({
    candidates, concurrency: 2, probes: f.probes, onResult: (_e, done, total) => progress.push(done * 10 + total),
  });
  t.same(entries.map((e) => e.label), ['a.example (192.0.2.1)', 'b.example (192.0.2.2:8443)', 'c.example (192.0.2.3)',
    'd.example (192.0.2.4)', 'e.example (192.0.2.5)']);
  t.ok(entries.every((e) => e.keep));
  t.same(entries[1]!.figures, {
    window: 29200, timeoutMs: 60_000, timeoutCapped: false, suite: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', aes128Gcm: true,
    alpn: 'http/1.1', robots: 'allowed (HTTP 404)', station: null,
  });
  t.equal(f.maxInFlight(), 2);
  t.same(progress, [15, 25, 35, 45, 55]);
  t.equal(f.calls.filter((c) => c.startsWith('hold')).length, 5);
  t.ok(f.calls.includes('tls b.example 192.0.2.2:8443'), 'probes go to the candidate\'s port');
});

t.test('passes the thresholds and trust anchors to the probes', async (t) => {
  const f = fakeProbes();
  await buildDecoyList({ candidates: candidates.slice(0, 1), probes: f.probes, minWindow: 20000, maxTimeoutMs: 9000, minTimeoutMs: 4000, ca: 'PEM' });
  t.equal(f.holdOptions[0]!.maxHoldMs, 9000);
  t.equal(f.holdOptions[0]!.stopBelowWindow, 20000, 'the hold stops early on a small window');
  t.equal(f.holdOptions[0]!.ca, 'PEM');
});

t.test('stops probing a host once it is dropped, unless every probe is asked for', async (t) => {
  const over = {
    tls: { '192.0.2.1': tlsResult(handshakeFailed('ERR_TLS_CERT_HOSTNAME'), null) },
    robots: { '192.0.2.2': robotsResult({ verdict: { optedOut: true, source: 'agent', rule: 'Disallow: /' } }) },
    hold: { '192.0.2.3': holdResult({ window: 100 }) },
  };
  const f = fakeProbes(over);
  const entries = await buildDecoyList({ candidates: candidates.slice(0, 3), probes: f.probes });
  t.same(entries.map((e) => e.reasons.map((r) => r.code)), [['certificate'], ['robots-opt-out'], ['window-small']]);
  t.same(f.calls.filter((c) => c.includes('a.example')), ['tls a.example 192.0.2.1:443']);
  t.same(f.calls.filter((c) => c.includes('b.example')).map((c) => c.split(' ')[0]), ['tls', 'robots']);
  t.equal(entries[0]!.probes.robots, undefined);
  t.equal(entries[0]!.figures.robots, null);

  const all = fakeProbes(over);
  const entriesAll = await buildDecoyList({ candidates: candidates.slice(0, 3), probes: all.probes, allProbes: true });
  t.equal(all.calls.filter((c) => c.startsWith('hold')).length, 3);
  t.equal(all.holdOptions[0]!.stopBelowWindow, undefined);
  t.same(entriesAll.map((e) => e.reasons.map((r) => r.code)), [['certificate'], ['robots-opt-out'], ['window-small']]);
});

t.test('resolves names without an address and drops names that do not resolve', async (t) => {
  const f = fakeProbes();
  const entries = await buildDecoyList({ candidates: parseCandidates('named.example\nnowhere.example\n'), probes: f.probes });
  t.equal(entries[0]!.address, '192.0.2.9');
  t.equal(entries[0]!.keep, true);
  t.ok(f.calls.includes('tls named.example 192.0.2.9:443'), 'SNI stays the name');
  t.same(entries[1]!.reasons.map((r) => r.code), ['unresolved']);
  t.equal(entries[1]!.address, null);
  t.notOk(f.calls.some((c) => c.startsWith('tls nowhere')));
});

t.test('runs the injected station test with the key and generation, and decides on its answer', async (t) => {
  const key = new Uint8Array(32).fill(7);
  const seen: string[] = [];
  const station: StationProbe = async (target, k, o) => {
    seen.push(`${target.address} ${k[0]} ${o.generation} ${String(o.ca)}`);
    if (target.address === '192.0.2.2') return stationResult({ reached: false, stationMs: null, failure: { code: 'ERR_STATION_NO_RESPONSE', message: 'no' } });
    if (target.address === '192.0.2.3') return stationResult({ refusal: 'DECOY_OVERLOAD', stationMs: 5 });
    return stationResult({ stationMs: 42 });
  };
  const f = fakeProbes();
  const entries = await buildDecoyList({
    candidates: candidates.slice(0, 3), probes: { ...f.probes, station }, stationKey: key, generation: 9, ca: 'PEM',
  });
  t.same(entries.map((e) => e.keep), [true, false, true]);
  t.same(entries.map((e) => e.reasons.map((r) => r.code)), [[], ['no-station'], []]);
  t.same(entries.map((e) => e.figures.station), ['answered in 42 ms', 'ERR_STATION_NO_RESPONSE', 'answered S2C_ERROR DECOY_OVERLOAD']);
  t.same(seen.sort(), ['192.0.2.1 7 9 PEM', '192.0.2.2 7 9 PEM', '192.0.2.3 7 9 PEM']);

  const skipped: string[] = [];
  await buildDecoyList({
    candidates: candidates.slice(0, 1), probes: { ...f.probes, station: async () => { skipped.push('x'); return stationResult(); } },
    stationKey: key, stationTest: false,
  });
  t.same(skipped, [], 'no station test when it is switched off');
});

t.test('a host whose probe throws is dropped with probe-error and the build goes on', async (t) => {
  const f = fakeProbes();
  const probes = { ...f.probes, robots: async (target: ProbeTarget) => {
    if (target.address === '192.0.2.1') throw new TypeError('bug');
    return robotsResult();
  } };
  const entries = await buildDecoyList({ candidates: candidates.slice(0, 2), probes });
  t.same(entries[0]!.reasons, [{ code: 'probe-error', detail: 'ERR_UNKNOWN: bug' }]);
  t.equal(entries[1]!.keep, true);
});

t.test('after an abort, unprobed hosts are reported as incomplete', async (t) => {
  const ac = new AbortController();
  const f = fakeProbes();
  const probes = { ...f.probes, tls: async (target: ProbeTarget) => {
    ac.abort();
    return f.probes.tls(target, {});
  } };
  const entries = await buildDecoyList({ candidates, concurrency: 1, probes, signal: ac.signal });
  t.equal(entries.length, 5);
  t.same(entries.slice(1).map((e) => e.reasons[0]!.code), ['incomplete', 'incomplete', 'incomplete', 'incomplete']);
});

t.test('rejects bad options before probing anything', async (t) => {
  const f = fakeProbes();
  const bad: Partial<BuildOptions>[] = [
    { concurrency: 0 }, { concurrency: 1.5 }, { minWindow: -1 }, { minTimeoutMs: 5000, maxTimeoutMs: 4000 },
    { maxTimeoutMs: 0 }, { stationKey: new Uint8Array(31), probes: { ...f.probes, station: async () => stationResult() } },
    { stationKey: new Uint8Array(32) },
  ];
  for (const o of bad) {
    await t.rejects(buildDecoyList({ candidates, probes: f.probes, ...o }), { code: 'ERR_DECOY_OPTIONS' }, JSON.stringify(Object.keys(o)));
  }
  t.same(f.calls, []);
});

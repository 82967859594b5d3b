import t, { type Test } from 'tap';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { probeStation } from '../../src/decoys/station-probe.js';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { CovertAllowlist } from '../../src/station/allowlist.js';
import { LocalDecoyLoad } from '../../src/station/decoy-load.js';
import { startLoopbackPath, type LoopbackPath } from '../helpers/loopback-station.js';

// The loopback path (test/helpers): a node:tls decoy, an inline tap standing in for mirror and
// takeover, and the station's session table. The namespace testbed covers the real data plane.

/** A covert server standing in for the station's default proxy. */
const proxy: Server = createServer((s) => { s.on('error', () => {}); s.resume(); });
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise((resolve) => proxy.close(resolve)));
const covert = {
  allowlist: CovertAllowlist.from([]), resolveNames: false, connectTimeoutMs: 2000,
  defaultProxy: { host: '127.0.0.1', port: (proxy.address() as AddressInfo).port },
};

async function path(t: Test, overrides: Parameters<typeof startLoopbackPath>[0] = {}): Promise<LoopbackPath> {
  const p = await startLoopbackPath(overrides);
  t.teardown(() => p.close());
  return p;
}
const viaTap = (p: LoopbackPath): { serverName: string; address: string; port: number } =>
  ({ serverName: 'decoy.test', address: '127.0.0.1', port: p.tap.port });

t.test('a decoy with a station on its path passes: the station answers SESSION_INIT', async (t) => {
  const p = await path(t, { covert });
  const r = await probeStation(viaTap(p), p.stationKey.publicKey, { ca: p.ca.root.cert, generation: 3 });
  t.same({ reached: r.reached, refusal: r.refusal, failure: r.failure }, { reached: true, refusal: null, failure: null });
  t.ok(r.stationMs !== null && r.stationMs >= 0);
  t.equal(p.tap.stats.takeovers, 1);
});

t.test('a station that refuses the session still proves the path, and the reason is kept', async (t) => {
  const overloaded = await path(t, { covert, load: new LocalDecoyLoad({ perDecoy: 0, perDecoyOverrides: {} }) });
  const r = await probeStation(viaTap(overloaded), overloaded.stationKey.publicKey, { ca: overloaded.ca.root.cert, generation: 3 });
  t.same({ reached: r.reached, refusal: r.refusal, failure: r.failure }, { reached: true, refusal: 'DECOY_OVERLOAD', failure: null });
  const noProxy = await path(t);
  const q = await probeStation(viaTap(noProxy), noProxy.stationKey.publicKey, { ca: noProxy.ca.root.cert, generation: 3 });
  t.same({ reached: q.reached, refusal: q.refusal }, { reached: true, refusal: 'COVERT_STREAM' });
});

t.test('a tag for another station gets no answer: ERR_STATION_NO_RESPONSE, and the decoy sees a complete request', async (t) => {
  const p = await path(t, { covert });
  const r = await probeStation(viaTap(p), generateStationKeyPair().publicKey, { ca: p.ca.root.cert, generation: 3, stationWaitMs: 500 });
  t.same({ reached: r.reached, code: r.failure?.code }, { reached: false, code: 'ERR_STATION_NO_RESPONSE' });
  t.equal(p.tap.stats.takeovers, 0);
  // The give-up path completes the request for the decoy, which answers it; wait for that.
  for (let i = 0; i < 100 && p.decoyRequests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(p.decoyRequests.at(-1), /^GET \/ HTTP\/1\.1\r\nHost: decoy\.test\r\n[\s\S]*Connection: close\r\n\r\n$/);
});

t.test('a certificate the client does not trust is a station-test failure, not an exception', async (t) => {
  const p = await path(t, { covert });
  const r = await probeStation(viaTap(p), p.stationKey.publicKey, { generation: 3 });
  t.equal(r.reached, false);
  t.equal(r.failure?.code, 'ERR_DECOY_CONNECT');
});

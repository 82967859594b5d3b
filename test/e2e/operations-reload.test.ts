/**
 * Operating one station in the namespace testbed: ClientConf distribution to clients with an
 * older generation (persisted by the client), SIGHUP reloads of ClientConf and keys without
 * dropping live sessions, a broken reload that keeps the old config, the Prometheus endpoint,
 * and a scan of everything the station wrote for the client's address. Needs root and the
 * native addon, as CI has.
 */
import t from 'tap';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, equals } from '@bufbuild/protobuf';
import { StationPath, type LogLine } from '../../src/demo/station-path.js';
import { contentSha256 } from '../../src/testbed/covert-http.js';
import { generateStationKeyPair, encodeStationKeyFile } from '../../src/crypto/keys.js';
import { writeClientConf } from '../../src/protocol/client-conf.js';
import { ClientConfSchema, PubKeySchema, KeyType, decodeClientConf, type ClientConf } from '../../src/protocol/messages.js';
import { HeldClient } from '../station/fixtures/held-client.js';
import { findAddressForms, metricValue } from '../station/fixtures/ops.js';

const METRICS = '127.0.0.1:9464';
const path = await StationPath.up({
  startStation: false,
  station: { metrics: { listen: METRICS }, clientConfPath: 'ClientConf.station', stationId: 'reload-test' },
});
t.teardown(() => path.down());
const work = path.tb.workDir;
const stationConfPath = join(work, 'ClientConf.station');

/** The path's ClientConf with another generation, station key or window. */
function variant(o: { generation: number; key?: Uint8Array; tcpwin?: number }): ClientConf {
  const c = create(ClientConfSchema, path.clientConf);
  c.generation = o.generation;
  for (const d of c.decoyList!.tlsDecoys) {
    if (o.key !== undefined) d.pubkey = create(PubKeySchema, { key: o.key, type: KeyType.AES_GCM_128 });
    if (o.tcpwin !== undefined) d.tcpwin = o.tcpwin;
  }
  if (o.key !== undefined) c.defaultPubkey = create(PubKeySchema, { key: o.key, type: KeyType.AES_GCM_128 });
  return c;
}

const stationConf5 = variant({ generation: 5, tcpwin: 60_000 });
await writeClientConf(stationConfPath, stationConf5);
await path.startStation();

async function scrape(): Promise<string> {
  const r = await path.tb.exec('station', 'curl', ['-sf', `http://${METRICS}/metrics`]);
  return r.stdout;
}

async function reload(): Promise<LogLine> {
  const before = path.stationLog.length;
  path.signalStation('SIGHUP');
  return path.waitForLog((l) => path.stationLog.indexOf(l) >= before && (l.msg === 'configuration reloaded' || l.msg === 'reload failed; keeping the old config'),
    20_000, 'the reload');
}

function rewriteStationConfig(change: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(readFileSync(path.stationConfigPath, 'utf8')) as Record<string, unknown>;
  change(c);
  writeFileSync(path.stationConfigPath, JSON.stringify(c, null, 2));
}

t.test('a client with an older ClientConf generation receives the station\'s and persists it', async (t) => {
  const mine = join(work, 'ClientConf.client');
  copyFileSync(path.clientConfPath, mine);
  t.equal(decodeClientConf(readFileSync(mine)).generation, 1);
  const r = await path.fetch({ clientConfPath: mine });
  t.equal(r.status, 200);
  const saved = decodeClientConf(readFileSync(mine));
  t.equal(saved.generation, 5, 'the client wrote the station\'s generation to its file');
  t.ok(equals(ClientConfSchema, saved, stationConf5), 'and the whole ClientConf the station holds');
  t.equal(saved.decoyList!.tlsDecoys[0]!.tcpwin, 60_000);
});

t.test('the station says at start which record AEAD seals its flows (the record addon, built by setup)', async (t) => {
  const started = path.stationLog.find((l) => l.msg === 'station started') as { recordAead?: string } | undefined;
  t.equal(started?.recordAead, 'native');
});

t.test('SIGHUP installs a new ClientConf for the next clients without a restart', async (t) => {
  const mine = join(work, 'ClientConf.client');
  const sessions = path.stationLog.filter((l) => l.msg === 'station started').length;
  await writeClientConf(stationConfPath, variant({ generation: 6, tcpwin: 61_000 }));
  const done = await reload();
  t.equal(done.msg, 'configuration reloaded');
  t.equal(done.clientConfGeneration, 6);
  t.same(done.restartNeeded, []);
  await path.fetch({ clientConfPath: mine });
  const saved = decodeClientConf(readFileSync(mine));
  t.equal(saved.generation, 6);
  t.equal(saved.decoyList!.tlsDecoys[0]!.tcpwin, 61_000);
  t.equal(path.stationLog.filter((l) => l.msg === 'station started').length, sessions, 'the station did not restart');
  t.equal(metricValue(await scrape(), 'tapdance_clientconf_generation'), 6);
});

t.test('SIGHUP with a new key serves new sessions with it and keeps old sessions', async (t) => {
  const oldConf = join(work, 'ClientConf.oldkey');
  await writeClientConf(oldConf, variant({ generation: 100 }));
  const next = generateStationKeyPair();
  writeFileSync(join(work, 'station-next.key'), encodeStationKeyFile(next), { mode: 0o600 });
  const newConf = join(work, 'ClientConf.newkey');
  await writeClientConf(newConf, variant({ generation: 100, key: next.publicKey }));

  // A session on the old key, alive across both reloads.
  const held = HeldClient.start(path.tb, ['--client-conf', oldConf, '--target', `${path.covert.address}:${path.covert.httpPort}`, '--ca', path.caPath]);
  t.teardown(() => held.kill());
  await held.next('connected');
  held.send('get /bytes/1024');
  t.equal((await held.next('response')).sha256, contentSha256(1024));

  const refused = await path.fetchRaw({ clientConfPath: newConf, attempts: 2 });
  t.not(refused.code, 0, 'before the reload nobody answers a client of the new key');

  rewriteStationConfig((c) => { c.keyFiles = ['station.key', 'station-next.key']; });
  const added = await reload();
  t.equal(added.msg, 'configuration reloaded');
  t.equal(added.keysChanged, true);
  t.equal(added.keys, 2);
  t.same(added.restartNeeded, [], 'keys no longer need a restart');
  const viaNew = await path.fetch({ clientConfPath: newConf, path: '/bytes/65536' });
  t.equal(viaNew.sha256, contentSha256(65536), 'a new session on the new key');
  const viaOld = await path.fetch({ clientConfPath: oldConf, path: '/bytes/65536' });
  t.equal(viaOld.sha256, contentSha256(65536), 'a new session on the old key, still listed');
  held.send('get /bytes/1048576');
  t.equal((await held.next('response')).sha256, contentSha256(1 << 20), 'the old session goes on');

  // Drop the old key while the held session is in the middle of a download.
  held.send('hold /bytes/8388608');
  await held.next('first-bytes');
  rewriteStationConfig((c) => { c.keyFiles = ['station-next.key']; });
  const dropped = await reload();
  t.equal(dropped.keys, 1);
  held.send('resume');
  const rest = await held.next('response');
  t.equal(rest.bytes, 8 << 20);
  t.equal(rest.sha256, contentSha256(8 << 20), 'the download in flight when its key was dropped completes intact');
  const gone = await path.fetchRaw({ clientConfPath: oldConf, attempts: 2 });
  t.not(gone.code, 0, 'a new client of the dropped key is no longer served');
  t.match(gone.stderr, /ERR_STATION_NO_RESPONSE|no station answered/);
  t.equal((await path.fetch({ clientConfPath: newConf })).status, 200);
  // (A station that lost the held session would have made its client fail: sessions cannot be
  // restarted behind a client's back.)

  const m = await scrape();
  t.equal(metricValue(m, 'tapdance_station_keys', { worker: '0' }), 1);
  t.equal(metricValue(m, 'tapdance_station_keys', { worker: '1' }), 1);
  t.ok((metricValue(m, 'tapdance_key_updates_total', { worker: '0' }) ?? 0) >= 2, 'each worker switched keys twice');
  t.ok((metricValue(m, 'tapdance_key_updates_total', { worker: '1' }) ?? 0) >= 2);
  t.same(await held.close(), { code: 0 }, 'the held session closes cleanly');
});

t.test('a reload of a broken config keeps the running one and is counted', async (t) => {
  const good = readFileSync(path.stationConfigPath, 'utf8');
  t.teardown(() => writeFileSync(path.stationConfigPath, good));
  writeFileSync(path.stationConfigPath, '{ "keyFiles": ');
  const failed = await reload();
  t.equal(failed.msg, 'reload failed; keeping the old config');
  t.match(String(failed.err), /not valid JSON/);
  writeFileSync(path.stationConfigPath, good.replace('"station-next.key"', '"missing.key"'));
  t.match(String((await reload()).err), /keyFiles: cannot use .*missing\.key/);
  const newConf = join(work, 'ClientConf.newkey');
  t.equal((await path.fetch({ clientConfPath: newConf })).status, 200, 'the station serves with its previous keys');
  const m = await scrape();
  t.equal(metricValue(m, 'tapdance_config_reloads_total', { result: 'failed' }), 2);
  t.equal(metricValue(m, 'tapdance_config_reloads_total', { result: 'ok' }), 3);
});

t.test('the metrics endpoint serves data-plane, session, load and error counters', async (t) => {
  const newConf = join(work, 'ClientConf.newkey');
  const denied = await path.fetchRaw({ clientConfPath: newConf, target: `${path.covert.address}:22` });
  t.not(denied.code, 0);
  const idle = async (): Promise<boolean> => metricValue(await scrape(), 'tapdance_sessions_active') === 0;
  for (const deadline = Date.now() + 30_000; !(await idle());) {
    if (Date.now() > deadline) throw new Error('earlier sessions did not end');
    await new Promise((r) => setTimeout(r, 100));
  }
  const held = HeldClient.start(path.tb, ['--client-conf', newConf, '--target', `${path.covert.address}:${path.covert.httpPort}`, '--ca', path.caPath]);
  t.teardown(() => held.kill());
  await held.next('connected');
  const m = await scrape();
  const decoy = path.decoys[0]!.address;
  const sum = (name: string): number => [0, 1].reduce((a, w) => a + (metricValue(m, name, { worker: String(w) }) ?? 0), 0);
  // One client and one decoy are one IP pair: the fanout gives all their packets to one worker.
  t.ok(sum('tapdance_capture_packets_total') > 0);
  for (const worker of ['0', '1']) {
    for (const reason of ['socket', 'queue_full']) {
      t.equal(metricValue(m, 'tapdance_takeover_failures_total', { worker, reason }), 0, `takeover failures by reason (${reason}), worker ${worker}`);
    }
  }
  t.ok(sum('tapdance_tag_checks_total') > sum('tapdance_tag_hits_total'), 'more flows checked than tagged (the untagged new-key fetch before the reload)');
  t.ok(sum('tapdance_tag_hits_total') >= 8);
  t.ok(sum('tapdance_takeovers_total') >= 8);
  t.ok(sum('tapdance_capture_bytes_total') > 0);
  t.ok((metricValue(m, 'tapdance_sessions_total') ?? 0) >= 8);
  t.equal(metricValue(m, 'tapdance_sessions_active'), 1, 'the held session');
  t.ok((metricValue(m, 'tapdance_session_flows_active') ?? 0) >= 1);
  t.ok((metricValue(m, 'tapdance_covert_bytes_total', { direction: 'downstream' }) ?? 0) > 9 << 20);
  t.ok((metricValue(m, 'tapdance_covert_bytes_total', { direction: 'upstream' }) ?? 0) > 0);
  t.equal(metricValue(m, 'tapdance_covert_errors_total', { code: 'ERR_COVERT_DENIED' }), 1);
  t.equal(metricValue(m, 'tapdance_s2c_errors_total', { reason: 'COVERT_STREAM' }), 1);
  t.equal(metricValue(m, 'tapdance_decoy_clients', { decoy }), 1, 'per-decoy load');
  t.equal(metricValue(m, 'tapdance_load_store_up', { store: 'local' }), 1);
  t.ok((metricValue(m, 'tapdance_flows_created_total', { worker: '0' }) ?? 0) + (metricValue(m, 'tapdance_flows_created_total', { worker: '1' }) ?? 0) > 0);
  t.match(m, /tapdance_station_process_resident_memory_bytes \d+/);
  t.same(await held.close(), { code: 0 }, 'the held session closes cleanly');
});

t.test('nothing the station wrote holds the client address', async (t) => {
  await path.stopStation();
  const output = path.stationOutput;
  t.ok(path.stationLog.length > 20, `the station logged (${path.stationLog.length} lines)`);
  t.ok(path.stationLog.every((l) => typeof l.level === 'number' && typeof l.msg === 'string'), 'every line is JSON with a level and a message');
  t.same(findAddressForms(output, path.tb.addresses.client), [], 'no form of the client address in the station output');
});

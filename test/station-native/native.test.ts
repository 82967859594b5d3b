/**
 * The station data plane through its TypeScript adapter: replay of synthetic captures, the tag
 * check against the public vectors and the TypeScript reader, typed errors, the replay CLI.
 */
import t, { type Test } from 'tap';

import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  NativeStation,
  StationNativeError,
  checkTag,
  nativeAvailable,
  replayCapture,
  stationPublicKey,
  sumCounters,
  synthesizeCapture,
} from '../../src/station/native.js';
import { runReplay } from '../../src/station/replay.js';
import { readTag } from '../../src/protocol/tag-reader.js';
import { StationConfigError } from '../../src/station/errors.js';

if (!nativeAvailable()) {
  t.fail('station native addon not built: run npm run build:native');
  process.exit(1);
}

/** Asserts that `fn` throws a `Class` with `code`. */
function throwsTyped(t: Test, fn: () => unknown, Class: abstract new (...a: never[]) => Error, code: string): void {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (e) {
    t.ok(e instanceof Class, `${(e as Error).name} is a ${Class.name}`);
    t.equal((e as { code?: string }).code, code);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'td-native-'));
const secret = Buffer.alloc(32, 0x42);
const other = Buffer.alloc(32, 0x07);
const pub = stationPublicKey(secret);
const vectorsMd = readFileSync(new URL('../../station-native/tests/data/vectors.txt', import.meta.url), 'utf8');
const vec = (name: string): Buffer => {
  const m = new RegExp(`^${name} = ([0-9a-f]+)$`, 'm').exec(vectorsMd);
  if (!m) throw new Error(`no vector ${name}`);
  return Buffer.from(m[1]!, 'hex');
};

t.test('a replayed mix yields exactly its tagged flows with the decoy side TCP state', async (t) => {
  const file = path.join(dir, 'mix.pcap');
  const written = synthesizeCapture(file, { seed: 3, flows: 200, tagged: 6, stationPublic: pub });
  t.ok(written.length > 0);
  const r = replayCapture(file, [other, secret]);
  t.equal(r.tagged.length, written.length);
  for (const w of written) {
    const f = r.tagged.find((x) => x.connectionId.equals(w.connectionId));
    t.ok(f, `flow ${w.clientAddress}:${w.clientPort} reported`);
    if (!f) continue;
    t.equal(f.keyIndex, 1);
    t.equal(f.flow.clientAddress, w.clientAddress);
    t.equal(f.flow.clientPort, w.clientPort);
    t.equal(f.flow.taggedEnd, w.taggedEnd);
    t.equal(f.flow.serverNextSeq, w.serverNextSeq);
    t.equal(f.flow.serverAck, w.taggedEnd, 'the decoy acknowledged the tagged segment');
    t.ok(f.ackSeen);
    t.equal(f.cipherSuite, 0xc02f);
    t.equal(f.payload.length, 132);
    t.same(f.xProto, Buffer.from('xproto-bytes'));
  }
  t.equal(r.counters.tags_found, written.length);
  t.ok(r.tableMemory / r.tableCapacity <= 256, 'bytes per tracked flow within budget');
});

t.test('the native and TypeScript tag readers agree on every tagged record', async (t) => {
  const file = path.join(dir, 'agree.pcap');
  synthesizeCapture(file, { seed: 9, flows: 60, tagged: 10, stationPublic: pub });
  const r = replayCapture(file, [secret]);
  t.ok(r.tagged.length >= 5);
  for (const f of r.tagged) {
    const ts = readTag(new Uint8Array(f.record), [new Uint8Array(secret)]);
    t.ok(ts, 'TypeScript finds the tag too');
    t.same(Buffer.from(ts!.rawPayload), f.payload);
    const n = checkTag(f.record, [secret]);
    t.same(n?.payload, f.payload);
    t.same(n?.keyMaterial, f.keyMaterial);
  }
});

t.test('checkTag opens the published synthetic vector and the legacy vector through its layout', async (t) => {
  const sk = vec('legacy_station_secret');
  const hit = checkTag(vec('synth_record'), [sk]);
  t.ok(hit);
  t.same(hit!.keyMaterial, vec('synth_k'));
  t.same(hit!.payload.subarray(4, 52), vec('tls_master_secret'));
  const legacy = checkTag(vec('legacy_record'), [sk], { layout: 'legacy' });
  t.same(legacy?.payload, vec('legacy_payload'));
  t.equal(checkTag(vec('legacy_record'), [sk]), null, 'wrong layout finds nothing');
  t.equal(checkTag(Buffer.alloc(10), [sk]), null);
});

t.test('bad keys, files and backends fail with typed one-line errors', async (t) => {
  throwsTyped(t, () => checkTag(Buffer.alloc(300), [Buffer.alloc(5)]), StationConfigError, 'ERR_STATION_CONFIG');
  const bogus = path.join(dir, 'bogus.pcap');
  writeFileSync(bogus, 'not a capture');
  throwsTyped(t, () => replayCapture(bogus, [secret]), StationNativeError, 'ERR_CAPTURE_FILE');
  const st = new NativeStation({ keys: [secret], interface: 'lo', capture: 'pfring' });
  try {
    st.start(() => {});
    t.pass('PF_RING is installed here');
    st.stop();
  } catch (e) {
    t.ok(e instanceof StationNativeError);
    t.equal((e as StationNativeError).code, 'ERR_CAPTURE_PFRING');
    t.notMatch((e as Error).message, /\n/);
    t.match((e as Error).message, /PF_RING/);
  }
  const missing = new NativeStation({ keys: [secret], interface: 'td-no-such-if0' });
  throwsTyped(t, () => missing.start(() => {}), StationNativeError, 'ERR_CAPTURE_AFPACKET');
  throwsTyped(t, () => new NativeStation({ keys: [secret], interface: 'lo', capture: 'dpdk' as 'afpacket' }), StationConfigError, 'ERR_STATION_CONFIG');
  throwsTyped(t, () => missing.sendDecoyRst('0:1'), StationNativeError, 'ERR_STATION_STATE');
});

t.test('tapdance-station replay prints one JSON line per tagged flow and the counters', async (t) => {
  const file = path.join(dir, 'cli.pcap');
  const written = synthesizeCapture(file, { seed: 5, flows: 50, tagged: 3, stationPublic: pub });
  const keyFile = path.join(dir, 'privkey');
  writeFileSync(keyFile, Buffer.concat([secret, pub]));
  const out: string[] = [];
  const err: string[] = [];
  const code = await runReplay([file, '--key-file', keyFile], { out: (l) => out.push(l), err: (l) => err.push(l) });
  t.equal(code, 0, err.join('\n'));
  const lines = out.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(lines.length, written.length + 1);
  const flows = lines.filter((l) => l.type === 'tagged_flow');
  t.same(flows.map((f) => f.connectionId).sort(), written.map((w) => w.connectionId.toString('hex')).sort());
  t.equal(flows[0]!.cipherSuite, '0xc02f');
  t.equal(lines.at(-1)!.type, 'counters');
  t.equal(lines.at(-1)!.tags_found, written.length);
  t.equal(await runReplay([file], { out: () => {}, err: () => {} }), 2);
  const e2: string[] = [];
  t.equal(await runReplay([path.join(dir, 'nope.pcap'), '--key-file', keyFile], { out: () => {}, err: (l) => e2.push(l) }), 1);
  t.match(e2.join(''), /ERR_CAPTURE_FILE/);
});

t.test('per-worker counters sum by name', async (t) => {
  t.same(sumCounters([{ packets: 1, drops: 2 }, { packets: 3, drops: 0 }]), { packets: 4, drops: 2 });
});

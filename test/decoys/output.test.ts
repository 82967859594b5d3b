import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleClientConf, nextGeneration, readPreviousClientConf } from '../../src/decoys/client-conf-output.js';
import { loadStationKey } from '../../src/decoys/station-key.js';
import { bytesToHex } from '../../src/crypto/bytes.js';
import { decoyAddress, decoyServerName, decoyStationKey, writeClientConf } from '../../src/protocol/client-conf.js';
import { ClientConfSchema, KeyType, decodeClientConf, encodeClientConf } from '../../src/protocol/messages.js';

const dir = mkdtempSync(join(tmpdir(), 'td-decoys-out-'));
const key = new Uint8Array(32).map((_, i) => i + 1);

t.test('writes one decoy spec per kept decoy with timeout in ms and window in bytes', async (t) => {
  const conf = assembleClientConf([
    { hostname: 'a.example', address: '192.0.2.1', timeoutMs: 61_234, window: 29_200 },
    { hostname: 'b.example', address: '2001:db8::1', timeoutMs: 120_000, window: 65_535 },
    { hostname: null, address: '192.0.2.3', timeoutMs: 30_000.4, window: 16_384 },
  ], { generation: 7, stationKey: key, previous: null });
  const back = decodeClientConf(encodeClientConf(conf));
  t.equal(back.generation, 7);
  t.same(back.defaultPubkey?.key, key);
  t.equal(back.defaultPubkey?.type, KeyType.AES_GCM_128);
  const decoys = back.decoyList!.tlsDecoys;
  t.same(decoys.map((d) => [decoyServerName(d), decoyAddress(d)?.address, d.timeout, d.tcpwin]), [
    ['a.example', '192.0.2.1', 61_234, 29_200],
    ['b.example', '2001:db8::1', 120_000, 65_535],
    ['192.0.2.3', '192.0.2.3', 30_000, 16_384],
  ]);
  t.equal(decoys[2]!.hostname, '', 'an address-only decoy has no hostname');
  t.equal(decoys[0]!.pubkey, undefined, 'decoys use default_pubkey');
  t.same(decoyStationKey(decoys[0]!, back), key);
});

t.test('keeps the other fields of the previous ClientConf and its key unless a new one is given', async (t) => {
  const previous = create(ClientConfSchema, {
    generation: 41,
    defaultPubkey: { key: new Uint8Array(32).fill(9) },
    conjurePubkey: { key: new Uint8Array(32).fill(5) },
    phantomSubnetsList: { weightedSubnets: [{ weight: 1, subnets: ['192.0.2.0/24'] }] },
    decoyList: { tlsDecoys: [{ hostname: 'old.example' }] },
  });
  const keep = assembleClientConf([{ hostname: 'n.example', address: '192.0.2.9', timeoutMs: 1, window: 1 }],
    { generation: nextGeneration(undefined, previous), stationKey: null, previous });
  t.equal(keep.generation, 42);
  t.same(keep.defaultPubkey?.key, new Uint8Array(32).fill(9));
  t.same(keep.conjurePubkey?.key, new Uint8Array(32).fill(5));
  t.same(keep.phantomSubnetsList?.weightedSubnets[0]?.subnets, ['192.0.2.0/24']);
  t.same(keep.decoyList?.tlsDecoys.map((d) => d.hostname), ['n.example'], 'the decoy list is replaced');
  t.equal(previous.decoyList?.tlsDecoys[0]?.hostname, 'old.example', 'the previous message is not changed');
  const replaced = assembleClientConf([], { generation: 1, stationKey: key, previous });
  t.same(replaced.defaultPubkey?.key, key);
});

t.test('takes the generation asked for, else the previous one plus one, else 1', async (t) => {
  t.equal(nextGeneration(undefined, null), 1);
  t.equal(nextGeneration(5, create(ClientConfSchema, { generation: 100 })), 5);
  t.equal(nextGeneration(undefined, create(ClientConfSchema, { generation: 100 })), 101);
  t.throws(() => nextGeneration(undefined, create(ClientConfSchema, { generation: 0xffffffff })), { code: 'ERR_DECOY_OPTIONS' });
});

t.test('reads the previous ClientConf, none when missing, and refuses a damaged one', async (t) => {
  t.equal(await readPreviousClientConf(join(dir, 'absent')), null);
  const good = join(dir, 'ClientConf');
  await writeClientConf(good, create(ClientConfSchema, { generation: 12 }));
  t.equal((await readPreviousClientConf(good))?.generation, 12);
  const bad = join(dir, 'bad');
  writeFileSync(bad, Buffer.from([0x0a, 0xff, 0xff]));
  await t.rejects(readPreviousClientConf(bad), { code: 'ERR_DECOY_PREVIOUS_CONF', message: /--generation/ });
  await t.rejects(readPreviousClientConf(dir), { code: 'ERR_DECOY_PREVIOUS_CONF' }, 'a directory');
});

t.test('loads a station key from hex, a raw pubkey file or a hex file', async (t) => {
  const hex = bytesToHex(key);
  t.same(await loadStationKey(hex), key);
  t.same(await loadStationKey(`0x${hex.toUpperCase()}`), key);
  const raw = join(dir, 'pubkey');
  writeFileSync(raw, key);
  t.same(await loadStationKey(raw), key);
  const text = join(dir, 'pubkey.hex');
  writeFileSync(text, `${hex}\n`);
  t.same(await loadStationKey(text), key);
  const short = join(dir, 'short');
  writeFileSync(short, key.subarray(0, 31));
  await t.rejects(loadStationKey(short), { code: 'ERR_DECOY_STATION_KEY', message: /32 bytes or 64 hex digits, got 31 bytes/ });
  await t.rejects(loadStationKey(join(dir, 'nothing')), { code: 'ERR_DECOY_STATION_KEY', message: /ENOENT/ });
  await t.rejects(loadStationKey('abcd'), { code: 'ERR_DECOY_STATION_KEY' });
});

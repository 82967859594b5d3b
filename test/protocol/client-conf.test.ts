import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync as readJson } from 'node:fs';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import {
  decoyAddress,
  decoyServerName,
  decoyStationKey,
  decoyTcpWindow,
  decoyTimeout,
  pickDecoy,
  readClientConf,
  writeClientConf,
} from '../../src/protocol/client-conf.js';
import { create } from '@bufbuild/protobuf';
import { ClientConfSchema, decodeClientConf, encodeClientConf, ipv4ToFixed32, TLSDecoySpecSchema } from '../../src/protocol/messages.js';

// gotapdance assets/ClientConf.dev (a8e3647), see test/vectors/gotapdance-clientconf.json.
const vector = JSON.parse(readJson(new URL('../vectors/gotapdance-clientconf.json', import.meta.url), 'utf8')) as {
  client_conf: string;
  generation: number;
  decoys: { hostname: string; address: string }[];
  default_pubkey: string;
};

t.test('a real ClientConf with Conjure fields decodes and re-encodes byte for byte', async (t) => {
  const bytes = hexToBytes(vector.client_conf);
  const conf = decodeClientConf(bytes);
  t.equal(conf.generation, vector.generation);
  t.same(
    conf.decoyList!.tlsDecoys.map((d) => ({ hostname: d.hostname, address: decoyAddress(d)?.address })),
    vector.decoys,
  );
  t.equal(bytesToHex(conf.defaultPubkey!.key), vector.default_pubkey);
  t.equal(conf.phantomSubnetsList?.weightedSubnets.length, 2);
  t.equal(conf.dnsRegConf?.domain, 'r.refraction.network');
  t.equal(bytesToHex(encodeClientConf(conf)), vector.client_conf);
});

t.test('a DnsRegConf without its upstream-required fields still decodes', async (t) => {
  const conf = decodeClientConf(encodeClientConf({ generation: 3, dnsRegConf: { target: '1.1.1.1:53' } }));
  t.equal(conf.dnsRegConf?.target, '1.1.1.1:53');
  t.equal(conf.generation, 3);
});

t.test('ClientConf files are written atomically and read back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'td-conf-'));
  const path = join(dir, 'ClientConf');
  const conf = decodeClientConf(hexToBytes(vector.client_conf));
  await writeClientConf(path, conf);
  t.equal(bytesToHex(readFileSync(path)), vector.client_conf);
  conf.generation = 2000;
  await writeClientConf(path, conf);
  t.equal((await readClientConf(path)).generation, 2000);
  t.same(readdirSync(dir), ['ClientConf'], 'no temporary files left');
  writeFileSync(path, hexToBytes('0aff'));
  await t.rejects(readClientConf(path), { code: 'ERR_PROTO_DECODE' });
  await t.rejects(writeClientConf(join(dir, 'missing', 'ClientConf'), conf), { code: 'ENOENT' });
  t.same(readdirSync(dir), ['ClientConf'], 'a failed write leaves nothing behind');
});

t.test('decoy floors are applied as values, not by mutating the spec', async (t) => {
  const spec = create(TLSDecoySpecSchema, { hostname: 'd.example', timeout: 15000, tcpwin: 1000 });
  t.equal(decoyTimeout(spec), 30000);
  t.equal(decoyTcpWindow(spec), 15614);
  t.equal(spec.timeout, 15000);
  t.equal(spec.tcpwin, 1000);
  const big = create(TLSDecoySpecSchema, { timeout: 120000, tcpwin: 31104 });
  t.equal(decoyTimeout(big), 120000);
  t.equal(decoyTcpWindow(big), 31104);
  t.equal(decoyTimeout(create(TLSDecoySpecSchema)), 30000, 'absent counts as too small');
  t.equal(decoyTimeout(create(TLSDecoySpecSchema, { timeout: 20000 })), 20000);
  t.equal(decoyTcpWindow(create(TLSDecoySpecSchema, { tcpwin: 14400 })), 14400);
});

t.test('decoy address, server name and station key follow the public client rules', async (t) => {
  const conf = create(ClientConfSchema, { defaultPubkey: { key: new Uint8Array(32).fill(1) } });
  const v4 = create(TLSDecoySpecSchema, { hostname: 'a.example', ipv4addr: ipv4ToFixed32('192.0.2.7'), ipv6addr: new Uint8Array(16) });
  t.same(decoyAddress(v4), { address: '192.0.2.7', port: 443, family: 4 }, 'IPv4 wins over IPv6');
  const zero = create(TLSDecoySpecSchema, { ipv4addr: 0 });
  t.same(decoyAddress(zero), { address: '0.0.0.0', port: 443, family: 4 }, 'presence, not value, selects IPv4');
  const v6 = create(TLSDecoySpecSchema, { ipv6addr: hexToBytes('20010db8000000000000000000000001') });
  t.same(decoyAddress(v6), { address: '2001:db8::1', port: 443, family: 6 });
  t.equal(decoyServerName(v6), '2001:db8::1', 'no hostname: the address');
  t.equal(decoyServerName(v4), 'a.example');
  t.equal(decoyAddress(create(TLSDecoySpecSchema, { ipv6addr: new Uint8Array(4) })), null);
  t.same(decoyStationKey(v4, conf), new Uint8Array(32).fill(1), 'default key');
  const own = create(TLSDecoySpecSchema, { pubkey: { key: new Uint8Array(32).fill(2) } });
  t.same(decoyStationKey(own, conf), new Uint8Array(32).fill(2), 'per-decoy key wins');
  t.equal(decoyStationKey(v4, create(ClientConfSchema)), null);
});

t.test('pickDecoy draws uniformly over all decoys and refuses an empty list', async (t) => {
  const conf = decodeClientConf(hexToBytes(vector.client_conf));
  const seen = new Set<number>();
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 6000; i++) {
    const d = pickDecoy(conf);
    const idx = conf.decoyList!.tlsDecoys.indexOf(d);
    seen.add(idx);
    counts[idx]!++;
  }
  t.equal(seen.size, 6);
  for (const c of counts) t.ok(c > 800 && c < 1200, `count ${c} near 1000`);
  t.throws(() => pickDecoy(create(ClientConfSchema)), { code: 'ERR_PROTO_CLIENT_CONF' });
});

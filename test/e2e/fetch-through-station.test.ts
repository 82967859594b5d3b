/**
 * The end-to-end path in network namespaces: our client fetches from the covert HTTP server
 * through a real nginx decoy, seen by the station only through the router's port mirror and
 * taken over with TCP_REPAIR. Needs root and the native addon, as CI has.
 */
import t from 'tap';
import { StationPath } from '../../src/demo/station-path.js';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { contentSha256 } from '../../src/testbed/covert-http.js';
import { decodeTcp } from '../../src/testbed/pcap.js';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { writeClientConf } from '../../src/protocol/client-conf.js';
import { ClientConfSchema, PubKeySchema, KeyType } from '../../src/protocol/messages.js';

const path = await StationPath.up();
t.teardown(() => path.down());

t.test('a page fetched through the station arrives', async (t) => {
  const r = await path.fetch({ path: '/' });
  t.equal(r.status, 200);
  t.equal(r.bytes, 10);
  t.equal(r.flows, 1);
  t.ok(path.stationLog.some((l) => l.msg === 'session started'));
  // SPEC.md §5.1, §6.1: the tag left with the client's Finished and carried the whole GET.
  t.equal(r.falseStart, true, 'the tag left with the TLS 1.2 Finished');
  t.ok((r.earlyBytes ?? 0) > 20, `the GET (${r.earlyBytes} bytes) went inside the tag`);
  // A client that follows the public protocol's rule is served too.
  const pub = await path.fetch({ path: '/', publicRule: true });
  t.equal(pub.status, 200);
  t.same([pub.falseStart, pub.earlyBytes], [false, 0], 'public rule: no False Start, no early data');
});

t.test('1 MB and 100 MB downloads arrive intact', async (t) => {
  for (const size of [1 << 20, 100 << 20]) {
    const r = await path.fetch({ path: `/bytes/${size}` }, 300_000);
    t.equal(r.status, 200);
    t.equal(r.bytes, size);
    t.equal(r.sha256, contentSha256(size), `${size} bytes, SHA-256 equal`);
  }
});

t.test('a 1 MB upload arrives intact', async (t) => {
  const r = await path.fetch({ path: '/upload', upload: 1 << 20 }, 300_000);
  t.equal(r.status, 200);
  const server = JSON.parse(r.body ?? '{}') as { bytes: number; sha256: string };
  t.equal(server.bytes, 1 << 20, 'the covert server received every byte');
  t.equal(server.sha256, r.uploaded?.sha256, 'SHA-256 of what the server received equals what was sent');
  t.ok((r.flows ?? 0) > 1, `upload used ${r.flows} flows`);
});

t.test('nginx never sees a complete request from tagged connections', async (t) => {
  const log = path.decoys[0]!.nginx.accessLog();
  t.notMatch(log, /"GET [^"]*" 200/, 'no request from the tagged flows above reached nginx complete');
});

t.test('plain TLS and connections tagged for another key are left alone: no injected packet', async (t) => {
  const decoy = path.decoys[0]!;
  // Everything the station sends crosses the router's injection port; the client's own packets
  // cross its client port. Packets injected for earlier sessions (late FINs, decoy RSTs) may show
  // up, so only this test's connections, by client port, count.
  const inject = await path.tb.capture('router', { iface: path.tb.interfaces.routerInject, filter: 'tcp' });
  const client = await path.tb.capture('router', { iface: path.tb.interfaces.routerClient, filter: 'tcp' });
  const plain = await path.tb.exec('client', 'openssl', ['s_client', '-connect', `${decoy.address}:443`, '-servername', decoy.servername,
    '-quiet', '-CAfile', decoy.caPath], { input: `GET / HTTP/1.1\r\nHost: ${decoy.servername}\r\nConnection: close\r\n\r\n`, timeoutMs: 20_000 });
  t.match(plain.stdout, /^HTTP\/1\.1 200 OK/, 'nginx answers a plain TLS request');

  const otherKeyConf = join(path.tb.workDir, 'ClientConf.other');
  const other = create(ClientConfSchema, path.clientConf);
  for (const d of other.decoyList!.tlsDecoys) d.pubkey = create(PubKeySchema, { key: generateStationKeyPair().publicKey, type: KeyType.AES_GCM_128 });
  other.defaultPubkey = undefined;
  await writeClientConf(otherKeyConf, other);
  const before = decoy.nginx.accessLog().split('\n').length;
  const r = await path.fetchRaw({ clientConfPath: otherKeyConf, attempts: 2 });
  t.not(r.code, 0, 'the client gives up: no station answered');
  t.match(r.stderr, /ERR_STATION_NO_RESPONSE|no station answered/);
  const segments = (file: Awaited<ReturnType<typeof inject.stop>>) => file.records.map((rec) => decodeTcp(rec.data, file.linkType))
    .filter((seg) => seg !== undefined);
  const ports = new Set(segments(await client.stop()).filter((seg) => seg.dstPort === 443).map((seg) => seg.srcPort));
  t.ok(ports.size >= 3, `saw this test's connections (${ports.size})`);
  const injected = segments(await inject.stop()).filter((seg) => ports.has(seg.dstPort) || ports.has(seg.srcPort));
  t.same(injected, [], 'the station injected nothing for these connections');
  for (let i = 0; i < 50 && decoy.nginx.accessLog().split('\n').length === before; i++) await new Promise((res) => setTimeout(res, 100));
  t.ok(decoy.nginx.accessLog().split('\n').length > before, 'the decoy answered the completed request of the other-key client');
});

t.test('a covert address outside the allowlist is refused, and the logs hold no client address', async (t) => {
  const r = await path.fetchRaw({ target: `${path.covert.address}:22` });
  t.not(r.code, 0);
  t.match(r.stderr, /ERR_STATION_REFUSED|COVERT_STREAM/);
  t.notOk(path.stationOutput.includes(path.tb.addresses.client), 'no client address in the station output');
  t.ok(path.stationLog.length > 3, 'the station did log');
});

t.test('killing the covert server mid-transfer ends that session and the station keeps serving', async (t) => {
  const size = 100 << 20;
  const started = path.stationLog.filter((l) => l.msg === 'session started').length;
  const running = path.fetchRaw({ path: `/bytes/${size}` });
  await path.waitForLog(() => path.stationLog.filter((l) => l.msg === 'session started').length > started, 20_000, 'session start');
  await new Promise((res) => setTimeout(res, 150));
  await path.restartCovert();
  const r = await running;
  const summary = r.code === 0 ? JSON.parse(r.stdout) as { bytes: number } : undefined;
  t.ok(r.code !== 0 || (summary?.bytes ?? 0) < size, 'the client sees the transfer cut short');
  const again = await path.fetch({ path: '/bytes/65536' });
  t.equal(again.sha256, contentSha256(65536), 'a new session works after the covert server came back');
});

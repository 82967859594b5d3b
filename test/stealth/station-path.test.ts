/**
 * The stealth profile end to end in the namespace testbed: real decoys, the station watching the
 * router's mirror with the native data plane and taking flows over with TCP_REPAIR, and our client
 * with the Chromium 156 profile fetching from the covert server. Decoys: nginx TLS 1.2 only, nginx
 * TLS 1.3 only, nginx with HTTP/2, nginx with both versions (HTTP/1.1), and a Go server that picks
 * X25519MLKEM768 (OpenSSL 3.0 in Debian 12 has no ML-KEM). The Chrome 62 profile still works.
 * Needs root, the native addon, nginx and Go (>= 1.25, for the ML-KEM decoy).
 */
import t from 'tap';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { create } from '@bufbuild/protobuf';
import { StationPath } from '../../src/demo/station-path.js';
import { TestCa } from '../../src/testbed/pki.js';
import { contentSha256 } from '../../src/testbed/covert-http.js';
import { writeClientConf } from '../../src/protocol/client-conf.js';
import { ClientConfSchema, KeyType, ipv4ToFixed32 } from '../../src/protocol/messages.js';

const GO_PORT = 8443;
const path = await StationPath.up({
  decoys: [{ protocols: 'TLSv1.2' }, { protocols: 'TLSv1.3' }, { http2: true }, {}, { protocols: 'TLSv1.2', http2: true }],
  startStation: false,
});
t.teardown(() => path.down());
const { tb } = path;

// The ML-KEM decoy: Go's crypto/tls on decoy 3's address, port 8443, with a certificate of our own.
const goBinary = join(tb.workDir, 'mlkem-decoy');
const build = spawnSync('go', ['build', '-o', goBinary, '.'], {
  cwd: new URL('./fixtures/mlkem-decoy/', import.meta.url).pathname, encoding: 'utf8',
  env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', GOPROXY: 'off', GOWORK: 'off', GOCACHE: join(tb.workDir, 'gocache') },
});
if (build.status !== 0) throw new Error(`go build of the ML-KEM decoy failed (Go >= 1.25 needed): ${build.stderr}`);
const goCa = TestCa.create(join(tb.workDir, 'go-pki'));
const goAddress = path.decoys[3]!.address;
const goLeaf = goCa.issue({ commonName: 'mlkem.test', ipAddresses: [goAddress] });
const goLog: Record<string, unknown>[] = [];
const goChild: ChildProcess = tb.spawn('decoy3', goBinary, ['-listen', `${goAddress}:${GO_PORT}`, '-cert', goLeaf.certPath, '-key', goLeaf.keyPath]);
createInterface({ input: goChild.stdout! }).on('line', (l) => goLog.push(JSON.parse(l) as Record<string, unknown>));
t.teardown(() => void goChild.kill('SIGKILL'));
for (let i = 0; i < 100 && !goLog.some((l) => l.event === 'ready'); i++) await new Promise((r) => setTimeout(r, 50));
const caBundle = join(tb.workDir, 'stealth-ca.pem');
writeFileSync(caBundle, `${readFileSync(path.caPath, 'utf8')}\n${readFileSync(goCa.root.certPath, 'utf8')}`);

// The station also watches the Go decoy's port.
const capture = path.stationConfig['capture'] as { tlsPorts: number[] };
capture.tlsPorts = [443, GO_PORT];
writeFileSync(path.stationConfigPath, JSON.stringify(path.stationConfig, null, 2));
await path.startStation();

/** A ClientConf with one decoy. */
async function confFor(hostname: string, address: string): Promise<string> {
  const file = join(tb.workDir, `ClientConf-${hostname}`);
  const pubkey = { key: path.key.publicKey, type: KeyType.AES_GCM_128 };
  await writeClientConf(file, create(ClientConfSchema, {
    generation: 1,
    decoyList: { tlsDecoys: [{ hostname, ipv4addr: ipv4ToFixed32(address), timeout: 60_000, tcpwin: 65_535, pubkey }] },
    defaultPubkey: pubkey,
  }));
  return file;
}

interface Fetched {
  status: number; bytes: number; sha256: string; body?: string; flows: number;
  serverHello: { version: number; suite: number; group: number | null };
}

let fetches = 0;
async function fetch(hostname: string, address: string, o: { profile?: string; decoyPort?: number; path?: string } = {}): Promise<Fetched> {
  const r = await tb.runNode('client', new URL('./fixtures/fetch-profile.ts', import.meta.url), [
    '--client-conf', await confFor(hostname, address), '--ca', caBundle,
    '--target', `${path.covert.address}:${path.covert.httpPort}`, '--path', o.path ?? '/',
    '--profile', o.profile ?? 'chromium156', ...(o.decoyPort === undefined ? [] : ['--decoy-port', String(o.decoyPort)]),
  ], { timeoutMs: 120_000 });
  fetches++;
  if (r.code !== 0) throw new Error(`fetch-profile exited ${r.code}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Fetched;
}

const decoy = (i: number) => ({ name: path.decoys[i]!.servername, address: path.decoys[i]!.address, nginx: path.decoys[i]!.nginx });
const page = await fetch(decoy(3).name, decoy(3).address, { profile: 'chrome62' });

t.test('Chrome 62 still gets TLS 1.2 and a session through the station (public-station compatible)', async (t) => {
  t.equal(page.status, 200);
  t.equal(page.serverHello.version, 0x0303);
  t.equal(page.serverHello.suite, 0xc02f, 'AES-128-GCM, as the public stations expect');
});

t.test('Chromium profile through a TLS 1.2-only decoy: TLS 1.2 tag, session completes', async (t) => {
  const r = await fetch(decoy(0).name, decoy(0).address);
  t.equal(r.serverHello.version, 0x0303);
  t.same([r.status, r.body], [200, page.body]);
});

t.test('Chromium profile through a TLS 1.3-only decoy: TLS 1.3 tag, session completes', async (t) => {
  const r = await fetch(decoy(1).name, decoy(1).address);
  t.equal(r.serverHello.version, 0x0304);
  t.equal(r.serverHello.group, 0x001d, 'nginx takes our X25519 share');
  t.same([r.status, r.body], [200, page.body]);
});

t.test('Chromium profile through an HTTP/2 decoy (TLS 1.3): session completes, 1 MB intact', async (t) => {
  const r = await fetch(decoy(2).name, decoy(2).address, { path: `/bytes/${1 << 20}` });
  t.equal(r.serverHello.version, 0x0304);
  t.same([r.status, r.bytes, r.sha256], [200, 1 << 20, contentSha256(1 << 20)]);
});

t.test('Chromium profile through an HTTP/1.1 decoy with TLS 1.2 and 1.3: TLS 1.3, session completes', async (t) => {
  const r = await fetch(decoy(3).name, decoy(3).address);
  t.equal(r.serverHello.version, 0x0304);
  t.same([r.status, r.body], [200, page.body]);
});

t.test('Chromium profile through an HTTP/2 decoy limited to TLS 1.2: key-block tag, session completes', async (t) => {
  const r = await fetch(decoy(4).name, decoy(4).address);
  t.equal(r.serverHello.version, 0x0303);
  t.same([r.status, r.body], [200, page.body]);
});

t.test('a server that picks X25519MLKEM768: hybrid key exchange, session completes', async (t) => {
  const before = goLog.length;
  const r = await fetch('mlkem.test', goAddress, { decoyPort: GO_PORT });
  t.equal(r.serverHello.version, 0x0304);
  t.equal(r.serverHello.group, 0x11ec, 'X25519MLKEM768 on the wire');
  t.same([r.status, r.body], [200, page.body]);
  const handshakes = goLog.slice(before).filter((l) => l.event === 'handshake');
  t.ok(handshakes.length >= 1 && handshakes.every((h) => h.curve === 'X25519MLKEM768' && h.alpn === 'h2'), JSON.stringify(handshakes));
  t.same(goLog.slice(before).filter((l) => l.event === 'request'), [], 'the Go decoy never got a complete request');
});

t.test('no decoy saw a complete request from a tagged flow', async (t) => {
  for (const i of [0, 1, 2, 3, 4]) t.notMatch(decoy(i).nginx.accessLog(), /"GET [^"]*" 200/, `${decoy(i).name}: no complete request logged`);
  t.equal(path.stationLog.filter((l) => l.msg === 'session started').length, fetches, `the station started one session per fetch (${fetches})`);
});

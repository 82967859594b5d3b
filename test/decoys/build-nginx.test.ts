import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { bytesToHex } from '../../src/crypto/bytes.js';
import { decoyAddress, decoyServerName, readClientConf } from '../../src/protocol/client-conf.js';
import { startNginx, type NginxOptions, type NginxServer } from '../../src/testbed/nginx.js';
import { TestCa } from '../../src/testbed/pki.js';

// `tapdance decoys build` end to end over real nginx decoys on loopback, each on its own address,
// with nginx timeouts and receive buffers scaled down so the build takes seconds: thresholds
// --min-timeout 5 s and --max-timeout 10 s stand for the real 30 s and 120 s.

interface DecoySetup {
  name: string;
  address: string;
  /** client_header_timeout in s (undefined: nginx's 60 s, beyond the cap). */
  headerTimeout?: number;
  /** SO_RCVBUF of the listen socket. */
  rcvbuf: number;
  ciphers?: string;
  robots?: string;
  /** What the builder must decide. */
  expect: { keep: boolean; reasons: string[] };
}

const DECOYS: DecoySetup[] = [
  { name: 'slow.test', address: '127.0.0.21', headerTimeout: 8, rcvbuf: 32768, expect: { keep: true, reasons: [] } },
  { name: 'quick.test', address: '127.0.0.22', headerTimeout: 3, rcvbuf: 32768, expect: { keep: false, reasons: ['timeout-short'] } },
  { name: 'narrow.test', address: '127.0.0.23', headerTimeout: 8, rcvbuf: 8192, expect: { keep: false, reasons: ['window-small'] } },
  {
    name: 'cbc.test', address: '127.0.0.24', headerTimeout: 8, rcvbuf: 32768, ciphers: 'ECDHE-RSA-AES128-SHA',
    expect: { keep: false, reasons: ['no-aead-suite', 'no-aes128gcm'] },
  },
  {
    name: 'optout.test', address: '127.0.0.25', headerTimeout: 8, rcvbuf: 32768, robots: '# no refraction\nUser-agent: TapDance\nDisallow: /\n',
    expect: { keep: false, reasons: ['robots-opt-out'] },
  },
  { name: 'patient.test', address: '127.0.0.26', rcvbuf: 20480, expect: { keep: true, reasons: [] } },
  {
    name: 'welcome.test', address: '127.0.0.27', headerTimeout: 8, rcvbuf: 24576,
    robots: 'User-agent: *\nDisallow: /\n\nUser-agent: TapDance\nAllow: /\n', expect: { keep: true, reasons: [] },
  },
  { name: 'v6.test', address: '::1', headerTimeout: 8, rcvbuf: 24576, expect: { keep: true, reasons: [] } },
  { name: 'wrongname.example', address: '127.0.0.28', headerTimeout: 8, rcvbuf: 32768, expect: { keep: false, reasons: ['certificate'] } },
];
const MIN_TIMEOUT_S = 5;
const MAX_TIMEOUT_S = 10;
/** Allowed difference between a measured hold and nginx's client_header_timeout. */
const HOLD_TOLERANCE_MS = 1000;
/**
 * The window the decoy advertises: Linux doubles SO_RCVBUF and offers half of it, so a fresh
 * connection sees `rcvbuf` bytes; after the handshake and the ~0.9 KB request (which loopback's
 * 64 KB MSS does not let the decoy re-advertise) it is a little less.
 */
const WINDOW_SLACK = 2048;

const dir = mkdtempSync(join(tmpdir(), 'td-decoys-build-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ca = TestCa.create(join(dir, 'pki'));
const leaf = ca.issue({ commonName: 'slow.test', dnsNames: DECOYS.map((d) => d.name).filter((n) => !n.endsWith('.example')) });

async function start(d: DecoySetup): Promise<{ server: NginxServer; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const options: NginxOptions = {
      prefix: join(dir, `nginx-${d.name}-${attempt}`),
      listen: [{ address: d.address.includes(':') ? `[${d.address}]` : d.address, port, rcvbuf: d.rcvbuf }],
      certPath: leaf.certPath, keyPath: leaf.keyPath, protocols: 'TLSv1.2',
      files: { 'index.html': `${d.name}\n`, ...(d.robots === undefined ? {} : { 'robots.txt': d.robots }) },
      ...(d.headerTimeout === undefined ? {} : { clientHeaderTimeout: d.headerTimeout }),
      ...(d.ciphers === undefined ? {} : { ciphers: d.ciphers }),
    };
    try {
      return { server: await startNginx(options), port };
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
}

const running = await Promise.all(DECOYS.map(start));
t.teardown(async () => { await Promise.all(running.map((r) => r.server.stop())); });
const candidatesPath = join(dir, 'candidates.txt');
writeFileSync(candidatesPath, ['# test decoys', ...DECOYS.map((d, i) =>
  `${d.name} ${d.address.includes(':') ? `[${d.address}]` : d.address}:${running[i]!.port}`)].join('\n'));
const stationKey = new Uint8Array(32).fill(0x5a);
const outPath = join(dir, 'ClientConf');
const reportPath = join(dir, 'report.json');

let out = '';
let err = '';
const code = await main(['decoys', 'build', '--candidates', candidatesPath, '--out', outPath, '--ca', ca.root.certPath,
  '--min-timeout', String(MIN_TIMEOUT_S), '--max-timeout', String(MAX_TIMEOUT_S), '--report', reportPath,
  '--station-key', bytesToHex(stationKey), '--skip-station-test'], { out: (s) => { out += s; }, err: (s) => { err += s; } });
const report = JSON.parse(readFileSync(reportPath, 'utf8')) as {
  summary: { kept: number; dropped: number };
  decoys: Array<{ hostname: string; keep: boolean; reasons: { code: string }[]; window: number | null; timeoutMs: number | null; timeoutCapped: boolean; suite: string | null; robots: string | null }>;
};
const byName = new Map(report.decoys.map((d) => [d.hostname, d]));

t.test('exits 0, prints a row per candidate, and writes the report', async (t) => {
  t.equal(code, 0, err);
  t.equal(report.decoys.length, DECOYS.length);
  t.same(report.summary, { ...report.summary, kept: 4, dropped: 5 });
  for (const d of DECOYS) t.match(out, new RegExp(`\\n\\d+\\s+${d.name.replace('.', '\\.')}\\s+\\S+\\s+${d.expect.keep ? 'kept' : 'DROPPED'}\\s`), d.name);
  t.match(err, /warning: clients treat decoy timeouts below 20 s as 30 s/);
  t.match(err, /\[9\/9\]/, 'plain progress lines off a terminal');
  t.match(err, /wrote .*ClientConf: generation 1, 4 decoys/);
});

t.test('keeps and drops exactly the right hosts, for the right reasons', async (t) => {
  for (const d of DECOYS) {
    const r = byName.get(d.name)!;
    t.same({ keep: r.keep, reasons: r.reasons.map((x) => x.code) }, d.expect, d.name);
  }
});

t.test('measures each window within a tolerance of the window its rcvbuf gives', async (t) => {
  for (const d of DECOYS.filter((x) => !['cbc.test', 'optout.test', 'wrongname.example'].includes(x.name))) {
    const w = byName.get(d.name)!.window;
    t.ok(w !== null && w <= d.rcvbuf && w >= d.rcvbuf - WINDOW_SLACK, `${d.name}: window ${w} for rcvbuf ${d.rcvbuf}`);
  }
});

t.test('measures each incomplete-request timeout within a tolerance of nginx\'s, capped at the maximum', async (t) => {
  for (const d of DECOYS.filter((x) => x.expect.keep || x.name === 'quick.test')) {
    const r = byName.get(d.name)!;
    if (d.headerTimeout === undefined) {
      t.same({ timeoutMs: r.timeoutMs, capped: r.timeoutCapped }, { timeoutMs: MAX_TIMEOUT_S * 1000, capped: true }, `${d.name} is still waiting at the cap`);
    } else {
      t.ok(r.timeoutMs !== null && Math.abs(r.timeoutMs - d.headerTimeout * 1000) <= HOLD_TOLERANCE_MS,
        `${d.name}: held ${r.timeoutMs} ms, client_header_timeout ${d.headerTimeout} s`);
      t.equal(r.timeoutCapped, false);
    }
  }
  t.equal(byName.get('narrow.test')!.timeoutMs, null, 'a host dropped for its window is not held further');
});

t.test('reports the suites and robots.txt findings', async (t) => {
  t.equal(byName.get('slow.test')!.suite, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
  t.equal(byName.get('cbc.test')!.suite, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA');
  t.equal(byName.get('optout.test')!.robots, 'opted out (TapDance: Disallow: /)');
  t.equal(byName.get('welcome.test')!.robots, 'allowed');
  t.equal(byName.get('slow.test')!.robots, 'allowed (HTTP 404)');
});

t.test('the written ClientConf decodes with the kept decoys and their measured figures', async (t) => {
  const conf = await readClientConf(outPath);
  t.equal(conf.generation, 1);
  t.same(conf.defaultPubkey?.key, stationKey);
  const kept = DECOYS.filter((d) => d.expect.keep);
  t.same(conf.decoyList!.tlsDecoys.map((s) => [decoyServerName(s), decoyAddress(s)?.address, s.timeout, s.tcpwin]),
    kept.map((d) => [d.name, d.address, byName.get(d.name)!.timeoutMs, byName.get(d.name)!.window]));
});

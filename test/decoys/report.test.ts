import t from 'tap';
import { PassThrough } from 'node:stream';
import { buildDecoyList, type DecoyEntry } from '../../src/decoys/builder.js';
import { parseCandidates } from '../../src/decoys/candidates.js';
import { barProgress, lineProgress, progressLine } from '../../src/decoys/progress.js';
import { buildReport, formatReportTable } from '../../src/decoys/report.js';
import { handshakeFailed, holdResult, robotsResult, tlsResult } from './helpers.js';

const entries: DecoyEntry[] = await buildDecoyList({
  candidates: parseCandidates('kept.example 192.0.2.1\ncapped.example 192.0.2.2:8443\ncbc.example 192.0.2.3\nout.example 192.0.2.4\n'),
  probes: {
    resolve: async () => '192.0.2.99',
    tls: async (target) => target.address === '192.0.2.3'
      ? tlsResult(handshakeFailed('ERR_TLS_UNSUPPORTED_SUITE', 'cbc', 0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'), handshakeFailed('ERR_TLS_ALERT_RECEIVED', 'handshake_failure'))
      : tlsResult(),
    robots: async (target) => target.address === '192.0.2.4'
      ? robotsResult({ status: 200, verdict: { optedOut: true, source: 'wildcard', rule: 'Disallow: /' } })
      : robotsResult(),
    hold: async (target) => target.address === '192.0.2.2'
      ? holdResult({ window: 65535, holdMs: 120_000, capped: true, ending: 'cap' })
      : holdResult({ window: 29200, holdMs: 61_234 }),
  },
});

t.test('the table has one row per candidate with its figures and reasons, and a summary', async (t) => {
  const lines = formatReportTable(entries).split('\n');
  t.match(lines[0], /^LINE\s+DECOY\s+ADDRESS\s+RESULT\s+WINDOW\s+TIMEOUT\s+SUITE\s+ROBOTS\s+STATION\s+REASONS$/);
  t.match(lines[1], /^1\s+kept\.example\s+192\.0\.2\.1\s+kept\s+29200 B\s+61\.2 s\s+ECDHE_RSA_AES_128_GCM\s+allowed \(HTTP 404\)\s+-$/);
  t.match(lines[2], /^2\s+capped\.example\s+192\.0\.2\.2:8443\s+kept\s+65535 B\s+>=120\.0 s\s/);
  t.match(lines[3], /^3\s+cbc\.example\s+192\.0\.2\.3\s+DROPPED\s+-\s+-\s+ECDHE_RSA_AES_128_CBC\s+-\s+-\s+no-aead-suite \(Chrome 62 hello: decoy chose TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\); no-aes128gcm \(/);
  t.match(lines[4], /DROPPED.*opted out \(\*: Disallow: \/\).*robots-opt-out \(User-agent: \* \/ Disallow: \/\)$/);
  t.equal(lines.at(-2), '2 of 4 candidates kept, 2 dropped');
  const starts = lines.slice(0, 5).map((l) => /\s(RESULT|kept|DROPPED)\s/.exec(l)!.index);
  t.equal(new Set(starts).size, 1, 'columns are aligned');
});

t.test('the JSON report carries settings, rules, a summary by reason, and every decoy', async (t) => {
  const report = buildReport(entries, { minWindow: 15360, minTimeoutMs: 30_000, maxTimeoutMs: 120_000, stationTest: false, out: '/x/ClientConf', generation: 4 },
    new Date('2024-01-02T03:04:05Z'));
  const json = JSON.parse(JSON.stringify(report)) as typeof report;
  t.equal(json.generatedAt, '2024-01-02T03:04:05.000Z');
  t.same(json.summary, { candidates: 4, kept: 2, dropped: 2, reasons: { 'no-aead-suite': 1, 'no-aes128gcm': 1, 'robots-opt-out': 1 } });
  t.match(json.rules['window'], /15360 bytes/);
  t.match(json.rules['timeout'], />= 30 s \(measured up to 120 s\)/);
  t.match(json.rules['robots'], /TapDance/);
  t.equal(json.rules['station'], 'not tested');
  t.same(json.decoys[1], {
    ...json.decoys[1], line: 2, hostname: 'capped.example', address: '192.0.2.2', port: 8443, keep: true, reasons: [],
    window: 65535, timeoutMs: 120_000, timeoutCapped: true,
  });
  t.equal((json.decoys[2]!['probes'] as { tls: { chrome62: { suite: number } } }).tls.chrome62.suite, 0xc013, 'raw probe results are included');
});

t.test('progress lines say kept with figures or dropped with reason codes', async (t) => {
  t.equal(progressLine(entries[0]!), 'kept.example (192.0.2.1): kept, window 29200 B, timeout 61.2 s');
  t.equal(progressLine(entries[1]!), 'capped.example (192.0.2.2:8443): kept, window 65535 B, timeout >=120.0 s');
  t.equal(progressLine(entries[2]!), 'cbc.example (192.0.2.3): dropped: no-aead-suite, no-aes128gcm');
  let out = '';
  const p = lineProgress((s) => { out += s; });
  p.start(4);
  p.result(entries[3]!, 4, 4);
  p.stop();
  t.equal(out, 'probing 4 candidates\n[4/4] out.example (192.0.2.4): dropped: robots-opt-out\n');
});

t.test('on a terminal the progress is a bar with the count, the kept total and the last host', async (t) => {
  const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
  let out = '';
  tty.on('data', (d: Buffer) => { out += d.toString(); });
  const p = barProgress(tty);
  p.start(2);
  p.result(entries[0]!, 1, 2);
  p.result(entries[2]!, 2, 2);
  p.stop();
  await new Promise((resolve) => setImmediate(resolve));
  t.match(out, /decoys \[[░█]+\] 0\/2 \| kept 0 \|/);
  t.match(out, /decoys \[█+\] 2\/2 \| kept 1 \| cbc\.example \(192\.0\.2\.3\): dropped: no-aead-suite/);
});

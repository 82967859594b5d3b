import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { readClientConf, writeClientConf } from '../../src/protocol/client-conf.js';
import { ClientConfSchema, PubKeySchema, encodeClientConf } from '../../src/protocol/messages.js';
import { makeDecoyPki, startTls } from './servers.js';

const pki = makeDecoyPki();
t.teardown(() => pki.cleanup());
const dir = mkdtempSync(join(tmpdir(), 'td-decoys-cli-'));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A decoy answering complete requests with 404 and hanging up 300 ms after an incomplete one. */
const decoy = await startTls(pki, (s) => {
  let got = '';
  const timer = setTimeout(() => s.end(), 300);
  s.on('data', (d: Buffer) => {
    got += d.toString('latin1');
    if (got.includes('\r\n\r\n')) {
      clearTimeout(timer);
      s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    }
  });
});
t.teardown(() => decoy.close());
const closed = createServer();
await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
const closedPort = (closed.address() as AddressInfo).port;
await new Promise((resolve) => closed.close(resolve));

const candidates = file('candidates.txt', `decoy.test 127.0.0.1:${decoy.port}\n`);
const fast = ['--ca', pki.ca.root.certPath, '--min-timeout', '0.1', '--max-timeout', '2', '--min-window', '1000'];

t.test('is listed in the command overview and has its own help', async (t) => {
  t.match((await run('--help')).out, /decoys build\s+probe candidate decoys/);
  const help = await run('decoys', 'build', '--help');
  t.equal(help.code, 0);
  t.match(help.out, /^Usage: tapdance decoys build --candidates FILE --out ClientConf/);
  t.match(help.out, /--station-key HEX\|FILE/);
  t.match(help.out, /--min-timeout SECONDS/);
});

t.test('refuses bad arguments with status 2 and says why', async (t) => {
  const out = join(dir, 'unused');
  const cases: [string[], RegExp][] = [
    [['--out', out], /--candidates is required/],
    [['--candidates', candidates], /--out is required/],
    [['--candidates', candidates, '--out', out, '--concurrency', '0'], /--concurrency expects an integer in 1\.\.4096/],
    [['--candidates', candidates, '--out', out, '--min-timeout', 'soon'], /--min-timeout expects seconds/],
    [['--candidates', candidates, '--out', out, '--min-timeout', '50', '--max-timeout', '40'], /--max-timeout must be positive and not below --min-timeout/],
    [['--candidates', candidates, '--out', out, '--skip-station-test'], /--skip-station-test needs --station-key/],
    [['--candidates', candidates, '--out', out, '--station-key', 'abcd'], /--station-key: station key "abcd" is not 64 hex digits/],
    [['--candidates', join(dir, 'missing.txt'), '--out', out], /--candidates .*missing\.txt: ENOENT/],
    [['--candidates', file('bad.txt', 'ok.example 192.0.2.1\nbad_name\n'), '--out', out], /bad\.txt:2: "bad_name" is not a valid host name/],
    [['--candidates', file('empty.txt', '# none\n'), '--out', out], /lists no candidate/],
    [['--candidates', candidates, '--out', out, '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const r = await run('decoys', 'build', ...args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.err, message);
  }
  t.notOk(existsSync(out), 'nothing was written');
});

t.test('keeps a usable decoy, writes generation 1, then the previous generation + 1 with the other fields kept', async (t) => {
  const out = join(dir, 'ClientConf-a');
  const first = await run('decoys', 'build', '--candidates', candidates, '--out', out, ...fast);
  t.equal(first.code, 0, first.err);
  t.match(first.out, /decoy\.test\s+127\.0\.0\.1:\d+\s+kept/);
  t.match(first.err, /wrote .*ClientConf-a: generation 1, 1 decoy\n/);
  t.match(first.err, /warning: no --station-key and no previous default_pubkey/);
  const conf1 = await readClientConf(out);
  t.equal(conf1.generation, 1);
  t.equal(conf1.decoyList?.tlsDecoys[0]?.hostname, 'decoy.test');
  t.ok(conf1.decoyList!.tlsDecoys[0]!.timeout >= 200, `timeout ${conf1.decoyList!.tlsDecoys[0]!.timeout} ms`);

  conf1.conjurePubkey = create(PubKeySchema, { key: new Uint8Array(32).fill(3) });
  await writeClientConf(out, conf1);
  const second = await run('decoys', 'build', '--candidates', candidates, '--out', out, ...fast, '--station-key', '11'.repeat(32), '--skip-station-test');
  t.equal(second.code, 0, second.err);
  const conf2 = await readClientConf(out);
  t.equal(conf2.generation, 2);
  t.same(conf2.conjurePubkey?.key, new Uint8Array(32).fill(3));
  t.same(conf2.defaultPubkey?.key, new Uint8Array(32).fill(0x11));

  const third = await run('decoys', 'build', '--candidates', candidates, '--out', out, ...fast, '--generation', '10');
  t.equal(third.code, 0);
  t.equal((await readClientConf(out)).generation, 10);
});

t.test('with no decoy kept it exits 1, leaves the ClientConf alone, and still reports', async (t) => {
  const previous = encodeClientConf(create(ClientConfSchema, { generation: 5, decoyList: { tlsDecoys: [{ hostname: 'old.test' }] } }));
  const out = file('ClientConf-b', previous);
  const report = join(dir, 'report-b.json');
  const list = file('dead.txt', `dead.test 127.0.0.1:${closedPort}\n`);
  const r = await run('decoys', 'build', '--candidates', list, '--out', out, '--report', report, ...fast);
  t.equal(r.code, 1);
  t.match(r.out, /dead\.test.*DROPPED.*connect \(ECONNREFUSED/);
  t.match(r.err, /no decoy kept; .*ClientConf-b left unchanged/);
  t.same(readFileSync(out), Buffer.from(previous));
  const json = JSON.parse(readFileSync(report, 'utf8')) as { settings: { out: unknown; generation: unknown }; summary: { kept: number } };
  t.same({ out: json.settings.out, generation: json.settings.generation, kept: json.summary.kept }, { out: null, generation: null, kept: 0 });
});

t.test('an existing output that is not a ClientConf stops the build before probing', async (t) => {
  const out = file('ClientConf-c', Buffer.from([0x0a, 0xff, 0xff]));
  const r = await run('decoys', 'build', '--candidates', candidates, '--out', out, ...fast);
  t.equal(r.code, 3);
  t.match(r.err, /ERR_DECOY_PREVIOUS_CONF: .*give --generation or move it away/);
  t.notMatch(r.err, /probing/);
});

/**
 * The examples run in the testbed's client namespace against a real station.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { StationPath } from '../../src/demo/station-path.js';

const EXT = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const example = (name: string): URL => new URL(`../../examples/${name}.${EXT}`, import.meta.url);
const path = await StationPath.up();
t.teardown(() => path.down());
const covert = `${path.covert.address}:${path.covert.httpPort}`;

t.test('examples/agent: http.get with the agent and undici fetch return the covert page', async (t) => {
  const r = await path.tb.runNode('client', example('agent'), ['--client-conf', path.clientConfPath, '--ca', path.caPath,
    '--url', `http://${covert}/`]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^http\.get: 200 covert ok\nfetch: 200 covert ok\n$/);
});

t.test('examples/tunnel: curl through the local tunnel reaches the covert server', async (t) => {
  const child = path.tb.spawnNode('client', example('tunnel'), ['--listen', '127.0.0.1:18080', '--target', covert,
    '--client-conf', path.clientConfPath, '--ca', path.caPath]);
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  for (let i = 0; i < 200 && !out.includes('"listening"'); i++) await sleep(50);
  const r = await path.tb.exec('client', 'curl', ['-s', 'http://127.0.0.1:18080/sha256/1000']);
  t.match(r.stdout, /"bytes":1000/);
  const big = await path.tb.exec('client', 'curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:18080/bytes/${1 << 20}`]);
  t.equal(big.stdout, String(1 << 20));
  t.match(out, /"event":"session","target":"10\.12\.0\.2:80","decoy":"decoy0\.test"/);
});

t.test('examples/fetch-page prints the page', async (t) => {
  const r = await path.tb.runNode('client', example('fetch-page'), ['--client-conf', path.clientConfPath, '--ca', path.caPath,
    '--target', covert, '--path', '/']);
  t.equal(r.code, 0);
  t.equal(r.stdout, 'covert ok\n');
});

import t from 'tap';
import { get as httpsGet, createServer as createHttpsServer } from 'node:https';
import { get as httpGet, createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { TapDanceAgent, TapDanceHttpAgent, tapdanceConnector } from '../../src/client/agent.js';
import { startLoopbackPath, type LoopbackPath } from '../helpers/loopback-station.js';
import { TestCa } from '../../src/testbed/pki.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'td-agent-'));
const originCa = TestCa.create(join(dir, 'pki'), 'origin CA');
const leaf = originCa.issue({ commonName: 'origin.test', ipAddresses: ['127.0.0.1'] });
const page = (req: { url?: string }) => `covert page ${req.url}\n`;
const httpsOrigin = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (req, res) => res.end(page(req)));
const httpOrigin = createHttpServer((req, res) => res.end(page(req)));
await new Promise<void>((r) => httpsOrigin.listen(0, '127.0.0.1', r));
await new Promise<void>((r) => httpOrigin.listen(0, '127.0.0.1', r));
const httpsPort = (httpsOrigin.address() as AddressInfo).port;
const httpPort = (httpOrigin.address() as AddressInfo).port;
let path: LoopbackPath;
t.before(async () => { path = await startLoopbackPath({}, [httpsPort, httpPort]); });
t.teardown(async () => {
  await path.close();
  httpsOrigin.closeAllConnections();
  httpOrigin.closeAllConnections();
  httpsOrigin.close();
  httpOrigin.close();
  rmSync(dir, { recursive: true, force: true });
});

function body(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => { s += d; });
    res.on('end', () => resolve(s));
    res.on('error', reject);
  });
}

t.test('https.get through TapDanceAgent returns the covert server\'s page, TLS checked end to end', async (t) => {
  const agent = new TapDanceAgent(path.dialOptions);
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    httpsGet(`https://127.0.0.1:${httpsPort}/secret`, { agent, ca: originCa.root.cert }, resolve).on('error', reject));
  t.equal(res.statusCode, 200);
  t.equal(await body(res), 'covert page /secret\n');
  agent.destroy();
});

t.test('the origin certificate is verified inside the tunnel', async (t) => {
  const agent = new TapDanceAgent(path.dialOptions);
  const err = await new Promise<Error>((resolve) =>
    httpsGet(`https://127.0.0.1:${httpsPort}/`, { agent }, () => resolve(new Error('no error'))).on('error', resolve));
  t.match(err.message, /self.signed|unable to (get|verify)/i, 'an untrusted origin fails like any https.get');
  agent.destroy();
});

t.test('http.get through TapDanceHttpAgent returns the page', async (t) => {
  const agent = new TapDanceHttpAgent(path.dialOptions);
  const res = await new Promise<IncomingMessage>((resolve, reject) =>
    httpGet(`http://127.0.0.1:${httpPort}/plain`, { agent }, resolve).on('error', reject));
  t.equal(await body(res), 'covert page /plain\n');
  agent.destroy();
});

t.test('undici fetch with the TapDance connector returns the page (http and https)', async (t) => {
  const dispatcher = new UndiciAgent({ connect: tapdanceConnector(path.dialOptions, { ca: originCa.root.cert }) });
  const a = await undiciFetch(`https://127.0.0.1:${httpsPort}/undici`, { dispatcher });
  t.equal(await a.text(), 'covert page /undici\n');
  const b = await undiciFetch(`http://127.0.0.1:${httpPort}/undici-plain`, { dispatcher });
  t.equal(await b.text(), 'covert page /undici-plain\n');
  await dispatcher.close();
});

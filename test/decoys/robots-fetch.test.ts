import t, { type Test } from 'tap';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fetchRobots, hostHeader, ROBOTS_USER_AGENT } from '../../src/decoys/robots-fetch.js';
import { makeDecoyPki, startHttps, startTls, type Listening } from './servers.js';

const pki = makeDecoyPki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;

async function serve(t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
  const server = await startHttps(pki, handler);
  t.teardown(() => server.close());
  return server;
}
const target = (port: number): { serverName: string; address: string; port: number } => ({ serverName: 'decoy.test', address: '127.0.0.1', port });

t.test('fetches robots.txt over TLS with a Host, the TapDance user agent, and decides the opt-out', async (t) => {
  const seen: string[] = [];
  const server = await serve(t, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.host} ${req.headers['user-agent']}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: TapDance\nDisallow: /\n');
  });
  const r = await fetchRobots(target(server.port), { ca });
  t.same(seen, [`GET /robots.txt decoy.test:${server.port} ${ROBOTS_USER_AGENT}`]);
  t.same({ status: r.status, redirects: r.redirects, failure: r.failure, verdict: r.verdict },
    { status: 200, redirects: 0, failure: null, verdict: { optedOut: true, source: 'agent', rule: 'Disallow: /' } });
  t.equal(r.bytes, 33);
});

t.test('reads chunked bodies and allows sites whose robots.txt does not name TapDance', async (t) => {
  const server = await serve(t, (_req, res) => {
    res.write('User-agent: Googlebot\n');
    res.end('Disallow: /\n');
  });
  const r = await fetchRobots(target(server.port), { ca });
  t.same({ status: r.status, verdict: r.verdict }, { status: 200, verdict: { optedOut: false, source: 'none', rule: null } });
});

t.test('a missing robots.txt allows, a failing server disallows', async (t) => {
  const missing = await serve(t, (_req, res) => res.writeHead(404).end('not found'));
  t.same((await fetchRobots(target(missing.port), { ca })).verdict, { optedOut: false, source: 'unavailable', rule: null });
  const failing = await serve(t, (_req, res) => res.writeHead(503).end());
  const r = await fetchRobots(target(failing.port), { ca });
  t.same({ status: r.status, verdict: r.verdict }, { status: 503, verdict: { optedOut: true, source: 'unreachable', rule: null } });
});

t.test('follows redirects on the same origin, up to five', async (t) => {
  const paths: string[] = [];
  const server = await serve(t, (req, res) => {
    paths.push(req.url ?? '');
    if (req.url === '/robots.txt') res.writeHead(301, { location: '/moved/robots.txt' }).end();
    else if (req.url === '/moved/robots.txt') res.writeHead(302, { location: `https://decoy.test:${req.socket.localPort}/final?x=1` }).end();
    else res.writeHead(200).end('User-agent: *\nDisallow: /\n');
  });
  const r = await fetchRobots(target(server.port), { ca });
  t.same(paths, ['/robots.txt', '/moved/robots.txt', '/final?x=1']);
  t.same({ status: r.status, redirects: r.redirects, optedOut: r.verdict.optedOut }, { status: 200, redirects: 2, optedOut: true });

  const loop = await serve(t, (_req, res) => res.writeHead(302, { location: '/robots.txt' }).end());
  const l = await fetchRobots(target(loop.port), { ca });
  t.same({ status: l.status, redirects: l.redirects, verdict: l.verdict },
    { status: 302, redirects: 5, verdict: { optedOut: false, source: 'unavailable', rule: null } });
});

t.test('does not follow a redirect to another origin', async (t) => {
  const paths: string[] = [];
  const server = await serve(t, (req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(301, { location: 'https://elsewhere.test/robots.txt' }).end();
  });
  const r = await fetchRobots(target(server.port), { ca });
  t.same(paths, ['/robots.txt']);
  t.same({ status: r.status, verdict: r.verdict }, { status: 301, verdict: { optedOut: false, source: 'unavailable', rule: null } });
});

t.test('no answer, a bad certificate or a garbled answer count as unreachable', async (t) => {
  const wrongName = await serve(t, (_req, res) => res.end(''));
  const w = await fetchRobots({ ...target(wrongName.port), serverName: 'other.test' }, { ca });
  t.same({ code: w.failure?.code, verdict: w.verdict }, { code: 'ERR_TLS_CERT_HOSTNAME', verdict: { optedOut: true, source: 'unreachable', rule: null } });

  const garbage = await startTls(pki, (s) => s.once('data', () => s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n')));
  t.teardown(() => garbage.close());
  const g = await fetchRobots(target(garbage.port), { ca });
  t.equal(g.failure?.code, 'ERR_DECOY_HTTP');
  t.equal(g.verdict.source, 'unreachable');

  const silent = await startTls(pki, (s) => s.resume());
  t.teardown(() => silent.close());
  const s = await fetchRobots(target(silent.port), { ca, timeoutMs: 300 });
  t.equal(s.failure?.code, 'ETIMEDOUT');
  t.equal(s.verdict.optedOut, true);
});

t.test('the Host header brackets IPv6 and leaves out port 443', async (t) => {
  t.equal(hostHeader({ serverName: 'a.example', address: '192.0.2.1', port: 443 }), 'a.example');
  t.equal(hostHeader({ serverName: '2001:db8::1', address: '2001:db8::1', port: 443 }), '[2001:db8::1]');
  t.equal(hostHeader({ serverName: '2001:db8::1', address: '2001:db8::1', port: 8443 }), '[2001:db8::1]:8443');
});

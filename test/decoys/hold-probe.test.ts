import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { incompleteRequest, probeHold } from '../../src/decoys/hold-probe.js';
import type { TcpInfoReader } from '../../src/decoys/tcp-info.js';
import { makeDecoyPki, startTls } from './servers.js';

const pki = makeDecoyPki();
t.teardown(() => pki.cleanup());
const ca = pki.ca.root.cert;
const target = (port: number): { serverName: string; address: string; port: number } => ({ serverName: 'decoy.test', address: '127.0.0.1', port });

t.test('the incomplete request looks like a tagged request and never ends its header', async (t) => {
  const text = incompleteRequest('decoy.test').toString('latin1');
  t.match(text, /^GET \/ HTTP\/1\.1\r\nHost: decoy\.test\r\nUser-Agent: TapDance\/1\.2 \(\+https:\/\/refraction\.network\/info\)\r\nX-Ignore: #+$/);
  t.notMatch(text, /\r\n\r\n/);
  // 16 + L + 2 + 12 + padding + 240 in a real one: between 7 and ~560 bytes of padding plus the stego.
  t.ok(text.length > 300 && text.length < 1000, `size ${text.length}`);
});

t.test('measures how long a server holds the request until it closes, and sends exactly the request', async (t) => {
  let received = '';
  const server = await startTls(pki, (s) => {
    s.on('data', (d: Buffer) => { received += d.toString('latin1'); });
    setTimeout(() => s.end(), 300);
  });
  t.teardown(() => server.close());
  const r = await probeHold(target(server.port), { ca, maxHoldMs: 10_000 });
  t.equal(r.failure, null);
  t.equal(r.ending, 'close');
  t.equal(r.capped, false);
  t.ok(r.holdMs !== null && r.holdMs >= 200 && r.holdMs < 10_000, `held ${r.holdMs} ms, the server closed 300 ms after accepting`);
  t.ok(r.window !== null && r.window > 0, `window ${r.window}`);
  t.ok(r.windowAfterHandshake !== null && r.windowAfterHandshake > 0);
  t.match(received, /^GET \/ HTTP\/1\.1\r\nHost: decoy\.test\r\n.*X-Ignore: #+$/s);
});

t.test('a server still waiting at the cap is reported with the cap', async (t) => {
  const server = await startTls(pki, (s) => s.resume());
  t.teardown(() => server.close());
  const r = await probeHold(target(server.port), { ca, maxHoldMs: 200 });
  t.same({ ending: r.ending, capped: r.capped, holdMs: r.holdMs }, { ending: 'cap', capped: true, holdMs: 200 });
});

t.test('an answer to the incomplete request ends the hold and is reported', async (t) => {
  const server = await startTls(pki, (s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')));
  t.teardown(() => server.close());
  const r = await probeHold(target(server.port), { ca, maxHoldMs: 10_000 });
  t.equal(r.ending, 'response');
  t.equal(r.response, 'HTTP/1.1 400 Bad Request');
  t.ok(r.holdMs !== null && r.holdMs < 10_000);
});

t.test('a reset ends the hold', async (t) => {
  const server = await startTls(pki, (s, raw) => s.once('data', () => raw.resetAndDestroy()));
  t.teardown(() => server.close());
  const r = await probeHold(target(server.port), { ca, maxHoldMs: 10_000 });
  t.equal(r.ending, 'reset');
  t.equal(r.capped, false);
});

t.test('waits for the request to be acknowledged and stops early on a small window', async (t) => {
  const server = await startTls(pki, (s) => s.resume());
  t.teardown(() => server.close());
  const readings = [{ unacked: 0, sndWnd: 20000 }, { unacked: 700, sndWnd: 20000 }, { unacked: 0, sndWnd: 9000 }];
  const fake: TcpInfoReader = async () => {
    const r = readings.shift() ?? { unacked: 0, sndWnd: 9000 };
    return { ...r, wscale: { snd: 7, rcv: 7 }, mss: 1448 };
  };
  const r = await probeHold(target(server.port), { ca, maxHoldMs: 60_000, readTcpInfo: fake, stopBelowWindow: 15360 });
  t.same({ w0: r.windowAfterHandshake, w: r.window, scale: r.windowScale, ending: r.ending, holdMs: r.holdMs },
    { w0: 20000, w: 9000, scale: 7, ending: 'window', holdMs: null });
  t.same(readings, [], 'polled until nothing was unacknowledged');
});

t.test('an unreadable window is null and the hold is still measured', async (t) => {
  const server = await startTls(pki, (s) => s.resume());
  t.teardown(() => server.close());
  const r = await probeHold(target(server.port), { ca, maxHoldMs: 100, readTcpInfo: async () => null, stopBelowWindow: 15360 });
  t.same({ w: r.window, ending: r.ending, holdMs: r.holdMs }, { w: null, ending: 'cap', holdMs: 100 });
});

t.test('TCP and TLS failures are reported, not thrown', async (t) => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await probeHold(target(port), { ca, maxHoldMs: 100 });
  t.equal(refused.failure?.code, 'ECONNREFUSED');
  t.equal(refused.holdMs, null);

  const server = await startTls(pki, (s) => s.resume());
  t.teardown(() => server.close());
  const wrongName = await probeHold({ ...target(server.port), serverName: 'other.test' }, { ca, maxHoldMs: 100 });
  t.equal(wrongName.failure?.code, 'ERR_TLS_CERT_HOSTNAME');
  const untrusted = await probeHold(target(server.port), { maxHoldMs: 100 });
  t.equal(untrusted.failure?.code, 'ERR_TLS_CERT_UNTRUSTED', 'the system roots do not know the test CA');
});

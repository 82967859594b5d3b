import t from 'tap';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { createConnector, createDirectConnector } from '../../pt/connector.js';
import { parseConnectResponseHead, MAX_CONNECT_RESPONSE_HEAD } from '../../pt/proxy-connector.js';
import { parseProxyUri } from '../../pt/proxy-uri.js';
import { socksReplyForError, Socks5Reply } from '../../pt/socks-replies.js';
import { startUpstreamProxy } from './fixtures/upstream-proxies.js';
import { roundTrip, startEchoServer } from './helpers.js';

const signal = (): AbortSignal => AbortSignal.timeout(10_000);

async function echoThrough(socket: Socket, text: string): Promise<string> {
  return (await roundTrip(socket, Buffer.from(text))).toString();
}

t.test('connects directly, using the IPv4 bind address as source', async (t) => {
  const echo = await startEchoServer();
  t.teardown(echo.close);
  const plain = await createDirectConnector().connect({ host: '127.0.0.1', port: echo.port }, signal());
  t.equal(await echoThrough(plain, 'direct'), 'direct');
  // 127.0.0.2 is a loopback address distinct from the default source 127.0.0.1.
  const bound = await createDirectConnector({ bindAddressV4: '127.0.0.2' }).connect({ host: '127.0.0.1', port: echo.port }, signal());
  t.equal(bound.localAddress, '127.0.0.2');
  const byName = await createDirectConnector({ bindAddressV4: '127.0.0.3' }).connect({ host: 'localhost', port: echo.port }, signal());
  t.ok(['127.0.0.3', '::1'].includes(byName.localAddress!));
  bound.destroy();
  byName.destroy();
});

t.test('reports a refused direct connection as ERR_PT_CONNECT with the errno', async (t) => {
  const err = await createDirectConnector().connect({ host: '127.0.0.1', port: 1 }, signal()).catch((e: unknown) => e);
  t.match(err, { name: 'PtError', code: 'ERR_PT_CONNECT', context: { errno: 'ECONNREFUSED' } });
  t.equal(socksReplyForError(err), Socks5Reply.connectionRefused);
});

t.test('rejects with the abort reason when aborted', async (t) => {
  const controller = new AbortController();
  const reason = new Error('gave up');
  controller.abort(reason);
  t.equal(await createDirectConnector().connect({ host: '127.0.0.1', port: 1 }, controller.signal).catch((e: unknown) => e), reason);
});

t.test('tunnels through a SOCKS5 upstream with user name and password', async (t) => {
  const echo = await startEchoServer();
  const up = await startUpstreamProxy('socks', { credentials: { username: 'tor', password: 'test1234' } });
  t.teardown(async () => {
    await up.close();
    await echo.close();
  });
  const connector = createConnector({ proxy: parseProxyUri(`socks5://tor:test1234@127.0.0.1:${up.port}`) });
  const socket = await connector.connect({ host: '127.0.0.1', port: echo.port }, signal());
  t.equal(await echoThrough(socket, 'via socks5'), 'via socks5');
  t.same(up.records, [{ protocol: 'socks5', username: 'tor', password: 'test1234', target: `127.0.0.1:${echo.port}` }]);

  const wrong = createConnector({ proxy: parseProxyUri(`socks5://tor:nope@127.0.0.1:${up.port}`) });
  const err = await wrong.connect({ host: '127.0.0.1', port: echo.port }, signal()).catch((e: unknown) => e);
  t.match(err, { name: 'PtError', code: 'ERR_PT_UPSTREAM', context: { scheme: 'socks5' } });
});

t.test('passes on the SOCKS5 upstream refusal code', async (t) => {
  const up = await startUpstreamProxy('socks');
  t.teardown(up.close);
  const connector = createConnector({ proxy: parseProxyUri(`socks5://127.0.0.1:${up.port}`) });
  const err = await connector.connect({ host: '127.0.0.1', port: 1 }, signal()).catch((e: unknown) => e);
  t.match(err, { code: 'ERR_PT_UPSTREAM' });
  t.equal(socksReplyForError(err), Socks5Reply.connectionRefused);
});

t.test('tunnels through a SOCKS4a upstream, sending host names for it to resolve', async (t) => {
  const echo = await startEchoServer();
  const up = await startUpstreamProxy('socks');
  t.teardown(async () => {
    await up.close();
    await echo.close();
  });
  const connector = createConnector({ proxy: parseProxyUri(`socks4a://someuser@127.0.0.1:${up.port}`) });
  const byIp = await connector.connect({ host: '127.0.0.1', port: echo.port }, signal());
  t.equal(await echoThrough(byIp, 'via socks4'), 'via socks4');
  const byName = await connector.connect({ host: 'localhost', port: echo.port }, signal());
  t.equal(await echoThrough(byName, 'via socks4a'), 'via socks4a');
  t.same(up.records, [
    { protocol: 'socks4', username: 'someuser', target: `127.0.0.1:${echo.port}` },
    { protocol: 'socks4', username: 'someuser', target: `localhost:${echo.port}` },
  ]);
});

t.test('tunnels through an HTTP CONNECT upstream with basic credentials, keeping bytes sent with the head', async (t) => {
  const echo = await startEchoServer();
  const up = await startUpstreamProxy('http', { credentials: { username: 'u', password: 'p:w' }, httpGreeting: 'HELLO' });
  t.teardown(async () => {
    await up.close();
    await echo.close();
  });
  const connector = createConnector({ proxy: parseProxyUri(`http://u:p:w@127.0.0.1:${up.port}`) });
  const socket = await connector.connect({ host: '127.0.0.1', port: echo.port }, signal());
  t.equal(await echoThrough(socket, ' via http'), 'HELLO via http');
  t.same(up.records, [{ protocol: 'http', username: 'u', password: 'p:w', target: `127.0.0.1:${echo.port}` }]);

  const anonymous = createConnector({ proxy: parseProxyUri(`http://127.0.0.1:${up.port}`) });
  const err = await anonymous.connect({ host: '127.0.0.1', port: echo.port }, signal()).catch((e: unknown) => e);
  t.match(err, { code: 'ERR_PT_UPSTREAM', context: { status: 407 } });
  t.equal(socksReplyForError(err), Socks5Reply.notAllowed);
});

t.test('maps HTTP upstream failures to SOCKS replies', async (t) => {
  for (const [status, reply] of [[502, Socks5Reply.hostUnreachable], [504, Socks5Reply.ttlExpired], [500, Socks5Reply.generalFailure]] as const) {
    const up = await startUpstreamProxy('http', { httpStatus: status });
    const err = await createConnector({ proxy: parseProxyUri(`http://127.0.0.1:${up.port}`) })
      .connect({ host: '127.0.0.1', port: 9 }, signal())
      .catch((e: unknown) => e);
    t.equal(socksReplyForError(err), reply, String(status));
    await up.close();
  }
});

t.test('aborting while the upstream is silent destroys the attempt', async (t) => {
  const { createServer } = await import('node:net');
  const silent = createServer(() => {});
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => void silent.close());
  const port = (silent.address() as { port: number }).port;
  for (const scheme of ['http', 'socks5']) {
    const controller = new AbortController();
    const pending = createConnector({ proxy: parseProxyUri(`${scheme}://127.0.0.1:${port}`) }).connect({ host: '127.0.0.1', port: 9 }, controller.signal);
    setTimeout(() => controller.abort(new Error(`stop ${scheme}`)), 50);
    await t.rejects(pending, { message: `stop ${scheme}` });
  }
});

t.test('parses CONNECT response heads incrementally and bounds their size', async (t) => {
  const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  t.equal(parseConnectResponseHead(enc('HTTP/1.1 200 OK\r\nA: b\r\n')), null);
  t.same(parseConnectResponseHead(enc('HTTP/1.0 200 Connection established\r\n\r\nxyz')), { status: 200, headLength: 39 });
  t.same(parseConnectResponseHead(enc('HTTP/1.1 407\r\n\r\n')), { status: 407, headLength: 16 });
  t.throws(() => parseConnectResponseHead(enc('SSH-2.0-OpenSSH\r\n')), { code: 'ERR_PT_UPSTREAM' });
  t.throws(() => parseConnectResponseHead(enc('HTTP/2 200\r\n\r\n')), { code: 'ERR_PT_UPSTREAM' });
  t.throws(() => parseConnectResponseHead(new Uint8Array(MAX_CONNECT_RESPONSE_HEAD)), { code: 'ERR_PT_UPSTREAM' });
});

import t, { type Test } from 'tap';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createDirectConnector } from '../../pt/connector.js';
import type { PtDialer } from '../../pt/dialer.js';
import { PtSocksServer } from '../../pt/socks-server.js';
import { createLoopbackDialer, type DialRecord } from './fixtures/loopback-dialer.js';
import { probe, roundTrip, startEchoServer, torStyleConnect } from './helpers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const portHex = (port: number): string => port.toString(16).padStart(4, '0');

async function setup(t: Test, options: { dialer?: PtDialer; handshakeTimeoutMs?: number; dialTimeoutMs?: number } = {}) {
  const echo = await startEchoServer();
  const dials: DialRecord[] = [];
  const server = new PtSocksServer({
    dialer: options.dialer ?? createLoopbackDialer(createDirectConnector(), (r) => dials.push(r)),
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
    dialTimeoutMs: options.dialTimeoutMs ?? 60_000,
    lingerMs: 2000,
  });
  const { port } = await server.listen();
  t.teardown(async () => {
    server.destroy();
    await echo.close();
  });
  return { echo, server, port, dials };
}

t.test('relays a tor-style connection and hands its bridge arguments to the dialer', async (t) => {
  const { echo, port, dials } = await setup(t);
  const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, 'pubkey=00ff;covert=127.0.0.1:9\\;x;decoy=a@1.2.3.4;decoy=b@5.6.7.8');
  const payload = Buffer.alloc(200_000, 7);
  t.same(await roundTrip(socket, payload), payload);
  t.equal(dials.length, 1);
  t.same(dials[0]!.target, { host: '127.0.0.1', port: echo.port });
  t.same(Object.fromEntries(dials[0]!.args), { pubkey: ['00ff'], covert: ['127.0.0.1:9;x'], decoy: ['a@1.2.3.4', 'b@5.6.7.8'] });
});

t.test('reassembles arguments over 255 bytes split across UNAME and PASSWD', async (t) => {
  const { echo, port, dials } = await setup(t);
  const value = 'v'.repeat(300);
  const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, `k=${value}`);
  t.same(await roundTrip(socket, Buffer.from('hi')), Buffer.from('hi'));
  t.same(dials[0]!.args.get('k'), [value]);
});

t.test('serves a NoAuth-only client (a bridge line without arguments)', async (t) => {
  const { echo, port, dials } = await setup(t);
  const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, '');
  t.same(await roundTrip(socket, Buffer.from('plain')), Buffer.from('plain'));
  t.equal(dials[0]!.args.size, 0);
});

t.test('serves SOCKS4 with arguments in the USERID, and forwards early data', async (t) => {
  const { echo, port, dials } = await setup(t);
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(hex(`04 01 ${portHex(echo.port)} 7f000001 ${ascii('k=v')} 00 ${ascii('early')}`));
  let received = Buffer.alloc(0);
  while (received.length < 8 + 5) received = Buffer.concat([received, ((await once(socket, 'data')) as [Buffer])[0]]);
  socket.destroy();
  t.equal(received.subarray(0, 8).toString('hex'), '005a000000000000');
  t.equal(received.subarray(8).toString(), 'early');
  t.same(Object.fromEntries(dials[0]!.args), { k: ['v'] });
});

t.test('treats a client that half-closes before its reply as gone', async (t) => {
  const { port, server } = await setup(t);
  const r = await probe(port, [hex('05 01 00')], 20_000, 0, true);
  t.ok(r.closedByServer);
  while (server.connectionCount > 0) await new Promise((r) => setTimeout(r, 10));
});

t.test('answers a refused dial with connection refused and a timed-out dial with TTL expired', async (t) => {
  const { port } = await setup(t);
  // Port 1 on loopback: nothing listens there.
  const refused = await probe(port, [hex(`05 01 00 05 01 00 01 7f000001 0001`)]);
  t.equal(refused.received, '0500' + '05050001000000000000');
  t.ok(refused.closedByServer);

  const stuck: PtDialer = {
    dial: (_t, _a, signal) => new Promise<Duplex>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  };
  const slow = await setup(t, { dialer: stuck, dialTimeoutMs: 200 });
  const timedOut = await probe(slow.port, [hex(`05 01 00 05 01 00 01 7f000001 0050`)]);
  t.equal(timedOut.received, '0500' + '05060001000000000000');
  t.ok(timedOut.closedByServer);
});

t.test('answers a dialer that refuses the target with its chosen reply', async (t) => {
  const { port } = await setup(t);
  const r = await probe(port, [hex(`05 01 00 05 01 00 01 c0000201 0050`)]);
  t.equal(r.received, '0500' + '05020001000000000000');
});

t.test('aborts the dial when the client leaves first', async (t) => {
  let seen: AbortSignal | undefined;
  const stuck: PtDialer = {
    dial: (_t, _a, signal) => {
      seen = signal;
      return new Promise<Duplex>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    },
  };
  const { port, server } = await setup(t, { dialer: stuck });
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(hex(`05 01 00 05 01 00 01 7f000001 0050`));
  while (seen === undefined) await new Promise((r) => setTimeout(r, 10));
  socket.end();
  if (!seen.aborted) await once(seen, 'abort');
  t.ok(seen.aborted);
  while (server.connectionCount > 0) await new Promise((r) => setTimeout(r, 10));
});

t.test('closes a client that does not finish its handshake in time, on its own initiative', async (t) => {
  const { port } = await setup(t, { handshakeTimeoutMs: 300 });
  const silent = await probe(port, [], 20_000);
  t.ok(silent.closedByServer);
  t.equal(silent.received, '');
  const partial = await probe(port, [hex('05 01 00 05 01 00 03 0a 6578')], 20_000);
  t.ok(partial.closedByServer);
  t.equal(partial.received, '0500');
  // Trickling bytes does not extend the deadline.
  const trickle = Array.from(hex(`05 01 02 01 ff ${'61'.repeat(255)}`), (b) => Uint8Array.of(b));
  const slow = await probe(port, trickle, 20_000, 5);
  t.ok(slow.closedByServer);
});

t.test('malformed, slow and oversized requests never disturb other connections', async (t) => {
  const { echo, port } = await setup(t, { handshakeTimeoutMs: 500 });
  const established = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, 'k=v');
  const bad = [
    [hex('03 01 00')],
    [hex('05 00')],
    [hex('05 01 01')],
    [hex('05 01 02 05 01 61 01 00')],
    [hex(`05 01 02 01 03 ${ascii('key')} 01 00`)],
    [hex('05 01 00 05 02 00 01 7f000001 0050')],
    [hex('05 01 00 05 01 00 09')],
    [hex('04 01 0050 7f000001'), Buffer.alloc(600, 0x61)],
    [hex('05 01 00 05')],
    [],
    [Buffer.alloc(100_000, 0x05)],
  ];
  const probes = [];
  for (let i = 0; i < 3; i++) for (const chunks of bad) probes.push(probe(port, chunks, 20_000));
  const writes: Buffer[] = [];
  const got: Buffer[] = [];
  established.on('data', (d: Buffer) => got.push(d));
  for (let i = 0; i < 20; i++) {
    const chunk = Buffer.alloc(1000, i);
    writes.push(chunk);
    established.write(chunk);
    await new Promise((r) => setTimeout(r, 5));
  }
  const results = await Promise.all(probes);
  t.ok(results.every((r) => r.closedByServer), 'every bad client was closed by the server');
  await roundTrip(established, Buffer.from('end'));
  t.same(Buffer.concat(got), Buffer.concat([...writes, Buffer.from('end')]));
  const fresh = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, 'k=v');
  t.same(await roundTrip(fresh, Buffer.from('again')), Buffer.from('again'));
});

t.test('drains on close: open relays keep working, new clients are refused', async (t) => {
  const { echo, port, server } = await setup(t);
  const socket: Socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, '');
  let drained = false;
  const closing = server.close().then(() => (drained = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(drained);
  const refused = connect({ port, host: '127.0.0.1' });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED');
  t.same(await roundTrip(socket, Buffer.from('still here')), Buffer.from('still here'));
  await closing;
  t.ok(drained);
});

t.test('destroy ends every relay at once', async (t) => {
  const { echo, port, server } = await setup(t);
  const socket = await torStyleConnect(port, { host: '127.0.0.1', port: echo.port }, '');
  const closed = once(socket, 'close');
  server.destroy();
  await closed;
  t.equal(server.connectionCount, 0);
});

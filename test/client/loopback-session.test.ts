import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { dial, createConnection } from '../../src/client/dial.js';
import { ClientError } from '../../src/client/errors.js';
import { openFlow } from '../../src/client/flow.js';
import { C2S_Transition, S2C_Transition } from '../../src/protocol/messages.js';
import { startLoopbackPath, type LoopbackPath } from '../helpers/loopback-station.js';

let path: LoopbackPath;
t.before(async () => { path = await startLoopbackPath(); });
t.teardown(() => path.close());

async function echoRoundTrip(socket: Awaited<ReturnType<typeof dial>>, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(data);
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

t.test('a 1 MB covert echo round trip arrives intact across flow switches', async (t) => {
  const socket = await dial({ ...path.dialOptions, target: `127.0.0.1:${path.echoPort}` });
  t.equal(socket.remotePort, path.echoPort);
  t.equal(socket.session.flows, 1);
  const data = randomBytes(1 << 20);
  const back = await echoRoundTrip(socket, data);
  t.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(data).digest('hex'));
  t.equal(socket.bytesRead, data.length);
  t.equal(socket.bytesWritten, data.length);
  socket.destroy();
});

t.test('small decoy windows force many flow switches without losing or reordering bytes', async (t) => {
  const socket = await dial({ ...path.dialOptions, target: `127.0.0.1:${path.echoPort}`, tcpWindow: 16_000 });
  const switches: string[] = [];
  socket.on('flowSwitch', (i: { reason: string }) => switches.push(i.reason));
  const data = randomBytes(300_000);
  const back = await echoRoundTrip(socket, data);
  t.ok(back.equals(data), 'echoed bytes equal the sent bytes');
  t.ok(socket.session.flows >= 15, `used ${socket.session.flows} flows`);
  t.ok(switches.every((r) => r === 'upload budget'));
  socket.destroy();
});

t.test('bytes written while the first flow opens travel inside the tag, which leaves with the Finished', async (t) => {
  const cases = [
    { name: 'defaults', options: {}, data: Buffer.from('GET / HTTP/1.1\r\nHost: covert\r\n\r\n'), early: 'all', falseStart: true },
    { name: 'a first write larger than the room', options: {}, data: randomBytes(5000), early: 'some', falseStart: true },
    { name: 'both off (public station rule)', options: { earlyData: false, falseStart: false }, data: Buffer.from('hello'), early: 'none', falseStart: false },
  ] as const;
  for (const c of cases) {
    const socket = createConnection({ ...path.dialOptions, ...c.options, target: `127.0.0.1:${path.echoPort}` });
    socket.write(c.data);
    const back = await echoRoundTrip(socket, Buffer.alloc(0));
    t.ok(back.equals(c.data), `${c.name}: the echo equals what was written`);
    t.equal(socket.session.flows, 1);
    const { earlyBytes, falseStart } = socket.session;
    if (c.early === 'all') t.equal(earlyBytes, c.data.length, `${c.name}: all ${c.data.length} bytes went in the tag`);
    if (c.early === 'some') t.ok(earlyBytes >= 16 && earlyBytes < 600, `${c.name}: ${earlyBytes} bytes went in the tag`);
    if (c.early === 'none') t.equal(earlyBytes, 0, `${c.name}: no early data`);
    t.equal(falseStart, c.falseStart, `${c.name}: False Start ${c.falseStart}`);
    t.equal(socket.bytesWritten, c.data.length);
    socket.destroy();
  }
});

t.test('a first write that went whole into the tag, then more than one flow can carry (an HTTP upload)', async (t) => {
  // The first write's callback runs when the flow attaches and releases the next write at once;
  // that write fills the flow's budget and switches flows, which must find the flow fully attached.
  const socket = createConnection({ ...path.dialOptions, target: `127.0.0.1:${path.echoPort}`, tcpWindow: 16_000 });
  const head = Buffer.from('POST /upload HTTP/1.1\r\ncontent-length: 200000\r\n\r\n');
  const body = randomBytes(200_000);
  socket.write(head);
  const back = await echoRoundTrip(socket, body);
  t.ok(back.equals(Buffer.concat([head, body])), 'the echo equals both writes, in order');
  t.equal(socket.session.earlyBytes, head.length);
  t.ok(socket.session.flows > 5, `${socket.session.flows} flows`);
  socket.destroy();
});

t.test('the station refuses early data on a reconnecting flow (it would land out of order)', async (t) => {
  const connectionId = new Uint8Array(randomBytes(16));
  const flow = (expect: S2C_Transition, early?: Uint8Array) => openFlow({
    decoy: { serverName: 'decoy.test', address: '127.0.0.1', port: path.tap.port },
    stationPublicKey: path.stationKey.publicKey, connectionId, tls: { ca: path.ca.root.cert },
    request: { transition: C2S_Transition.C2S_SESSION_COVERT_INIT, covertAddress: `127.0.0.1:${path.echoPort}`, generation: 0 },
    expect, ...(early === undefined ? {} : { earlyData: () => early }),
  });
  const first = await flow(S2C_Transition.S2C_SESSION_COVERT_INIT, Buffer.from('first bytes of the session'));
  t.equal(first.earlyBytes, 26, 'a new session takes early data');
  const err = await flow(S2C_Transition.S2C_CONFIRM_RECONNECT, Buffer.from('bytes that would jump the queue')).catch((e: unknown) => e);
  t.equal((err as ClientError).code, 'ERR_STATION_REFUSED');
  t.equal((err as ClientError).context.reason, 'CLIENT_PROTOCOL');
  const again = await flow(S2C_Transition.S2C_CONFIRM_RECONNECT);
  t.equal(again.init.stateTransition, S2C_Transition.S2C_CONFIRM_RECONNECT, 'without early data the same reconnect is confirmed');
  for (const f of [first, again]) f.tls.destroy();
});

t.test('a covert address outside the allowlist is refused with S2C_ERROR', async (t) => {
  const before = path.stats.covertErrors.get('ERR_COVERT_DENIED') ?? 0;
  const err = await dial({ ...path.dialOptions, target: '127.0.0.1:1' }).catch((e: unknown) => e);
  t.ok(err instanceof ClientError);
  t.equal((err as ClientError).code, 'ERR_STATION_REFUSED');
  t.equal((err as ClientError).context.reason, 'COVERT_STREAM');
  t.equal(path.stats.covertErrors.get('ERR_COVERT_DENIED'), before + 1);
});

t.test('a tag for another station is not taken over and the decoy gets a complete request', async (t) => {
  const other = { ...path.clientConf };
  const requests = path.decoyRequests.length;
  const err = await dial({
    ...path.dialOptions, target: `127.0.0.1:${path.echoPort}`, attempts: 1, stationTimeoutMs: 300,
    clientConf: { ...other, defaultPubkey: undefined, decoyList: { ...other.decoyList!, tlsDecoys: other.decoyList!.tlsDecoys.map((d) => ({
      ...d, pubkey: { ...d.pubkey!, key: new Uint8Array(32).fill(9) } })) } },
  }).catch((e: unknown) => e);
  t.equal((err as ClientError).code, 'ERR_STATION_NO_RESPONSE');
  for (let i = 0; i < 50 && path.decoyRequests.length === requests; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(path.decoyRequests.length, requests + 1, 'the decoy received the completed request');
  t.match(path.decoyRequests.at(-1), /^GET \/ HTTP\/1\.1\r\nHost: decoy\.test\r\n[\s\S]*Connection: close\r\n\r\n$/);
});

t.test('a flow outlives its decoy connect deadline', async (t) => {
  const socket = await dial({ ...path.dialOptions, target: `127.0.0.1:${path.echoPort}`, decoyConnectTimeoutMs: 300 });
  await new Promise((r) => setTimeout(r, 800));
  socket.write('still here');
  const [d] = await once(socket, 'data');
  t.equal(String(d), 'still here');
  t.equal(socket.session.flows, 1, 'the same flow');
  socket.destroy();
});

t.test('the station ends a flow at its lifetime; the client redials and the stream goes on', async (t) => {
  const short = await startLoopbackPath({ flowLifetimeMs: 300 });
  t.teardown(() => short.close());
  const socket = await dial({ ...short.dialOptions, target: `127.0.0.1:${short.echoPort}` });
  const data = randomBytes(64 * 1024);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  for (let i = 0; i < 8; i++) {
    socket.write(data.subarray(i * 8192, (i + 1) * 8192));
    await new Promise((r) => setTimeout(r, 150));
  }
  socket.end();
  await once(socket, 'end');
  t.ok(Buffer.concat(chunks).equals(data), 'every byte came back in order');
  t.ok(socket.session.flows >= 3, `${socket.session.flows} flows`);
  t.ok(short.stats.reconnects >= 2, 'the station confirmed the reconnects');
});

t.test('a session whose flow is lost and never replaced ends after the reconnect window', async (t) => {
  const short = await startLoopbackPath({ reconnectWindowMs: 300 });
  t.teardown(() => short.close());
  let taken: import('node:net').Socket | undefined;
  short.intercept = (tk) => { taken = tk.socket; return false; };
  const socket = await dial({ ...short.dialOptions, target: `127.0.0.1:${short.echoPort}` });
  socket.on('error', () => {});
  taken!.resetAndDestroy(); // the flow is lost; the client gives the session up
  for (let i = 0; i < 50 && short.stats.sessionEnds.get('client_timeout') === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(short.stats.sessionEnds.get('client_timeout'), 1, 'the station ended it as CLIENT_TIMEOUT');
  t.equal(short.stats.sessionsActive, 0);
});

t.test('setTimeout: covert traffic keeps the socket from timing out; idleness then emits timeout once; 0 disables', async (t) => {
  const socket = await dial({ ...path.dialOptions, target: `127.0.0.1:${path.echoPort}` });
  t.equal(socket.timeout, undefined, 'no timeout before setTimeout, as net.Socket');
  let timeouts = 0;
  socket.on('timeout', () => { timeouts++; });
  socket.on('data', () => {});
  socket.setTimeout(300);
  t.equal(socket.timeout, 300);
  // Echoed traffic every 60 ms for 900 ms: three timeouts' worth of time, but never 300 ms idle.
  for (let i = 0; i < 15; i++) {
    socket.write('ping');
    await new Promise((r) => setTimeout(r, 60));
  }
  t.equal(timeouts, 0, 'no timeout while traffic flowed');
  await once(socket, 'timeout');
  t.equal(timeouts, 1, 'idle: one timeout');
  await new Promise((r) => setTimeout(r, 700));
  t.equal(timeouts, 1, 'no second timeout without new traffic');
  socket.write('ping again');
  await once(socket, 'timeout');
  t.equal(timeouts, 2, 'traffic re-arms the timer');
  socket.setTimeout(0);
  socket.write('after disabling');
  await new Promise((r) => setTimeout(r, 700));
  t.equal(timeouts, 2, 'setTimeout(0) disables it');
  socket.destroy();
});

t.test('a covert server faster than a paused client: the station holds its reads back and loses nothing', async (t) => {
  // The station reads covert bytes into one shared buffer and seals them at once; while the
  // client's flow is backed up they must be copied instead (src/station/session.ts #writeData).
  const data = randomBytes(12 << 20);
  const source = createServer((s) => {
    s.on('error', () => {});
    s.end(data);
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  const sourcePort = (source.address() as AddressInfo).port;
  const fast = await startLoopbackPath({}, [sourcePort]);
  t.teardown(async () => {
    await fast.close();
    source.close();
  });
  const socket = await dial({ ...fast.dialOptions, target: `127.0.0.1:${sourcePort}` });
  const chunks: Buffer[] = [];
  let stalls = 0;
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    if (chunks.length % 64 === 0) {
      stalls++;
      socket.pause();
      setTimeout(() => socket.resume(), 40);
    }
  });
  socket.end();
  await once(socket, 'end');
  t.ok(stalls >= 5, `the client stalled ${stalls} times`);
  t.equal(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), createHash('sha256').update(data).digest('hex'), '12 MiB intact');
  socket.destroy();
});

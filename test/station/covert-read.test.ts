/**
 * Covert reads (src/station/covert.ts): every covert socket reads into one shared buffer, so a
 * chunk is valid only during the sink's call. Nothing is read before `readCovert` names the sink
 * (a server that speaks first loses nothing), pause() holds the bytes back, several sockets
 * reading at once each get their own bytes in order, and EOF still ends the socket.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectCovert, readCovert } from '../../src/station/covert.js';
import { CovertAllowlist } from '../../src/station/allowlist.js';

/** A server that writes `bytes` to each connection at once, then ends it. */
async function speaker(bytes: (i: number) => Buffer): Promise<{ server: Server; port: number }> {
  let n = 0;
  const server = createServer((s) => {
    s.on('error', () => {});
    s.end(bytes(n++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

const policy = (port: number) => ({
  allowlist: CovertAllowlist.from([{ cidr: '127.0.0.1/32', ports: String(port) }]), resolveNames: false, connectTimeoutMs: 2000,
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

t.test('a server that speaks first loses nothing before the sink is named; chunks are transient views of one buffer', async (t) => {
  const data = randomBytes(3 << 20);
  const { server, port } = await speaker(() => data);
  t.teardown(() => server.close());
  const { socket } = await connectCovert(`127.0.0.1:${port}`, policy(port));
  await sleep(100); // the server has written; nothing may be read yet
  const got: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let transientAll = true;
  readCovert(socket, (chunk, transient) => {
    transientAll &&= transient;
    buffers.add(chunk.buffer);
    got.push(Buffer.from(chunk)); // the sink copies what it keeps
  });
  await once(socket, 'end');
  t.ok(transientAll, 'every chunk is marked transient');
  t.equal(buffers.size, 1, 'all reads land in the one shared buffer');
  t.equal(sha(Buffer.concat(got)), sha(data), '3 MiB arrive intact and in order');
  socket.destroy();
});

t.test('pause() in the sink holds the bytes back until resume(), with no loss', async (t) => {
  const data = randomBytes(2 << 20);
  const { server, port } = await speaker(() => data);
  t.teardown(() => server.close());
  const { socket } = await connectCovert(`127.0.0.1:${port}`, policy(port));
  const got: Buffer[] = [];
  let whilePaused = 0;
  let paused = false;
  let pauses = 0;
  readCovert(socket, (chunk) => {
    if (paused) whilePaused += chunk.length;
    got.push(Buffer.from(chunk));
    if (got.length % 4 === 0 && !paused) {
      paused = true;
      pauses++;
      socket.pause();
      setTimeout(() => {
        paused = false;
        socket.resume();
      }, 5);
    }
  });
  await once(socket, 'end');
  t.ok(pauses > 0, `paused ${pauses} times`);
  t.equal(whilePaused, 0, 'no read arrived while paused');
  t.equal(sha(Buffer.concat(got)), sha(data));
  socket.destroy();
});

t.test('several covert sockets reading at once each get their own bytes', async (t) => {
  const datas = Array.from({ length: 4 }, () => randomBytes(1 << 20));
  const { server, port } = await speaker((i) => datas[i]!);
  t.teardown(() => server.close());
  const sockets = [];
  for (let i = 0; i < datas.length; i++) sockets.push((await connectCovert(`127.0.0.1:${port}`, policy(port))).socket);
  const got = sockets.map(() => [] as Buffer[]);
  sockets.forEach((s, i) => readCovert(s, (chunk) => got[i]!.push(Buffer.from(chunk))));
  await Promise.all(sockets.map((s) => once(s, 'end')));
  t.same(got.map((g) => sha(Buffer.concat(g))), datas.map(sha), 'four interleaved streams intact');
  for (const s of sockets) s.destroy();
});

t.test('a socket not made by connectCovert delivers its own chunks, not transient', async (t) => {
  const data = randomBytes(100_000);
  const { server, port } = await speaker(() => data);
  t.teardown(() => server.close());
  const socket = connect(port, '127.0.0.1');
  const got: Buffer[] = [];
  let anyTransient = false;
  readCovert(socket, (chunk, transient) => {
    anyTransient ||= transient;
    got.push(chunk);
  });
  await once(socket, 'end');
  t.notOk(anyTransient);
  t.ok(Buffer.concat(got).equals(data));
  socket.destroy();
});

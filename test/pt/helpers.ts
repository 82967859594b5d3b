/**
 * Shared test tooling for the PT tests: an echo server, a raw socket probe that records what a
 * server sends until it closes, and a tor-like SOCKS client.
 *
 * @module
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SocksClient } from 'socks';
import { socks5CredentialsForArgs } from '../../pt/args.js';

/** A TCP server echoing everything back, half-close aware. */
export async function startEchoServer(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** What a raw probe saw. */
export interface ProbeResult {
  /** All bytes the server sent, hex. */
  received: string;
  /** The server closed (end or close) before the probe's own deadline. */
  closedByServer: boolean;
}

/**
 * Connect, send `chunks` (with `gapMs` between them), and record what comes back until the
 * server closes or `deadlineMs` passes (then the probe closes itself). With `end`, half-close
 * after sending.
 */
export async function probe(port: number, chunks: Uint8Array[], deadlineMs = 10_000, gapMs = 0, end = false): Promise<ProbeResult> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  socket.on('error', () => {});
  const ended = new Promise<boolean>((resolve) => {
    socket.once('end', () => resolve(true));
    socket.once('close', () => resolve(true));
    setTimeout(() => resolve(false), deadlineMs).unref();
  });
  for (const c of chunks) {
    if (socket.destroyed) break;
    socket.write(c);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  if (end) socket.end();
  const closedByServer = await ended;
  socket.destroy();
  return { received: Buffer.concat(received).toString('hex'), closedByServer };
}

/**
 * Open a SOCKS5 connection the way tor does: the arguments string goes in UNAME (and PASSWD past
 * 255 bytes, else a single NUL), with NoAuth and username/password both offered; no arguments
 * means NoAuth only.
 */
export async function torStyleConnect(socksPort: number, target: { host: string; port: number }, args: string): Promise<Socket> {
  const creds = socks5CredentialsForArgs(args);
  const { socket } = await SocksClient.createConnection({
    command: 'connect',
    destination: target,
    proxy: {
      host: '127.0.0.1',
      port: socksPort,
      type: 5,
      ...(creds === null ? {} : { userId: Buffer.from(creds.username).toString('latin1'), password: Buffer.from(creds.password).toString('latin1') }),
    },
    timeout: 10_000,
  });
  return socket;
}

/** Write `data`, end, and read everything until the peer ends. */
export async function roundTrip(socket: Socket, data: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.end(data);
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** Whether a SOCKS5 server on `port` answers a NoAuth greeting (proof that it is up and serving). */
export async function socksGreets(port: number): Promise<boolean> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  try {
    await once(socket, 'connect');
    socket.write(Buffer.of(5, 1, 0));
    const [reply] = (await once(socket, 'data')) as [Buffer];
    return reply[0] === 5 && reply[1] === 0;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

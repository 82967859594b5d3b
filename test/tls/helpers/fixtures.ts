/**
 * Test fixtures for the TLS tests: a test PKI (CA, RSA and ECDSA leaves, expired, self-signed,
 * wrong-name), node:tls servers on loopback, a dialer over `connectTls`, a transport wrapper that
 * records what the client writes, and single-suite variants of the Chrome 62 profile.
 *
 * @module
 */
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions, type Server as TlsServer } from 'node:tls';
import { Duplex } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCa, type CertFiles } from '../../../src/testbed/pki.js';
import { connectTls, type ConnectTlsOptions, type TlsConnection } from '../../../src/tls/connection.js';
import { CHROME_62, type ClientHelloProfile, type ExtensionSpec } from '../../../src/tls/profiles.js';

/** Certificates every TLS test needs. */
export interface TestPki {
  dir: string;
  ca: TestCa;
  rsa: CertFiles;
  ecdsa: CertFiles;
  expired: CertFiles;
  selfSigned: CertFiles;
  cleanup(): void;
}

/** Make a CA and the leaves (about a second of openssl). */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'td-tls-'));
  const ca = TestCa.create(join(dir, 'pki'));
  return {
    dir, ca,
    rsa: ca.issue({ commonName: 'decoy.test', keyKind: 'rsa', ipAddresses: ['127.0.0.1'] }),
    ecdsa: ca.issue({ commonName: 'decoy.test', keyKind: 'ecdsa', ipAddresses: ['127.0.0.1'] }),
    expired: ca.issue({ commonName: 'decoy.test', expired: true }),
    selfSigned: ca.issue({ commonName: 'decoy.test', selfSigned: true }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A node:tls server on 127.0.0.1 with a random port. */
export interface NodeServer {
  server: TlsServer;
  port: number;
  /** Server-side sockets, in accept order. */
  sockets: TLSSocket[];
  close(): Promise<void>;
}

/** Start a node:tls server (TLS 1.2 max unless overridden) calling `onSocket` for each connection. */
export async function startNodeServer(options: TlsOptions, onSocket: (s: TLSSocket) => void = echo): Promise<NodeServer> {
  const sockets: TLSSocket[] = [];
  const server = createTlsServer({ maxVersion: 'TLSv1.2', ...options }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    onSocket(s);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server, sockets, port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Echo every chunk back, prefixed once per chunk with nothing (byte-exact echo). */
export function echo(s: TLSSocket): void {
  s.pipe(s);
}

/** A TCP socket to 127.0.0.1:port plus what the client wrote on it. */
export interface Dialed {
  socket: Socket;
  conn: Promise<TlsConnection>;
}

/** Connect over TCP and run our handshake. */
export function dial(port: number, options: Partial<ConnectTlsOptions> & { allowHalfOpenSocket?: boolean }): Dialed {
  const socket = netConnect({ port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpenSocket ?? true });
  socket.setNoDelay(true);
  const { allowHalfOpenSocket: _ignored, ...rest } = options;
  return { socket, conn: connectTls(socket, { serverName: 'decoy.test', handshakeTimeoutMs: 10_000, ...rest }) };
}

/**
 * A Duplex wrapping a socket that keeps a copy of every byte the client writes, so tests can
 * look at records on the wire.
 */
export class RecordingTransport extends Duplex {
  readonly written: Buffer[] = [];
  readonly inner: Duplex;
  /**
   * @param inner - the real transport.
   * @param readChunk - deliver received bytes in pieces of at most this size (split-chunk tests).
   */
  constructor(inner: Duplex, readChunk = Infinity) {
    super({ allowHalfOpen: true });
    this.inner = inner;
    inner.on('data', (d: Buffer) => {
      let more = true;
      for (let o = 0; o < d.length; o += readChunk) more = this.push(d.subarray(o, o + readChunk));
      if (!more) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => this.destroy());
  }
  override _read(): void { this.inner.resume(); }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.written.push(Buffer.from(chunk));
    this.inner.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void { this.inner.end(cb); }
  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void { this.inner.destroy(); cb(e); }
  /** All bytes written so far. */
  bytes(): Buffer { return Buffer.concat(this.written); }
}

/** Chrome 62 offering only the given suites (and groups, when given): forces a server's choice. */
export function narrowProfile(suites: number[], groups?: number[]): ClientHelloProfile {
  const extensions: ExtensionSpec[] = CHROME_62.extensions.map((e) =>
    e.type === 'supported_groups' && groups !== undefined ? { type: 'supported_groups', groups } : e);
  return { ...CHROME_62, name: `chrome62-narrow`, cipherSuites: [{ grease: 'cipher' }, ...suites], extensions };
}

/** OpenSSL names of the suites we implement, for server configuration. */
export const OPENSSL_SUITE_NAMES: Record<number, string> = {
  0xc02b: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  0xc02f: 'ECDHE-RSA-AES128-GCM-SHA256',
  0xc02c: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  0xc030: 'ECDHE-RSA-AES256-GCM-SHA384',
  0xcca9: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  0xcca8: 'ECDHE-RSA-CHACHA20-POLY1305',
  0x009c: 'AES128-GCM-SHA256',
  0x009d: 'AES256-GCM-SHA384',
};

/** Read from a stream until `n` bytes arrived. */
export function readBytes(s: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('error', reject);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

/** Collect a stream until it ends. */
export function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** Resolve when `socket` has been destroyed (or at once if it is). */
export function destroyed(socket: Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * A raw TCP server on 127.0.0.1 (random port) handing each connection, Nagle off, to `serve`;
 * the base of the scripted TLS servers.
 */
export async function startRawServer(serve: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    serve(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

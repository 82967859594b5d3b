/**
 * Loopback servers for the probe tests: a test CA with a `decoy.test` certificate, TLS servers
 * (TLS 1.2 at most) with raw socket handlers, and node:https servers with a request
 * handler. Everything listens on 127.0.0.1 at a random port and is closed by the test.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, createSecureContext, type TlsOptions } from 'node:tls';
import { TestCa, type CertFiles } from '../../src/testbed/pki.js';

/** A CA and a leaf for `decoy.test` (and 127.0.0.1). */
export interface DecoyPki {
  dir: string;
  ca: TestCa;
  leaf: CertFiles;
  cleanup(): void;
}

/** Make the PKI (about a second of openssl). */
export function makeDecoyPki(): DecoyPki {
  const dir = mkdtempSync(join(tmpdir(), 'td-decoys-'));
  const ca = TestCa.create(join(dir, 'pki'));
  const leaf = ca.issue({ commonName: 'decoy.test', ipAddresses: ['127.0.0.1'] });
  return { dir, ca, leaf, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A listening server. */
export interface Listening {
  port: number;
  /** Server-side sockets, in accept order. */
  sockets: Socket[];
  close(): Promise<void>;
}

function listen(server: HttpsServer | NetServer, sockets: Socket[]): Promise<Listening> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: (server.address() as AddressInfo).port,
      sockets,
      close: () => new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
    }));
  });
}

/**
 * A TLS server (TLS 1.2 at most) calling `onSocket` for each connection with the TLS socket and
 * the raw TCP socket under it (to reset it).
 */
export function startTls(pki: DecoyPki, onSocket: (s: TLSSocket, raw: Socket) => void, options: TlsOptions = {}): Promise<Listening> {
  const sockets: Socket[] = [];
  const secureContext = createSecureContext({ key: pki.leaf.key, cert: pki.leaf.cert, maxVersion: 'TLSv1.2', ...options });
  const server = createNetServer((raw) => {
    sockets.push(raw);
    raw.on('error', () => {});
    const s = new TLSSocket(raw, { isServer: true, secureContext, ...options });
    s.on('error', () => {});
    s.once('secure', () => onSocket(s, raw));
  });
  return listen(server, sockets);
}

/** A node:https server (TLS 1.2 at most). */
export function startHttps(pki: DecoyPki, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
  const sockets: Socket[] = [];
  const server = createHttpsServer({ key: pki.leaf.key, cert: pki.leaf.cert, maxVersion: 'TLSv1.2' }, handler);
  server.on('secureConnection', (s: Socket) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  return listen(server, sockets);
}

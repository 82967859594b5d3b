/**
 * Benchmark of the TLS layer, measured in one run against node:tls as the baseline:
 *
 * - handshakes per second against a local node:tls server (our `connectTls` vs node:tls
 *   `connect`, RSA-2048 and ECDSA P-256 certificates, ECDHE X25519, AES-128-GCM);
 * - record-layer throughput over loopback: the same bytes moved up (client encrypts) and down
 *   (client decrypts) by our TlsConnection and by node:tls, as MB/s and as a ratio
 *   (target ≥ 0.8).
 *
 * The node:tls server runs in a worker thread, so the client side under test has the main thread
 * to itself. Baseline and candidate runs alternate and each keeps its best, because the machine
 * is shared. Only loopback.
 *
 * Run: `npm run build && node dist/bench/tls.js [--seconds N] [--megabytes N] [--runs N]`.
 *
 * @module
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createServer, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { TestCa } from '../src/testbed/pki.js';
import { TrustStore } from '../src/tls/certificate-verifier.js';
import { connectTls } from '../src/tls/connection.js';
import { CHROME_62, type ClientHelloProfile } from '../src/tls/profiles.js';

const SUITES = 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256';
const CHUNK = 64 * 1024;

// ---- server (worker thread) ----------------------------------------------------------------------

/**
 * The server speaks a one-line protocol: `E\n` echoes, `U <n>\n` swallows n bytes then answers
 * `ok\n`, `D <n>\n` sends n bytes.
 */
function serve(s: TLSSocket): void {
  let head = Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(0x0a);
    if (nl < 0) return;
    s.off('data', onData);
    const [cmd, arg] = head.subarray(0, nl).toString('latin1').split(' ');
    const rest = head.subarray(nl + 1);
    const n = Number(arg);
    if (cmd === 'E') {
      s.write('E\n');
      s.pipe(s);
    } else if (cmd === 'U') {
      let got = rest.length;
      const count = (c: Buffer): void => {
        got += c.length;
        if (got >= n) { s.off('data', count); s.write('ok\n'); }
      };
      if (got >= n) s.write('ok\n');
      else s.on('data', count);
    } else if (cmd === 'D') {
      const block = Buffer.alloc(CHUNK, 0x62);
      let sent = 0;
      const pump = (): void => {
        while (sent < n) {
          sent += CHUNK;
          if (!s.write(sent > n ? block.subarray(0, CHUNK - (sent - n)) : block)) { s.once('drain', pump); return; }
        }
      };
      pump();
    }
  };
  s.on('data', onData);
  s.on('error', () => {});
}

if (!isMainThread) {
  const { key, cert } = workerData as { key: string; cert: string };
  const server = createServer({ key, cert, maxVersion: 'TLSv1.2', ecdhCurve: 'X25519:P-256', ciphers: SUITES }, serve);
  server.listen(0, '127.0.0.1', () => parentPort!.postMessage((server.address() as { port: number }).port));
  parentPort!.on('message', () => server.close(() => process.exit(0)));
}

// ---- clients (main thread) -----------------------------------------------------------------------

interface Server { port: number; close(): Promise<void> }

async function startServer(key: string, cert: string): Promise<Server> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { key, cert } });
  const port = await new Promise<number>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  return { port, close: async () => { worker.postMessage('close'); await new Promise((r) => worker.once('exit', r)); } };
}

type Dialer = (port: number) => Promise<Duplex>;

/** Only AES-128-GCM, so both clients run the same suite. */
const AES128: ClientHelloProfile = { ...CHROME_62, name: 'bench-aes128', cipherSuites: [{ grease: 'cipher' }, 0xc02b, 0xc02f] };

function ourDialer(ca: string): Dialer {
  const trustStore = new TrustStore([new X509Certificate(ca)]);
  return async (port) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    return connectTls(socket, { serverName: 'decoy.test', trustStore, profile: AES128, alpnProtocols: [] });
  };
}

function nodeDialer(ca: string): Dialer {
  return (port) => new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'decoy.test', ca, maxVersion: 'TLSv1.2',
      ecdhCurve: 'X25519:P-256:P-384', ciphers: SUITES }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

function readLine(c: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const on = (d: Buffer): void => { if (d.includes(0x0a)) { c.off('data', on); resolve(); } };
    c.on('data', on);
  });
}

/** Sequential handshakes, each with one round trip, for `seconds`; returns per second. */
async function handshakesPerSecond(dial: Dialer, port: number, seconds: number): Promise<number> {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const c = await dial(port);
    const echoed = readLine(c);
    c.write('E\n');
    await echoed;
    c.destroy();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Client sends `bytes`; MB/s from the first write to the server's acknowledgement. */
async function upload(dial: Dialer, port: number, bytes: number): Promise<number> {
  const c = await dial(port);
  const data = Buffer.alloc(CHUNK, 0x61);
  const acked = readLine(c);
  const start = performance.now();
  c.write(`U ${bytes}\n`);
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    if (!c.write(data)) await new Promise((r) => c.once('drain', r));
  }
  await acked;
  const secs = (performance.now() - start) / 1000;
  c.destroy();
  return bytes / secs / 1e6;
}

/** Server sends `bytes`; MB/s measured at the client. */
async function download(dial: Dialer, port: number, bytes: number): Promise<number> {
  const c = await dial(port);
  let got = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    c.on('data', (d: Buffer) => { got += d.length; if (got >= bytes) resolve(); });
    c.write(`D ${bytes}\n`);
  });
  const secs = (performance.now() - start) / 1000;
  c.destroy();
  return bytes / secs / 1e6;
}

/** Alternate baseline and candidate `runs` times; keep each one's best. */
async function interleavedBest(runs: number, baseline: () => Promise<number>, candidate: () => Promise<number>): Promise<[number, number]> {
  let b = 0;
  let c = 0;
  for (let i = 0; i < runs; i++) {
    b = Math.max(b, await baseline());
    c = Math.max(c, await candidate());
  }
  return [b, c];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const seconds = opt('seconds', 2);
  const megabytes = opt('megabytes', 64);
  const runs = opt('runs', 5);
  const dir = mkdtempSync(join(tmpdir(), 'td-bench-tls-'));
  try {
    const ca = TestCa.create(dir);
    const certs = { rsa: ca.issue({ commonName: 'decoy.test', keyKind: 'rsa' }), ecdsa: ca.issue({ commonName: 'decoy.test', keyKind: 'ecdsa' }) };
    const ours = ourDialer(ca.root.cert);
    const node = nodeDialer(ca.root.cert);
    const fmt = (x: number): string => x.toFixed(1).padStart(7);
    const line = (what: string, o: number, n: number, target = ''): void =>
      console.log(`${what.padEnd(20)} tapdance ${fmt(o)}  node:tls ${fmt(n)}  ratio ${(o / n).toFixed(2)}${target}`);

    console.log(`# tls bench: node ${process.version}; server in a worker thread; ${seconds}s per handshake run; ` +
      `${megabytes} MB per transfer; best of ${runs} interleaved runs`);
    for (const kind of ['rsa', 'ecdsa'] as const) {
      const srv = await startServer(certs[kind].key, certs[kind].cert);
      await handshakesPerSecond(ours, srv.port, 0.3); // warm-up
      const [n, o] = await interleavedBest(2, () => handshakesPerSecond(node, srv.port, seconds), () => handshakesPerSecond(ours, srv.port, seconds));
      line(`handshakes/s ${kind}`, o, n);
      await srv.close();
    }
    const bytes = megabytes * 1024 * 1024;
    const srv = await startServer(certs.ecdsa.key, certs.ecdsa.cert);
    await upload(ours, srv.port, 8 << 20); // warm-up
    const [upNode, upOurs] = await interleavedBest(runs, () => upload(node, srv.port, bytes), () => upload(ours, srv.port, bytes));
    line('upload MB/s', upOurs, upNode, '  (target >= 0.8)');
    const [downNode, downOurs] = await interleavedBest(runs, () => download(node, srv.port, bytes), () => download(ours, srv.port, bytes));
    line('download MB/s', downOurs, downNode, '  (target >= 0.8)');
    await srv.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();

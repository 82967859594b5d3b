/**
 * What the e2e download helpers (`*-download-main.ts`) share: they run in the testbed's client
 * namespace, pin themselves to the CPU in `BENCH_CPU` when it is set, download the warm-up path
 * untimed when given, {@link WARMUPS} times, then time the real download and print one JSON line.
 *
 * A running client (Tor's or Psiphon's transport stays up for hours) has its hot code optimised.
 * A few small warm-ups do not get there: after three 256 KiB downloads V8 (`--trace-opt`) was
 * still compiling the record path with TurboFan during the timed download, on the client's CPU,
 * and after a single large one each new connection still deoptimised code that the previous one
 * had optimised (new object shapes, paths not yet taken). So a running client has done the same
 * download {@link WARMUPS} times.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { performance } from 'node:perf_hooks';

/** Untimed warm-up downloads before the timed one, when a warm-up path is given. */
export const WARMUPS = 3;

/** One timed download, as printed. */
export interface DownloadResult {
  bytes: number;
  /** From the start of the connection to the last byte. */
  ms: number;
  /** From the start of the connection to the first body byte. */
  firstByteMs: number;
  /** CPU time of the process (all threads, user and system) during the timed download. */
  cpuMs?: number;
}

/**
 * GET with `request` (node:http's or node:https's) and read and hash the body (as
 * examples/fetch-page does), timed from this call, which opens the connection.
 *
 * @param request - `http.request` or `https.request`
 * @param options - the request; `createConnection` or `lookup` say where it goes
 */
export function timedGet<O extends RequestOptions>(request: (options: O, onResponse: (res: IncomingMessage) => void) => ClientRequest,
  options: O): Promise<DownloadResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => hashBody(res, started).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });
}

function hashBody(res: IncomingMessage, started: number): Promise<DownloadResult> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let firstByteMs = 0;
    res.on('data', (d: Buffer) => {
      firstByteMs ||= performance.now() - started;
      bytes += d.length;
      hash.update(d);
    });
    res.on('error', reject);
    res.on('end', () => {
      hash.digest();
      res.socket?.destroy();
      resolve({ bytes, ms: performance.now() - started, firstByteMs });
    });
  });
}

/** Pin this process (all its threads) to `BENCH_CPU` when set. */
export function pinFromEnv(): void {
  const cpu = process.env.BENCH_CPU;
  if (cpu === undefined || cpu === '') return;
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
}

/**
 * Run `download(warmup)` {@link WARMUPS} times (when given) and `download(path)` once, then print
 * the timed result and exit.
 */
export async function runDownload(path: string, warmup: string | undefined, download: (path: string) => Promise<DownloadResult>): Promise<void> {
  pinFromEnv();
  if (warmup !== undefined && warmup !== '') for (let i = 0; i < WARMUPS; i++) await download(warmup);
  const cpu = process.cpuUsage();
  const r = await download(path);
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({ ...r, cpuMs: (used.user + used.system) / 1000 })}\n`);
  process.exit(0);
}

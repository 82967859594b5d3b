/**
 * Drive Debian's `chromium` (apt package `chromium`) headless against loopback servers, so tests
 * can compare our ClientHello and first flights with the real browser's in the same run.
 *
 * The flags are the ones that work as root without a display (reference testbed.md §11); a fresh
 * profile directory per run keeps caches and session tickets out. Chromium retries a failing
 * connection several times, which gives several hellos (with different extension orders) from
 * one launch. The process is always killed and its profile removed.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The version line of the installed chromium, e.g. `Chromium 156.0.8078.108 built on Debian …`. */
export function chromiumVersion(): string {
  const r = spawnSync('chromium', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('chromium is not installed: apt-get install --no-install-recommends chromium (scripts/setup.sh does)');
  return r.stdout.trim();
}

/**
 * Run chromium on `url` until `done()` says so or `timeoutMs` passes, then kill it.
 *
 * @param url - the page to open.
 * @param done - polled every 50 ms.
 * @param timeoutMs - upper bound.
 * @param extraArgs - more flags (e.g. `--ignore-certificate-errors`).
 */
export async function runChromium(url: string, done: () => boolean, timeoutMs: number, extraArgs: string[] = []): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'td-chromium-'));
  // Its own process group, so that the zygote and renderers die with the browser.
  const child = spawn('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...extraArgs, url,
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + timeoutMs;
    while (!done() && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode !== null && !done()) throw new Error(`chromium exited with ${child.exitCode}: ${stderr}`);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/**
 * Capture chromium's ClientHello records: a plain TCP listener on 127.0.0.1 reads the first
 * record of each connection (it spans TCP segments: read until its length is complete) and
 * closes it, so chromium tries again.
 *
 * @param count - hellos wanted.
 * @param timeoutMs - upper bound for the whole capture.
 * @returns the records, header included, in arrival order.
 * @throws Error when fewer than `count` arrived.
 */
export async function captureChromiumHellos(count: number, timeoutMs = 30_000): Promise<Buffer[]> {
  const hellos: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
        hellos.push(buf.subarray(0, 5 + buf.readUInt16BE(3)));
        s.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await runChromium(`https://localhost:${port}/`, () => hellos.length >= count, timeoutMs);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (hellos.length < count) throw new Error(`chromium sent ${hellos.length} ClientHellos in ${timeoutMs} ms, wanted ${count}`);
  return hellos.slice(0, count);
}

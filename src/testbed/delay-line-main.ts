/**
 * Entry script of the router's delay line: reads packets (each a virtio-net header and an IP
 * packet, possibly a GSO super-packet) from a tun descriptor opened by the Perl opener of
 * `delay-line.ts` and passed as `--tun-fd=N`, holds each for the current delay, and writes it
 * back unchanged into the tun device, from where the router forwards it on.
 *
 * Usage: `node delay-line-main.js --delay-ms N --tun-fd=N`. Prints
 * `{"event":"ready"}` once reading; reads JSON lines on stdin: `{"delayMs":N}` changes the
 * delay, `"stats"` prints `{"event":"stats",…}`. Exits when stdin closes or on SIGTERM.
 *
 * @module
 */
import { read, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DelayQueue } from './delay-line.js';

function say(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

function main(): void {
  const { values } = parseArgs({ options: { 'delay-ms': { type: 'string', default: '0' }, 'tun-fd': { type: 'string' } } });
  const fd = Number(values['tun-fd']);
  if (!Number.isInteger(fd) || fd < 0) throw new Error('--tun-fd=N is required');
  const q = new DelayQueue(Number(values['delay-ms']));
  let timer: NodeJS.Timeout | undefined;

  const release = (): void => {
    timer = undefined;
    for (const pkt of q.take(performance.now())) {
      try { writeSync(fd, pkt); } catch { /* a packet the stack refuses is lost, as on a wire */ }
    }
    arm();
  };
  const arm = (): void => {
    const due = q.nextDue();
    if (due === undefined || timer !== undefined) return;
    // Timers may fire a little early; take() then releases nothing and we re-arm.
    timer = setTimeout(release, Math.max(0, Math.ceil(due - performance.now())));
  };

  // A GSO super-packet is up to 64 KiB plus the 10-byte virtio-net header.
  const scratch = Buffer.allocUnsafe(65536 + 1024);
  const loop = (): void => {
    read(fd, scratch, 0, scratch.length, null, (err, n) => {
      if (err !== null) {
        say({ event: 'error', message: `tun read: ${err.code ?? err.message}` });
        process.exit(1);
      }
      if (n > 0) {
        q.push(Buffer.from(scratch.subarray(0, n)), performance.now());
        if (q.delayMs === 0) release(); else arm();
      }
      loop();
    });
  };
  loop();

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'stats') return say({ event: 'stats', ...q.stats() });
    try {
      const msg = JSON.parse(line) as { delayMs?: unknown };
      if (typeof msg.delayMs === 'number' && msg.delayMs >= 0) q.delayMs = msg.delayMs;
      say({ event: 'delay', delayMs: q.delayMs });
    } catch { /* ignore garbage */ }
  });
  rl.once('close', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  say({ event: 'ready' });
}

try {
  main();
} catch (err) {
  say({ event: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

/**
 * Entry script of the covert side: runs the covert HTTP server and the CONNECT proxy in the
 * process's network namespace (the testbed starts it with `ip netns exec`).
 *
 * Usage: `node covert-main.js --host ADDR [--http-port N] [--proxy-port N]` (ports default to
 * 0, any free port). Prints `{"event":"ready","http":PORT,"proxy":PORT}` once both listen,
 * `{"event":"stats",…}` for each `stats` line read on stdin, and exits when stdin closes or
 * on SIGTERM.
 *
 * @module
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createConnectProxy } from './connect-proxy.js';
import { createCovertHttpServer } from './covert-http.js';

function say(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string' }, 'http-port': { type: 'string', default: '0' }, 'proxy-port': { type: 'string', default: '0' } },
  });
  if (values.host === undefined) throw new Error('--host is required');
  const http = createCovertHttpServer();
  const proxy = createConnectProxy();
  http.listen(Number(values['http-port']), values.host);
  proxy.server.listen(Number(values['proxy-port']), values.host);
  await Promise.all([once(http, 'listening'), once(proxy.server, 'listening')]);
  say({ event: 'ready', http: (http.address() as AddressInfo).port, proxy: (proxy.server.address() as AddressInfo).port });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => { if (line.trim() === 'stats') say({ event: 'stats', proxy: proxy.stats }); });
  rl.once('close', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
}

main().catch((err: unknown) => {
  say({ event: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});

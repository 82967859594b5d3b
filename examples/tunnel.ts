#!/usr/bin/env node
/**
 * A local TCP tunnel through TapDance: every connection to the local port becomes a TapDance
 * session to the target, so any TCP program (curl, ssh, a browser's proxy setting aimed at a
 * CONNECT proxy) can use it without knowing about TapDance.
 *
 *   node dist/examples/tunnel.js --listen 127.0.0.1:8080 --target 10.12.0.2:80 --client-conf ClientConf
 *   curl http://127.0.0.1:8080/
 *
 * Options: --ca FILE (trust this CA for decoys, for test decoys). Prints one JSON line when
 * listening and one per connection (no addresses beyond the target).
 */
import { createServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dial } from '../src/index.js';

const { values } = parseArgs({
  options: { listen: { type: 'string', default: '127.0.0.1:8080' }, target: { type: 'string' }, 'client-conf': { type: 'string' }, ca: { type: 'string' } },
});
if (values.target === undefined || values['client-conf'] === undefined) {
  process.stderr.write('usage: tunnel --target HOST:PORT --client-conf FILE [--listen HOST:PORT] [--ca FILE]\n');
  process.exit(2);
}
const [host, port] = [values.listen.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(values.listen)?.[1] ?? 8080)];
const tls = values.ca === undefined ? undefined : { ca: readFileSync(values.ca, 'utf8') };
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const server = createServer({ allowHalfOpen: true }, (local: Socket) => {
  local.pause();
  dial({ clientConfPath: values['client-conf'], target: values.target, tls, timeout: 30_000 }).then((remote) => {
    say({ event: 'session', target: values.target, decoy: remote.session.decoy?.target.serverName });
    local.pipe(remote).pipe(local);
    local.resume();
    const close = (): void => { local.destroy(); remote.destroy(); };
    local.on('error', close);
    remote.on('error', (err) => { say({ event: 'error', code: (err as { code?: string }).code }); close(); });
  }, (err: Error & { code?: string }) => {
    say({ event: 'error', code: err.code, message: err.message });
    local.destroy();
  });
});
server.listen(port, host, () => say({ event: 'listening', address: values.listen }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

/**
 * Helper of bench/e2e.ts, run in the testbed's client namespace: downloads a URL over plain TLS
 * with this project's own TLS client (the one TapDance flows use, Chrome 62 profile), straight
 * from the decoy, hashing the body as the other downloads do, and prints `{"bytes":n,"ms":t}`.
 * Against the TapDance download it isolates what the station path costs; against Node's https
 * client it shows what our TypeScript TLS costs.
 *
 * Usage: node tls-download-main.js PATH CA_FILE SERVERNAME ADDRESS
 *
 * @module
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { connectTls } from '../src/tls/connection.js';

const [path, caFile, servername, address] = process.argv.slice(2) as [string, string, string, string];
const started = performance.now();
const tcp = connect({ host: address, port: 443, noDelay: true });
await once(tcp, 'connect');
const tls = await connectTls(tcp, { serverName: servername, ca: readFileSync(caFile, 'utf8') });
tls.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
const hash = createHash('sha256');
let head: Buffer | null = Buffer.alloc(0);
let bytes = 0;
tls.on('data', (d: Buffer) => {
  if (head !== null) {
    // Headers first (small and at the start): hash only the body, as the other clients do.
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    d = head.subarray(end + 4);
    head = null;
  }
  bytes += d.length;
  hash.update(d);
});
tls.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
await once(tls, 'end');
hash.digest();
process.stdout.write(`${JSON.stringify({ bytes, ms: performance.now() - started })}\n`);
process.exit(0);

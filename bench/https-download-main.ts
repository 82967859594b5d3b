/**
 * Helper of bench/e2e.ts, run in the testbed's client namespace: downloads a URL over plain TLS
 * with Node's own https client (OpenSSL), hashing it as examples/fetch-page does, and prints
 * `{"bytes":n,"ms":t}`. The same runtime and the same per-byte work as the TapDance client make
 * it the like-for-like baseline.
 *
 * Usage: node https-download-main.js URL CA_FILE SERVERNAME ADDRESS
 *
 * @module
 */
import { get } from 'node:https';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const [url, caFile, servername, address] = process.argv.slice(2) as [string, string, string, string];
const started = performance.now();
get(url, {
  ca: readFileSync(caFile, 'utf8'), servername,
  lookup: (_h, _o, cb) => cb(null, [{ address, family: 4 }] as never, 4),
}, (res) => {
  const hash = createHash('sha256');
  let bytes = 0;
  res.on('data', (d: Buffer) => { bytes += d.length; hash.update(d); });
  res.on('end', () => {
    hash.digest();
    process.stdout.write(`${JSON.stringify({ bytes, ms: performance.now() - started })}\n`);
  });
}).on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});

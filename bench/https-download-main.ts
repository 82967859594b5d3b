/**
 * Helper of bench/e2e.ts, run in the testbed's client namespace: downloads a URL over plain TLS
 * with Node's own https client (OpenSSL), hashing it as examples/fetch-page does, and prints
 * `{"bytes":n,"ms":t,"firstByteMs":f}`. The same runtime and the same per-byte work as the
 * TapDance client make it the like-for-like baseline.
 *
 * Usage: node https-download-main.js URL CA_FILE SERVERNAME ADDRESS [WARMUP_URL]
 *
 * @module
 */
import { request } from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { readFileSync } from 'node:fs';
import { runDownload, timedGet, type DownloadResult } from './download-run.js';

const [url, caFile, servername, address, warmup] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const ca = readFileSync(caFile, 'utf8');

function download(target: string): Promise<DownloadResult> {
  return timedGet(request, {
    ...urlToHttpOptions(new URL(target)), ca, servername, agent: false,
    lookup: (_h, _o, cb) => cb(null, [{ address, family: 4 }] as never, 4),
  });
}

await runDownload(url, warmup, download).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});

/**
 * Helper of bench/e2e.ts, run in the testbed's client namespace: downloads a path from the
 * covert web server through TapDance with Node's http client over `createConnection` (as
 * examples/fetch-page does), hashing the body, and prints `{"bytes":n,"ms":t,"firstByteMs":f}`.
 * Each download is a new TapDance session: decoy, handshake, tag and station answer are timed.
 *
 * Usage: node tapdance-download-main.js PATH CLIENT_CONF CA_FILE TARGET [WARMUP_PATH]
 *
 * @module
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { createConnection } from '../src/index.js';
import { runDownload, timedGet, type DownloadResult } from './download-run.js';

const [path, clientConfPath, caFile, target, warmup] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const ca = readFileSync(caFile, 'utf8');

function download(p: string): Promise<DownloadResult> {
  return timedGet(request, {
    host: target.replace(/:\d+$/, ''), path: p,
    createConnection: () => createConnection({ clientConfPath, target, tls: { ca } }),
  });
}

await runDownload(path, warmup, download).catch((err: Error) => {
  process.stderr.write(`${(err as { code?: string }).code ?? ''} ${err.message}\n`);
  process.exit(1);
});

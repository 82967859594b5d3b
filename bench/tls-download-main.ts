/**
 * Helper of bench/e2e.ts, run in the testbed's client namespace: downloads a URL over plain TLS
 * with this project's own TLS client (the one TapDance flows use, Chrome 62 profile), straight
 * from the decoy, through Node's http client (`createConnection`) and hashing the body as the
 * other downloads do, and prints `{"bytes":n,"ms":t,"firstByteMs":f,"cpuMs":c}`. Against the
 * TapDance download it isolates what the TapDance layers and the station path cost; against
 * Node's https client it shows what our TypeScript TLS costs.
 *
 * Usage: node tls-download-main.js PATH CA_FILE SERVERNAME ADDRESS [WARMUP_PATH]
 *
 * @module
 */
import { connect } from 'node:net';
import { request, type RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { connectTls } from '../src/tls/connection.js';
import { runDownload, timedGet, type DownloadResult } from './download-run.js';

const [path, caFile, servername, address, warmup] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const ca = readFileSync(caFile, 'utf8');

function download(target: string): Promise<DownloadResult> {
  return timedGet(request, {
    host: servername, path: target,
    // Node's http client over our TLS connection: the same HTTP parsing as the other clients.
    createConnection: (_o: unknown, done: (err: Error | null, socket?: Duplex) => void) => {
      const tcp = connect({ host: address, port: 443, noDelay: true });
      tcp.once('error', done);
      tcp.once('connect', () => {
        connectTls(tcp, { serverName: servername, ca }).then((tls) => done(null, tls), done);
      });
      return undefined;
    },
  } as unknown as RequestOptions);
}

await runDownload(path, warmup, download).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});

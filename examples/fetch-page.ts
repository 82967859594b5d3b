#!/usr/bin/env node
/**
 * Fetch a page over TapDance with Node's own `http` client: `createConnection` from tapdance
 * stands in for a TCP connection to the covert web server, so the request travels through a
 * decoy and a station.
 *
 *   node dist/examples/fetch-page.js --client-conf ClientConf --target 10.12.0.2:8080 --path /
 *
 * Options: --ca FILE (trust this CA for decoys, for test decoys), --decoy-port N, --upload BYTES
 * (POST that many random bytes to --path instead of GET), --json (print a summary instead of
 * the body), --public-rule (no False Start tag and no early data, for stations that follow only
 * the public protocol).
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createConnection, type TapDanceSocket } from '../src/index.js';

const { values } = parseArgs({
  options: {
    'client-conf': { type: 'string' }, target: { type: 'string' }, path: { type: 'string', default: '/' },
    ca: { type: 'string' }, 'decoy-port': { type: 'string' }, upload: { type: 'string' }, json: { type: 'boolean' },
    'tcp-window': { type: 'string' }, 'decoy-timeout-ms': { type: 'string' }, attempts: { type: 'string' },
    'public-rule': { type: 'boolean' },
  },
});
if (values['client-conf'] === undefined || values.target === undefined) {
  process.stderr.write('usage: fetch-page --client-conf FILE --target HOST:PORT [--path /] [--ca FILE] [--upload BYTES] [--json]\n');
  process.exit(2);
}
const started = performance.now();
let socket: TapDanceSocket | undefined;
let connectedAt = 0;
const body = values.upload === undefined ? undefined : randomBytes(Number(values.upload));
const req = request({
  host: values.target.replace(/:\d+$/, ''),
  path: values.path,
  method: body === undefined ? 'GET' : 'POST',
  headers: body === undefined ? {} : { 'content-length': body.length },
  createConnection: () => {
    socket = createConnection({
      clientConfPath: values['client-conf'],
      target: values.target,
      ...(values['public-rule'] === true ? { falseStart: false, earlyData: false } : {}),
      ...(values.ca === undefined ? {} : { tls: { ca: readFileSync(values.ca, 'utf8') } }),
      ...(values['decoy-port'] === undefined ? {} : { decoyPort: Number(values['decoy-port']) }),
      ...(values['tcp-window'] === undefined ? {} : { tcpWindow: Number(values['tcp-window']) }),
      ...(values['decoy-timeout-ms'] === undefined ? {} : { decoyTimeoutMs: Number(values['decoy-timeout-ms']) }),
      ...(values.attempts === undefined ? {} : { attempts: Number(values.attempts) }),
    }, () => { connectedAt = performance.now(); });
    return socket;
  },
}, (res) => {
  const hash = createHash('sha256');
  let bytes = 0;
  let firstByteAt = 0;
  const chunks: Buffer[] = [];
  res.on('data', (d: Buffer) => {
    firstByteAt ||= performance.now();
    bytes += d.length;
    hash.update(d);
    if (!values.json || bytes <= 4096) chunks.push(d);
  });
  res.on('close', () => {
    if (!res.complete) {
      process.stderr.write(`fetch-page: the response was cut short after ${bytes} bytes\n`);
      process.exit(1);
    }
  });
  res.on('end', () => {
    const done = performance.now();
    if (!values.json) {
      process.stdout.write(Buffer.concat(chunks));
    } else {
      const s = socket?.session;
      process.stdout.write(`${JSON.stringify({
        status: res.statusCode,
        bytes,
        sha256: hash.digest('hex'),
        uploaded: body === undefined ? undefined : { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') },
        headerSha256: res.headers['x-content-sha256'],
        body: bytes <= 4096 ? Buffer.concat(chunks).toString('utf8') : undefined,
        ms: { connect: connectedAt - started, firstByte: firstByteAt - started, total: done - started },
        firstFlow: s?.firstFlow, flows: s?.flows, decoy: s?.decoy?.target.serverName,
        earlyBytes: s?.earlyBytes, falseStart: s?.falseStart,
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      })}\n`);
    }
    socket?.destroy();
  });
});
req.on('error', (err) => {
  process.stderr.write(`fetch-page: ${(err as { code?: string }).code ?? ''} ${err.message}\n`);
  process.exit(1);
});
req.end(body);

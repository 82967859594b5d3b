/**
 * The covert destination's HTTP server: serves generated content of any size and reports its
 * SHA-256, and accepts uploads and reports theirs, so that transfers through a station can be
 * checked end to end.
 *
 * Content is a pure function of (size, seed): the AES-128-CTR keystream under
 * `SHA-256("tapdance covert content" ‖ seed)[0..16]` with a zero IV, so any process can compute
 * what it should have received ({@link contentSha256}) without the server.
 *
 * Routes:
 * - `GET /` → `covert ok\n`
 * - `GET /bytes/<n>?seed=<s>` → n bytes, with `content-length` and `x-content-sha256`
 * - `GET /sha256/<n>?seed=<s>` → `{"bytes":n,"sha256":"…"}`
 * - `POST /upload` (or `PUT`) → `{"bytes":n,"sha256":"…"}` of the request body
 * - `POST /echo` → the request body streamed back as it arrives (both directions at once)
 *
 * No TLS here; the station's covert side is plain TCP, as a real covert web site's front.
 *
 * @module
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** Largest size `/bytes/<n>` serves (1 TiB). */
export const MAX_CONTENT = 2 ** 40;
const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

function keystream(seed: string): (n: number) => Buffer {
  const key = createHash('sha256').update('tapdance covert content').update(seed).digest().subarray(0, 16);
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (n) => c.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
}

/**
 * A stream of the generated content.
 *
 * @param size - number of bytes (0…{@link MAX_CONTENT}).
 * @param seed - any string; different seeds give unrelated content.
 * @returns a readable stream of exactly `size` bytes.
 * @throws RangeError on a bad size.
 */
export function contentStream(size: number, seed = ''): Readable {
  checkSize(size);
  const next = keystream(seed);
  let left = size;
  return new Readable({
    highWaterMark: 4 * CHUNK,
    read(): void {
      while (left > 0) {
        const n = Math.min(CHUNK, left);
        left -= n;
        if (!this.push(next(n))) return;
      }
      this.push(null);
    },
  });
}

/**
 * The generated content as one buffer (for small sizes in tests).
 *
 * @param size - number of bytes, at most 256 MiB.
 * @param seed - as {@link contentStream}.
 * @returns the bytes.
 * @throws RangeError on a bad size.
 */
export function contentBytes(size: number, seed = ''): Buffer {
  checkSize(size);
  if (size > 256 * 1024 * 1024) throw new RangeError(`"size" expected at most 256 MiB for a buffer, got ${size}`);
  const next = keystream(seed);
  const parts: Buffer[] = [];
  for (let left = size; left > 0; left -= CHUNK) parts.push(next(Math.min(CHUNK, left)));
  return Buffer.concat(parts, size);
}

const hashCache = new Map<string, string>();

/**
 * SHA-256 (hex) of the generated content, computed without keeping it in memory; cached.
 *
 * @param size - number of bytes.
 * @param seed - as {@link contentStream}.
 * @returns lowercase hex digest.
 * @throws RangeError on a bad size.
 */
export function contentSha256(size: number, seed = ''): string {
  checkSize(size);
  const key = `${size}:${seed}`;
  const hit = hashCache.get(key);
  if (hit !== undefined) return hit;
  const next = keystream(seed);
  const h = createHash('sha256');
  for (let left = size; left > 0; left -= CHUNK) h.update(next(Math.min(CHUNK, left)));
  const hex = h.digest('hex');
  if (hashCache.size > 64) hashCache.clear();
  hashCache.set(key, hex);
  return hex;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_CONTENT) {
    throw new RangeError(`"size" expected an integer 0…2^40, got ${size}`);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://covert');
  const seed = url.searchParams.get('seed') ?? '';
  const sized = /^\/(bytes|sha256)\/(\d{1,13})$/.exec(url.pathname);
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
    res.end('covert ok\n');
  } else if (req.method === 'GET' && sized !== null) {
    const size = Number(sized[2]);
    if (size > MAX_CONTENT) return json(res, 400, { error: 'size too large' });
    const sha256 = contentSha256(size, seed);
    if (sized[1] === 'sha256') return json(res, 200, { bytes: size, sha256 });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, 'x-content-sha256': sha256 });
    const body = contentStream(size, seed);
    body.pipe(res);
    res.once('close', () => body.destroy());
  } else if (req.method === 'POST' && url.pathname === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
  } else if ((req.method === 'POST' || req.method === 'PUT') && url.pathname === '/upload') {
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => { bytes += d.length; h.update(d); });
    req.once('end', () => json(res, 200, { bytes, sha256: h.digest('hex') }));
  } else {
    json(res, 404, { error: 'not found' });
  }
}

/**
 * Create the covert HTTP server (not yet listening).
 *
 * @returns a `node:http` server with the routes of this module.
 * @example
 * ```ts
 * const srv = createCovertHttpServer().listen(8080, '10.12.0.2')
 * ```
 */
export function createCovertHttpServer(): Server {
  const srv = createServer(onRequest);
  // Large uploads and downloads through a slow, delayed path must not hit Node's defaults.
  srv.requestTimeout = 0;
  srv.headersTimeout = 60_000;
  srv.keepAliveTimeout = 75_000;
  return srv;
}

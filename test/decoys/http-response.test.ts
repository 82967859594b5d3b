import t from 'tap';
import { HttpResponseParser, type HttpResponse } from '../../src/decoys/http-response.js';

/** Feed `wire` split at every position (and byte by byte); each split must give the same response. */
function parseAllSplits(wire: string, options: { maxBody?: number; eof?: boolean } = {}): HttpResponse[] {
  const bytes = Buffer.from(wire, 'latin1');
  const splits: number[][] = [];
  for (let i = 0; i <= bytes.length; i++) splits.push([i]);
  splits.push(Array.from({ length: bytes.length }, (_, i) => i + 1));
  return splits.map((cuts) => {
    const p = new HttpResponseParser(options);
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      p.push(bytes.subarray(from, cut));
      from = cut;
    }
    if (options.eof) p.end();
    return p.response();
  });
}

t.test('reads a Content-Length body from any split of the input', async (t) => {
  const all = parseAllSplits('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
  for (const r of all) {
    t.equal(r.status, 200);
    t.equal(r.headers.get('content-type'), 'text/plain');
    t.equal(r.body.toString(), 'hello');
    t.equal(r.truncated, false);
  }
});

t.test('decodes a chunked body with extensions and trailers from any split', async (t) => {
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nUser-\r\nb\r\nagent: *\nDi\r\n0\r\nX-Trailer: y\r\n\r\n';
  for (const r of parseAllSplits(wire)) t.equal(r.body.toString(), 'User-agent: *\nDi');
});

t.test('reads a body delimited by the end of the connection', async (t) => {
  for (const r of parseAllSplits('HTTP/1.0 200 OK\r\n\r\nUser-agent: *\n', { eof: true })) {
    t.equal(r.body.toString(), 'User-agent: *\n');
  }
});

t.test('completes at once for empty bodies and ignores bytes after the response', async (t) => {
  const p = new HttpResponseParser();
  t.equal(p.push(Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nGARBAGE')), true);
  t.equal(p.response().status, 404);
  t.equal(p.push(Buffer.from('more')), true);
  const q = new HttpResponseParser();
  t.equal(q.push(Buffer.from('HTTP/1.1 304 Not Modified\r\n\r\n')), true);
  t.equal(q.response().body.length, 0);
});

t.test('skips 1xx interim responses', async (t) => {
  const [r] = parseAllSplits('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  t.equal(r!.status, 200);
  t.equal(r!.body.toString(), 'ok');
});

t.test('joins repeated headers and lowercases names', async (t) => {
  const [r] = parseAllSplits('HTTP/1.1 301 Moved\r\nX-A: 1\r\nx-a: 2\r\nLocation: /r\r\nContent-Length: 0\r\n\r\n');
  t.equal(r!.headers.get('x-a'), '1, 2');
  t.equal(r!.headers.get('location'), '/r');
});

t.test('keeps at most maxBody bytes and marks the body truncated', async (t) => {
  const body = 'x'.repeat(100);
  for (const wire of [
    `HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${body}`,
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${body}\r\n0\r\n\r\n`,
    `HTTP/1.1 200 OK\r\n\r\n${body}`,
  ]) {
    const p = new HttpResponseParser({ maxBody: 10 });
    t.equal(p.push(Buffer.from(wire)), true, 'done once the limit is reached');
    const r = p.response();
    t.equal(r.body.toString(), 'x'.repeat(10));
    t.equal(r.truncated, true);
  }
});

t.test('rejects malformed responses with ERR_DECOY_HTTP', async (t) => {
  const bad = [
    'HTTP/2 200\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'SSH-2.0-OpenSSH\r\n\r\n',
    'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n',
    'HTTP/1.1 200 OK\r\nName : v\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX',
  ];
  for (const wire of bad) {
    t.throws(() => new HttpResponseParser().push(Buffer.from(wire)), { code: 'ERR_DECOY_HTTP' }, JSON.stringify(wire));
  }
  t.throws(() => new HttpResponseParser().push(Buffer.alloc(17 * 1024, 0x41)), { code: 'ERR_DECOY_HTTP' }, 'endless header');
});

t.test('an early end is an error, except for a close-delimited body', async (t) => {
  const a = new HttpResponseParser();
  a.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  t.throws(() => a.end(), { code: 'ERR_DECOY_HTTP' });
  t.throws(() => a.response(), { code: 'ERR_DECOY_HTTP' });
  const b = new HttpResponseParser();
  b.push(Buffer.from('HTTP/1.1 200'));
  t.throws(() => b.end(), /header/);
});

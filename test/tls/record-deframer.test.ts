import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { RecordDeframer, type RawRecord } from '../../src/tls/record-deframer.js';
import { TlsError } from '../../src/tls/errors.js';
import { throwsTls } from './helpers/assert.js';

function record(type: number, body: Uint8Array, version = 0x0303): Buffer {
  const h = Buffer.from([type, version >> 8, version & 0xff, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([h, body]);
}

function drain(d: RecordDeframer): RawRecord[] {
  const out: RawRecord[] = [];
  for (let r = d.next(); r !== null; r = d.next()) out.push(r);
  return out;
}

const stream = Buffer.concat([
  record(22, randomBytes(100)), record(20, Buffer.from([1])), record(23, Buffer.alloc(0)),
  record(23, randomBytes(16384 + 2048)), record(21, Buffer.from([1, 0]), 0x0301),
]);

t.test('cuts a stream into records at every possible split point', async (t) => {
  const whole = new RecordDeframer();
  whole.push(stream);
  const expected = drain(whole).map((r) => [r.contentType, r.version, Buffer.from(r.body).toString('hex')]);
  t.equal(expected.length, 5);
  for (let cut = 0; cut <= stream.length; cut += 37) {
    const d = new RecordDeframer();
    d.push(stream.subarray(0, cut));
    const got = drain(d);
    d.push(stream.subarray(cut));
    got.push(...drain(d));
    t.same(got.map((r) => [r.contentType, r.version, Buffer.from(r.body).toString('hex')]), expected, `cut at ${cut}`);
    t.equal(d.buffered, 0);
  }
});

t.test('parses a stream fed one byte at a time', async (t) => {
  const d = new RecordDeframer();
  const got: RawRecord[] = [];
  for (const b of stream) {
    d.push(Buffer.from([b]));
    got.push(...drain(d));
  }
  t.same(got.map((r) => r.body.length), [100, 1, 0, 16384 + 2048, 2]);
});

t.test('fails at once on bytes that are not TLS, without waiting for a length', async (t) => {
  for (const garbage of ['H', 'HTTP/1.1 400 Bad Request\r\n', '\x16\x01', '\x00']) {
    const d = new RecordDeframer();
    d.push(Buffer.from(garbage, 'latin1'));
    const err = throwsTls(t, () => d.next(), garbage.startsWith('\x16') ? 'ERR_TLS_DECODE' : 'ERR_TLS_UNEXPECTED_MESSAGE', JSON.stringify(garbage));
    t.ok(err?.context);
  }
});

t.test('rejects records longer than 2^14 + 2048 from the header alone', async (t) => {
  const d = new RecordDeframer();
  d.push(Buffer.from([23, 3, 3, 0x48, 0x01]));
  throwsTls(t, () => d.next(), 'ERR_TLS_RECORD_OVERFLOW');
});

t.test('waits for the rest of a truncated record and reports what is buffered', async (t) => {
  const d = new RecordDeframer();
  d.push(record(22, randomBytes(50)).subarray(0, 30));
  t.equal(d.next(), null);
  t.equal(d.buffered, 30);
});

t.test('any byte sequence yields records or a TlsError, never another exception', async () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
    const d = new RecordDeframer();
    try {
      for (const c of chunks) {
        d.push(c);
        drain(d);
      }
    } catch (err) {
      if (!(err instanceof TlsError)) throw err;
    }
  }), { numRuns: 2000 });
});

t.test('transient records that span chunks are joined in one reused buffer, with the same bytes', async (t) => {
  const bodies = [randomBytes(3000), randomBytes(16384 + 2048), randomBytes(7)];
  const bytes = Buffer.concat(bodies.map((b) => record(23, b)));
  const d = new RecordDeframer();
  for (let i = 0; i < bytes.length; i += 1000) d.push(bytes.subarray(i, i + 1000));
  const seen: Uint8Array[] = [];
  for (let r = d.next(true); r !== null; r = d.next(true)) {
    t.equal(Buffer.from(r.body).toString('hex'), bodies[seen.length]!.toString('hex'), `record ${seen.length}`);
    seen.push(r.body);
  }
  t.equal(seen.length, 3);
  t.equal(seen[0]!.buffer, seen[1]!.buffer, 'the second spanning record reused the first one\'s buffer');
  t.equal(d.buffered, 0);
});

t.test('a record is owned only when its memory is the taker\'s: a view of an owned chunk or a fresh join', async (t) => {
  const bodies = [randomBytes(40), randomBytes(3000), randomBytes(9)];
  const bytes = Buffer.concat(bodies.map((b) => record(23, b)));
  const cut = 45 + 1000; // the first record whole in the first chunk, the second across chunks
  for (const owned of [false, true]) {
    for (const transient of [false, true]) {
      const d = new RecordDeframer();
      d.push(bytes.subarray(0, cut), owned);
      d.push(bytes.subarray(cut), owned);
      const got: RawRecord[] = [];
      for (let r = d.next(transient); r !== null; r = d.next(transient)) got.push(r);
      t.same(got.map((r) => Buffer.from(r.body).equals(bodies[got.indexOf(r)]!)), [true, true, true], 'bytes intact');
      t.same(got.map((r) => r.owned), [owned, !transient, owned], `pushed ${owned ? 'owned' : 'shared'}, ${transient ? 'transient' : 'kept'} takes`);
    }
  }
});

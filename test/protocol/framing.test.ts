import t from 'tap';
import { randomBytes, randomInt } from 'node:crypto';
import { bytesToHex, concatBytes, hexToBytes } from '../../src/crypto/bytes.js';
import {
  encodeDataFrame,
  encodeDataFrameHeader,
  encodeDataFrames,
  encodeProtobufFrame,
  FrameDecoder,
  MAX_DATA_CHUNK,
  type Frame,
} from '../../src/protocol/framing.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { InvalidArgumentError } from '../../src/errors.js';

/** Frames as comparable strings (tap's deep equality is slow on large typed arrays). */
function show(frames: readonly Frame[]): string[] {
  return frames.map((f) => `${f.type}:${bytesToHex(f.type === 'data' ? f.data : f.message)}`);
}

/** Feed `bytes` to a fresh decoder in random-sized pieces (including empty ones). */
function decodeInPieces(bytes: Uint8Array, maxPiece: number, options = {}): Frame[] {
  const dec = new FrameDecoder(options);
  const frames: Frame[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = randomInt(0, maxPiece + 1);
    frames.push(...dec.push(bytes.slice(i, i + n)));
    i += n;
  }
  dec.end();
  return frames;
}

t.test('data frames carry −length; five bytes become FF FB + data', async (t) => {
  t.equal(bytesToHex(encodeDataFrame(hexToBytes('0102030405'))), 'fffb0102030405');
  t.equal(bytesToHex(encodeDataFrame(new Uint8Array(1))), 'ffff00');
  const max = encodeDataFrame(new Uint8Array(MAX_DATA_CHUNK));
  t.equal(bytesToHex(max.subarray(0, 2)), '8001', '−32767');
  t.throws(() => encodeDataFrame(new Uint8Array(32768)), InvalidArgumentError);
  t.throws(() => encodeDataFrame(new Uint8Array(0)), InvalidArgumentError);
});

t.test('large data is split into 32767-byte chunks, never a 32768-byte one', async (t) => {
  for (const n of [32767, 32768, 65534, 65535, 100000]) {
    const data = randomBytes(n);
    const framed = encodeDataFrames(data);
    const frames = new FrameDecoder().push(framed);
    t.ok(frames.every((f) => f.type === 'data' && f.data.length <= 32767), `${n}: all chunks ≤ 32767`);
    t.equal(frames.length, Math.ceil(n / 32767));
    t.equal(bytesToHex(concatBytes(...frames.map((f) => (f.type === 'data' ? f.data : new Uint8Array())))), bytesToHex(data));
  }
  t.equal(encodeDataFrames(new Uint8Array(0)).length, 0, 'no data, no frames');
  const small = new FrameDecoder().push(encodeDataFrames(randomBytes(100), 30));
  t.same(small.map((f) => (f.type === 'data' ? f.data.length : -1)), [30, 30, 30, 10]);
  t.throws(() => encodeDataFrames(randomBytes(10), 32768), InvalidArgumentError);
});

t.test('a data frame header sent apart from its data decodes like the whole frame', async (t) => {
  t.equal(bytesToHex(encodeDataFrameHeader(5)), 'fffb');
  t.equal(bytesToHex(encodeDataFrameHeader(1)), 'ffff');
  t.equal(bytesToHex(encodeDataFrameHeader(MAX_DATA_CHUNK)), '8001');
  const data = randomBytes(16382);
  t.equal(bytesToHex(concatBytes(encodeDataFrameHeader(data.length), data)), bytesToHex(encodeDataFrame(data)));
  for (const bad of [0, 32768, 1.5, -1]) t.throws(() => encodeDataFrameHeader(bad), InvalidArgumentError, `${bad}`);
});

t.test('the decoder accepts every length form: −1, −50, −32768, 32767, 1111 and extended', async (t) => {
  // Cases of the public station's protocol_outer_framing.rs tests.
  const cases: [string, Frame][] = [
    ['ffff' + 'aa', { type: 'data', data: hexToBytes('aa') }],
    ['ffce' + '11'.repeat(50), { type: 'data', data: new Uint8Array(50).fill(0x11) }],
    ['8000' + '22'.repeat(32768), { type: 'data', data: new Uint8Array(32768).fill(0x22) }],
    ['7fff' + '33'.repeat(32767), { type: 'protobuf', message: new Uint8Array(32767).fill(0x33) }],
    ['0457' + '44'.repeat(1111), { type: 'protobuf', message: new Uint8Array(1111).fill(0x44) }],
    ['0000' + '00000003' + '555555', { type: 'protobuf', message: hexToBytes('555555') }],
    ['0000' + '00000000', { type: 'protobuf', message: new Uint8Array(0) }],
  ];
  for (const [hex, want] of cases) {
    const frames = decodeInPieces(hexToBytes(hex), 7);
    t.same(show(frames), show([want]), hex.slice(0, 12));
  }
});

t.test('protobuf frames use the short form up to 32767 bytes and the extended form above', async (t) => {
  t.equal(bytesToHex(encodeProtobufFrame(hexToBytes('0801'))), '00020801');
  t.equal(bytesToHex(encodeProtobufFrame(hexToBytes('0801'), { extended: true })), '0000000000020801');
  t.equal(bytesToHex(encodeProtobufFrame(new Uint8Array(0))), '000000000000', 'empty needs the extended form');
  t.equal(bytesToHex(encodeProtobufFrame(new Uint8Array(32767)).subarray(0, 2)), '7fff');
  t.equal(bytesToHex(encodeProtobufFrame(new Uint8Array(32768)).subarray(0, 6)), '000000008000');
  const big = randomBytes(200000);
  t.same(show(new FrameDecoder().push(encodeProtobufFrame(big))), show([{ type: 'protobuf', message: big }]));
});

t.test('a mixed stream decodes identically for every way of splitting it into chunks', async (t) => {
  const want: Frame[] = [];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    if (randomInt(2) === 0) {
      const d = randomBytes(randomInt(1, 3000));
      want.push({ type: 'data', data: new Uint8Array(d) });
      parts.push(encodeDataFrame(d));
    } else {
      const m = randomBytes(randomInt(0, 3000));
      const extended = randomInt(3) === 0;
      want.push({ type: 'protobuf', message: new Uint8Array(m) });
      parts.push(encodeProtobufFrame(m, { extended }));
    }
  }
  const stream = concatBytes(...parts);
  for (const maxPiece of [1, 2, 3, 5, 6, 7, 100, 5000, stream.length]) {
    t.same(show(decodeInPieces(stream, maxPiece)), show(want), `pieces of up to ${maxPiece} bytes`);
  }
  // Byte by byte, deterministically.
  const dec = new FrameDecoder();
  const got: Frame[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...dec.push(stream.subarray(i, i + 1)));
  t.same(show(got), show(want), 'one byte at a time');
  t.equal(dec.bufferedLength, 0);
});

t.test('an oversized protobuf is refused at its header, and the decoder stays failed', async (t) => {
  const dec = new FrameDecoder({ maxProtobufLength: 1000 });
  t.same(dec.push(encodeProtobufFrame(new Uint8Array(1000))).length, 1, 'exactly the limit is fine');
  t.throws(() => dec.push(hexToBytes('03e9')), { code: 'ERR_PROTO_FRAME_TOO_LARGE' }, '1001 short form');
  t.throws(() => dec.push(hexToBytes('ffff00')), ProtocolError, 'still failed');
  t.throws(() => dec.end(), { code: 'ERR_PROTO_FRAME_TOO_LARGE' });
  const ext = new FrameDecoder({ maxProtobufLength: 1 << 20 });
  t.throws(() => ext.push(hexToBytes('0000ffffffff')), { code: 'ERR_PROTO_FRAME_TOO_LARGE' }, '4 GiB announced');
  const split = new FrameDecoder({ maxProtobufLength: 10 });
  t.same(split.push(hexToBytes('0000')), []);
  t.same(split.push(hexToBytes('0000')), []);
  t.throws(() => split.push(hexToBytes('000b')), { code: 'ERR_PROTO_FRAME_TOO_LARGE' }, 'extended length split across chunks');
  const data = new FrameDecoder({ maxProtobufLength: 0 });
  t.same(data.push(hexToBytes('fffe0102')), [{ type: 'data', data: hexToBytes('0102') }], 'the limit is for protobufs only');
  t.throws(() => new FrameDecoder({ maxProtobufLength: -1 }), InvalidArgumentError);
});

t.test('ending inside a frame is ERR_PROTO_FRAME_TRUNCATED; ending between frames is fine', async (t) => {
  for (const hex of ['ff', 'fffb0102', '0000', '000000000005', '0005aabb']) {
    const dec = new FrameDecoder();
    dec.push(hexToBytes(hex));
    t.throws(() => dec.end(), { code: 'ERR_PROTO_FRAME_TRUNCATED' }, hex);
  }
  const ok = new FrameDecoder();
  ok.push(hexToBytes('ffff01'));
  t.doesNotThrow(() => ok.end());
});

t.test('wholeDataFrame: the data of a chunk that is exactly one data frame, else null and nothing consumed', async (t) => {
  const data = randomBytes(16382);
  const frame = encodeDataFrame(data);
  const dec = new FrameDecoder();
  t.same(dec.wholeDataFrame(frame), data, 'one whole data frame');
  t.equal(dec.wholeDataFrame(frame.subarray(0, 100)), null, 'a partial frame');
  t.equal(dec.wholeDataFrame(concatBytes(frame, encodeDataFrame(Uint8Array.of(1)))), null, 'more than one frame');
  const pb = encodeProtobufFrame(Uint8Array.of(8, 1));
  t.equal(dec.wholeDataFrame(pb), null, 'a protobuf frame');
  t.equal(dec.wholeDataFrame(new Uint8Array(0)), null, 'nothing');
  t.equal(dec.bufferedLength, 0, 'nothing was consumed or buffered');
  // With bytes buffered the chunk continues an earlier frame: never the fast path.
  dec.push(frame.subarray(0, 1));
  t.equal(dec.wholeDataFrame(frame), null, 'bytes already buffered');
  const frames = dec.push(frame.subarray(1));
  t.same(frames.map((f) => f.type), ['data'], 'push still decodes the split frame');
});

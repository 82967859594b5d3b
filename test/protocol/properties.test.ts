import t from 'tap';
import fc from 'fast-check';
import { bytesToHex } from '../../src/crypto/bytes.js';
import { stegoDecode, stegoEncode } from '../../src/crypto/stego.js';
import { encodeDataFrames, encodeProtobufFrame, FrameDecoder, type Frame } from '../../src/protocol/framing.js';
import { decodeClientToStation, encodeClientToStation } from '../../src/protocol/messages.js';
import { ProtocolError } from '../../src/protocol/errors.js';

const show = (frames: readonly Frame[]) => frames.map((f) => `${f.type}:${bytesToHex(f.type === 'data' ? f.data : f.message)}`);

t.test('property: framed messages decode to themselves for any split of the stream', async (t) => {
  const item = fc.oneof(
    fc.record({ type: fc.constant('data' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 400 }) }),
    fc.record({ type: fc.constant('protobuf' as const), bytes: fc.uint8Array({ maxLength: 400 }), extended: fc.boolean() }),
  );
  fc.assert(
    fc.property(fc.array(item, { maxLength: 20 }), fc.array(fc.nat(64), { maxLength: 50 }), (items, cuts) => {
      const parts = items.map((i) => (i.type === 'data' ? encodeDataFrames(i.bytes, 150) : encodeProtobufFrame(i.bytes, { extended: i.extended })));
      const stream = Buffer.concat(parts);
      const want: Frame[] = [];
      for (const i of items) {
        if (i.type === 'protobuf') want.push({ type: 'protobuf', message: i.bytes });
        else for (let o = 0; o < i.bytes.length; o += 150) want.push({ type: 'data', data: i.bytes.subarray(o, o + 150) });
      }
      const dec = new FrameDecoder();
      const got: Frame[] = [];
      let pos = 0;
      for (const c of cuts) {
        got.push(...dec.push(stream.subarray(pos, pos + c)));
        pos = Math.min(stream.length, pos + c);
      }
      got.push(...dec.push(stream.subarray(pos)));
      dec.end();
      return JSON.stringify(show(got)) === JSON.stringify(show(want));
    }),
    { numRuns: 300 },
  );
  t.pass('300 random streams round tripped');
});

t.test('property: stego decode inverts encode under any keystream', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 70 }).chain((groups) =>
      fc.tuple(fc.uint8Array({ minLength: groups * 3, maxLength: groups * 3 }), fc.uint8Array({ minLength: groups * 4, maxLength: groups * 4 }))),
    ([data, ks]) => {
      const plain = stegoEncode(data, ks);
      return bytesToHex(stegoDecode(plain.map((p, i) => p ^ ks[i]!))) === bytesToHex(data) && plain.every((b) => b >= 0x40 && b < 0x80);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random inputs round tripped');
});

t.test('property: ClientToStation decoding of arbitrary bytes either succeeds or gives ERR_PROTO_DECODE', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        const m = decodeClientToStation(bytes);
        decodeClientToStation(encodeClientToStation(m)); // what we decode, we can re-encode and read back
        return true;
      } catch (err) {
        return err instanceof ProtocolError && err.code === 'ERR_PROTO_DECODE';
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 arbitrary inputs handled');
});

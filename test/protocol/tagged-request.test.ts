import t from 'tap';
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '../../src/crypto/bytes.js';
import { stegoDecode } from '../../src/crypto/stego.js';
import { buildTaggedRequest, sharedHeaders, TAPDANCE_USER_AGENT } from '../../src/protocol/tagged-request.js';
import {
  giveUpCompletion,
  meanRandomInt,
  splitFailedDecoys,
  transitionPadding,
  xIgnorePaddingLength,
} from '../../src/protocol/padding.js';
import { encodeClientToStation } from '../../src/protocol/messages.js';
import { InvalidArgumentError } from '../../src/errors.js';

const xor = (a: Uint8Array, b: Uint8Array) => a.map((x, i) => x ^ b[i]!);

t.test('the request has the public layout, CRLF line ends and no final CRLF', async (t) => {
  const tag = randomBytes(180);
  const ks = randomBytes(2000);
  let asked = -1;
  const xProto = Buffer.from(randomBytes(51)).toString('base64');
  const req = buildTaggedRequest({
    host: 'decoy.example',
    xProto,
    tag,
    keystream: (n) => {
      asked = n;
      return ks.subarray(0, n);
    },
    paddingLength: 123,
  });
  const head = `GET / HTTP/1.1\r\nHost: decoy.example\r\nUser-Agent: ${TAPDANCE_USER_AGENT}\r\nX-Proto: ${xProto}\r\nX-Ignore: ${'#'.repeat(123)}`;
  t.equal(Buffer.from(req.subarray(0, head.length)).toString('latin1'), head);
  t.equal(req.length, head.length + 240);
  t.equal(asked, req.length, 'asks for the keystream of the whole request');
  const stego = req.subarray(head.length);
  t.ok(stego.every((b) => b >= 0x40 && b <= 0x7f), 'stego bytes are printable 0x40..0x7f');
  t.notOk(Buffer.from(req).toString('latin1').endsWith('\r\n'));
  const ciphertext = xor(req, ks.subarray(0, req.length));
  t.equal(bytesToHex(stegoDecode(ciphertext.subarray(req.length - 240))), bytesToHex(tag), 'the ciphertext carries the tag');
});

t.test('without X-Proto the header line is left out', async (t) => {
  const req = buildTaggedRequest({ host: 'h', tag: randomBytes(180), keystream: (n) => randomBytes(n), paddingLength: 7 });
  t.ok(Buffer.from(req).toString('latin1').startsWith(`GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: ${TAPDANCE_USER_AGENT}\r\nX-Ignore: #######`));
});

t.test('the X-Ignore padding is the mean of 10 draws from [7, max(612 − L, 7)]', async (t) => {
  const L = sharedHeaders('www.example.cn', TAPDANCE_USER_AGENT, 'x'.repeat(68)).length;
  t.equal(L, 158);
  t.equal(xIgnorePaddingLength(L, (min) => min), 7);
  t.equal(xIgnorePaddingLength(L, (_min, max) => max), 612 - 158);
  t.equal(xIgnorePaddingLength(700, (_min, max) => max), 7, 'never below 7');
  const draws: number[][] = [];
  xIgnorePaddingLength(100, (min, max) => {
    draws.push([min, max]);
    return min;
  });
  t.equal(draws.length, 10);
  t.ok(draws.every(([a, b]) => a === 7 && b === 512));
  let sum = 0;
  for (let i = 0; i < 2000; i++) {
    const n = xIgnorePaddingLength(L);
    if (n < 7 || n > 454) t.fail(`out of range: ${n}`);
    sum += n;
  }
  const mean = sum / 2000;
  t.ok(mean > 220 && mean < 241, `mean ${mean} near (7+454)/2`);
  // Real requests: the total stays within one TLS record and under a typical MSS.
  for (let i = 0; i < 200; i++) {
    const req = buildTaggedRequest({ host: 'decoy.example.org', xProto: 'A'.repeat(68), tag: randomBytes(180), keystream: (n) => randomBytes(n) });
    if (req.length > 882) t.fail(`request of ${req.length} bytes`);
  }
});

t.test('bad hosts, tags, padding and keystreams are refused with typed errors', async (t) => {
  const base = { host: 'h', tag: randomBytes(180), keystream: (n: number) => randomBytes(n) };
  t.throws(() => buildTaggedRequest({ ...base, host: 'a\r\nEvil: 1' }), InvalidArgumentError);
  t.throws(() => buildTaggedRequest({ ...base, xProto: 'a\nb' }), InvalidArgumentError);
  t.throws(() => buildTaggedRequest({ ...base, tag: randomBytes(179) }), InvalidArgumentError);
  t.throws(() => buildTaggedRequest({ ...base, paddingLength: -1 }), InvalidArgumentError);
  t.throws(() => buildTaggedRequest({ ...base, keystream: (n) => randomBytes(n - 1) }), InvalidArgumentError);
});

t.test('give-up completion: mean of 5 draws from [456, 789] of # then Connection: close', async (t) => {
  const lo = Buffer.from(giveUpCompletion((min) => min)).toString('latin1');
  t.equal(lo, `${'#'.repeat(456)}\r\nConnection: close\r\n\r\n`);
  const hi = Buffer.from(giveUpCompletion((_min, max) => max)).toString('latin1');
  t.equal(hi.length, 789 + 23);
  let draws = 0;
  giveUpCompletion((min) => {
    draws++;
    return min;
  });
  t.equal(draws, 5);
});

t.test('transition padding and failed decoys follow the 250-byte budget', async (t) => {
  const decoys = Array.from({ length: 20 }, (_, i) => `decoy${i}.example.org 192.0.2.${i}:443`);
  const { send, later, size } = splitFailedDecoys(decoys);
  t.ok(send.length > 0 && send.length < 20);
  t.same([...send, ...later], decoys);
  t.equal(size, encodeClientToStation({ failedDecoys: send }).length);
  t.ok(size <= 250);
  t.ok(encodeClientToStation({ failedDecoys: decoys.slice(0, send.length + 1) }).length > 250, 'one more would not fit');
  t.same(splitFailedDecoys([]), { send: [], later: [], size: 0 });
  t.same(splitFailedDecoys(['x'.repeat(300)]).send, [], 'a single oversized entry waits');
  t.equal(transitionPadding(size, (min) => min).length, 250 - size);
  t.equal(transitionPadding(0, (_min, max) => max).length, 800);
  t.ok(transitionPadding(0).every((b) => b === 0x23));
  t.equal(meanRandomInt(5, 5, 3, () => 99), 5, 'an empty range needs no draws');
  t.equal(meanRandomInt(10, 4, 2, (min, max) => (min === 4 && max === 10 ? 7 : -1)), 7, 'reversed bounds are swapped');
  t.throws(() => meanRandomInt(1, 2, 0), InvalidArgumentError);
});

t.test('early data fills X-Proto only up to the public length bound (SPEC.md §6.1)', async (t) => {
  const { encodeXProto, openXProto } = await import('../../src/protocol/xproto.js');
  const { earlyDataRoom } = await import('../../src/protocol/tagged-request.js');
  const { decodeClientToStation, C2S_Transition } = await import('../../src/protocol/messages.js');
  const aesKey = randomBytes(16);
  for (const host of ['a.io', 'decoy0.test', 'www.some-long-decoy-host-name.example.org']) {
    for (const covertAddress of [undefined, '10.0.0.1:80', 'covert-destination.example.net:65535']) {
      const message = {
        decoyListGeneration: 1234,
        stateTransition: covertAddress === undefined ? C2S_Transition.C2S_SESSION_INIT : C2S_Transition.C2S_SESSION_COVERT_INIT,
        ...(covertAddress === undefined ? {} : { covertAddress }),
      };
      const room = earlyDataRoom(host, encodeXProto(aesKey, message).length);
      t.ok(room >= 200, `${host} ${covertAddress ?? ''}: room for ${room} bytes`);
      const early = randomBytes(room);
      const xProto = encodeXProto(aesKey, { ...message, earlyData: early });
      const L = Buffer.byteLength(sharedHeaders(host, TAPDANCE_USER_AGENT, xProto));
      t.ok(L <= 605, `L = ${L} stays within the public bound`);
      const req = buildTaggedRequest({ host, xProto, tag: randomBytes(180), keystream: (n) => randomBytes(n) });
      t.ok(req.length <= 882, `request of ${req.length} bytes`);
      t.same(Buffer.from(decodeClientToStation(openXProto(xProto, aesKey)).earlyData!), early, 'the bytes come back');
      // One more byte would break the bound (the room is the most that fits, give or take base64 padding).
      const over = encodeXProto(aesKey, { ...message, earlyData: randomBytes(room + 4) });
      t.ok(Buffer.byteLength(sharedHeaders(host, TAPDANCE_USER_AGENT, over)) > 605 - 4, 'the room is nearly all of it');
    }
  }
  t.equal(earlyDataRoom('x'.repeat(300), 400), 0, 'no room at all gives 0, not a negative');
});

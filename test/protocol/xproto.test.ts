import t from 'tap';
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { decodeXProto, encodeXProto, findXProtoValue, openXProto } from '../../src/protocol/xproto.js';
import { C2S_Transition } from '../../src/protocol/messages.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { syntheticVector as sv } from '../crypto/helpers.js';

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

t.test('X-Proto is base64(iv || GCM(K[0:16], iv, ClientToStation)) with the vector IV', async (t) => {
  const key = hexToBytes(sv.tag_key_material).subarray(0, 16);
  const value = encodeXProto(key, hexToBytes(sv.client_to_station), { random: () => hexToBytes(sv.x_proto_iv) });
  t.equal(value, sv.x_proto_base64);
  t.equal(bytesToHex(openXProto(value, key)), sv.client_to_station);
  const m = decodeXProto(` ${value} `, key);
  t.equal(m.covertAddress, 'example.com:443');
});

t.test('every encoding uses a fresh nonce and round trips', async (t) => {
  const key = randomBytes(16);
  const msg = { decoyListGeneration: 5, stateTransition: C2S_Transition.C2S_SESSION_INIT };
  const a = encodeXProto(key, msg);
  const b = encodeXProto(key, msg);
  t.not(a, b);
  t.not(Buffer.from(a, 'base64').subarray(0, 12).toString('hex'), Buffer.from(b, 'base64').subarray(0, 12).toString('hex'));
  t.equal(decodeXProto(a, key).decoyListGeneration, 5);
  t.equal(decodeXProto(b, key).stateTransition, C2S_Transition.C2S_SESSION_INIT);
});

t.test('bad base64, short values, wrong keys and tampering give ERR_PROTO_XPROTO', async (t) => {
  const key = randomBytes(16);
  const good = encodeXProto(key, { decoyListGeneration: 1 });
  for (const bad of ['', 'not base64!', good.slice(0, -1), 'AAAA', Buffer.alloc(27).toString('base64')]) {
    t.throws(() => openXProto(bad, key), { code: 'ERR_PROTO_XPROTO' }, JSON.stringify(bad.slice(0, 10)));
  }
  t.throws(() => openXProto(good, randomBytes(16)), ProtocolError);
  const raw = Buffer.from(good, 'base64');
  raw[20]! ^= 1;
  t.throws(() => openXProto(raw.toString('base64'), key), { code: 'ERR_PROTO_XPROTO' });
});

t.test('the header value is found between "\\r\\nX-Proto: " and the next CRLF', async (t) => {
  t.equal(findXProtoValue(latin1('GET / HTTP/1.1\r\nHost: a\r\nX-Proto: QUJD\r\nX-Ignore: ###')), 'QUJD');
  t.equal(findXProtoValue(latin1('GET / HTTP/1.1\r\nX-Proto: QUJD')), null, 'no CRLF after it');
  t.equal(findXProtoValue(latin1('GET / HTTP/1.1\r\nx-proto: QUJD\r\n')), null, 'case-sensitive, as the station');
  t.equal(findXProtoValue(latin1('X-Proto: QUJD\r\n')), null, 'must follow a line end');
  t.equal(findXProtoValue(new Uint8Array(0)), null);
});

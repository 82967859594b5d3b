import t from 'tap';
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import {
  bytesToIpv6,
  C2S_Transition,
  ClientToStationSchema,
  decodeClientConf,
  decodeClientToStation,
  decodeStationToClient,
  encodeClientConf,
  encodeClientToStation,
  encodeStationToClient,
  ErrorReasonS2C,
  fixed32ToIpv4,
  ipv4ToFixed32,
  ipv6ToBytes,
  KeyType,
  messageToJson,
  S2C_Transition,
} from '../../src/protocol/messages.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { isFieldSet } from '@bufbuild/protobuf';

// A minimal protobuf writer independent of @bufbuild/protobuf, to check field numbers and types
// against the public signalling.proto (reference §3.1).
function varint(n: bigint | number): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const vint = (field: number, n: bigint | number) => [...varint(field << 3), ...varint(n)];
const bytes = (field: number, b: number[] | Uint8Array) => [...varint((field << 3) | 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...Buffer.from(s, 'utf8')]);
const fixed32 = (field: number, n: number) => [...varint((field << 3) | 5), n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

t.test('ClientToStation fields have the public field numbers and wire types', async (t) => {
  const wire = Uint8Array.from([
    ...vint(1, 1),
    ...vint(2, 1165),
    ...vint(3, 11),
    ...vint(4, 2n ** 40n),
    ...str(10, 'decoy.example 192.0.2.1:443'),
    ...str(10, 'other.example 192.0.2.2:443'),
    ...bytes(11, [...vint(20, 2), ...vint(31, 1500), ...vint(33, 80), ...vint(38, 300), ...vint(39, 100)]),
    ...str(20, 'example.com:443'),
    ...bytes(100, [0x23, 0x23, 0x23]),
  ]);
  const m = decodeClientToStation(wire);
  t.equal(m.protocolVersion, 1);
  t.equal(m.decoyListGeneration, 1165);
  t.equal(m.stateTransition, C2S_Transition.C2S_SESSION_COVERT_INIT);
  t.equal(m.uploadSync, 2n ** 40n);
  t.same(m.failedDecoys, ['decoy.example 192.0.2.1:443', 'other.example 192.0.2.2:443']);
  t.equal(m.stats?.failedDecoysAmount, 2);
  t.equal(m.stats?.totalTimeToConnect, 1500);
  t.equal(m.stats?.rttToStation, 80);
  t.equal(m.stats?.tlsToDecoy, 300);
  t.equal(m.stats?.tcpToDecoy, 100);
  t.equal(m.covertAddress, 'example.com:443');
  t.same(m.padding, Uint8Array.of(0x23, 0x23, 0x23));
  t.equal(bytesToHex(encodeClientToStation(m)), bytesToHex(wire), 're-encodes byte for byte');
});

t.test('StationToClient fields have the public numbers, including a nested ClientConf', async (t) => {
  const conf = [...bytes(1, bytes(1, [...str(1, 'decoy.example'), ...fixed32(2, 0xc0000201)])), ...vint(2, 7)];
  const wire = Uint8Array.from([
    ...vint(1, 1),
    ...vint(2, 255),
    ...bytes(3, conf),
    ...vint(4, 5),
    ...vint(5, 30),
    ...str(6, 'station-1'),
    ...bytes(100, [0, 1, 2]),
  ]);
  const m = decodeStationToClient(wire);
  t.equal(m.protocolVersion, 1);
  t.equal(m.stateTransition, S2C_Transition.S2C_ERROR);
  t.equal(m.errReason, ErrorReasonS2C.DECOY_OVERLOAD);
  t.equal(m.tmpBackoff, 30);
  t.equal(m.stationId, 'station-1');
  t.equal(m.configInfo?.generation, 7);
  t.equal(m.configInfo?.decoyList?.tlsDecoys[0]?.hostname, 'decoy.example');
  t.equal(fixed32ToIpv4(m.configInfo!.decoyList!.tlsDecoys[0]!.ipv4addr), '192.0.2.1');
  t.equal(bytesToHex(encodeStationToClient(m)), bytesToHex(wire));
});

t.test('enum values match the public signalling.proto', async (t) => {
  t.same(
    [C2S_Transition.C2S_NO_CHANGE, C2S_Transition.C2S_SESSION_INIT, C2S_Transition.C2S_SESSION_COVERT_INIT,
      C2S_Transition.C2S_EXPECT_RECONNECT, C2S_Transition.C2S_SESSION_CLOSE, C2S_Transition.C2S_YIELD_UPLOAD,
      C2S_Transition.C2S_ACQUIRE_UPLOAD, C2S_Transition.C2S_EXPECT_UPLOADONLY_RECONN, C2S_Transition.C2S_ERROR],
    [0, 1, 11, 2, 3, 4, 5, 6, 255],
  );
  t.same(
    [S2C_Transition.S2C_NO_CHANGE, S2C_Transition.S2C_SESSION_INIT, S2C_Transition.S2C_SESSION_COVERT_INIT,
      S2C_Transition.S2C_CONFIRM_RECONNECT, S2C_Transition.S2C_SESSION_CLOSE, S2C_Transition.S2C_ERROR],
    [0, 1, 11, 2, 3, 255],
  );
  t.same(
    [ErrorReasonS2C.NO_ERROR, ErrorReasonS2C.COVERT_STREAM, ErrorReasonS2C.CLIENT_REPORTED, ErrorReasonS2C.CLIENT_PROTOCOL,
      ErrorReasonS2C.STATION_INTERNAL, ErrorReasonS2C.DECOY_OVERLOAD, ErrorReasonS2C.CLIENT_STREAM, ErrorReasonS2C.CLIENT_TIMEOUT],
    [0, 1, 2, 3, 4, 5, 100, 101],
  );
  t.same([KeyType.AES_GCM_128, KeyType.AES_GCM_256], [90, 91]);
});

t.test('unknown fields survive a decode/encode round trip', async (t) => {
  // Conjure's transport (12) and flags (24) are not in our schema; 999 is in nobody's.
  const wire = Uint8Array.from([...vint(2, 3), ...vint(12, 2), ...bytes(24, vint(4, 1)), ...vint(999, 5)]);
  const m = decodeClientToStation(wire);
  t.equal(m.decoyListGeneration, 3);
  // Unknown fields are written after the known ones, in the order read: here the original order.
  t.equal(bytesToHex(encodeClientToStation(m)), bytesToHex(wire));
});

t.test('an unknown enum value (proto2 closed enum) is kept as an unknown field, not misread', async (t) => {
  const wire = Uint8Array.from([...vint(2, 3), ...vint(3, 77)]);
  const m = decodeClientToStation(wire);
  t.equal(m.stateTransition, C2S_Transition.C2S_NO_CHANGE);
  t.notOk(isFieldSet(m, ClientToStationSchema.field.stateTransition));
  t.equal(bytesToHex(encodeClientToStation(m)), bytesToHex(wire));
});

t.test('truncated and garbage protobufs give ERR_PROTO_DECODE, never another error', async (t) => {
  const good = encodeClientToStation({
    decoyListGeneration: 1165,
    stateTransition: C2S_Transition.C2S_SESSION_COVERT_INIT,
    covertAddress: 'example.com:443',
    padding: new Uint8Array(50),
  });
  let decodeErrors = 0;
  for (let n = 1; n < good.length; n++) {
    try {
      decodeClientToStation(good.subarray(0, n));
    } catch (err) {
      t.ok(err instanceof ProtocolError, `prefix ${n}: typed error`);
      t.equal((err as ProtocolError).code, 'ERR_PROTO_DECODE');
      decodeErrors++;
    }
  }
  t.ok(decodeErrors > 0, `${decodeErrors} truncations were refused`);
  let garbageErrors = 0;
  for (let i = 0; i < 2000; i++) {
    try {
      decodeStationToClient(randomBytes(1 + (i % 64)));
      decodeClientConf(randomBytes(1 + (i % 64)));
    } catch (err) {
      if (!(err instanceof ProtocolError) || err.code !== 'ERR_PROTO_DECODE') t.fail(`untyped error: ${String(err)}`);
      garbageErrors++;
    }
  }
  t.ok(garbageErrors > 1000, `${garbageErrors} of 2000 garbage inputs refused, all typed`);
  t.throws(() => decodeClientToStation(hexToBytes('0a')), { code: 'ERR_PROTO_DECODE' });
  t.throws(() => decodeClientToStation(hexToBytes('a2010f')), { code: 'ERR_PROTO_DECODE' }, 'string runs past the end');
  t.throws(() => decodeClientToStation(hexToBytes('0f')), { code: 'ERR_PROTO_DECODE' }, 'wire type 7');
});

t.test('ipv4addr is the big-endian address as fixed32; ipv6addr is 16 bytes', async (t) => {
  t.equal(ipv4ToFixed32('192.122.190.104'), 0xc07abe68);
  t.equal(fixed32ToIpv4(0xc07abe68), '192.122.190.104');
  t.equal(fixed32ToIpv4(ipv4ToFixed32('255.255.255.255')), '255.255.255.255');
  t.equal(fixed32ToIpv4(0), '0.0.0.0');
  const conf = encodeClientConf({ decoyList: { tlsDecoys: [{ ipv4addr: ipv4ToFixed32('1.2.3.4') }] } });
  t.equal(bytesToHex(conf), '0a070a0515' + '04030201', 'the octets appear reversed on the wire');
  t.equal(bytesToHex(ipv6ToBytes('2001:db8::1')), '20010db8000000000000000000000001');
  t.equal(bytesToHex(ipv6ToBytes('::ffff:1.2.3.4')), '00000000000000000000ffff01020304');
  t.equal(bytesToHex(ipv6ToBytes('::')), '0'.repeat(32));
  t.equal(bytesToIpv6(hexToBytes('20010db8000000000000000000000001')), '2001:db8::1');
  t.equal(bytesToIpv6(hexToBytes('200148a8687f00010000000000000105')), '2001:48a8:687f:1::105');
  for (let i = 0; i < 200; i++) {
    const b = randomBytes(16);
    t.equal(bytesToHex(ipv6ToBytes(bytesToIpv6(b))), bytesToHex(b));
  }
  t.throws(() => ipv4ToFixed32('1.2.3'), InvalidArgumentError);
  t.throws(() => ipv6ToBytes('1.2.3.4'), InvalidArgumentError);
  t.throws(() => fixed32ToIpv4(2 ** 32), InvalidArgumentError);
  t.throws(() => bytesToIpv6(new Uint8Array(4)), InvalidArgumentError);
});

t.test('messageToJson names enums and leaves unset fields out', async (t) => {
  const m = decodeClientToStation(encodeClientToStation({ stateTransition: C2S_Transition.C2S_SESSION_INIT }));
  t.same(messageToJson(ClientToStationSchema, m), { stateTransition: 'C2S_SESSION_INIT' });
});

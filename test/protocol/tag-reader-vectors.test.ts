import t from 'tap';
import { createHash } from 'node:crypto';
import { bytesToHex, hexToBytes } from '../../src/crypto/bytes.js';
import { tagKeyFromMaterial } from '../../src/crypto/tag.js';
import {
  extractTag,
  LEGACY_TAG_LAYOUT,
  readTag,
  readTaggedRecord,
} from '../../src/protocol/tag-reader.js';
import { buildTaggedRequest } from '../../src/protocol/tagged-request.js';
import { encodeXProto } from '../../src/protocol/xproto.js';
import { C2S_Transition, encodeClientToStation } from '../../src/protocol/messages.js';
import { createSessionFromSecrets } from '../../src/tls/record-layer.js';
import { publicVectors, syntheticVector as sv } from '../crypto/helpers.js';

// Reference §7.2 synthetic vector (test/vectors/tapdance-synthetic.json).
t.test('the station reads the synthetic record: tag payload, plaintext and X-Proto', async (t) => {
  const record = hexToBytes(sv.record);
  t.equal(createHash('sha256').update(record).digest('hex'), sv.record_sha256);
  t.equal(bytesToHex(extractTag(record)!), sv.tag, 'the stego bytes decode to the tag');
  const found = readTaggedRecord(record, [hexToBytes(sv.station_secret_key)]);
  t.ok(found);
  t.equal(bytesToHex(found!.tag.rawPayload), sv.payload);
  t.equal(found!.tag.payload.cipherSuite, 0xc02f);
  t.equal(found!.plaintext?.length, sv.request_length);
  const text = Buffer.from(found!.plaintext!).toString('latin1');
  t.ok(text.startsWith(`GET / HTTP/1.1\r\nHost: ${sv.host}\r\nUser-Agent: TapDance/1.2 (+https://refraction.network/info)\r\n`));
  t.equal(found!.xProto?.value, sv.x_proto_base64);
  t.equal(bytesToHex(found!.xProto!.bytes), sv.client_to_station);
  const m = found!.xProto!.message;
  t.equal(m.decoyListGeneration, 1165);
  t.equal(m.stateTransition, C2S_Transition.C2S_SESSION_COVERT_INIT);
  t.equal(m.covertAddress, 'example.com:443');
  t.equal(found!.session?.read.sequence, 2n, 'the tagged record consumed read sequence 1');
  t.equal(found!.session?.write.sequence, 1n);
});

t.test('the client-side functions rebuild the synthetic record byte for byte', async (t) => {
  const c2s = encodeClientToStation({
    decoyListGeneration: 1165,
    stateTransition: C2S_Transition.C2S_SESSION_COVERT_INIT,
    covertAddress: 'example.com:443',
  });
  t.equal(bytesToHex(c2s), sv.client_to_station);
  const key = tagKeyFromMaterial(hexToBytes(sv.tag_key_material));
  const xProto = encodeXProto(key.aesKey, c2s, { random: () => hexToBytes(sv.x_proto_iv) });
  t.equal(xProto, sv.x_proto_base64);
  const client = createSessionFromSecrets({
    suite: 0xc02f,
    masterSecret: hexToBytes(sv.master_secret),
    clientRandom: hexToBytes(sv.client_random),
    serverRandom: hexToBytes(sv.server_random),
    role: 'client',
  });
  const plaintext = buildTaggedRequest({
    host: sv.host,
    xProto,
    tag: hexToBytes(sv.tag),
    keystream: (n) => client.write.keystream(n),
    paddingLength: sv.padding_length,
  });
  t.equal(plaintext.length, sv.request_length);
  t.equal(plaintext.length - 240, sv.request_prefix_length);
  t.equal(bytesToHex(client.write.seal(23, plaintext)), sv.record);
});

// tapdance tapdance-rust-logic/src/elligator.rs elligator_extracts_telex_tag (via tapdance.json).
t.test('the same extractor reads the pre-2018 layout vector (186-byte tag, mask 0x7f)', async (t) => {
  const v = publicVectors.station_full_chain_legacy_layout;
  const record = hexToBytes(v.record);
  t.equal(readTag(record, [hexToBytes(v.station_secret_key)]), null, 'the current layout finds nothing');
  const found = readTag(record, [hexToBytes(v.station_secret_key)], { layout: LEGACY_TAG_LAYOUT });
  t.ok(found);
  t.equal(found!.rawPayload.length, 138);
  t.equal(bytesToHex(found!.rawPayload.subarray(0, 2)), '0088', 'a 2-byte length, 136');
  t.equal(bytesToHex(found!.rawPayload.subarray(2)), v.expected_payload);
  t.equal(Buffer.from(found!.rawPayload.subarray(2, 10)).toString('latin1'), 'SPTELEX0');
  t.equal(found!.payload, null, 'not the 132-byte payload layout');
});

t.test('records that are not exactly one application-data record are skipped', async (t) => {
  const record = hexToBytes(sv.record);
  const keys = [hexToBytes(sv.station_secret_key)];
  t.ok(readTag(record, keys));
  const handshake = record.slice();
  handshake[0] = 0x16;
  t.equal(readTag(handshake, keys), null, 'wrong content type');
  t.equal(readTag(record.subarray(0, record.length - 1), keys), null, 'truncated');
  const two = new Uint8Array(record.length + 10);
  two.set(record);
  t.equal(readTag(two, keys), null, 'trailing bytes after the record');
  t.equal(readTag(record.subarray(0, 4), keys), null);
  t.equal(readTag(new Uint8Array(0), keys), null);
  const tiny = Uint8Array.from([0x17, 3, 3, 0, 10, ...new Uint8Array(10)]);
  t.equal(readTag(tiny, keys), null, 'too short to carry a tag');
});

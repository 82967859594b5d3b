/**
 * The TLS 1.3 tag variant (and the TLS 1.2 key-block variant) without a network: packing of the
 * secrets and sequence numbers, the fit of the tag to the encrypted content type, the HTTP/1.1
 * and HTTP/2 requests over a real TLS 1.3 record layer, and the station side reading them back
 * (tag, session both ways, X-Proto).
 */
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import {
  decodeTagPayload, decodeTls12Keys, decodeTls13Secrets, encodeTagPayload, encodeTls12Keys, encodeTls13Secrets, fitTag13, openTag,
  sealTag, tagPayloadVariant, TAG_VARIANT_TLS12_KEYS, TAG_VARIANT_TLS13, type Tls13TagSecrets,
} from '../../src/crypto/tag.js';
import { RecordProtection } from '../../src/tls/record-layer.js';
import { TlsError } from '../../src/tls/errors.js';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { CryptoError } from '../../src/crypto/errors.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { stegoDecode } from '../../src/crypto/stego.js';
import { buildTaggedRequest, embedTag } from '../../src/protocol/tagged-request.js';
import { buildH2TaggedRequest, CHROME_H2_PREFACE, findH2XProtoValue, H2FrameReader, hpackInteger } from '../../src/protocol/h2-request.js';
import { continueTaggedSession, readTaggedRecord } from '../../src/protocol/tag-reader.js';
import { encodeXProto } from '../../src/protocol/xproto.js';
import { C2S_Transition } from '../../src/protocol/messages.js';
import { Tls13RecordProtection } from '../../src/tls/record-layer13.js';

const station = generateStationKeyPair();

function secrets(suite: number, clientSequence = 0, serverSequence = 2): Tls13TagSecrets {
  const h = suite === 0x1302 ? 48 : 32;
  return { suite, clientSecret: randomBytes(h), serverSecret: randomBytes(h), clientSequence, serverSequence };
}

/** A client's TLS 1.3 tagged record, as `flow.ts` builds it; `h2` selects the HEADERS request. */
function taggedRecord13(s: Tls13TagSecrets, h2: boolean, covertAddress = '10.0.0.1:80', sealAt = s.clientSequence) {
  const client = new Tls13RecordProtection({ suite: s.suite, secret: s.clientSecret, seq: BigInt(sealAt) });
  const connectionId = randomBytes(16);
  const payload = encodeTagPayload({ flags: 1, variant: TAG_VARIANT_TLS13, cipherSuite: s.suite, ...encodeTls13Secrets(s), connectionId });
  const sealed = sealTag(station.publicKey, payload);
  const common = {
    host: 'decoy.test',
    xProto: encodeXProto(sealed.key.aesKey, { decoyListGeneration: 3, stateTransition: C2S_Transition.C2S_SESSION_COVERT_INIT, covertAddress }),
    tag: (six: number) => fitTag13(sealed.tag, sealed.key, payload, six).tag,
    keystream: (n: number) => client.keystream(n),
    innerContentType: 23,
  };
  const content = h2 ? buildH2TaggedRequest(common).headers : buildTaggedRequest(common);
  return { record: client.seal(23, content), content, connectionId, client };
}

t.test('TLS 1.3 secrets pack into the TLS 1.2 fields and back, for every suite', async (t) => {
  for (const suite of [0x1301, 0x1302, 0x1303]) {
    const s = secrets(suite, 7, 123456);
    const packed = encodeTls13Secrets(s);
    t.same([packed.masterSecret.length, packed.serverRandom.length, packed.clientRandom.length], [48, 32, 32]);
    const back = decodeTls13Secrets({ cipherSuite: suite, ...packed });
    t.same(back.clientSecret, s.clientSecret);
    t.same(back.serverSecret, s.serverSecret);
    t.same([back.clientSequence, back.serverSequence], [7, 123456]);
    const raw = encodeTagPayload({ flags: 1, variant: TAG_VARIANT_TLS13, cipherSuite: suite, ...packed, connectionId: new Uint8Array(16) });
    t.equal(tagPayloadVariant(raw), 0x13, 'byte 1 carries the variant');
    t.same(decodeTls13Secrets(decodeTagPayload(raw)).serverSecret, s.serverSecret, 'and the decoded fields unpack');
  }
  const s = secrets(0x1301);
  const packed = encodeTls13Secrets(s);
  packed.masterSecret[40] = 1; // inside the zero fill after a 32-byte secret
  t.throws(() => decodeTls13Secrets({ cipherSuite: 0x1301, ...packed }), CryptoError);
  t.throws(() => decodeTls13Secrets({ cipherSuite: 0xc02f, ...encodeTls13Secrets(s) }), CryptoError, 'not a TLS 1.3 suite');
  t.throws(() => encodeTls13Secrets({ ...s, clientSecret: randomBytes(48) }), InvalidArgumentError);
  t.throws(() => encodeTls13Secrets({ ...s, serverSequence: 2 ** 32 }), InvalidArgumentError);
  t.equal(tagPayloadVariant(encodeTagPayload({ flags: 1, cipherSuite: 0xc02f, masterSecret: new Uint8Array(48), serverRandom: new Uint8Array(32),
    clientRandom: new Uint8Array(32), connectionId: new Uint8Array(16) })), 0, 'TLS 1.2 payloads keep byte 1 at zero');
});

t.test('fitTag13 gives a tag ending in the wanted bits that still opens to the payload', async (t) => {
  const payload = encodeTagPayload({ flags: 1, variant: TAG_VARIANT_TLS13, cipherSuite: 0x1301, ...encodeTls13Secrets(secrets(0x1301)), connectionId: randomBytes(16) });
  const sealed = sealTag(station.publicKey, payload);
  for (let six = 0; six < 64; six++) {
    const fit = fitTag13(sealed.tag, sealed.key, payload, six);
    t.equal(fit.tag[179]! & 0x3f, six);
    t.same(fit.tag.subarray(0, 32), sealed.tag.subarray(0, 32), 'same representative');
    t.same(openTag(fit.tag, [station.secretKey])!.payload, fit.payload, 'the station opens the fitted tag');
    t.same(fit.payload.subarray(0, 108), payload.subarray(0, 108), 'only the fit bytes change');
    t.same(fit.payload.subarray(116), payload.subarray(116));
  }
  t.throws(() => fitTag13(sealed.tag, sealed.key, encodeTagPayload({ ...decodeTagPayload(payload), variant: 0 }), 1), InvalidArgumentError);
  t.throws(() => fitTag13(sealed.tag, sealed.key, payload, 64), InvalidArgumentError);
});

t.test('a TLS 1.3 tagged request: the tag ends 16 bytes before the record end, encrypted content type included', async (t) => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(0x1301, 0x1302, 0x1303), fc.boolean(), fc.nat(5), async (suite, h2, clientSeq) => {
    const s = secrets(suite, clientSeq, 3);
    const { record, content } = taggedRecord13(s, h2);
    // The station reads the 240 bytes before the AEAD tag: 239 stego bytes and the content type.
    const tag = stegoDecode(record.subarray(record.length - 256, record.length - 16));
    const opened = openTag(tag, [station.secretKey]);
    if (opened === null) return false;
    const found = readTaggedRecord(record, [station.secretKey]);
    if (found === null || found.session === null) return false;
    t.same(found.plaintext, content);
    t.equal(tagPayloadVariant(found.tag.rawPayload), 0x13);
    t.equal(found.xProto?.message.covertAddress, '10.0.0.1:80', 'X-Proto found (HTTP/1.1 line or HPACK field)');
    // HTTP/1.1 stego bytes are the public client's 40..7f; HTTP/2 ones avoid DEL (7f → '?').
    return content.subarray(content.length - 239).every((b) => (h2 ? b >= 0x3f && b <= 0x7e : b >= 0x40 && b <= 0x7f));
  }), { numRuns: 40 });
});

t.test('the station continues the TLS 1.3 session at the tagged sequence numbers, both ways', async (t) => {
  const s = secrets(0x1302, 1, 5);
  const { record, client } = taggedRecord13(s, true);
  const found = readTaggedRecord(record, [station.secretKey])!;
  const { session } = continueTaggedSession(found.tag.payload, record);
  t.same(session.read.open(client.seal(23, Buffer.from('next'))).plaintext, Buffer.from('next'), 'reads the client\'s next record');
  const reader = new Tls13RecordProtection({ suite: s.suite, secret: s.serverSecret, seq: 5n });
  t.same(reader.open(session.write.seal(23, Buffer.from('reply'))).plaintext, Buffer.from('reply'), 'writes at the server\'s record 5');
  const early = readTaggedRecord(taggedRecord13(s, false, '10.0.0.1:80', 2).record, [station.secretKey]);
  t.ok(early !== null && early.session === null, 'a record sealed at another sequence number than the tag says gives no session');
  const tampered = Buffer.from(record);
  tampered[10]! ^= 1;
  t.equal(readTaggedRecord(tampered, [station.secretKey])?.session ?? null, null, 'a record that does not decrypt gives no session');
});

t.test('a TLS 1.3 tag that does not fit the content type is refused by the request builder', async (t) => {
  const s = secrets(0x1301);
  const client = new Tls13RecordProtection({ suite: s.suite, secret: s.clientSecret });
  const ks = client.keystream(300);
  const six = (23 ^ ks[299]!) & 0x3f; // for a 60-byte prefix: 60 + 239 content bytes, content type at 299
  const tag = randomBytes(180);
  tag[179] = (tag[179]! & 0xc0) | (six ^ 1);
  t.throws(() => embedTag(new Uint8Array(60), { tag, keystream: (n) => client.keystream(n), innerContentType: 23 }), InvalidArgumentError);
  tag[179] = (tag[179]! & 0xc0) | six;
  t.equal(embedTag(new Uint8Array(60), { tag, keystream: (n) => client.keystream(n), innerContentType: 23 }).length, 299);
  t.throws(() => embedTag(new Uint8Array(60), { tag: () => tag, keystream: (n) => client.keystream(n) }), InvalidArgumentError, 'a function needs TLS 1.3');
});

t.test('the HTTP/2 request: Chrome\'s preface record, then a HEADERS frame that ends at the record end', async (t) => {
  t.equal(CHROME_H2_PREFACE.length, 70);
  const frames = new H2FrameReader().push(CHROME_H2_PREFACE.subarray(24));
  t.same(frames.map((f) => [f.type, f.flags, f.stream, f.payload.length]), [[4, 0, 0, 24], [8, 0, 0, 4]]);
  const s = secrets(0x1301);
  const { content } = taggedRecord13(s, true);
  const [headers] = new H2FrameReader(1 << 20).push(content);
  t.ok(headers !== undefined, 'one whole frame');
  t.equal(9 + headers!.payload.length, content.length, 'the frame is the whole record content');
  t.same([headers!.type, headers!.flags, headers!.stream], [1, 0x21, 1], 'HEADERS, END_STREAM | PRIORITY, no END_HEADERS, stream 1');
  t.same([...headers!.payload.subarray(0, 5)], [0x80, 0, 0, 0, 255], 'exclusive dependency on 0, weight 256');
  t.same([...headers!.payload.subarray(5, 6)], [0x82], ':method GET first');
  t.same(hpackInteger(10, 7), [10]);
  t.same(hpackInteger(1337, 5), [31, 154, 10], 'RFC 7541 C.1.2');
  t.equal(findH2XProtoValue(Buffer.from('no field here')), null);
  t.equal(findH2XProtoValue(Buffer.from([0x10, 0x07, ...Buffer.from('x-proto'), 0x85, 1, 2])), null, 'Huffman values are not ours');
  t.equal(findH2XProtoValue(Buffer.from([0x10, 0x07, ...Buffer.from('x-proto'), 50, 0x41])), null, 'a length past the end');
});

t.test('the TLS 1.2 key-block variant (0x12) continues a session at its sequence numbers, with or without the variant byte', async (t) => {
  for (const [suite, keyLength, ivLength] of [[0xc02f, 16, 4], [0xc030, 32, 4], [0xcca8, 32, 12]] as const) {
    const k = { suite, clientKey: randomBytes(keyLength), serverKey: randomBytes(keyLength), clientIv: randomBytes(ivLength), serverIv: randomBytes(ivLength), clientSequence: 2, serverSequence: 3 };
    const packed = encodeTls12Keys(k);
    t.same(decodeTls12Keys({ cipherSuite: suite, ...packed }, keyLength, ivLength), k);
    const client = new RecordProtection({ suite, key: k.clientKey, iv: k.clientIv, seq: 2n });
    const payload = encodeTagPayload({ flags: 1, variant: TAG_VARIANT_TLS12_KEYS, cipherSuite: suite, ...packed, connectionId: randomBytes(16) });
    const sealed = sealTag(station.publicKey, payload);
    const { headers } = buildH2TaggedRequest({ host: 'decoy.test', tag: sealed.tag, keystream: (n) => client.keystream(n) });
    const record = client.seal(23, headers);
    const found = readTaggedRecord(record, [station.secretKey]);
    t.ok(found?.session, `0x${suite.toString(16)}: the station reads the variant byte and continues`);
    // Without the variant (what a FlowTls given only the fields sees): 0x00 fails, 0x12 opens.
    const { session } = continueTaggedSession(decodeTagPayload(payload), record);
    const server = new RecordProtection({ suite, key: k.serverKey, iv: k.serverIv, seq: 3n });
    t.same(server.open(session.write.seal(23, Buffer.from('x'))).plaintext, Buffer.from('x'), 'writes from the server sequence number');
    t.throws(() => continueTaggedSession({ ...decodeTagPayload(payload), variant: 0 }, record), TlsError, 'read as variant 0x00 it does not open');
  }
  t.throws(() => encodeTls12Keys({ suite: 0xc02f, clientKey: randomBytes(33), serverKey: randomBytes(16), clientIv: randomBytes(4), serverIv: randomBytes(4), clientSequence: 0, serverSequence: 0 }), InvalidArgumentError);
});

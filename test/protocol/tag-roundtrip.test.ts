import t from 'tap';
import { randomBytes, randomInt } from 'node:crypto';
import { bytesToHex } from '../../src/crypto/bytes.js';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { encodeTagPayload, sealTag, type TagPayload } from '../../src/crypto/tag.js';
import { readTaggedRecord } from '../../src/protocol/tag-reader.js';
import { buildTaggedRequest } from '../../src/protocol/tagged-request.js';
import { encodeXProto } from '../../src/protocol/xproto.js';
import { C2S_Transition, encodeClientToStation } from '../../src/protocol/messages.js';
import { deriveKeyBlock } from '../../src/tls/tls12-keys.js';
import { gcmKeystream, sealGcmRecord } from './tls-helpers.js';

const SUITES = [0xc02f, 0xc02b, 0x009c, 0xc030, 0xc02c] as const;
const TRANSITIONS = [C2S_Transition.C2S_SESSION_INIT, C2S_Transition.C2S_SESSION_COVERT_INIT] as const;

t.test('1,000 random client-built tagged records decode on the station to the same payload and ClientToStation', async (t) => {
  const stations = [generateStationKeyPair(), generateStationKeyPair(), generateStationKeyPair()];
  const secrets = stations.map((s) => s.secretKey);
  let mismatches = 0;
  for (let i = 0; i < 1000; i++) {
    const which = randomInt(stations.length);
    const payload: TagPayload = {
      flags: [0x01, 0x03, 0x81][i % 3]!,
      cipherSuite: SUITES[i % SUITES.length]!,
      masterSecret: randomBytes(48),
      serverRandom: randomBytes(32),
      clientRandom: randomBytes(32),
      connectionId: randomBytes(16),
    };
    const c2s = encodeClientToStation({
      decoyListGeneration: randomInt(1, 2 ** 31),
      stateTransition: TRANSITIONS[i % 2]!,
      ...(i % 2 === 1 ? { covertAddress: `host${i}.example:${randomInt(1, 65536)}` } : {}),
    });
    const { tag, key } = sealTag(stations[which]!.publicKey, encodeTagPayload(payload), {
      topBitsMask: i % 4 === 0 ? 0x80 : 0xc0,
    });
    // Encrypt as the TLS layer would: keys from the master secret, sequence number 1.
    const kb = deriveKeyBlock(payload.cipherSuite, payload.masterSecret, payload.clientRandom, payload.serverRandom);
    const keys = { key: kb.clientWriteKey, iv: kb.clientWriteIv };
    const request = buildTaggedRequest({
      host: `decoy${i}.example.org`,
      xProto: encodeXProto(key.aesKey, c2s),
      tag,
      keystream: (n) => gcmKeystream(keys, 1n, n),
    });
    const record = sealGcmRecord(keys, 1n, request);

    const found = readTaggedRecord(record, secrets);
    const ok =
      found !== null &&
      found.tag.keyIndex === which &&
      bytesToHex(encodeTagPayload(found.tag.payload)) === bytesToHex(encodeTagPayload(payload)) &&
      found.plaintext !== null &&
      bytesToHex(found.plaintext) === bytesToHex(request) &&
      found.xProto !== null &&
      bytesToHex(found.xProto.bytes) === bytesToHex(c2s);
    if (!ok) {
      mismatches++;
      t.fail(`session ${i} did not round trip`, { suite: payload.cipherSuite, found: found !== null });
    }
  }
  t.equal(mismatches, 0, 'all 1,000 sessions round trip');
});

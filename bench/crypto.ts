/**
 * Benchmark of the crypto and protocol layers (`node dist/bench/crypto.js`). Everything is
 * measured in the same run, and comparisons are printed as ratios against a baseline from that
 * run, so numbers from different machines are not mixed:
 *
 * - tagged requests built per second (client side: fresh tagging key, sealed tag, X-Proto,
 *   request with stego, sealed record);
 * - TypeScript tag decodes per second (station side: `readTag` on a tagged record, the full
 *   `readTaggedRecord`, and rejections of untagged records, the station's common case);
 * - AES-GCM with node:crypto vs @noble/ciphers (the measurement behind `src/crypto/aead.ts`), and
 *   X25519 with node:crypto vs @noble/curves (behind `src/crypto/x25519.ts`).
 *
 * `BENCH_SECONDS` (default 1) sets the time per measurement. `run()` returns the figures for an
 * aggregating runner.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { gcm } from '@noble/ciphers/aes.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { aesGcmSeal } from '../src/crypto/aead.js';
import { generateStationKeyPair } from '../src/crypto/keys.js';
import { encodeTagPayload, sealTag } from '../src/crypto/tag.js';
import { x25519 } from '../src/crypto/x25519.js';
import { C2S_Transition, encodeClientToStation } from '../src/protocol/messages.js';
import { readTag, readTaggedRecord } from '../src/protocol/tag-reader.js';
import { buildTaggedRequest } from '../src/protocol/tagged-request.js';
import { encodeXProto } from '../src/protocol/xproto.js';
import { createSessionFromSecrets } from '../src/tls/record-layer.js';

/** Operations per second of `fn`, measured for about `seconds` after a short warm-up. */
function opsPerSecond(fn: () => void, seconds: number): number {
  for (let i = 0; i < 20; i++) fn();
  const budget = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let n = 0;
  let elapsed = 0n;
  do {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return n / (Number(elapsed) / 1e9);
}

function session() {
  const payload = {
    flags: 1,
    cipherSuite: 0xc02f,
    masterSecret: randomBytes(48),
    serverRandom: randomBytes(32),
    clientRandom: randomBytes(32),
    connectionId: randomBytes(16),
  };
  const tls = createSessionFromSecrets({ ...payload, suite: payload.cipherSuite, role: 'client' });
  return { payload: encodeTagPayload(payload), tls };
}

const C2S = encodeClientToStation({
  decoyListGeneration: 1165,
  stateTransition: C2S_Transition.C2S_SESSION_COVERT_INIT,
  covertAddress: 'example.com:443',
});

/** One tagged record as the client builds it. */
function buildTaggedRecord(stationPublicKey: Uint8Array): Uint8Array {
  const { payload, tls } = session();
  const { tag, key } = sealTag(stationPublicKey, payload);
  const plaintext = buildTaggedRequest({
    host: 'decoy.example.org',
    xProto: encodeXProto(key.aesKey, C2S),
    tag,
    keystream: (n) => tls.write.keystream(n),
  });
  return tls.write.seal(23, plaintext);
}

/** The figures of one run. */
export interface CryptoBenchResult {
  taggedRequestsPerSecond: number;
  tagDecodesPerSecond: number;
  fullRecordChecksPerSecond: number;
  untaggedRejectsPerSecond: number;
  aesGcm: { size: number; nodePerSecond: number; noblePerSecond: number; ratio: number }[];
  x25519: { nodePerSecond: number; noblePerSecond: number; ratio: number };
}

/**
 * Run all measurements and print them.
 *
 * @param seconds - time per measurement
 * @param print - line sink (default console.log)
 * @returns the figures
 */
export function run(seconds = Number(process.env.BENCH_SECONDS ?? 1), print: (line: string) => void = console.log): CryptoBenchResult {
  const station = generateStationKeyPair();
  const keys = [station.secretKey];
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

  print(`# crypto bench (node ${process.version}, ${seconds}s per figure)`);
  const taggedRequestsPerSecond = opsPerSecond(() => buildTaggedRecord(station.publicKey), seconds);
  print(`tagged requests built:        ${fmt(taggedRequestsPerSecond)} /s (key, tag, X-Proto, stego, record)`);

  const records = Array.from({ length: 64 }, () => buildTaggedRecord(station.publicKey));
  let i = 0;
  const tagDecodesPerSecond = opsPerSecond(() => {
    if (readTag(records[i++ % records.length]!, keys) === null) throw new Error('bench record has no tag');
  }, seconds);
  print(`TypeScript tag decodes:       ${fmt(tagDecodesPerSecond)} /s (readTag, 1 station key)`);
  const fullRecordChecksPerSecond = opsPerSecond(() => {
    if (readTaggedRecord(records[i++ % records.length]!, keys)?.xProto == null) throw new Error('bench record incomplete');
  }, seconds);
  print(`TypeScript full record check: ${fmt(fullRecordChecksPerSecond)} /s (tag, key block, seq-1 decrypt, X-Proto)`);
  const untagged = records.map((r) => {
    const u = Uint8Array.from(r);
    u.set(randomBytes(u.length - 5), 5);
    return u;
  });
  const untaggedRejectsPerSecond = opsPerSecond(() => {
    if (readTag(untagged[i++ % untagged.length]!, keys) !== null) throw new Error('false positive');
  }, seconds);
  print(`TypeScript untagged rejects:  ${fmt(untaggedRejectsPerSecond)} /s`);

  const key = randomBytes(16);
  const iv = randomBytes(12);
  const aesGcm = [132, 1024, 16384].map((size) => {
    const pt = randomBytes(size);
    const nodePerSecond = opsPerSecond(() => aesGcmSeal(key, iv, pt), seconds);
    const noblePerSecond = opsPerSecond(() => gcm(key, iv).encrypt(pt), seconds);
    const ratio = nodePerSecond / noblePerSecond;
    print(`AES-128-GCM seal ${String(size).padStart(5)} B:  node:crypto ${fmt(nodePerSecond)} /s, @noble/ciphers ${fmt(noblePerSecond)} /s, ratio node/noble ${ratio.toFixed(2)}`);
    return { size, nodePerSecond, noblePerSecond, ratio };
  });

  const peer = generateStationKeyPair().publicKey;
  const nodeX = opsPerSecond(() => x25519(station.secretKey, peer), seconds);
  const nobleX = opsPerSecond(() => nobleX25519.getSharedSecret(station.secretKey, peer), seconds);
  print(`X25519 agreement:             node:crypto ${fmt(nodeX)} /s, @noble/curves ${fmt(nobleX)} /s, ratio node/noble ${(nodeX / nobleX).toFixed(2)}`);

  return {
    taggedRequestsPerSecond,
    tagDecodesPerSecond,
    fullRecordChecksPerSecond,
    untaggedRejectsPerSecond,
    aesGcm,
    x25519: { nodePerSecond: nodeX, noblePerSecond: nobleX, ratio: nodeX / nobleX },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) run();

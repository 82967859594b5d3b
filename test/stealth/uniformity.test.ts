/**
 * Statistical checks of what a censor sees (issue 8, item 4), on 10,000 tagged records of each
 * kind built by the client's own code (TLS 1.3 HTTP/1.1, TLS 1.3 HTTP/2, TLS 1.2) next to 10,000
 * untagged records of the same shape:
 *
 * - the 240 ciphertext bytes where the tag hides are uniform (pooled chi-squared, and per
 *   position) and distributed like the same bytes of untagged records (homogeneity);
 * - the 256 bits of the representative the station reads from them are each set half the time;
 * - the request lengths follow the documented distribution (SPEC.md §11, §19).
 *
 * The same checks are fed deliberately biased encoders and must fail, so they can fail. Every
 * random value comes from a seeded generator: the run is reproducible.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { encodeTagPayload, encodeTls13Secrets, fitTag13, sealTag, TAG_VARIANT_TLS13 } from '../../src/crypto/tag.js';
import { generateStationKeyPair } from '../../src/crypto/keys.js';
import { stegoDecode } from '../../src/crypto/stego.js';
import { buildTaggedRequest, sharedHeaders, TAPDANCE_USER_AGENT } from '../../src/protocol/tagged-request.js';
import { buildH2TaggedRequest } from '../../src/protocol/h2-request.js';
import { encodeXProto } from '../../src/protocol/xproto.js';
import { X_IGNORE_PADDING_MIN, X_IGNORE_TARGET, type RandomInt } from '../../src/protocol/padding.js';
import { C2S_Transition } from '../../src/protocol/messages.js';
import { Tls13RecordProtection } from '../../src/tls/record-layer13.js';
import { RecordProtection } from '../../src/tls/record-layer.js';
import {
  bitFrequencies, byteCounts, byteUniformity, chiSquaredFit, homogeneity, meanOfUniformsDistribution,
} from './helpers/uniformity.js';

const N = 10_000;
/** Significance of each check: a correct encoder fails one with probability about this. */
const ALPHA = 1e-4;
/** |z| bound for 256 bit frequencies: P(any exceeds) ≈ 256 × 5.7e-7. */
const MAX_BIT_Z = 5;

/** A seeded SHA-256 counter generator: random bytes and unbiased integers. */
function seeded(seed: string): { bytes: (n: number) => Uint8Array; int: RandomInt } {
  let counter = 0;
  let pool = Buffer.alloc(0);
  const bytes = (n: number): Uint8Array => {
    while (pool.length < n) pool = Buffer.concat([pool, createHash('sha256').update(`${seed}:${counter++}`).digest()]);
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return new Uint8Array(out);
  };
  const int: RandomInt = (min, max) => {
    const range = max - min + 1;
    const limit = Math.floor(0x1_0000_0000 / range) * range;
    for (;;) {
      const v = Buffer.from(bytes(4)).readUInt32BE(0);
      if (v < limit) return min + (v % range);
    }
  };
  return { bytes, int };
}

const station = generateStationKeyPair(seeded('station').bytes);
const HOST = 'decoy.example.com';

/** What one tagged (or untagged) record shows: the stego window and the whole length. */
interface Sample {
  window: Uint8Array;
  recordLength: number;
}

type Kind = 'tls13-h1' | 'tls13-h2' | 'tls12-h1';

interface Options {
  tagged: boolean;
  /** Representative bits the client randomises (0xc0 normally; 0 is a biased client). */
  topBitsMask?: number;
  /** Replace the padding rule (a biased client). */
  paddingLength?: (random: RandomInt, sharedLength: number) => number;
}

/** Build `n` records of a kind with the client's code and a seeded generator. */
function records(kind: Kind, n: number, o: Options, seed: string = kind): Sample[] {
  const rng = seeded(`${seed}:${o.tagged}:${o.topBitsMask ?? 'c0'}:${o.paddingLength === undefined}`);
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const xProtoFor = (key: Uint8Array): string => encodeXProto(key, { decoyListGeneration: 1, stateTransition: C2S_Transition.C2S_SESSION_INIT });
    const connectionId = rng.bytes(16);
    let record: Buffer;
    if (kind === 'tls12-h1') {
      const w = new RecordProtection({ suite: 0xc02f, key: rng.bytes(16), iv: rng.bytes(4), seq: 1n });
      const { tag, key } = o.tagged ? sealTag(station.publicKey, encodeTagPayload({
        flags: 1, cipherSuite: 0xc02f, masterSecret: rng.bytes(48), serverRandom: rng.bytes(32), clientRandom: rng.bytes(32), connectionId,
      }), { random: rng.bytes, topBitsMask: o.topBitsMask ?? 0xc0 }) : fakeTag(rng);
      const xProto = xProtoFor(key.aesKey);
      const padding = o.paddingLength?.(rng.int, Buffer.byteLength(sharedHeaders(HOST, TAPDANCE_USER_AGENT, xProto)));
      const content = buildTaggedRequest({ host: HOST, xProto, tag, keystream: (k) => w.keystream(k), randomInt: rng.int, ...(padding === undefined ? {} : { paddingLength: padding }) });
      record = w.seal(23, o.tagged ? content : untag(content, 240));
    } else {
      const s = { suite: 0x1301, clientSecret: rng.bytes(32), serverSecret: rng.bytes(32), clientSequence: kind === 'tls13-h2' ? 1 : 0, serverSequence: 2 };
      const w = new Tls13RecordProtection({ suite: s.suite, secret: s.clientSecret, seq: BigInt(s.clientSequence) });
      const payload = encodeTagPayload({ flags: 1, variant: TAG_VARIANT_TLS13, cipherSuite: s.suite, ...encodeTls13Secrets(s), connectionId });
      const sealed = o.tagged ? sealTag(station.publicKey, payload, { random: rng.bytes, topBitsMask: o.topBitsMask ?? 0xc0 }) : fakeTag(rng);
      const xProto = xProtoFor(sealed.key.aesKey);
      const padding = o.paddingLength?.(rng.int, Buffer.byteLength(sharedHeaders(HOST, TAPDANCE_USER_AGENT, xProto)));
      const common = {
        host: HOST, xProto, innerContentType: 23, randomInt: rng.int, keystream: (k: number) => w.keystream(k),
        tag: (six: number) => (o.tagged ? fitTag13(sealed.tag, sealed.key, payload, six, rng.bytes).tag : fitAnything(sealed.tag, six)),
        ...(padding === undefined ? {} : { paddingLength: padding }),
      };
      const content = kind === 'tls13-h2' ? buildH2TaggedRequest(common).headers : buildTaggedRequest(common);
      record = w.seal(23, o.tagged ? content : untag(content, 239));
    }
    out.push({ window: record.subarray(record.length - 256, record.length - 16), recordLength: record.length });
  }
  return out;
}

/** Untagged records need no real tag (their stego bytes are replaced): skip the X25519 work. */
function fakeTag(rng: { bytes: (n: number) => Uint8Array }): { tag: Uint8Array; key: { aesKey: Uint8Array; iv: Uint8Array; material: Uint8Array } } {
  const material = rng.bytes(32);
  return { tag: rng.bytes(180), key: { material, aesKey: material.subarray(0, 16), iv: material.subarray(16, 28) } };
}

function fitAnything(tag: Uint8Array, six: number): Uint8Array {
  const t = tag.slice();
  t[179] = (t[179]! & 0xc0) | six;
  return t;
}

/** The same request with its stego bytes replaced by printable text: an ordinary record. */
function untag(content: Uint8Array, stego: number): Uint8Array {
  const c = Buffer.from(content);
  c.fill('#', c.length - stego);
  return c;
}

/** Every check on one set of tagged records against untagged ones; returns the failures. */
function verdict(tagged: readonly Sample[], untagged: readonly Sample[]): { failures: string[]; stats: Record<string, number> } {
  const failures: string[] = [];
  const pooled = byteUniformity(byteCounts(tagged.map((s) => s.window)));
  if (pooled.p < ALPHA) failures.push(`pooled window bytes not uniform (chi2 ${pooled.chi2.toFixed(1)}, p ${pooled.p.toExponential(2)})`);
  let minP = 1;
  for (let pos = 0; pos < 240; pos++) {
    const counts = new Array<number>(256).fill(0);
    for (const s of tagged) counts[s.window[pos]!]!++;
    minP = Math.min(minP, byteUniformity(counts).p);
  }
  if (minP < ALPHA / 240) failures.push(`some window position is not uniform (smallest p ${minP.toExponential(2)}, Bonferroni over 240)`);
  const same = homogeneity(byteCounts(tagged.map((s) => s.window)), byteCounts(untagged.map((s) => s.window)));
  if (same.p < ALPHA) failures.push(`window bytes differ from untagged records (chi2 ${same.chi2.toFixed(1)}, p ${same.p.toExponential(2)})`);
  const reps = tagged.map((s) => stegoDecode(s.window).subarray(0, 32));
  const bits = bitFrequencies(reps, 256);
  if (bits.maxAbsZ > MAX_BIT_Z) failures.push(`a representative bit is biased (max |z| ${bits.maxAbsZ.toFixed(2)})`);
  return { failures, stats: { pooledP: pooled.p, minPositionP: minP, homogeneityP: same.p, maxBitZ: bits.maxAbsZ } };
}

/**
 * The documented length model (SPEC.md §19): record length = constant + padLen, padLen the
 * integer mean of 10 draws from [7, max(612 − L, 7)].
 */
function lengthVerdict(samples: readonly Sample[], kind: Kind, sharedLength: number, h2Constant = 0): { failure: string | null; p: number } {
  const lo = X_IGNORE_PADDING_MIN;
  const hi = Math.max(X_IGNORE_TARGET - sharedLength, X_IGNORE_PADDING_MIN);
  const model = meanOfUniformsDistribution(lo, hi, 10);
  const constant = kind === 'tls13-h2' ? h2Constant : recordConstant(kind, sharedLength);
  const counts = new Array<number>(model.length).fill(0);
  let outside = 0;
  for (const s of samples) {
    const pad = s.recordLength - constant;
    if (pad < lo || pad > hi) outside++;
    else counts[pad - lo]!++;
  }
  if (outside > 0) return { failure: `${outside} lengths outside the model (record = ${constant} + padLen)`, p: 0 };
  const fit = chiSquaredFit(counts, model);
  return { failure: fit.p < ALPHA ? `lengths do not follow the model (chi2 ${fit.chi2.toFixed(1)}, df ${fit.df}, p ${fit.p.toExponential(2)})` : null, p: fit.p };
}

/** Record length minus padLen for HTTP/1.1, from the request format of SPEC.md §4.1 (see §19). */
function recordConstant(kind: Kind, sharedLength: number): number {
  const h1 = 16 + (sharedLength + 2) + 12; // request line, shared headers with CRLFs, "X-Ignore: "
  if (kind === 'tls12-h1') return 5 + 8 + h1 + 240 + 16;
  return 5 + h1 + 239 + 1 + 16; // TLS 1.3: 239 stego bytes, the inner content type
}

const kinds: Kind[] = ['tls13-h1', 'tls13-h2', 'tls12-h1'];
const sets = new Map(kinds.map((k) => [k, { tagged: records(k, N, { tagged: true }), untagged: records(k, N, { tagged: false }) }]));

for (const kind of kinds) {
  t.test(`${kind}: tagged ciphertext is as uniform as untagged ciphertext over ${N} records`, async (t) => {
    const { tagged, untagged } = sets.get(kind)!;
    const v = verdict(tagged, untagged);
    t.comment(JSON.stringify(v.stats));
    t.same(v.failures, [], 'every check passes');
    const baseline = verdict(untagged, tagged);
    t.same(baseline.failures.filter((f) => !f.includes('representative')), [], 'untagged records pass the byte checks too');
  });
}

t.test('request lengths follow the documented distribution (HTTP/1.1 over TLS 1.2 and 1.3, HTTP/2)', async (t) => {
  const xProtoLength = encodeXProto(new Uint8Array(16), { decoyListGeneration: 1, stateTransition: C2S_Transition.C2S_SESSION_INIT }).length;
  const L = Buffer.byteLength(sharedHeaders(HOST, TAPDANCE_USER_AGENT, 'x'.repeat(xProtoLength)));
  for (const kind of ['tls12-h1', 'tls13-h1'] as const) {
    const v = lengthVerdict(sets.get(kind)!.tagged, kind, L);
    t.equal(v.failure, null, `${kind}: p ${v.p.toExponential(2)}`);
  }
  // HTTP/2: the same padding on top of a HEADERS frame whose other parts have a fixed size (the
  // x-ignore length always takes 3 HPACK bytes): measure that size with a known padding.
  const h2Constant = records('tls13-h2', 1, { tagged: true, paddingLength: () => 7 }, 'h2-constant')[0]!.recordLength - 7;
  const v = lengthVerdict(sets.get('tls13-h2')!.tagged, 'tls13-h2', L, h2Constant);
  t.equal(v.failure, null, `tls13-h2 (record = ${h2Constant} + padLen): p ${v.p.toExponential(2)}`);
});

t.test('the checks fail for deliberately biased encoders', async (t) => {
  const { untagged } = sets.get('tls13-h1')!;
  const real = sets.get('tls13-h1')!.tagged;
  // 1. An encoder that fixes the top 2 bits of every stego ciphertext byte (plaintext chosen so
  //    that the ciphertext is 01xxxxxx, instead of leaving the top bits to the keystream).
  const fixedTopBits = real.map((s) => ({ ...s, window: s.window.map((b) => (b & 0x3f) | 0x40) }));
  const v1 = verdict(fixedTopBits, untagged);
  t.ok(v1.failures.some((f) => f.includes('pooled')), `fixed top bits: ${v1.failures.join('; ')}`);
  // 2. A client that does not randomise the representative's two free bits.
  const clear = records('tls13-h1', N, { tagged: true, topBitsMask: 0 }, 'biased-rep');
  const v2 = verdict(clear, untagged);
  t.ok(v2.failures.some((f) => f.includes('representative')), `unrandomised representative: ${v2.failures.join('; ')}`);
  // 3. Padding drawn once, uniformly, instead of the mean of ten draws.
  const xProtoLength = encodeXProto(new Uint8Array(16), { decoyListGeneration: 1, stateTransition: C2S_Transition.C2S_SESSION_INIT }).length;
  const L = Buffer.byteLength(sharedHeaders(HOST, TAPDANCE_USER_AGENT, 'x'.repeat(xProtoLength)));
  const flat = records('tls13-h1', 2000, { tagged: true, paddingLength: (r, l) => r(X_IGNORE_PADDING_MIN, Math.max(X_IGNORE_TARGET - l, X_IGNORE_PADDING_MIN)) }, 'biased-len');
  const v3 = lengthVerdict(flat, 'tls13-h1', L);
  t.not(v3.failure, null, `uniform padding: ${v3.failure}`);
});

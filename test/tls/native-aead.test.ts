/**
 * The optional native record AEAD (record-native/, src/tls/native-aead.ts): the TLS 1.2 and 1.3
 * record layers seal the same bytes with it as with node:crypto for every suite, open each
 * other's records, refuse tampered ones the same way, hand out output that later records never
 * overwrite, and TAPDANCE_NATIVE_AEAD=0 turns it off.
 */
import t from 'tap';
import { randomBytes, randomInt } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeAeadStatus } from '../../src/tls/native-aead.js';
import { RecordProtection } from '../../src/tls/record-layer.js';
import { Tls13RecordProtection } from '../../src/tls/record-layer13.js';
import { CIPHER_SUITES, TLS13_CIPHER_SUITES } from '../../src/tls/cipher-suites.js';
import { nodeArgv } from '../../src/testbed/node-child.js';
import { throwsTls } from './helpers/assert.js';

if (!nativeAeadStatus().loaded) {
  t.fail(`native AEAD not loaded (${nativeAeadStatus().reason ?? ''}): run npm run build:native`);
  process.exit(1);
}

/** Plaintexts of awkward sizes, some as several pieces. */
function plaintexts(): Buffer[][] {
  const one = (n: number): Buffer[] => [randomBytes(n)];
  return [one(0), one(1), one(2), one(16), one(1000), one(16384), [randomBytes(2), randomBytes(16382)], [randomBytes(0), randomBytes(7), randomBytes(0)],
    Array.from({ length: 9 }, () => randomBytes(randomInt(0, 1800)))];
}

t.test('TLS 1.2: native and node:crypto seal the same records for every suite and open each other\'s', async (t) => {
  for (const [suite, info] of CIPHER_SUITES) {
    const key = randomBytes(info.keyLength);
    const iv = randomBytes(info.fixedIvLength);
    const seq = BigInt(randomInt(0, 2 ** 40));
    const native = new RecordProtection({ suite, key, iv, seq });
    const node = new RecordProtection({ suite, key, iv, seq, native: false });
    t.ok(native.native && !node.native, `0x${suite.toString(16)}: one of each`);
    const nativeReader = new RecordProtection({ suite, key, iv, seq });
    const nodeReader = new RecordProtection({ suite, key, iv, seq, native: false });
    for (const pieces of plaintexts()) {
      const a = Buffer.concat(native.sealPieces(23, pieces));
      const b = Buffer.concat(node.sealPieces(23, pieces));
      t.ok(a.equals(b), `0x${suite.toString(16)}: ${pieces.length} piece(s), ${a.length - 5} bytes sealed alike`);
      const joined = Buffer.concat(pieces);
      t.ok(nativeReader.open(b).plaintext.equals(joined), 'native opens node:crypto\'s record');
      t.ok(nodeReader.open(a).plaintext.equals(joined), 'node:crypto opens the native record');
    }
    const bad = native.seal(23, Buffer.from('tampered'));
    node.seal(23, Buffer.from('keep in step'));
    bad[bad.length - 1]! ^= 1;
    const before = nativeReader.sequence;
    throwsTls(t, () => nativeReader.open(bad), 'ERR_TLS_BAD_RECORD_MAC', 'native refuses a tampered tag');
    throwsTls(t, () => nodeReader.open(bad), 'ERR_TLS_BAD_RECORD_MAC', 'node:crypto refuses it too');
    t.equal(nativeReader.sequence, before, 'a failed open consumes no sequence number');
  }
});

t.test('TLS 1.2 batches: one native call seals the records node:crypto seals one by one', async (t) => {
  for (const [suite, info] of CIPHER_SUITES) {
    const key = randomBytes(info.keyLength);
    const iv = randomBytes(info.fixedIvLength);
    const native = new RecordProtection({ suite, key, iv, seq: 3n });
    const node = new RecordProtection({ suite, key, iv, seq: 3n, native: false });
    for (const total of [1, 16384, 16385, 65_536, 100_000]) {
      const chunks = [randomBytes(2), randomBytes(0), ...Array.from({ length: 5 }, () => randomBytes(Math.floor(total / 5))), randomBytes(total % 5)];
      const a = native.sealRecords(23, chunks);
      t.equal(a.length, 1, 'native: one buffer for the batch');
      t.ok(Buffer.concat(a).equals(Buffer.concat(node.sealRecords(23, chunks))), `0x${suite.toString(16)}: ${total + 2} bytes sealed alike`);
    }
    t.equal(native.sequence, node.sequence, 'sequence numbers in step');
    t.same(native.sealRecords(23, [Buffer.alloc(0)]), [], 'no bytes, no records');
  }
  const last = new RecordProtection({ suite: 0xc02f, key: randomBytes(16), iv: randomBytes(4), seq: 0xffff_ffff_ffff_ffffn });
  throwsTls(t, () => last.sealRecords(23, [Buffer.alloc(16385)]), 'ERR_TLS_SEQUENCE_OVERFLOW', 'two records where one sequence number is left');
  t.equal(last.sequence, 0xffff_ffff_ffff_ffffn, 'nothing sealed');
  t.equal(Buffer.concat(last.sealRecords(23, [Buffer.from('last')])).length, 5 + 8 + 4 + 16);
  throwsTls(t, () => last.sealRecords(23, [Buffer.from('x')]), 'ERR_TLS_SEQUENCE_OVERFLOW');
});

t.test('TLS 1.3: native and node:crypto seal the same records for every suite, across a KeyUpdate', async (t) => {
  for (const [suite, info] of TLS13_CIPHER_SUITES) {
    const secret = randomBytes(info.hashLength);
    let native = new Tls13RecordProtection({ suite, secret, seq: 5n });
    let node = new Tls13RecordProtection({ suite, secret, seq: 5n, native: false });
    let reader = new Tls13RecordProtection({ suite, secret, seq: 5n });
    for (let round = 0; round < 2; round++) {
      t.ok(native.native && !node.native, `0x${suite.toString(16)} round ${round}: one of each`);
      for (const pieces of plaintexts()) {
        const padding = Buffer.concat(pieces).length < 16384 ? round * 3 : 0;
        const a = Buffer.concat(native.sealPieces(23, pieces, padding));
        const b = Buffer.concat(node.sealPieces(23, pieces, padding));
        t.ok(a.equals(b), `0x${suite.toString(16)}: ${pieces.length} piece(s), padding ${padding}, sealed alike`);
        t.ok(reader.open(b).plaintext.equals(Buffer.concat(pieces)), 'native opens node:crypto\'s record');
      }
      const bad = native.seal(22, Buffer.from('handshake'));
      node.seal(22, Buffer.from('handshake'));
      bad[7]! ^= 0x80;
      throwsTls(t, () => reader.open(bad), 'ERR_TLS_BAD_RECORD_MAC');
      native = native.rekey();
      node = node.rekey();
      reader = reader.rekey();
    }
  }
});

t.test('opened records keep their bytes while later records are opened', async (t) => {
  const key = randomBytes(16);
  const iv = randomBytes(4);
  const w = new RecordProtection({ suite: 0xc02f, key, iv, native: false });
  const r = new RecordProtection({ suite: 0xc02f, key, iv });
  const sent: Buffer[] = [];
  const got: Buffer[] = [];
  for (let i = 0; i < 60; i++) {
    const p = randomBytes(i % 3 === 0 ? 16384 : randomInt(1, 9000));
    sent.push(p);
    got.push(r.open(w.seal(23, p)).plaintext);
  }
  t.ok(got.every((g, i) => g.equals(sent[i]!)), '60 records intact after all were opened');
});

t.test('records opened in place: the plaintext is a view of the record, tampering fails, shared bodies stay untouched', async (t) => {
  for (const [suite, info] of CIPHER_SUITES) {
    const key = randomBytes(info.keyLength);
    const iv = randomBytes(info.fixedIvLength);
    const w = new RecordProtection({ suite, key, iv, native: false });
    const r = new RecordProtection({ suite, key, iv });
    for (const pieces of plaintexts()) {
      const p = Buffer.concat(pieces);
      const rec = w.seal(23, p);
      const shared = Buffer.from(rec);
      const kept = r.open(shared);
      t.ok(kept.plaintext.equals(p) && shared.equals(rec), `0x${suite.toString(16)}: a shared body is copied, not overwritten`);
      const sealed = w.seal(23, p);
      const body = sealed.subarray(5);
      const opened = r.openFragment(23, 0x0303, body, true);
      t.ok(opened.plaintext.equals(p), `0x${suite.toString(16)}: ${p.length} bytes opened in place`);
      t.ok(p.length === 0 || opened.plaintext.buffer === sealed.buffer, 'the plaintext is a view of the record');
    }
    const bad = w.seal(23, Buffer.from('tampered in place'));
    bad[bad.length - 1]! ^= 1;
    const before = r.sequence;
    throwsTls(t, () => r.openFragment(23, 0x0303, bad.subarray(5), true), 'ERR_TLS_BAD_RECORD_MAC');
    t.equal(r.sequence, before, 'a failed in-place open consumes no sequence number');
  }
  for (const [suite, info] of TLS13_CIPHER_SUITES) {
    const secret = randomBytes(info.hashLength);
    const w = new Tls13RecordProtection({ suite, secret, native: false });
    const r = new Tls13RecordProtection({ suite, secret });
    for (const pieces of plaintexts()) {
      const p = Buffer.concat(pieces);
      const sealed = Buffer.concat(w.sealPieces(23, pieces, p.length < 16384 ? 5 : 0));
      const opened = r.openFragment(23, 0x0303, sealed.subarray(5), true);
      t.ok(opened.plaintext.equals(p) && opened.contentType === 23, `TLS 1.3 0x${suite.toString(16)}: ${p.length} bytes opened in place`);
    }
    const bad = w.seal(23, Buffer.from('tampered'));
    bad[6]! ^= 0x40;
    throwsTls(t, () => r.openFragment(23, 0x0303, bad.subarray(5), true), 'ERR_TLS_BAD_RECORD_MAC');
  }
});

t.test('TAPDANCE_NATIVE_AEAD=0 turns the addon off and the record layer falls back', async (t) => {
  const [node, ...args] = nodeArgv(fileURLToPath(new URL('./fixtures/native-aead-status-main.ts', import.meta.url)));
  const off = JSON.parse(execFileSync(node!, args, { env: { ...process.env, TAPDANCE_NATIVE_AEAD: '0' } }).toString()) as { loaded: boolean; reason: string; recordLayerNative: boolean };
  t.same([off.loaded, off.recordLayerNative, off.reason], [false, false, 'TAPDANCE_NATIVE_AEAD=0']);
  const on = JSON.parse(execFileSync(node!, args).toString()) as { loaded: boolean; recordLayerNative: boolean };
  t.same([on.loaded, on.recordLayerNative], [true, true]);
});

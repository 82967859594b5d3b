import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { Tls13RecordProtection, createTls13SessionFromSecrets } from '../../src/tls/record-layer13.js';
import { TLS13_CIPHER_SUITES } from '../../src/tls/cipher-suites.js';
import { TlsError } from '../../src/tls/errors.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { throwsTls } from './helpers/assert.js';

const suites = [...TLS13_CIPHER_SUITES.values()];
const pair = (suite: number, hashLength: number, seq = 0n): [Tls13RecordProtection, Tls13RecordProtection] => {
  const secret = randomBytes(hashLength);
  return [new Tls13RecordProtection({ suite, secret, seq }), new Tls13RecordProtection({ suite, secret, seq })];
};

t.test('records round-trip with their inner type, padding is stripped, every suite', async (t) => {
  for (const s of suites) {
    const [w, r] = pair(s.id, s.hashLength);
    for (const [type, data, pad] of [[23, Buffer.from('hello'), 0], [22, Buffer.from([4, 0, 0, 0]), 17], [21, Buffer.from([1, 0]), 0], [23, Buffer.alloc(0), 3]] as const) {
      const rec = w.seal(type, data, pad);
      t.same([rec[0], rec[1], rec[2]], [23, 3, 3], `${s.name}: outer header is application_data 0x0303`);
      t.equal(rec.length, 5 + data.length + 1 + pad + 16);
      const opened = r.open(rec);
      t.equal(opened.contentType, type);
      t.same(opened.plaintext, data);
    }
    t.equal(w.sequence, 4n);
    t.equal(r.sequence, 4n);
  }
});

t.test('the keystream of the next record XORs its inner plaintext, content type included', async (t) => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(...suites), fc.uint8Array({ maxLength: 600 }), fc.bigInt({ min: 0n, max: 1000n }),
    async (s, data, seq) => {
      const w = new Tls13RecordProtection({ suite: s.id, secret: randomBytes(s.hashLength), seq });
      const ks = w.keystream(data.length + 1);
      t.equal(w.sequence, seq, 'keystream does not advance');
      const rec = w.seal(23, data);
      const ct = rec.subarray(5, 5 + data.length + 1);
      for (let i = 0; i < data.length; i++) if ((ct[i]! ^ ks[i]!) !== data[i]) return false;
      return (ct[data.length]! ^ ks[data.length]!) === 23;
    }), { numRuns: 60 });
});

t.test('tampering, a wrong sequence number, or a record without a type fail with typed errors', async (t) => {
  const [w, r] = pair(0x1301, 32);
  const rec = w.seal(23, Buffer.from('data'));
  const bad = Buffer.from(rec);
  bad[7]! ^= 1;
  throwsTls(t, () => r.open(bad), 'ERR_TLS_BAD_RECORD_MAC');
  t.equal(r.sequence, 0n, 'a failed open consumes no sequence number');
  const [w2, r2] = pair(0x1303, 32);
  w2.seal(23, Buffer.from('skipped'));
  throwsTls(t, () => r2.open(w2.seal(23, Buffer.from('x'))), 'ERR_TLS_BAD_RECORD_MAC', 'sequence numbers must match');
  // An inner plaintext of only zeros has no content type (RFC 8446 §5.4).
  const [w3, r3] = pair(0x1301, 32);
  const zeros = w3.seal(0, Buffer.alloc(0), 4);
  throwsTls(t, () => r3.open(zeros), 'ERR_TLS_UNEXPECTED_MESSAGE');
  throwsTls(t, () => r.openFragment(22, 0x0303, rec.subarray(5)), 'ERR_TLS_UNEXPECTED_MESSAGE', 'protected record with a handshake outer type');
  throwsTls(t, () => r.open(rec.subarray(0, 10)), 'ERR_TLS_DECODE');
  throwsTls(t, () => r.openFragment(23, 0x0303, Buffer.alloc(16)), 'ERR_TLS_BAD_RECORD_MAC', 'too short for a type byte');
  throwsTls(t, () => r.openFragment(23, 0x0303, Buffer.alloc(16384 + 257)), 'ERR_TLS_RECORD_OVERFLOW');
  throwsTls(t, () => w.seal(23, Buffer.alloc(16385)), 'ERR_TLS_INVALID_STATE');
  t.throws(() => new Tls13RecordProtection({ suite: 0xc02f, secret: randomBytes(32) }), TlsError, 'a TLS 1.2 suite');
  t.throws(() => new Tls13RecordProtection({ suite: 0x1301, secret: randomBytes(48) }), InvalidArgumentError);
  t.throws(() => w.keystream(16386), InvalidArgumentError);
});

t.test('rekey follows KeyUpdate on both ends', async (t) => {
  const [w, r] = pair(0x1302, 48, 5n);
  const w2 = w.rekey();
  const r2 = r.rekey();
  t.equal(w2.sequence, 0n);
  t.same(r2.open(w2.seal(23, Buffer.from('after update'))).plaintext, Buffer.from('after update'));
  throwsTls(t, () => r.open(w2.seal(23, Buffer.from('x'))), 'ERR_TLS_BAD_RECORD_MAC', 'old keys do not open new records');
});

t.test('a session continued from application secrets talks to the original ends at the given sequence numbers', async (t) => {
  const clientSecret = randomBytes(32);
  const serverSecret = randomBytes(32);
  const client = createTls13SessionFromSecrets({ suite: 0x1301, clientSecret, serverSecret, role: 'client', readSeq: 3n, writeSeq: 0n });
  const station = createTls13SessionFromSecrets({ suite: 0x1301, clientSecret, serverSecret, role: 'server', readSeq: 0n, writeSeq: 3n });
  t.same(station.read.open(client.write.seal(23, Buffer.from('tagged request'))).plaintext, Buffer.from('tagged request'));
  t.same(client.read.open(station.write.seal(23, Buffer.from('station reply'))).plaintext, Buffer.from('station reply'));
  t.throws(() => createTls13SessionFromSecrets({ suite: 0x1301, clientSecret, serverSecret, role: 'x' as 'server', readSeq: 0n, writeSeq: 0n }), InvalidArgumentError);
});

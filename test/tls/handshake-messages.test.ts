import t from 'tap';
import fc from 'fast-check';
import {
  HandshakeDeframer, emitCertificate, emitCertificateRequest, emitClientHello, emitClientKeyExchange,
  emitEcdheServerKeyExchange, emitServerHello, frameHandshake, parseCertificate, parseCertificateRequest,
  parseClientHello, parseClientKeyExchange, parseEcdheServerKeyExchange, parseFinished, parseServerHello,
  parseNewSessionTicket, parseCertificateStatus, type ClientHello, type ServerHello,
} from '../../src/tls/handshake-messages.js';
import { TlsError } from '../../src/tls/errors.js';
import { throwsTls } from './helpers/assert.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
const extensions = fc.uniqueArray(fc.record({ type: u16, data: bytes(0, 40) }), { selector: (e) => e.type, maxLength: 8 });

const clientHello: fc.Arbitrary<ClientHello> = fc.record({
  version: u16, random: bytes(32, 32), sessionId: bytes(0, 32),
  cipherSuites: fc.array(u16, { minLength: 1, maxLength: 30 }), compressionMethods: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }),
  extensions,
});
const serverHello: fc.Arbitrary<ServerHello> = fc.record({
  version: u16, random: bytes(32, 32), sessionId: bytes(0, 32), cipherSuite: u16,
  compressionMethod: fc.integer({ min: 0, max: 255 }), extensions: fc.option(extensions, { nil: null }),
});

/** Bytes as hex, recursively, so Buffers and Uint8Arrays compare by content. */
function norm(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
  if (Array.isArray(x)) return x.map(norm);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)]));
  return x;
}

t.test('hello messages round-trip through emit and parse', async (t) => {
  fc.assert(fc.property(clientHello, (m) => { t.same(norm(parseClientHello(emitClientHello(m))), norm(m)); }), { numRuns: 200 });
  fc.assert(fc.property(serverHello, (m) => { t.same(norm(parseServerHello(emitServerHello(m))), norm(m)); }), { numRuns: 200 });
});

t.test('certificate, key exchange and request messages round-trip', async (t) => {
  fc.assert(fc.property(fc.array(bytes(1, 300), { maxLength: 4 }), (chain) => {
    t.same(norm(parseCertificate(emitCertificate(chain))), norm(chain));
  }), { numRuns: 100 });
  fc.assert(fc.property(u16, bytes(1, 133), u16, bytes(0, 300), (group, publicKey, scheme, signature) => {
    const m = parseEcdheServerKeyExchange(emitEcdheServerKeyExchange({ group, publicKey, scheme, signature }));
    t.same(norm({ group: m.group, publicKey: m.publicKey, scheme: m.scheme, signature: m.signature }), norm({ group, publicKey, scheme, signature }));
    t.same(Buffer.from(m.params), Buffer.concat([Buffer.from([3, group >> 8, group & 0xff, publicKey.length]), publicKey]));
  }), { numRuns: 100 });
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 5 }), fc.array(u16, { maxLength: 10 }), (certificateTypes, signatureSchemes) => {
    t.same(parseCertificateRequest(emitCertificateRequest({ certificateTypes, signatureSchemes })), { certificateTypes, signatureSchemes });
  }), { numRuns: 50 });
  for (const kind of ['ecdhe', 'rsa'] as const) {
    const v = Buffer.alloc(kind === 'rsa' ? 256 : 65, 7);
    t.same(Buffer.from(parseClientKeyExchange(kind, emitClientKeyExchange(kind, v))), v);
  }
});

t.test('every truncation of a valid message is ERR_TLS_DECODE', async (t) => {
  const sh = emitServerHello({ version: 0x0303, random: Buffer.alloc(32, 1), sessionId: Buffer.alloc(32, 2), cipherSuite: 0xc02f,
    compressionMethod: 0, extensions: [{ type: 0xff01, data: Buffer.from([0]) }, { type: 23, data: Buffer.alloc(0) }] });
  const ske = emitEcdheServerKeyExchange({ group: 29, publicKey: Buffer.alloc(32, 3), scheme: 0x0804, signature: Buffer.alloc(256, 4) });
  const cert = emitCertificate([Buffer.alloc(500, 5), Buffer.alloc(400, 6)]);
  for (const [name, full, parse] of [['ServerHello', sh, parseServerHello], ['ServerKeyExchange', ske, parseEcdheServerKeyExchange],
    ['Certificate', cert, parseCertificate]] as const) {
    let failures = 0;
    for (let n = 0; n < full.length; n++) {
      // A ServerHello cut right after the compression method is a valid hello without extensions.
      if (name === 'ServerHello' && n === 2 + 32 + 1 + 32 + 2 + 1) continue;
      try {
        (parse as (b: Uint8Array) => unknown)(full.subarray(0, n));
        t.fail(`${name} cut at ${n} parsed`);
      } catch (err) {
        if (err instanceof TlsError && err.code === 'ERR_TLS_DECODE') failures++;
        else t.fail(`${name} cut at ${n}: ${String(err)}`);
      }
    }
    t.ok(failures > 0, `${name}: ${failures} truncations rejected`);
    t.throws(() => (parse as (b: Uint8Array) => unknown)(Buffer.concat([full, Buffer.from([0])])), { code: 'ERR_TLS_DECODE' }, `${name} with a trailing byte`);
  }
});

t.test('rejects repeated extensions, bad Finished lengths and odd structures', async (t) => {
  const dup = emitServerHello({ version: 0x0303, random: Buffer.alloc(32), sessionId: Buffer.alloc(0), cipherSuite: 0xc02f,
    compressionMethod: 0, extensions: [{ type: 23, data: Buffer.alloc(0) }] });
  const twice = Buffer.concat([dup.subarray(0, dup.length - 6), Buffer.from([0, 8, 0, 23, 0, 0, 0, 23, 0, 0])]);
  throwsTls(t, () => parseServerHello(twice), 'ERR_TLS_DECODE', 'repeated extension');
  throwsTls(t, () => parseFinished(Buffer.alloc(11)), 'ERR_TLS_DECODE');
  throwsTls(t, () => parseFinished(Buffer.alloc(13)), 'ERR_TLS_DECODE');
  throwsTls(t, () => parseEcdheServerKeyExchange(Buffer.from([1, 0, 23, 1, 4])), 'ERR_TLS_ILLEGAL_PARAMETER', 'explicit curves refused');
  throwsTls(t, () => parseCertificate(Buffer.from([0, 0, 3, 0, 0, 0])), 'ERR_TLS_DECODE', 'empty certificate entry');
  throwsTls(t, () => parseCertificateStatus(Buffer.from([2, 0, 0, 0])), 'ERR_TLS_DECODE', 'non-OCSP status');
  t.same(parseNewSessionTicket(Buffer.from([0, 0, 1, 0, 0, 2, 9, 9])).lifetime, 256);
});

t.test('reassembles handshake messages split across records and packed into one', async (t) => {
  const a = frameHandshake(2, Buffer.alloc(70, 1));
  const b = frameHandshake(11, Buffer.alloc(3000, 2));
  const c = frameHandshake(14, Buffer.alloc(0));
  const all = Buffer.concat([a, b, c]);
  for (const size of [1, 3, 4, 5, 100, 1000, all.length]) {
    const d = new HandshakeDeframer();
    const got: number[] = [];
    for (let off = 0; off < all.length; off += size) {
      d.push(all.subarray(off, off + size));
      for (let m = d.next(); m !== null; m = d.next()) {
        got.push(m.type);
        t.same(Buffer.from(m.raw), m.type === 2 ? a : m.type === 11 ? b : c);
      }
    }
    t.same(got, [2, 11, 14], `fragments of ${size}`);
    t.notOk(d.hasPartial);
  }
  const huge = new HandshakeDeframer();
  huge.push(Buffer.from([11, 0xff, 0xff, 0xff]));
  throwsTls(t, () => huge.next(), 'ERR_TLS_RECORD_OVERFLOW');
});

t.test('random bytes never make a parser throw anything but a TlsError', async () => {
  const parsers = [parseServerHello, parseClientHello, parseCertificate, parseEcdheServerKeyExchange, parseCertificateRequest,
    parseNewSessionTicket, parseCertificateStatus];
  fc.assert(fc.property(bytes(0, 200), fc.integer({ min: 0, max: parsers.length - 1 }), (b, i) => {
    try {
      parsers[i]!(b);
    } catch (err) {
      if (!(err instanceof TlsError)) throw err;
    }
  }), { numRuns: 5000 });
});

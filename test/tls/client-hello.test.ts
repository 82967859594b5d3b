import t from 'tap';
import { createHash } from 'node:crypto';
import { buildClientHello, isGrease, GREASE_VALUES } from '../../src/tls/client-hello.js';
import { CHROME_62, CHROMIUM_156, type ClientHelloProfile } from '../../src/tls/profiles.js';
import { parseClientHello } from '../../src/tls/handshake-messages.js';
import { Reader } from '../../src/tls/codec.js';
import { throwsTls } from './helpers/assert.js';

/** The JA3 text of a parsed hello (GREASE removed, as JA3 does). */
function ja3(hello: ReturnType<typeof parseClientHello>): string {
  const ng = (xs: number[]): string => xs.filter((x) => !isGrease(x)).join('-');
  const ext = (type: number): Uint8Array | undefined => hello.extensions.find((e) => e.type === type)?.data;
  const groups = new Reader(ext(10)!, 'groups').vec16();
  const g: number[] = [];
  for (let i = 0; i < groups.length; i += 2) g.push((groups[i]! << 8) | groups[i + 1]!);
  const formats = [...new Reader(ext(11)!, 'formats').vec8()];
  return [hello.version, ng(hello.cipherSuites), ng(hello.extensions.map((e) => e.type)), ng(g), formats.join('-')].join(',');
}

t.test('chrome62 has the uTLS HelloChrome_62 shape', async (t) => {
  const built = buildClientHello({ profile: CHROME_62, serverName: 'www.example.com' });
  const h = parseClientHello(built.message.subarray(4));
  t.equal(built.recordVersion, 0x0301, 'ClientHello record says TLS 1.0');
  t.equal(h.version, 0x0303);
  t.equal(h.sessionId.length, 32);
  t.same(h.compressionMethods, [0]);
  t.ok(isGrease(h.cipherSuites[0]!), 'GREASE suite first');
  t.same(h.cipherSuites.slice(1), [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a]);
  const types = h.extensions.map((e) => e.type);
  t.ok(isGrease(types[0]!) && isGrease(types[12]!), 'GREASE extensions first and before padding');
  t.not(types[0], types[12], 'the two GREASE extensions differ');
  // 230 bytes with this name: under 256, so BoringSSL's rule adds no padding extension.
  t.equal(built.message.length, 230);
  t.same(types.filter((x) => !isGrease(x)), [0xff01, 0, 23, 35, 13, 5, 18, 16, 0x7550, 11, 10]);
  t.equal(h.extensions[0]!.data.length, 0, 'first GREASE extension is empty');
  t.same([...h.extensions[12]!.data], [0], 'second GREASE extension holds one zero byte');
  t.equal(ja3(h), '771,49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53-10,65281-0-23-35-13-5-18-16-30032-11-10,29-23-24,0');
  const long = parseClientHello(buildClientHello({ profile: CHROME_62, serverName: `${'a'.repeat(40)}.example.com` }).message.subarray(4));
  t.equal(ja3(long), '771,49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53-10,65281-0-23-35-13-5-18-16-30032-11-10-21,29-23-24,0', 'padded above 256 bytes');
  const sni = h.extensions.find((e) => e.type === 0)!.data;
  t.equal(Buffer.from(sni.subarray(5)).toString(), 'www.example.com');
  const alpn = Buffer.from(h.extensions.find((e) => e.type === 16)!.data).toString('latin1');
  t.equal(alpn, '\x00\x0c\x02h2\x08http/1.1');
  t.same([...h.extensions.find((e) => e.type === 5)!.data], [1, 0, 0, 0, 0], 'status_request for OCSP');
  t.same([...h.extensions.find((e) => e.type === 0xff01)!.data], [0], 'empty renegotiation_info');
  t.same(built.offered.groups, [29, 23, 24]);
  t.equal(built.offered.offersTls13, false);
});

t.test('BoringSSL padding brings hellos of 256..511 bytes to exactly 512', async (t) => {
  const sizes = new Set<number>();
  for (let n = 1; n < 253; n += 7) {
    const built = buildClientHello({ profile: CHROME_62, serverName: n < 63 ? `${'a'.repeat(n)}.test` : `${'a'.repeat(60)}.${'b'.repeat(n - 61)}` });
    const h = parseClientHello(built.message.subarray(4));
    const pad = h.extensions.find((e) => e.type === 21);
    const unpadded = built.message.length - (pad === undefined ? 0 : 4 + pad.data.length);
    if (unpadded >= 256 && unpadded < 512) {
      t.ok(pad !== undefined, `padded at ${unpadded}`);
      t.ok(pad!.data.every((b) => b === 0));
      t.equal(built.message.length, unpadded + 4 <= 511 ? 512 : unpadded + 5);
    } else {
      t.equal(pad, undefined, `no padding at ${unpadded}`);
    }
    sizes.add(built.message.length);
  }
  t.ok(sizes.has(512), 'some hellos were padded to 512');
  const alpn = Array.from({ length: 60 }, (_, i) => `proto-${i}`);
  const big = buildClientHello({ profile: CHROME_62, serverName: 'a.test', alpnProtocols: alpn });
  t.ok(big.message.length > 512, 'a hello over 511 bytes');
  t.notOk(big.offered.extensions.has(21), 'is not padded');
});

t.test('GREASE values come from the RFC 8701 set and vary between hellos', async (t) => {
  t.equal(GREASE_VALUES.length, 16);
  t.ok(GREASE_VALUES.every(isGrease));
  t.notOk(isGrease(0x0a1a));
  const seen = new Set<number>();
  for (let i = 0; i < 64; i++) seen.add(parseClientHello(buildClientHello({ profile: CHROME_62, serverName: 'x.test' }).message.subarray(4)).cipherSuites[0]!);
  t.ok(seen.size > 4, `${seen.size} distinct GREASE suites`);
});

t.test('an IP address gets no SNI and ALPN can be overridden or dropped', async (t) => {
  for (const ip of ['127.0.0.1', '::1']) {
    const h = parseClientHello(buildClientHello({ profile: CHROME_62, serverName: ip }).message.subarray(4));
    t.notOk(h.extensions.some((e) => e.type === 0), `no SNI for ${ip}`);
  }
  const one = buildClientHello({ profile: CHROME_62, serverName: 'a.test', alpnProtocols: ['http/1.1'] });
  t.same(one.offered.alpnProtocols, ['http/1.1']);
  const none = buildClientHello({ profile: CHROME_62, serverName: 'a.test', alpnProtocols: [] });
  t.notOk(none.offered.extensions.has(16));
});

t.test('the same random source gives the same bytes', async (t) => {
  const seeded = (): ((n: number) => Uint8Array) => {
    let counter = 0;
    return (n) => createHash('sha512').update(String(counter++)).digest().subarray(0, n);
  };
  const a = buildClientHello({ profile: CHROME_62, serverName: 'a.test', randomBytes: seeded() });
  const b = buildClientHello({ profile: CHROME_62, serverName: 'a.test', randomBytes: seeded() });
  t.same(a.message, b.message);
});

t.test('TLS 1.3 entries: supported_versions and key_share are built; unknown groups are refused', async (t) => {
  const with13: ClientHelloProfile = {
    ...CHROME_62, name: 'tls13-versions-only',
    extensions: [...CHROME_62.extensions.slice(0, -1), { type: 'supported_versions', versions: [{ grease: 'version' }, 0x0304, 0x0303] }, { type: 'padding', style: 'boringssl' }],
  };
  const built = buildClientHello({ profile: with13, serverName: 'a.test' });
  t.equal(built.offered.offersTls13, true);
  const sv = parseClientHello(built.message.subarray(4)).extensions.find((e) => e.type === 43)!.data;
  t.equal(sv[0], 6);
  t.ok(isGrease((sv[1]! << 8) | sv[2]!));
  const withKeyShare: ClientHelloProfile = { ...CHROME_62, extensions: [{ type: 'key_share', groups: [{ grease: 'group' }, 29, 23] }] };
  const ks = buildClientHello({ profile: withKeyShare, serverName: 'a.test' });
  t.same(ks.keyShares.map((k) => [k.group, k.keyExchange.length]), [[29, 32], [23, 65]], 'X25519 and P-256 shares, GREASE not kept');
  const data = parseClientHello(ks.message.subarray(4)).extensions[0]!.data;
  t.ok(isGrease((data[2]! << 8) | data[3]!), 'the GREASE share comes first');
  t.same([...data.subarray(4, 7)], [0, 1, 0], 'with one zero byte');
  throwsTls(t, () => buildClientHello({ profile: { ...CHROME_62, extensions: [{ type: 'key_share', groups: [25] }] }, serverName: 'a.test' }), 'ERR_TLS_UNSUPPORTED_PROFILE');
  const badHex: ClientHelloProfile = { ...CHROME_62, extensions: [{ type: 'opaque', id: 0x7550, data: 'zz' }] };
  throwsTls(t, () => buildClientHello({ profile: badHex, serverName: 'a.test' }), 'ERR_TLS_UNSUPPORTED_PROFILE');
  throwsTls(t, () => buildClientHello({ profile: { ...CHROME_62, extensions: [{ type: 'ech_grease', payloadLengths: [] }] }, serverName: 'a.test' }), 'ERR_TLS_UNSUPPORTED_PROFILE');
});

t.test('Chromium 156 hellos: GREASE first and last, the rest permuted uniformly, ECH GREASE of four sizes', async (t) => {
  const n = 400;
  const firstPositions = new Map<number, number[]>();
  const orders = new Set<string>();
  const echLengths = new Map<number, number>();
  let types: string | undefined;
  for (let i = 0; i < n; i++) {
    const built = buildClientHello({ profile: CHROMIUM_156, serverName: 'localhost' });
    const h = parseClientHello(built.message.subarray(4));
    const ext = h.extensions.map((e) => e.type);
    t.ok(isGrease(ext[0]!) && isGrease(ext[ext.length - 1]!), 'GREASE extensions first and last');
    const middle = ext.slice(1, -1);
    t.notOk(middle.some(isGrease));
    const sorted = [...middle].sort((a, b) => a - b).join(',');
    if (types !== undefined) t.equal(sorted, types, 'the same extension set every time');
    types = sorted;
    orders.add(middle.join(','));
    middle.forEach((type, pos) => { const p = firstPositions.get(type) ?? []; p.push(pos); firstPositions.set(type, p); });
    const ech = h.extensions.find((e) => e.type === 0xfe0d)!.data;
    const r = new Reader(ech, 'ech');
    t.same([r.u8(), r.u16(), r.u16()], [0, 1, 1], 'outer ECH, HKDF-SHA256, AES-128-GCM');
    r.u8();
    const enc = r.vec16();
    t.ok(enc.length === 32 && (enc[31]! & 0x80) === 0, 'enc is an X25519 public key');
    const payload = r.vec16();
    r.end();
    echLengths.set(payload.length, (echLengths.get(payload.length) ?? 0) + 1);
    t.equal(built.message.length, 1912 + 32 * ((payload.length - 144) / 32), 'Chromium 156 sizes for a 9-byte host name');
  }
  t.same([...echLengths.keys()].sort((a, b) => a - b), [144, 176, 208, 240]);
  t.ok(orders.size > n * 0.95, `${orders.size} distinct orders out of ${n}`);
  // Each of the 17 extensions lands in each of 17 positions with chance 1/17: a loose chi-squared
  // check on the position of every extension (df = 16; 60 is far beyond p = 1e-6).
  t.equal(firstPositions.size, 17);
  for (const [type, pos] of firstPositions) {
    const counts = new Array(17).fill(0);
    for (const p of pos) counts[p]++;
    const e = n / 17;
    const chi = counts.reduce((a, c) => a + (c - e) ** 2 / e, 0);
    t.ok(chi < 60, `extension ${type}: chi-squared ${chi.toFixed(1)}`);
  }
  const built = buildClientHello({ profile: CHROMIUM_156, serverName: 'a.test' });
  t.same(built.offered.alps, { codepoint: 0x44cd, protocols: ['h2'] });
  t.same(built.offered.certificateCompression, [2]);
  t.equal(built.offered.echGrease, true);
  t.same(built.keyShares.map((k) => [k.group, k.keyExchange.length]), [[0x11ec, 1216], [29, 32]]);
  const noH2 = buildClientHello({ profile: CHROMIUM_156, serverName: 'a.test', alpnProtocols: ['http/1.1'] });
  t.equal(noH2.offered.alps, null, 'no ALPS when h2 is not offered');
  t.notOk(noH2.offered.extensions.has(0x44cd));
});

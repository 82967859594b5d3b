/**
 * Our Chromium profile against the real thing, captured in this run: Debian's chromium opens a
 * TLS connection to a loopback listener and we keep its ClientHello records; our client builds
 * hellos for the same host name. JA4 and the fully parsed hello must be equal, modulo GREASE
 * values, random values and the extension permutation (checked to be present on both sides).
 * Needs the `chromium` package (scripts/setup.sh installs it).
 */
import t from 'tap';
import { buildClientHello } from '../../src/tls/client-hello.js';
import { CHROMIUM_156 } from '../../src/tls/profiles.js';
import { frameRecord } from '../../src/tls/record-deframer.js';
import { captureChromiumHellos, chromiumVersion } from './helpers/chromium.js';
import { echPayloadLength, extensionOrder, helloShape, parseHelloRecord } from './helpers/hello-shape.js';
import { ja4 } from './helpers/ja4.js';

const version = chromiumVersion();
t.comment(version);
const chromium = await captureChromiumHellos(6);
const ours = Array.from({ length: 200 }, () => {
  const built = buildClientHello({ profile: CHROMIUM_156, serverName: 'localhost' });
  return frameRecord(22, built.recordVersion, built.message);
});

t.test('the installed chromium is the version the profile was taken from', async (t) => {
  t.match(version, /^Chromium 156\./, 'CHROMIUM_156 describes Chromium 156; a new Debian chromium needs a new profile');
});

t.test('JA4 of our hellos equals JA4 of chromium\'s', async (t) => {
  const theirs = new Set(chromium.map((r) => ja4(parseHelloRecord(r)).fingerprint));
  t.equal(theirs.size, 1, `chromium has one JA4: ${[...theirs].join(' ')}`);
  const mine = new Set(ours.map((r) => ja4(parseHelloRecord(r)).fingerprint));
  t.same([...mine], [...theirs], 'ours is the same, for every hello');
  const parts = ja4(parseHelloRecord(ours[0]!));
  t.equal(parts.a, 't13d1517h2', 'TCP, TLS 1.3, SNI, 15 suites, 17 extensions, h2 first');
  // JA4's published Chrome example shares this cipher hash: the same 15 suites.
  t.equal(parts.fingerprint.split('_')[1], '8daaf6152771');
});

t.test('the parsed hello equals chromium\'s modulo GREASE values, random values and order', async (t) => {
  const reference = helloShape(chromium[0]!);
  for (const [i, r] of chromium.entries()) t.same(helloShape(r), reference, `chromium hello ${i} has the same shape as the first`);
  for (const r of ours.slice(0, 20)) t.same(helloShape(r), reference);
  t.same(reference.greasePositions, ['first+0', 'last-0'], 'GREASE extensions first and last');
  t.equal(reference.extensions.length, 19, '17 extensions and 2 GREASE');
});

t.test('record sizes: the ECH GREASE payload takes the same four lengths, so the hello records do', async (t) => {
  const lengths = (rs: Buffer[]) => new Set(rs.map((r) => `${r.length}:${echPayloadLength(r)}`));
  const allowed = new Set([144, 176, 208, 240].map((p) => `${1917 + p - 144}:${p}`));
  for (const l of lengths(chromium)) t.ok(allowed.has(l), `chromium record:payload ${l}`);
  t.same([...lengths(ours)].sort(), [...allowed].sort(), 'ours takes all four, and only those');
});

t.test('both permute the extensions per hello, keeping GREASE first and last', async (t) => {
  const orders = (rs: Buffer[]) => new Set(rs.map((r) => extensionOrder(r).join(',')));
  t.ok(orders(chromium).size > 1, `chromium: ${orders(chromium).size} orders in ${chromium.length} hellos`);
  t.ok(orders(ours).size > 190, `ours: ${orders(ours).size} orders in ${ours.length} hellos`);
  for (const r of [...chromium, ...ours]) {
    const o = extensionOrder(r);
    t.ok(o[0] === 'GREASE' && o[o.length - 1] === 'GREASE' && o.filter((x) => x === 'GREASE').length === 2);
  }
});

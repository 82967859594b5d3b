import t from 'tap';
import fc from 'fast-check';
import {
  argsFromSocks5Credentials,
  encodePtArgs,
  parsePtArgs,
  socks5CredentialsForArgs,
  type PtArgs,
} from '../../pt/args.js';

const asObject = (args: PtArgs): Record<string, string[]> => Object.fromEntries(args);

// Vectors of goptlib args_test.go (TestParseClientParameters), shared by lyrebird.
t.test('rejects the malformed argument strings of goptlib', async (t) => {
  const bad = ['key', 'key\\', '=value', '==value', '==key=value', 'key=value\\', 'a=b;key=value\\', 'a;b=c', ';', 'key=value;', ';key=value', 'key\\=value'];
  for (const input of bad) {
    t.throws(() => parsePtArgs(input), { name: 'PtError', code: 'ERR_PT_ARGS' }, JSON.stringify(input));
  }
});

t.test('parses the well-formed argument strings of goptlib', async (t) => {
  const good: Array<[string, Record<string, string[]>]> = [
    ['', {}],
    ['key=', { key: [''] }],
    ['key==', { key: ['='] }],
    ['key=value', { key: ['value'] }],
    ['a=b=c', { a: ['b=c'] }],
    ['a=bc==', { a: ['bc=='] }],
    ['key=a\nb', { key: ['a\nb'] }],
    ['key=value\\;', { key: ['value;'] }],
    ['key="value"', { key: ['"value"'] }],
    ['"key=value"', { '"key': ['value"'] }],
    ['key=value;key=value', { key: ['value', 'value'] }],
    ['key1=value1;key2=value2;key1=value3', { key1: ['value1', 'value3'], key2: ['value2'] }],
    ['\\;=\\;;\\\\=\\;', { ';': [';'], '\\': [';'] }],
    ['a\\=b=c', { 'a=b': ['c'] }],
    ['shared-secret=rahasia;secrets-file=/tmp/blob', { 'shared-secret': ['rahasia'], 'secrets-file': ['/tmp/blob'] }],
    ['rocks=20;height=5.6', { rocks: ['20'], height: ['5.6'] }],
  ];
  for (const [input, expected] of good) t.same(asObject(parsePtArgs(input)), expected, JSON.stringify(input));
});

t.test('decodes what tor, Arti and ptadapter each encode for the same bridge line', async (t) => {
  // Bridge line items `cert=ab==` and `a;b=c\d`: tor escapes only ; and \ per item, Arti also
  // escapes = in keys, ptadapter escapes \ = ; everywhere.
  const tor = 'cert=ab==;a\\;b=c\\\\d';
  const arti = 'cert=ab==;a\\;b=c\\\\d';
  const ptadapter = 'cert=ab\\=\\=;a\\;b=c\\\\d';
  const expected = { cert: ['ab=='], 'a;b': ['c\\d'] };
  for (const s of [tor, arti, ptadapter]) t.same(asObject(parsePtArgs(s)), expected, s);
});

t.test('encodes as tor does by default and as the spec text asks on request', async (t) => {
  const args: Array<[string, string | string[]]> = [['cert', 'ab=='], ['k=;\\', 'v;\\'], ['decoy', ['a', 'b']]];
  t.equal(encodePtArgs(args), 'cert=ab==;k\\=\\;\\\\=v\\;\\\\;decoy=a;decoy=b');
  t.equal(encodePtArgs(args, { escapeEqualsInValues: true }), 'cert=ab\\=\\=;k\\=\\;\\\\=v\\;\\\\;decoy=a;decoy=b');
});

t.test('round-trips any arguments through encode and parse', async () => {
  const key = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' });
  const value = fc.string({ maxLength: 20, unit: 'binary' });
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(key, fc.array(value, { minLength: 1, maxLength: 3 })), { selector: ([k]) => k, maxLength: 5 }), fc.boolean(), (pairs, strict) => {
      const parsed = parsePtArgs(encodePtArgs(pairs, { escapeEqualsInValues: strict }));
      if (JSON.stringify(asObject(parsed)) !== JSON.stringify(Object.fromEntries(pairs))) throw new Error('mismatch');
    }),
  );
});

t.test('joins SOCKS5 credentials with the single-NUL password rule', async (t) => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  t.equal(argsFromSocks5Credentials(enc('key=value'), Uint8Array.of(0)), 'key=value');
  t.equal(argsFromSocks5Credentials(enc('key=va'), enc('lue')), 'key=value');
  // A NUL password of more than one byte is data, not the marker.
  t.equal(argsFromSocks5Credentials(enc('k='), Uint8Array.of(0, 0)), 'k=\0\0');
  // A UTF-8 character split across UNAME and PASSWD is joined before decoding.
  const bytes = enc('k=é');
  t.equal(argsFromSocks5Credentials(bytes.subarray(0, 3), bytes.subarray(3)), 'k=é');
  t.throws(() => argsFromSocks5Credentials(Uint8Array.of(0x6b, 0x3d, 0xff), Uint8Array.of(0)), { code: 'ERR_PT_ARGS' });
});

t.test('splits arguments into credentials as tor does: ≤255 with NUL password, up to 510 split, more refused', async (t) => {
  t.equal(socks5CredentialsForArgs(''), null);
  const short = socks5CredentialsForArgs('k=' + 'a'.repeat(253))!;
  t.equal(short.username.length, 255);
  t.same([...short.password], [0]);
  const long = socks5CredentialsForArgs('k=' + 'a'.repeat(298))!;
  t.equal(long.username.length, 255);
  t.equal(long.password.length, 45);
  t.equal(argsFromSocks5Credentials(long.username, long.password), 'k=' + 'a'.repeat(298));
  t.ok(socks5CredentialsForArgs('k=' + 'a'.repeat(508)));
  t.throws(() => socks5CredentialsForArgs('k=' + 'a'.repeat(509)), { code: 'ERR_PT_ARGS' });
});

import t from 'tap';
import { candidateLabel, candidateServerName, parseCandidates, type Candidate } from '../../src/decoys/candidates.js';
import { DecoyError } from '../../src/decoys/errors.js';

t.test('parses every line form and skips comments and blank lines', async (t) => {
  const text = [
    '# decoys for the test',
    '',
    'Example.COM',
    'example.org 192.0.2.10   # with an address',
    'example.net 192.0.2.11:8443',
    'example.edu 2001:DB8:0:0::1',
    'example.info [2001:db8::2]:8443',
    'example.biz [2001:db8::3]',
    '192.0.2.12',
    '[2001:db8::4]',
    '   trailing-dot.example.   ',
  ].join('\n');
  t.same(parseCandidates(text), [
    { line: 3, hostname: 'example.com', address: null, port: 443 },
    { line: 4, hostname: 'example.org', address: '192.0.2.10', port: 443 },
    { line: 5, hostname: 'example.net', address: '192.0.2.11', port: 8443 },
    { line: 6, hostname: 'example.edu', address: '2001:db8::1', port: 443 },
    { line: 7, hostname: 'example.info', address: '2001:db8::2', port: 8443 },
    { line: 8, hostname: 'example.biz', address: '2001:db8::3', port: 443 },
    { line: 9, hostname: null, address: '192.0.2.12', port: 443 },
    { line: 10, hostname: null, address: '2001:db8::4', port: 443 },
    { line: 11, hostname: 'trailing-dot.example', address: null, port: 443 },
  ]);
});

t.test('accepts CRLF line ends and an empty file', async (t) => {
  t.same(parseCandidates('a.example 192.0.2.1\r\nb.example\r\n'), [
    { line: 1, hostname: 'a.example', address: '192.0.2.1', port: 443 },
    { line: 2, hostname: 'b.example', address: null, port: 443 },
  ]);
  t.same(parseCandidates(''), []);
  t.same(parseCandidates('# nothing here\n\n'), []);
});

t.test('reports every bad line with its number in one error', async (t) => {
  const text = [
    'good.example 192.0.2.1',
    'bad_name.example',
    'good.example 192.0.2.999',
    'good.example 192.0.2.1:0',
    'good.example 192.0.2.1:70000',
    'a.example b.example c.example',
    'x.example [192.0.2.1]:443',
    '192.0.2.1 192.0.2.2',
    'ünïcode.example',
    '192.0.2.1:443',
    'good.example 192.0.2.1',
    `${'a'.repeat(64)}.example`,
  ].join('\n');
  const err = t.throws(() => parseCandidates(text, 'list.txt')) as DecoyError;
  t.ok(err instanceof DecoyError);
  t.equal(err.code, 'ERR_DECOY_CANDIDATES');
  const errors = err.context['errors'] as { line: number; message: string }[];
  t.same(errors.map((e) => e.line), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  t.match(err.message, /list\.txt:2: "bad_name\.example" is not a valid host name/);
  t.match(err.message, /list\.txt:3: "192\.0\.2\.999" is not an IPv4 or IPv6 address/);
  t.match(err.message, /list\.txt:4: port 0 is out of range/);
  t.match(err.message, /list\.txt:5: port 70000 is out of range/);
  t.match(err.message, /list\.txt:6: expected "host \[address\[:port\]\]", got 3 fields/);
  t.match(err.message, /list\.txt:7: .*brackets are for IPv6/);
  t.match(err.message, /list\.txt:8: .*address-only line takes no second field/);
  t.match(err.message, /list\.txt:9: host names must be ASCII/);
  t.match(err.message, /list\.txt:10: .*write "host address:port"/);
  t.match(err.message, /list\.txt:11: duplicate of line 1/);
  t.match(errors[10]!.message, /label "a{64}"/, 'the eleventh error is in the context');
});

t.test('lists at most ten bad lines in the message but all in the context', async (t) => {
  const text = Array.from({ length: 25 }, (_, i) => `bad_${i}.example`).join('\n');
  const err = t.throws(() => parseCandidates(text)) as DecoyError;
  t.match(err.message, /… and 15 more/);
  t.equal((err.context['errors'] as unknown[]).length, 25);
});

t.test('the same name at two addresses or ports is two candidates', async (t) => {
  const list = parseCandidates('a.example 192.0.2.1\na.example 192.0.2.2\na.example 192.0.2.1:8443\n');
  t.equal(list.length, 3);
});

t.test('labels and server names describe the candidate', async (t) => {
  const c = (hostname: string | null, address: string | null, port = 443): Candidate => ({ line: 1, hostname, address, port });
  t.equal(candidateLabel(c('a.example', null)), 'a.example');
  t.equal(candidateLabel(c('a.example', '192.0.2.1')), 'a.example (192.0.2.1)');
  t.equal(candidateLabel(c('a.example', '192.0.2.1', 8443)), 'a.example (192.0.2.1:8443)');
  t.equal(candidateLabel(c(null, '192.0.2.1', 8443)), '192.0.2.1:8443');
  t.equal(candidateLabel(c('a.example', '2001:db8::1', 8443)), 'a.example ([2001:db8::1]:8443)');
  t.equal(candidateLabel(c(null, '2001:db8::1')), '2001:db8::1');
  t.equal(candidateServerName(c('a.example', '192.0.2.1')), 'a.example');
  t.equal(candidateServerName(c(null, '2001:db8::1')), '2001:db8::1');
});

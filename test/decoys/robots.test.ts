import t from 'tap';
import { parseRobots, robotsVerdict, robotsVerdictForFetch } from '../../src/decoys/robots.js';

const verdict = (text: string): ReturnType<typeof robotsVerdict> => robotsVerdict(parseRobots(text));

t.test('a TapDance group disallowing / opts the site out', async (t) => {
  t.same(verdict('User-agent: TapDance\nDisallow: /\n'), { optedOut: true, source: 'agent', rule: 'Disallow: /' });
});

t.test('matches the product token case-insensitively and ignores a version after it', async (t) => {
  t.equal(verdict('user-AGENT: tapdance\ndisallow: /\n').optedOut, true);
  t.equal(verdict('User-agent: TapDance/1.2\nDisallow: /\n').optedOut, true);
  t.equal(verdict('User-agent: TapDanceBot\nDisallow: /\n').optedOut, false, 'another product token is another agent');
});

t.test('without a TapDance group the * group applies', async (t) => {
  t.same(verdict('User-agent: *\nDisallow: /\n'), { optedOut: true, source: 'wildcard', rule: 'Disallow: /' });
  t.same(verdict('User-agent: *\nDisallow: /private\n'), { optedOut: false, source: 'wildcard', rule: null });
});

t.test('a TapDance group overrides the * group, both ways', async (t) => {
  t.same(verdict('User-agent: *\nDisallow: /\n\nUser-agent: TapDance\nAllow: /\n'),
    { optedOut: false, source: 'agent', rule: 'Allow: /' });
  t.same(verdict('User-agent: *\nAllow: /\n\nUser-agent: TapDance\nDisallow: /\n'),
    { optedOut: true, source: 'agent', rule: 'Disallow: /' });
  t.same(verdict('User-agent: *\nDisallow: /\n\nUser-agent: TapDance\nDisallow: /private\n'),
    { optedOut: false, source: 'agent', rule: null }, 'the TapDance group alone decides');
});

t.test('several user-agent lines share one group, and groups for the same agent merge', async (t) => {
  t.equal(verdict('User-agent: Googlebot\nUser-agent: TapDance\nDisallow: /\n').optedOut, true);
  t.equal(verdict('User-agent: Googlebot\nDisallow: /\nUser-agent: TapDance\nAllow: /x\n').optedOut, false,
    'a user-agent line after rules starts a new group');
  t.equal(verdict('User-agent: TapDance\nAllow: /a\n\nUser-agent: TapDance\nDisallow: /\n').optedOut, true);
});

t.test('the longest matching rule wins and Allow wins a tie', async (t) => {
  t.same(verdict('User-agent: TapDance\nDisallow: /\nAllow: /$\n'), { optedOut: false, source: 'agent', rule: 'Allow: /$' });
  t.same(verdict('User-agent: TapDance\nDisallow: /\nAllow: /\n'), { optedOut: false, source: 'agent', rule: 'Allow: /' });
  t.same(verdict('User-agent: TapDance\nAllow: /\nDisallow: /*\n'), { optedOut: true, source: 'agent', rule: 'Disallow: /*' });
  t.equal(verdict('User-agent: TapDance\nDisallow: /*.php$\n').optedOut, false, 'wildcards that need more path do not match /');
  t.equal(verdict('User-agent: TapDance\nDisallow: *\n').optedOut, true);
  t.equal(verdict('User-agent: TapDance\nDisallow: /$\n').optedOut, true);
});

t.test('an empty Disallow, unknown keys, comments and junk lines change nothing', async (t) => {
  t.same(verdict('User-agent: TapDance\nDisallow:\n'), { optedOut: false, source: 'agent', rule: null });
  t.equal(verdict('\uFEFF# robots\nSitemap: https://x/s.xml\nUser-agent: TapDance # us\nCrawl-delay: 5\nthis is junk\nDisallow: / # all\n').optedOut, true);
  t.equal(verdict('Disallow: /\nUser-agent: TapDance\nAllow: /a\n').optedOut, false, 'rules before any user-agent are ignored');
  t.same(verdict(''), { optedOut: false, source: 'none', rule: null });
  t.same(verdict('User-agent: Googlebot\nDisallow: /\n'), { optedOut: false, source: 'none', rule: null });
  t.equal(verdict('User-agent: TapDance\r\nDisallow: /\r\n').optedOut, true, 'CRLF');
  t.equal(verdict('User-agent: TapDance\rDisallow: /\r').optedOut, true, 'bare CR');
});

t.test('percent-encoded unreserved characters compare equal', async (t) => {
  t.equal(robotsVerdict(parseRobots('User-agent: TapDance\nDisallow: /%7Euser\n'), 'TapDance', '/~user/x').optedOut, true);
  t.equal(robotsVerdict(parseRobots('User-agent: TapDance\nDisallow: /~user\n'), 'TapDance', '/%7euser').optedOut, true);
});

t.test('fetch outcomes follow RFC 9309: 2xx parses, 3xx/4xx allow, 5xx and no answer disallow', async (t) => {
  t.same(robotsVerdictForFetch(200, 'User-agent: *\nDisallow: /\n'), { optedOut: true, source: 'wildcard', rule: 'Disallow: /' });
  t.same(robotsVerdictForFetch(200, ''), { optedOut: false, source: 'none', rule: null });
  t.same(robotsVerdictForFetch(404), { optedOut: false, source: 'unavailable', rule: null });
  t.same(robotsVerdictForFetch(301), { optedOut: false, source: 'unavailable', rule: null });
  t.same(robotsVerdictForFetch(503), { optedOut: true, source: 'unreachable', rule: null });
  t.same(robotsVerdictForFetch(null), { optedOut: true, source: 'unreachable', rule: null });
});

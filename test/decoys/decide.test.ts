import t from 'tap';
import { decide, dropReasons, type ProbeResults, type Thresholds } from '../../src/decoys/decide.js';
import { handshakeFailed, handshakeOk, holdResult, robotsResult, stationResult, tlsResult } from './helpers.js';

const T: Thresholds = { minWindow: 15360, minTimeoutMs: 30_000, requireStation: false };
const good = (): ProbeResults => ({ tls: tlsResult(), robots: robotsResult(), hold: holdResult() });
const codes = (r: ProbeResults, t: Thresholds = T): string[] => decide(r, t).reasons.map((x) => x.code);

t.test('keeps a decoy that passes every probe', async (t) => {
  t.same(decide(good(), T), { keep: true, reasons: [] });
});

t.test('keeps a decoy exactly at the thresholds and one still holding at the cap', async (t) => {
  t.equal(decide({ ...good(), hold: holdResult({ window: 15360, holdMs: 30_000 }) }, T).keep, true);
  t.equal(decide({ ...good(), hold: holdResult({ holdMs: 120_000, capped: true, ending: 'cap' }) }, T).keep, true);
});

t.test('drops a small window or a short hold, and says by how much', async (t) => {
  const d = decide({ ...good(), hold: holdResult({ window: 15359, holdMs: 29_999 }) }, T);
  t.equal(d.keep, false);
  t.same(d.reasons.map((r) => r.code), ['window-small', 'timeout-short']);
  t.match(d.reasons[0]!.detail, /15359 B < 15360 B/);
  t.match(d.reasons[1]!.detail, /closed after 30\.0 s < 30\.0 s/);
  t.match(decide({ ...good(), hold: holdResult({ holdMs: 100, ending: 'response', response: 'HTTP/1.1 400 Bad Request' }) }, T)
    .reasons[0]!.detail, /answered "HTTP\/1\.1 400 Bad Request" after 0\.1 s/);
});

t.test('an unknown window drops the decoy unless no window is required', async (t) => {
  t.same(codes({ ...good(), hold: holdResult({ window: null }) }), ['window-unknown']);
  t.equal(decide({ ...good(), hold: holdResult({ window: null }) }, { ...T, minWindow: 0 }).keep, true);
});

t.test('a failed incomplete-request probe is one reason, not three', async (t) => {
  t.same(codes({ ...good(), hold: holdResult({ failure: { code: 'ECONNRESET', message: 'x' }, window: null, holdMs: null }) }), ['hold-failed']);
});

t.test('a CBC choice for Chrome 62 and a refused AES-128-GCM hello are two reasons', async (t) => {
  const tls = tlsResult(handshakeFailed('ERR_TLS_UNSUPPORTED_SUITE', 'cbc', 0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'),
    handshakeFailed('ERR_TLS_ALERT_RECEIVED', 'handshake_failure'));
  const d = decide({ tls }, T);
  t.same(d.reasons.map((r) => r.code), ['no-aead-suite', 'no-aes128gcm']);
  t.match(d.reasons[0]!.detail, /AES_128_CBC_SHA/);
});

t.test('a CBC choice for Chrome 62 drops the decoy even when AES-128-GCM works alone', async (t) => {
  const tls = tlsResult(handshakeFailed('ERR_TLS_UNSUPPORTED_SUITE', 'cbc', 0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'));
  t.same(codes({ ...good(), tls }), ['no-aead-suite']);
});

t.test('AES-256-GCM is acceptable for the station; ChaCha20 is not', async (t) => {
  t.equal(decide({ ...good(), tls: tlsResult(handshakeOk(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm')) }, T).keep, true);
  t.same(codes({ ...good(), tls: tlsResult(handshakeOk(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305')) }),
    ['suite-not-station']);
});

t.test('a decoy that supports AES-128-GCM only when offered alone is dropped for the missing hello', async (t) => {
  t.same(codes({ ...good(), tls: tlsResult(handshakeOk(), handshakeFailed('ERR_TLS_ALERT_RECEIVED')) }), ['no-aes128gcm']);
  t.same(codes({ ...good(), tls: tlsResult(handshakeOk(), null) }), ['incomplete']);
});

t.test('classifies TCP, certificate and other TLS failures', async (t) => {
  t.same(codes({ tls: tlsResult(handshakeFailed('ECONNREFUSED'), null) }), ['connect']);
  t.same(codes({ tls: tlsResult(handshakeFailed('ETIMEDOUT'), null) }), ['connect']);
  t.same(codes({ tls: tlsResult(handshakeFailed('ERR_TLS_CERT_HOSTNAME'), null) }), ['certificate']);
  t.same(codes({ tls: tlsResult(handshakeFailed('ERR_TLS_CERT_UNTRUSTED'), null) }), ['certificate']);
  t.same(codes({ tls: tlsResult(handshakeFailed('ERR_TLS_PROTOCOL_VERSION'), handshakeFailed('ERR_TLS_PROTOCOL_VERSION')) }),
    ['tls', 'no-aes128gcm']);
  t.same(codes({ tls: tlsResult(handshakeFailed('ERR_TLS_HANDSHAKE_TIMEOUT'), null) }), ['tls']);
});

t.test('robots.txt opt-outs and unreachable robots.txt drop the decoy with the rule', async (t) => {
  const agent = decide({ ...good(), robots: robotsResult({ status: 200, verdict: { optedOut: true, source: 'agent', rule: 'Disallow: /' } }) }, T);
  t.same(agent.reasons, [{ code: 'robots-opt-out', detail: 'User-agent: TapDance / Disallow: /' }]);
  const star = decide({ ...good(), robots: robotsResult({ status: 200, verdict: { optedOut: true, source: 'wildcard', rule: 'Disallow: /' } }) }, T);
  t.same(star.reasons, [{ code: 'robots-opt-out', detail: 'User-agent: * / Disallow: /' }]);
  const down = decide({ ...good(), robots: robotsResult({ status: 503, verdict: { optedOut: true, source: 'unreachable', rule: null } }) }, T);
  t.same(down.reasons, [{ code: 'robots-unreachable', detail: 'robots.txt unreachable (HTTP 503)' }]);
  t.equal(decide({ ...good(), robots: robotsResult({ status: 200, verdict: { optedOut: false, source: 'agent', rule: 'Allow: /' } }) }, T).keep, true);
});

t.test('with a station required, only a station answer keeps the decoy', async (t) => {
  const S: Thresholds = { ...T, requireStation: true };
  t.equal(decide({ ...good(), station: stationResult() }, S).keep, true);
  t.same(codes({ ...good(), station: stationResult({ reached: false, stationMs: null, failure: { code: 'ERR_STATION_NO_RESPONSE', message: 'none' } }) }, S),
    ['no-station']);
  t.equal(decide({ ...good(), station: stationResult({ refusal: 'DECOY_OVERLOAD' }) }, S).keep, true,
    'a refusal still proves a station on the path');
  t.same(codes({ ...good(), station: stationResult({ reached: false, stationMs: null, failure: { code: 'ERR_STATION_PROTOCOL', message: 'garbage' } }) }, S),
    ['station-error']);
  t.same(codes({ ...good(), station: stationResult({ reached: false, stationMs: null, failure: { code: 'ERR_DECOY_CONNECT', message: 'x' } }) }, S),
    ['station-error']);
  t.same(codes(good(), S), ['incomplete'], 'the station test must have run');
});

t.test('a missing probe keeps nothing, but adds no reason while the host is still being probed', async (t) => {
  t.same(codes({ tls: tlsResult() }), ['incomplete']);
  t.match(decide({ tls: tlsResult() }, T).reasons[0]!.detail, /robots, hold/);
  t.same(dropReasons({ tls: tlsResult() }, T), []);
  t.same(codes({ resolve: { address: null, failure: { code: 'ENOTFOUND', message: 'no such host' } } }), ['unresolved']);
});

t.test('reports every reason at once', async (t) => {
  const r: ProbeResults = {
    tls: tlsResult(handshakeOk(), handshakeFailed('ERR_TLS_ALERT_RECEIVED')),
    robots: robotsResult({ verdict: { optedOut: true, source: 'agent', rule: 'Disallow: /' } }),
    hold: holdResult({ window: 100, holdMs: 1000 }),
  };
  t.same(codes(r), ['no-aes128gcm', 'robots-opt-out', 'window-small', 'timeout-short']);
});

/**
 * The operations tests' own helpers must find what they look for, or the privacy scan and the
 * metric checks built on them would pass vacuously.
 */
import t from 'tap';
import { findAddressForms, metricValue } from './fixtures/ops.js';

t.test('the address scan finds every form of an address and nothing in unrelated text', async (t) => {
  const ip = '10.10.1.2';
  const leaks = [
    '{"client":"10.10.1.2"}', 'ptr 2.1.10.10.in-addr.arpa', 'raw 450000340a0a01020a0b', 'le 02010A0A', 'mac-ish 0a:0a:01:02',
    'v6 ::ffff:a0a:102', 'b64 CgoBAg==', 'n=168427778,', 'le=33622538}', 'short a0a0102',
  ];
  for (const leak of leaks) t.not(findAddressForms(`{"msg":"x",${leak}}`, ip).length, 0, `finds ${leak}`);
  const clean = '{"level":30,"time":1795621209450,"svc":"tapdance-station","client":"10.10.0.0/16","decoy":"10.10.2.2","session":"3fa0c1d2e4b5","bytes":1684277780}';
  t.same(findAddressForms(clean, ip), [], 'a truncated prefix, other addresses and longer numbers are not the address');
});

t.test('metricValue reads one sample by name and exact labels', async (t) => {
  const text = [
    '# HELP a_total x', '# TYPE a_total counter', 'a_total{worker="0",reason="socket"} 3', 'a_total{worker="1",reason="socket"} 4',
    'b 7', 'b_extra 9', 'c{decoy="192.0.2.1"} 1.5',
  ].join('\n');
  t.equal(metricValue(text, 'a_total', { reason: 'socket', worker: '1' }), 4);
  t.equal(metricValue(text, 'a_total', { worker: '1' }), undefined, 'labels must match exactly');
  t.equal(metricValue(text, 'b'), 7);
  t.equal(metricValue(text, 'c', { decoy: '192.0.2.1' }), 1.5);
  t.equal(metricValue(text, 'd'), undefined);
});

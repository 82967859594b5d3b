import t from 'tap';
import { CovertAllowlist, parsePortRanges } from '../../src/station/allowlist.js';
import { StationConfigError } from '../../src/station/errors.js';

t.test('allows only addresses inside a rule and ports inside its ranges', async (t) => {
  const a = CovertAllowlist.from([
    { cidr: '10.30.0.0/16', ports: '443,8000-8010' },
    { cidr: '2001:db8::/32', ports: '*' },
    { cidr: '192.0.2.7', ports: '22' },
  ]);
  t.ok(a.allows('10.30.255.1', 443));
  t.ok(a.allows('10.30.0.1', 8005));
  t.notOk(a.allows('10.30.0.1', 8011));
  t.notOk(a.allows('10.31.0.1', 443));
  t.ok(a.allows('2001:db8:1::5', 1));
  t.notOk(a.allows('2001:db9::5', 443));
  t.ok(a.allows('192.0.2.7', 22));
  t.notOk(a.allows('192.0.2.8', 22));
});

t.test('denies loopback, mapped addresses outside the rules, names and bad ports', async (t) => {
  const a = CovertAllowlist.from([{ cidr: '10.30.0.0/16', ports: '443' }]);
  t.notOk(a.allows('127.0.0.1', 443));
  t.notOk(a.allows('::ffff:127.0.0.1', 443));
  t.ok(a.allows('::ffff:10.30.0.9', 443), 'mapped IPv4 is checked as IPv4');
  t.notOk(a.allows('example.com', 443), 'names are resolved by the caller');
  t.notOk(a.allows('10.30.0.1', 0));
  t.notOk(a.allows('10.30.0.1', 70000));
  t.notOk(CovertAllowlist.from([]).allows('10.30.0.1', 443), 'an empty list allows nothing');
});

t.test('rejects malformed rules with the rule named', async (t) => {
  t.throws(() => CovertAllowlist.from([{ cidr: '10.0.0.0/33', ports: '1' }]), { code: 'ERR_STATION_CONFIG', message: /covert\.allow\[0\]: prefix length/ });
  t.throws(() => CovertAllowlist.from([{ cidr: 'nope/8', ports: '1' }]), StationConfigError);
  t.throws(() => CovertAllowlist.from([{ cidr: '10.0.0.0/8', ports: '0' }]), /not a port/);
  t.throws(() => CovertAllowlist.from([{ cidr: '10.0.0.0/8', ports: '9-3' }]), /not a port/);
  t.throws(() => CovertAllowlist.from([{ cidr: '10.0.0.0/8/1', ports: '1' }]), /CIDR/);
  t.same(parsePortRanges('22, 80-81'), [[22, 22], [80, 81]]);
});

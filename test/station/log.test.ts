import t from 'tap';
import { Writable } from 'node:stream';
import { redactClientAddress, SessionLabeler, createStationLogger } from '../../src/station/log.js';

t.test('keeps no client address bits by default', async (t) => {
  t.equal(redactClientAddress('10.20.30.40', 0), undefined);
  t.equal(redactClientAddress('2001:db8::1', 0), undefined);
});

t.test('truncates client addresses to the configured prefix', async (t) => {
  t.equal(redactClientAddress('10.20.30.40', 16), '10.20.0.0/16');
  t.equal(redactClientAddress('10.20.30.40', 8), '10.0.0.0/8');
  t.equal(redactClientAddress('10.20.30.40', 12), '10.16.0.0/12');
  t.equal(redactClientAddress('10.20.30.40', 32), '10.20.30.0/24', 'never more than /24');
  t.equal(redactClientAddress('2001:db8:abcd:12::1', 16), '2001:db8:0:0:0:0:0:0/32');
  t.equal(redactClientAddress('2001:db8:abcd:12::1', 24), '2001:db8:abcd:0:0:0:0:0/48');
  t.equal(redactClientAddress('::ffff:10.1.2.3', 8), '0:0:0:0:0:0:0:0/16');
  t.equal(redactClientAddress('not-an-ip', 16), undefined);
});

t.test('labels sessions consistently per process without revealing the id', async (t) => {
  const id = new Uint8Array(16).fill(7);
  const a = new SessionLabeler();
  const b = new SessionLabeler();
  t.equal(a.label(id), a.label(id));
  t.not(a.label(id), b.label(id), 'labels differ between processes');
  t.match(a.label(id), /^[0-9a-f]{12}$/);
  t.notMatch(a.label(id), /0707/);
});

t.test('writes JSON lines at the configured level', async (t) => {
  const lines: string[] = [];
  const dest = new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } });
  const log = createStationLogger({ level: 'info', destination: dest });
  log.debug('hidden');
  log.info({ sessions: 3 }, 'ok');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 1);
  const rec = JSON.parse(lines[0] as string);
  t.equal(rec.msg, 'ok');
  t.equal(rec.sessions, 3);
  t.equal(rec.svc, 'tapdance-station');
});

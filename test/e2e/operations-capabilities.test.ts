/**
 * What privileges a station needs, measured rather than assumed: the station runs as `nobody`
 * (uid 65534) with only the capabilities of examples/station/tapdance-station.service, and
 * serves; without any one of them it fails at the step that needs it. (Network set-up is a
 * separate privileged step, done here by the testbed as it is by the unit's `ExecStartPre=+`.)
 * Needs root and the native addon, as CI has.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StationPath } from '../../src/demo/station-path.js';

const NEEDED = ['net_raw', 'net_admin', 'net_bind_service'] as const;

const unit = readFileSync(new URL('../../examples/station/tapdance-station.service', import.meta.url), 'utf8');

t.test('the systemd unit grants exactly these capabilities', async (t) => {
  const line = (key: string): string[] => (new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1] ?? '').split(/\s+/).filter(Boolean).sort();
  const want = NEEDED.map((c) => `CAP_${c.toUpperCase()}`).sort();
  t.same(line('AmbientCapabilities'), want);
  t.same(line('CapabilityBoundingSet'), want);
  t.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

// The station runs from this checkout: nobody must be able to read it (not so under /root).
const entry = fileURLToPath(new URL('../../src/station/cli.ts', import.meta.url));
if (spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'test', '-r', entry]).status !== 0) {
  t.test(`the station as nobody`, { skip: `user nobody cannot read ${entry}; run from a checkout others can read` }, () => {});
} else {
  const path = await StationPath.up({ startStation: false });
  t.teardown(() => path.down());
  // The unprivileged station must read its config and key: make them the station user's.
  chmodSync(path.tb.workDir, 0o755);
  chownSync(join(path.tb.workDir, 'station.key'), 65534, 65534);

  function asNobody(caps: readonly string[]): string[] {
    const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
    return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, '--'];
  }

  t.test('as nobody with CAP_NET_RAW, CAP_NET_ADMIN and CAP_NET_BIND_SERVICE the station serves', async (t) => {
    const station = await path.startExtraStation('all-caps', {}, { wrap: asNobody(NEEDED) });
    const status = readFileSync(`/proc/${station.pid}/status`, 'utf8');
    t.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, 'the station runs as nobody');
    // CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13)
    t.match(status, /^CapEff:\s+0000000000003400$/m, 'with these three capabilities and no other');
    const r = await path.fetch({ path: '/bytes/65536' });
    t.equal(r.bytes, 65536);
    await station.stop();
    t.ok(station.log.some((l) => l.msg === 'session started'));
  });

  t.test('without CAP_NET_RAW the station cannot open its capture and says so', async (t) => {
    await t.rejects(path.startExtraStation('no-raw', {}, { wrap: asNobody(NEEDED.filter((c) => c !== 'net_raw')) }), /station exited/);
    t.match(path.extraStations.get('no-raw')!.output, /ERR_CAPTURE_AFPACKET/);
  });

  for (const [missing, step] of [['net_admin', /TCP repair step TCP_REPAIR failed/], ['net_bind_service', /TCP repair step bind failed/]] as const) {
    t.test(`without CAP_${missing.toUpperCase()} the takeover fails at the step that needs it`, async (t) => {
      const station = await path.startExtraStation(`no-${missing}`, {}, { wrap: asNobody(NEEDED.filter((c) => c !== missing)) });
      const r = await path.fetchRaw({ attempts: 1 });
      t.not(r.code, 0, 'the client gets no answer');
      const failed = await station.waitForLog((l) => l.msg === 'takeover failed in the data plane', 10_000, 'the takeover failure');
      t.match(String(failed.err), step);
      await station.stop();
    });
  }
}

import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testbed, TestbedError, reapOrphans } from '../../src/testbed/index.js';
import { nodeArgv } from '../../src/testbed/node-child.js';
import { MARKER_DIR } from '../../src/testbed/teardown.js';

const hold = new URL('./fixtures/hold.ts', import.meta.url);

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

/** Markers of testbeds owned by this process (other processes may build testbeds meanwhile). */
function ownMarkers(): string[] {
  if (!existsSync(MARKER_DIR)) return [];
  return readdirSync(MARKER_DIR).filter((f) => {
    try {
      return (JSON.parse(readFileSync(join(MARKER_DIR, f), 'utf8')) as { pid: number }).pid === process.pid;
    } catch {
      return false;
    }
  });
}

/** Whether a process runs (a zombie waiting for init to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface Ready { id: string; workDir: string; namespaces: string[]; pids: number[] }

/** Start the hold fixture in `mode`, wait for its ready line, return it and a promise of its end. */
async function startHold(mode: string): Promise<{ ready: Ready; child: ReturnType<typeof spawn>;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const [node, ...args] = nodeArgv(hold, [mode]) as [string, ...string[]];
  const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line !== undefined) resolve(JSON.parse(line) as Ready);
    });
    void ended.then(({ code, signal }) => reject(new Error(`hold exited early (${signal ?? code}): ${err}`)));
  });
  return { ready, child, ended };
}

function assertGone(t: Test, ready: Ready): void {
  const left = namespaces();
  for (const ns of ready.namespaces) t.notOk(left.includes(ns), `${ns} deleted`);
  t.notOk(left.some((n) => n.startsWith(`${ready.id}-`)), 'no namespace with the testbed prefix left');
  for (const pid of ready.pids) t.notOk(alive(pid), `service pid ${pid} gone`);
  t.notOk(existsSync(ready.workDir), 'work directory removed');
  t.notOk(existsSync(join(MARKER_DIR, `${ready.id}.json`)), 'marker removed');
}

t.test('up and down leave no namespace, process or file behind', async (t) => {
  const tb = await Testbed.up({ decoys: 3 });
  t.ok(tb.isUp);
  t.equal(tb.names.decoys.length, 3);
  const decoy = await tb.startDecoy({ index: 2 });
  const covert = await tb.startCovert();
  const ready: Ready = {
    id: tb.id, workDir: tb.workDir, pids: [decoy.nginx.pid, covert.pid],
    namespaces: [tb.names.client, tb.names.router, tb.names.station, tb.names.covert, ...tb.names.decoys],
  };
  for (const ns of ready.namespaces) t.ok(namespaces().includes(ns), `${ns} exists while up`);
  await tb.down();
  await tb.down(); // idempotent
  t.notOk(tb.isUp);
  assertGone(t, ready);
  await t.rejects(tb.exec('client', 'true'), { code: 'ERR_TESTBED_STATE' }, 'a torn-down testbed refuses work');
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  t.test(`a process killed with ${sig} tears its testbed down and still dies of the signal`, async (t) => {
    const { ready, child, ended } = await startHold('wait');
    for (const ns of ready.namespaces) t.ok(namespaces().includes(ns), `${ns} up in the child`);
    child.kill(sig);
    const end = await ended;
    t.equal(end.signal, sig, `child ended by ${sig}`);
    assertGone(t, ready);
  });
}

t.test('an uncaught exception midway tears the testbed down', async (t) => {
  const { ready, ended } = await startHold('throw');
  const end = await ended;
  t.not(end.code, 0);
  assertGone(t, ready);
});

t.test('an unhandled rejection midway tears the testbed down', async (t) => {
  const { ready, ended } = await startHold('reject');
  t.not((await ended).code, 0);
  assertGone(t, ready);
});

t.test('process.exit() tears the testbed down', async (t) => {
  const { ready, ended } = await startHold('exit');
  t.equal((await ended).code, 3);
  assertGone(t, ready);
});

t.test('a SIGKILLed owner leaves a marker, and reapOrphans() removes its testbed', async (t) => {
  const { ready, child, ended } = await startHold('wait');
  child.kill('SIGKILL');
  await ended;
  t.ok(namespaces().includes(ready.namespaces[0] as string), 'SIGKILL leaves the namespaces');
  t.ok(existsSync(join(MARKER_DIR, `${ready.id}.json`)), 'and the marker');
  t.ok(reapOrphans().includes(ready.id), 'reaped');
  assertGone(t, ready);
});

t.test('a testbed refuses namespaces it did not create', async (t) => {
  const a = await Testbed.up({ station: 'none' });
  t.teardown(() => a.down());
  const b = await Testbed.up({ station: 'none' });
  t.teardown(() => b.down());
  const other = `tdforeign-${process.pid}`;
  execFileSync('ip', ['netns', 'add', other]);
  t.teardown(() => execFileSync('ip', ['netns', 'del', other]));
  for (const where of [other, b.names.client, 'td-000000-cli', 'decoy7', '']) {
    t.throws(() => a.netns(where), { code: 'ERR_TESTBED_FOREIGN_NETNS' }, `netns(${JSON.stringify(where)})`);
    await t.rejects(a.exec(where, 'ip', ['link', 'add', 'x', 'type', 'veth', 'peer', 'name', 'y']),
      { code: 'ERR_TESTBED_FOREIGN_NETNS' }, `exec in ${JSON.stringify(where)}`);
    t.throws(() => a.spawn(where, 'sleep', ['1']), { code: 'ERR_TESTBED_FOREIGN_NETNS' });
    await t.rejects(a.capture(where, { iface: 'lo' }), { code: 'ERR_TESTBED_FOREIGN_NETNS' });
  }
  const links = execFileSync('ip', ['-n', other, '-br', 'link'], { encoding: 'utf8' });
  t.notMatch(links, /\bx\b/, 'the foreign namespace was not touched');
  t.equal(a.netns('client'), a.names.client);
  t.equal(a.netns(a.names.router), a.names.router, 'its own namespace names are accepted');
});

t.test('without root, up() fails with one clear line and creates nothing', async (t) => {
  const before = ownMarkers();
  const real = process.getuid;
  process.getuid = () => 1000;
  t.teardown(() => { process.getuid = real; });
  const err = await Testbed.up().catch((e: unknown) => e);
  process.getuid = real;
  t.ok(err instanceof TestbedError);
  t.equal((err as TestbedError).code, 'ERR_TESTBED_NOT_ROOT');
  t.notMatch((err as Error).message, /\n/, 'one line');
  t.same(ownMarkers(), before, 'no testbed started');
});

t.test('bad options are rejected before anything is created', async (t) => {
  const before = ownMarkers();
  await t.rejects(Testbed.up({ decoys: 0 }), RangeError);
  await t.rejects(Testbed.up({ decoys: 65 }), RangeError);
  await t.rejects(Testbed.up({ station: 'fast' as never }), RangeError);
  await t.rejects(Testbed.up({ impairment: { lossPercent: 101 } }), RangeError);
  await t.rejects(Testbed.up({ impairment: { delayMs: -1 } }), RangeError);
  t.same(ownMarkers(), before, 'no testbed started');
});

t.test('station modes: tun keeps the tap MAC and adds the tun device; none leaves the station bare', async (t) => {
  const tun = await Testbed.up({ station: 'tun' });
  t.teardown(() => tun.down());
  const [tap] = await tun.linkStats('station', tun.interfaces.stationTap);
  t.not(tap?.mac, tun.routerClientMac, 'tap keeps its own MAC: mirrored frames stay PACKET_OTHERHOST');
  const nft = (await tun.exec('station', 'nft', ['list', 'table', 'inet', 'tapdance'])).stdout;
  t.match(nft, /iifname \{ "s-tap", "tdtun0" \}/);
  t.same(tun.netSetupOptions?.extraInterfaces, [tun.interfaces.stationTun]);
  t.ok((tun.netSetupReport?.changed ?? 0) > 0, 'net-setup ran');
  const none = await Testbed.up({ station: 'none' });
  t.teardown(() => none.down());
  t.equal(none.netSetupOptions, undefined);
  await t.rejects(none.exec('station', 'nft', ['list', 'table', 'inet', 'tapdance']), { code: 'ERR_TESTBED_COMMAND' });
  const rules = (await none.exec('station', 'ip', ['rule', 'show'])).stdout;
  t.notMatch(rules, /fwmark/);
});

import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyNetSetup, formatNetSetupReport, NetSetupError, undoNetSetup, type NetSetupOptions,
} from '../../src/station/net-setup.js';
import { Testbed } from '../../src/testbed/index.js';

const probe = new URL('./fixtures/probe.ts', import.meta.url);
const tb = await Testbed.up({ station: 'none' });
t.teardown(() => tb.down());
const stateDir = mkdtempSync(join(tmpdir(), 'td-netsetup-'));
t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));

const tap = tb.interfaces.stationTap;
const options: NetSetupOptions = {
  tap, tapMac: tb.routerClientMac, netns: tb.names.station, stateDir,
  exec: async (argv, input) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    return (await tb.exec('station', cmd, args, input === undefined ? {} : { input })).stdout;
  },
};

/** Everything net-setup may touch in the station namespace, as comparable text. */
async function snapshot(): Promise<Record<string, string>> {
  // An absent route table reads as empty: the kernel keeps an emptied FIB table, which is no trace.
  const sh = async (cmd: string, ...args: string[]): Promise<string> => {
    try { return (await tb.exec('station', cmd, args)).stdout; } catch { return ''; }
  };
  const link = JSON.parse(await sh('ip', '-j', 'link', 'show', 'dev', tap)) as Array<{ address: string; flags: string[] }>;
  return {
    mac: link[0]?.address ?? '',
    flags: [...(link[0]?.flags ?? [])].sort().join(','),
    rules: await sh('ip', 'rule', 'show'),
    table: await sh('ip', 'route', 'show', 'table', '100'),
    nft: await sh('nft', 'list', 'ruleset'),
    sysctl: await sh('sysctl', 'net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.default.rp_filter',
      `net.ipv4.conf.${tap}.rp_filter`),
  };
}

// Start from settings the plan must change and undo must bring back.
await tb.exec('station', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=1',
  'net.ipv4.conf.default.rp_filter=2', `net.ipv4.conf.${tap}.rp_filter=2`]);
await tb.exec('station', 'ip', ['link', 'set', 'dev', tap, 'arp', 'on']);
await tb.exec('station', 'ip', ['link', 'set', 'dev', tap, 'down']);
const pristine = await snapshot();

t.test('a dry run prints the whole plan and changes nothing', async (t) => {
  const report = await applyNetSetup(options, { dryRun: true });
  t.equal(report.dryRun, true);
  t.equal(report.changed, 10, 'MAC, ARP, up, 4 sysctls, route, rule, nft');
  t.ok(report.steps.every((s) => s.action === 'would-apply'));
  const text = formatNetSetupReport(report);
  t.match(text, `net-setup apply (dry run) in the network namespace ${tb.names.station}: 10 steps to change`);
  t.match(text, `ip netns exec ${tb.names.station} ip link set dev ${tap} address ${tb.routerClientMac}`);
  t.match(text, `ip netns exec ${tb.names.station} ip rule add priority 100 fwmark 0x1 lookup 100`);
  t.match(text, `ip netns exec ${tb.names.station} ip route add local 0.0.0.0/0 dev lo table 100`);
  t.match(text, 'sysctl -qw net/ipv4/ip_forward=0');
  t.match(text, `sysctl -qw net/ipv4/conf/${tap}/rp_filter=0`);
  t.match(text, /iifname \{ "s-tap" \} meta l4proto tcp socket transparent 1 meta mark set 0x1 counter accept/);
  t.same(await snapshot(), pristine, 'nothing changed');
  t.same(readdirSync(stateDir), [], 'no state written');
});

t.test('apply puts every piece in place, and applying twice equals applying once', async (t) => {
  const first = await applyNetSetup(options);
  t.equal(first.changed, 10);
  t.ok(first.steps.every((s) => s.action === 'applied'));
  const after = await snapshot();
  t.equal(after.mac, tb.routerClientMac);
  t.match(after.flags, /NOARP/);
  t.match(after.flags, /\bUP\b/);
  t.match(after.rules, /100:\s+from all fwmark 0x1 lookup 100/);
  t.match(after.table, /local default dev lo/);
  t.match(after.nft, /table inet tapdance/);
  t.match(after.nft, /socket transparent 1 meta mark set 0x00000001/);
  t.match(after.sysctl, /net.ipv4.ip_forward = 0/);
  t.match(after.sysctl, `net.ipv4.conf.${tap}.rp_filter = 0`);
  const second = await applyNetSetup(options);
  t.equal(second.changed, 0, 'second apply changes nothing');
  t.ok(second.steps.every((s) => s.action === 'in-place'));
  t.same(await snapshot(), after, 'state identical after the second apply');
  t.match(formatNetSetupReport(second), /0 steps changed/);
  const dry = await applyNetSetup(options, { dryRun: true });
  t.equal(dry.changed, 0, 'a dry run after apply has nothing to do');
});

t.test('an nft table edited by hand is put back', async (t) => {
  await tb.exec('station', 'nft', ['flush', 'chain', 'inet', 'tapdance', 'pre']);
  const fix = await applyNetSetup(options);
  t.same(fix.steps.filter((s) => s.action === 'applied').map((s) => s.id), ['nft']);
  t.match((await snapshot()).nft, /socket transparent 1/);
});

t.test('mirrored traffic that matches no transparent socket is dropped and never answered', async (t) => {
  const before = await tb.nstat('station');
  const decoy = await tb.startDecoy({ httpPort: 80 });
  const r = await tb.runNode('client', probe, ['tls', decoy.address, '443', decoy.servername, decoy.caPath]);
  t.equal((JSON.parse(r.stdout) as { status: number }).status, 200, 'client and decoy unaffected');
  const nft = JSON.parse((await tb.exec('station', 'nft', ['-j', 'list', 'table', 'inet', 'tapdance'])).stdout) as
    { nftables: Array<{ rule?: { chain: string; expr: Array<Record<string, unknown>> } }> };
  const counters = nft.nftables.filter((i) => i.rule !== undefined).map((i) => ({
    chain: i.rule?.chain, verdict: i.rule?.expr.some((e) => 'drop' in e) ? 'drop' : 'other',
    packets: (i.rule?.expr.find((e) => 'counter' in e)?.counter as { packets: number }).packets,
  }));
  const drop = counters.find((c) => c.chain === 'pre' && c.verdict === 'drop');
  const mark = counters.find((c) => c.chain === 'pre' && c.verdict === 'other');
  const rst = counters.find((c) => c.chain === 'out');
  t.ok((drop?.packets ?? 0) >= 3, `client→decoy segments dropped at the station (${drop?.packets})`);
  t.equal(mark?.packets, 0, 'none marked: no transparent socket exists');
  t.equal(rst?.packets, 0, 'station sent no RST');
  const after = await tb.nstat('station');
  t.equal(after.TcpOutRsts ?? 0, before.TcpOutRsts ?? 0, 'station TCP stack sent no reset');
  t.equal(after.TcpExtIPReversePathFilter ?? 0, 0, 'no reverse-path drops');
});

t.test('undo restores every saved value and removes what apply created; undo twice is a no-op', async (t) => {
  const dry = await undoNetSetup(options, { dryRun: true });
  t.equal(dry.changed, 10);
  t.match(formatNetSetupReport(dry), `ip netns exec ${tb.names.station} nft delete table inet tapdance`);
  t.match(formatNetSetupReport(dry), 'sysctl -qw net/ipv4/ip_forward=1');
  const undo = await undoNetSetup(options);
  t.equal(undo.changed, 10);
  t.same(await snapshot(), pristine, 'back to the state before apply');
  t.notOk(existsSync(join(stateDir, `net-setup-${tb.names.station}-${tap}.json`)), 'state file removed');
  const again = await undoNetSetup(options);
  t.equal(again.changed, 0);
  t.ok(again.steps.every((s) => s.action === 'absent'));
  t.same(await snapshot(), pristine);
});

t.test('tun mode: no MAC change, and the tun device joins the nft interface set', async (t) => {
  const tun: NetSetupOptions = { ...options, tapMac: undefined, extraInterfaces: ['tdtun0'], nftTable: 'td_tun', mark: 0x20, table: 120 };
  const report = await applyNetSetup(tun);
  t.notOk(report.steps.some((s) => s.id === 'tap-mac'));
  const snap = await snapshot();
  t.equal(snap.mac, pristine.mac, 'tap keeps its own MAC');
  t.match(snap.nft, /iifname \{ "s-tap", "tdtun0" \}.*mark set 0x00000020/);
  t.match(snap.rules, /fwmark 0x20 lookup 120/);
  t.equal((await applyNetSetup(tun)).changed, 0);
  await undoNetSetup(tun);
  t.same(await snapshot(), pristine);
});

t.test('bad options and a missing tap are typed errors', async (t) => {
  const bad: Array<[Partial<NetSetupOptions>, RegExp]> = [
    [{ tap: 'no such if' }, /"tap"/], [{ tap: 'a'.repeat(16) }, /"tap"/], [{ tapMac: 'zz:00:00:00:00:00' }, /"tapMac"/],
    [{ mark: 0 }, /"mark"/], [{ table: 254 }, /"table"/], [{ rulePriority: 0 }, /"rulePriority"/],
    [{ nftTable: 'bad name' }, /"nftTable"/], [{ extraInterfaces: ['x y'] }, /"extraInterfaces"/],
  ];
  for (const [o, msg] of bad) {
    const err = await applyNetSetup({ ...options, ...o }).catch((e: unknown) => e);
    t.ok(err instanceof NetSetupError, JSON.stringify(o));
    t.equal((err as NetSetupError).code, 'ERR_NETSETUP_INVALID');
    t.match((err as Error).message, msg);
  }
  await t.rejects(applyNetSetup({ ...options, tap: 'nope0' }), { code: 'ERR_NETSETUP_INVALID', message: /nope0 does not exist/ });
  t.same(await snapshot(), pristine, 'nothing changed');
});

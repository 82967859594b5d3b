/**
 * The station host's kernel plumbing for TCP takeover, as an idempotent plan with apply, undo
 * and a dry run that prints what it would do.
 *
 * Why each step (all measured on Linux 6.x; see SPEC and the testbed notes):
 * - **tap MAC** (optional): mirrored frames keep the router's destination MAC, so the kernel
 *   marks them PACKET_OTHERHOST and `ip_rcv()` drops them before netfilter (promiscuous mode
 *   does not help). Giving the tap the MAC of the router port where client→decoy frames enter
 *   lets exactly that direction into the stack. Not wanted in tun mode, where the station
 *   re-injects packets through a tun device instead.
 * - **tap up, ARP off**: the tap only receives; it must never answer.
 * - **sysctls**: `ip_forward=0` so unmatched mirrored packets die quietly; `rp_filter=0` on
 *   `all`, `default` and the tap, because the tap has no address and any reverse-path mode
 *   drops its packets.
 * - **policy routing**: packets carrying the mark are routed `local` whatever their
 *   destination (`ip rule fwmark MARK lookup TABLE` + `local 0.0.0.0/0 dev lo table TABLE`),
 *   so they reach the repaired socket bound (IP_TRANSPARENT) to the decoy's address.
 * - **nft table**: in prerouting, only TCP packets from the tap (and extra interfaces such as
 *   a tun device) that match an existing transparent socket get the mark; everything else
 *   from them is dropped, so the station's stack never answers mirrored traffic. An output
 *   chain counts the RSTs the station emits (should stay 0).
 *
 * Apply probes each step and runs only those not in place, so applying twice equals applying
 * once. Settings it changes (MAC, link flags, sysctls) have their previous values saved in a
 * state file and restored by undo; objects it creates (rule, route, nft table) are removed by
 * undo when present. Undo of an unapplied plan changes nothing.
 *
 * It uses `ip`, `nft` and `sysctl`, inside a network namespace when `netns` is given. It does
 * not create the tap, load any program or start capture.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/**
 * Thrown when a set-up command fails (`ERR_NETSETUP_COMMAND`: argv, exit code and stderr in
 * context), a tool is missing (`ERR_NETSETUP_TOOL_MISSING`) or an option is invalid
 * (`ERR_NETSETUP_INVALID`).
 */
export class NetSetupError extends TapDanceError {
  static override brand = 'NetSetupError';
  /**
   * @param code - `ERR_NETSETUP_COMMAND`, `ERR_NETSETUP_TOOL_MISSING` or `ERR_NETSETUP_INVALID`.
   * @param message - one line.
   * @param options - cause and context.
   */
  constructor(code: 'ERR_NETSETUP_COMMAND' | 'ERR_NETSETUP_TOOL_MISSING' | 'ERR_NETSETUP_INVALID', message: string,
    options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Options of the station's network set-up. */
export interface NetSetupOptions {
  /** Capture interface that receives the mirror (e.g. `s-tap`, `eth1`). */
  tap: string;
  /** Give the tap this MAC (kernel path: the MAC of the router port where client→decoy frames enter). */
  tapMac?: string;
  /** Firewall mark of packets for repaired sockets. Default 0x1. */
  mark?: number;
  /** Routing table number for marked packets. Default 100. */
  table?: number;
  /** Priority of the policy rule. Default 100. */
  rulePriority?: number;
  /** Name of the nft table (family inet). Default `tapdance`. */
  nftTable?: string;
  /** More input interfaces treated like the tap in nft (e.g. the tun device of tun mode). */
  extraInterfaces?: string[];
  /** Run everything inside this network namespace. */
  netns?: string;
  /** Directory of the state file with the values undo restores. Default `/run/tapdance`. */
  stateDir?: string;
  /**
   * Runs one command (argv as inside the namespace, e.g. `['nft', '-f', '-']`) and returns its
   * stdout. Default: run it, through `ip netns exec NETNS` when `netns` is set. The testbed
   * passes its own, which refuses namespaces it did not create.
   */
  exec?: (argv: readonly string[], input?: string) => Promise<string>;
}

/** What happened (or would happen) to one step. */
export type StepAction = 'applied' | 'in-place' | 'would-apply' | 'undone' | 'absent' | 'would-undo';

/** One step of a report. */
export interface StepReport {
  /** Stable step id, e.g. `tap-mac`, `sysctl:net/ipv4/ip_forward`, `rule`, `route`, `nft`. */
  id: string;
  /** What the step is for. */
  description: string;
  /** What was done. */
  action: StepAction;
  /** Commands run (or that would run), as shell-like lines. */
  commands: string[];
}

/** Result of {@link applyNetSetup} or {@link undoNetSetup}. */
export interface NetSetupReport {
  /** `apply` or `undo`. */
  mode: 'apply' | 'undo';
  /** True when nothing was changed on purpose. */
  dryRun: boolean;
  /** The namespace, or undefined for the host's. */
  netns: string | undefined;
  /** Steps in the order they were considered. */
  steps: StepReport[];
  /** Number of steps that changed something (or would have). */
  changed: number;
}

interface Resolved {
  tap: string;
  tapMac: string | undefined;
  mark: number;
  table: number;
  rulePriority: number;
  nftTable: string;
  ifnames: string[];
  netns: string | undefined;
  statePath: string;
  exec: (argv: readonly string[], input?: string) => Promise<string>;
}

/** Saved previous values, restored by undo. */
interface SavedState {
  mac?: string;
  up?: boolean;
  arp?: boolean;
  sysctl: Record<string, string>;
}

interface Step {
  id: string;
  description: string;
  /** True when the step's effect is in place. */
  probe(facts: Facts): boolean;
  apply: string[][];
  applyInput?: string;
  /** Record previous values before apply. */
  save?(facts: Facts, state: SavedState): void;
  /** Whether undo has something to do, and its commands (which may depend on saved state). */
  undoPlan(facts: Facts, state: SavedState | undefined): string[][] | undefined;
}

/** What the probes read, once per run. */
interface Facts {
  link: { flags: string[]; address: string } | undefined;
  sysctl: Record<string, string>;
  rules: Array<Record<string, unknown>>;
  routes: Array<Record<string, unknown>>;
  nft: unknown;
}

const IFNAME_RE = /^[A-Za-z0-9_.:@-]{1,15}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function resolve(o: NetSetupOptions): Resolved {
  const bad = (what: string, got: unknown): NetSetupError =>
    new NetSetupError('ERR_NETSETUP_INVALID', `net-setup: "${what}" is invalid: ${JSON.stringify(got)}`, { context: { option: what } });
  if (typeof o.tap !== 'string' || !IFNAME_RE.test(o.tap)) throw bad('tap', o.tap);
  if (o.tapMac !== undefined && !MAC_RE.test(o.tapMac)) throw bad('tapMac', o.tapMac);
  const int = (v: number | undefined, dflt: number, name: string, min: number, max: number): number => {
    const x = v ?? dflt;
    if (!Number.isInteger(x) || x < min || x > max) throw bad(name, v);
    return x;
  };
  const mark = int(o.mark, 1, 'mark', 1, 0xffffffff);
  const table = int(o.table, 100, 'table', 1, 0xfffffffe);
  if (table >= 253 && table <= 255) throw bad('table', table); // default, main, local
  const rulePriority = int(o.rulePriority, 100, 'rulePriority', 1, 32765);
  const nftTable = o.nftTable ?? 'tapdance';
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(nftTable)) throw bad('nftTable', o.nftTable);
  const extra = o.extraInterfaces ?? [];
  for (const i of extra) if (typeof i !== 'string' || !IFNAME_RE.test(i)) throw bad('extraInterfaces', i);
  if (o.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(o.netns)) throw bad('netns', o.netns);
  const stateDir = o.stateDir ?? '/run/tapdance';
  const statePath = join(stateDir, `net-setup-${o.netns ?? 'host'}-${o.tap}.json`);
  return {
    tap: o.tap, tapMac: o.tapMac?.toLowerCase(), mark, table, rulePriority, nftTable,
    ifnames: [...new Set([o.tap, ...extra])], netns: o.netns, statePath,
    exec: o.exec ?? defaultExec(o.netns),
  };
}

function defaultExec(netns: string | undefined): (argv: readonly string[], input?: string) => Promise<string> {
  return (argv, input) => new Promise((res, rej) => {
    const full = netns === undefined ? [...argv] : ['ip', 'netns', 'exec', netns, ...argv];
    const [cmd, ...args] = full as [string, ...string[]];
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err === null) return res(stdout);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT' || /exec of ".*" failed: No such file/.test(stderr);
      rej(missing
        ? new NetSetupError('ERR_NETSETUP_TOOL_MISSING', `net-setup: "${argv[0]}" is not installed`, { context: { tool: argv[0] } })
        : new NetSetupError('ERR_NETSETUP_COMMAND', `net-setup: \`${full.join(' ')}\` failed: ${stderr.trim().split('\n')[0] ?? ''}`,
          { cause: err, context: { argv: full, exitCode: err.code ?? null, stderr: stderr.trim().slice(0, 2000) } }));
    });
    child.stdin?.end(input ?? '');
  });
}

/** The nft ruleset, replacing any table of the same name in one transaction. */
function nftRuleset(r: Resolved): string {
  const set = `{ ${r.ifnames.map((i) => `"${i}"`).join(', ')} }`;
  return `table inet ${r.nftTable}
delete table inet ${r.nftTable}
table inet ${r.nftTable} {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    iifname ${set} meta l4proto tcp socket transparent 1 meta mark set ${hex(r.mark)} counter accept
    iifname ${set} counter drop
  }
  chain out {
    type filter hook output priority filter; policy accept;
    tcp flags & rst == rst counter
  }
}
`;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function sysctlKeys(r: Resolved): Record<string, string> {
  return {
    'net/ipv4/ip_forward': '0',
    'net/ipv4/conf/all/rp_filter': '0',
    'net/ipv4/conf/default/rp_filter': '0',
    [`net/ipv4/conf/${r.tap}/rp_filter`]: '0',
  };
}

function steps(r: Resolved): Step[] {
  const link = (...a: string[]): string[] => ['ip', 'link', 'set', 'dev', r.tap, ...a];
  const out: Step[] = [];
  if (r.tapMac !== undefined) {
    const mac = r.tapMac;
    out.push({
      id: 'tap-mac', description: `give ${r.tap} the MAC of the router port where client→decoy frames enter`,
      probe: (f) => f.link?.address.toLowerCase() === mac,
      apply: [link('address', mac)],
      save: (f, s) => { if (s.mac === undefined && f.link) s.mac = f.link.address; },
      undoPlan: (f, s) => (s?.mac !== undefined && f.link?.address.toLowerCase() === mac && s.mac.toLowerCase() !== mac
        ? [link('address', s.mac)] : undefined),
    });
  }
  out.push({
    id: 'tap-noarp', description: `${r.tap} never answers ARP`,
    probe: (f) => f.link?.flags.includes('NOARP') === true,
    apply: [link('arp', 'off')],
    save: (f, s) => { if (s.arp === undefined && f.link) s.arp = !f.link.flags.includes('NOARP'); },
    undoPlan: (f, s) => (s?.arp === true && f.link?.flags.includes('NOARP') ? [link('arp', 'on')] : undefined),
  });
  out.push({
    id: 'tap-up', description: `${r.tap} is up to receive the mirror`,
    probe: (f) => f.link?.flags.includes('UP') === true,
    apply: [link('up')],
    save: (f, s) => { if (s.up === undefined && f.link) s.up = f.link.flags.includes('UP'); },
    undoPlan: (f, s) => (s?.up === false && f.link?.flags.includes('UP') ? [link('down')] : undefined),
  });
  for (const [key, value] of Object.entries(sysctlKeys(r))) {
    out.push({
      id: `sysctl:${key}`, description: key.endsWith('ip_forward') ? 'the station never forwards mirrored packets'
        : 'no reverse-path filter (the tap has no address; any rp_filter mode drops its packets)',
      probe: (f) => f.sysctl[key] === value,
      apply: [['sysctl', '-qw', `${key}=${value}`]],
      save: (f, s) => { if (s.sysctl[key] === undefined && f.sysctl[key] !== undefined) s.sysctl[key] = f.sysctl[key] as string; },
      undoPlan: (f, s) => {
        const old = s?.sysctl[key];
        return old !== undefined && old !== value && f.sysctl[key] === value ? [['sysctl', '-qw', `${key}=${old}`]] : undefined;
      },
    });
  }
  const routeArgs = ['local', '0.0.0.0/0', 'dev', 'lo', 'table', String(r.table)];
  out.push({
    id: 'route', description: `table ${r.table} routes everything local`,
    probe: (f) => f.routes.some((x) => x.type === 'local' && x.dst === 'default' && x.dev === 'lo'),
    apply: [['ip', 'route', 'add', ...routeArgs]],
    undoPlan: (f) => (f.routes.some((x) => x.type === 'local' && x.dst === 'default' && x.dev === 'lo')
      ? [['ip', 'route', 'del', ...routeArgs]] : undefined),
  });
  const ruleArgs = ['priority', String(r.rulePriority), 'fwmark', hex(r.mark), 'lookup', String(r.table)];
  const ruleThere = (f: Facts): boolean => f.rules.some((x) => x.priority === r.rulePriority
    && x.fwmark === hex(r.mark) && String(x.table) === String(r.table) && x.src === 'all');
  out.push({
    id: 'rule', description: `packets marked ${hex(r.mark)} use table ${r.table}`,
    probe: ruleThere,
    apply: [['ip', 'rule', 'add', ...ruleArgs]],
    undoPlan: (f) => (ruleThere(f) ? [['ip', 'rule', 'del', ...ruleArgs]] : undefined),
  });
  out.push({
    id: 'nft', description: `nft table inet ${r.nftTable}: mark packets of transparent sockets, drop the rest from ${r.ifnames.join(', ')}`,
    probe: (f) => nftInPlace(f.nft, r),
    apply: [['nft', '-f', '-']], applyInput: nftRuleset(r),
    undoPlan: (f) => (f.nft !== undefined ? [['nft', 'delete', 'table', 'inet', r.nftTable]] : undefined),
  });
  return out;
}

/** Whether the listed nft table (JSON) holds the two prerouting rules this plan writes. */
function nftInPlace(json: unknown, r: Resolved): boolean {
  const items = (json as { nftables?: unknown[] } | undefined)?.nftables;
  if (!Array.isArray(items)) return false;
  type Expr = Record<string, unknown>;
  const chains = items.map((i) => (i as { chain?: Expr }).chain).filter((c): c is Expr => c !== undefined);
  const pre = chains.find((c) => c.name === 'pre');
  if (pre?.hook !== 'prerouting' || pre.type !== 'filter' || pre.prio !== -150) return false;
  if (!chains.some((c) => c.name === 'out' && c.hook === 'output')) return false;
  const rules = items.map((i) => (i as { rule?: Expr }).rule).filter((x): x is Expr => x?.chain === 'pre')
    .map((x) => (x.expr as Expr[]) ?? []);
  const want = [...r.ifnames].sort().join(',');
  const iif = (e: Expr[]): string | undefined => {
    for (const x of e) {
      const m = x.match as { left?: { meta?: { key?: string } }; right?: unknown } | undefined;
      if (m?.left?.meta?.key !== 'iifname') continue;
      const right = m.right as string | { set?: unknown[] };
      return typeof right === 'string' ? right : [...(right.set ?? [])].map(String).sort().join(',');
    }
    return undefined;
  };
  const has = (e: Expr[], pred: (x: Expr) => boolean): boolean => e.some(pred);
  const [mark, drop] = rules;
  if (mark === undefined || drop === undefined || rules.length !== 2) return false;
  return iif(mark) === want && iif(drop) === want
    && has(mark, (x) => (x.match as { left?: { socket?: { key?: string } }; right?: unknown } | undefined)?.left?.socket?.key === 'transparent'
      && (x.match as { right?: unknown }).right === 1)
    && has(mark, (x) => (x.mangle as { key?: { meta?: { key?: string } }; value?: unknown } | undefined)?.key?.meta?.key === 'mark'
      && (x.mangle as { value?: unknown }).value === r.mark)
    && has(mark, (x) => 'accept' in x) && has(drop, (x) => 'drop' in x);
}

async function readFacts(r: Resolved): Promise<Facts> {
  const jsonOr = async <T>(argv: string[], fallback: T): Promise<T> => {
    try {
      const out = await r.exec(argv);
      return out.trim() === '' ? fallback : JSON.parse(out) as T;
    } catch (err) {
      if (err instanceof TapDanceError && /TOOL_MISSING/.test(err.code)) throw err;
      return fallback; // absent object (no such table, route table, link)
    }
  };
  const links = await jsonOr<Array<{ flags?: string[]; address?: string }>>(['ip', '-j', 'link', 'show', 'dev', r.tap], []);
  const first = links[0];
  if (first === undefined) {
    throw new NetSetupError('ERR_NETSETUP_INVALID', `net-setup: interface ${r.tap} does not exist${r.netns ? ` in ${r.netns}` : ''}`,
      { context: { tap: r.tap } });
  }
  const keys = Object.keys(sysctlKeys(r));
  const values = (await r.exec(['sysctl', '-n', ...keys])).split('\n');
  const sysctl: Record<string, string> = {};
  keys.forEach((k, i) => { sysctl[k] = (values[i] ?? '').trim(); });
  return {
    link: { flags: first.flags ?? [], address: first.address ?? '' },
    sysctl,
    rules: await jsonOr<Array<Record<string, unknown>>>(['ip', '-j', 'rule', 'show'], []),
    routes: await jsonOr<Array<Record<string, unknown>>>(['ip', '-j', 'route', 'show', 'table', String(r.table)], []),
    nft: await jsonOr<unknown>(['nft', '-j', 'list', 'table', 'inet', r.nftTable], undefined),
  };
}

function loadState(path: string): SavedState | undefined {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as SavedState;
    return { ...s, sysctl: s.sysctl ?? {} };
  } catch {
    return undefined;
  }
}

function show(argv: readonly string[], r: Resolved): string {
  const quoted = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ');
  return r.netns === undefined ? quoted : `ip netns exec ${r.netns} ${quoted}`;
}

/**
 * Apply the plan: run each step that is not in place. Applying twice equals applying once.
 *
 * @param options - see {@link NetSetupOptions}.
 * @param run - `{ dryRun: true }` only probes (read-only commands) and reports what it would run.
 * @returns what was done, step by step.
 * @throws {@link NetSetupError} on invalid options, a missing tap or tool, or a failed command
 *   (steps before it stay applied and are recorded for undo).
 * @example
 * ```ts
 * const report = await applyNetSetup({ tap: 'eth1', tapMac: '02:00:00:00:00:01' }, { dryRun: true })
 * console.log(formatNetSetupReport(report))
 * ```
 */
export async function applyNetSetup(options: NetSetupOptions, run: { dryRun?: boolean } = {}): Promise<NetSetupReport> {
  const r = resolve(options);
  const dryRun = run.dryRun === true;
  const facts = await readFacts(r);
  const state: SavedState = loadState(r.statePath) ?? { sysctl: {} };
  const report: NetSetupReport = { mode: 'apply', dryRun, netns: r.netns, steps: [], changed: 0 };
  const persist = (): void => {
    mkdirSync(join(r.statePath, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(r.statePath, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  };
  for (const s of steps(r)) {
    const commands = s.apply.map((a) => show(a, r) + (s.applyInput === undefined ? '' : ` <<'EOF'\n${s.applyInput}EOF`));
    if (s.probe(facts)) {
      report.steps.push({ id: s.id, description: s.description, action: 'in-place', commands: [] });
      continue;
    }
    report.changed++;
    if (dryRun) {
      report.steps.push({ id: s.id, description: s.description, action: 'would-apply', commands });
      continue;
    }
    s.save?.(facts, state);
    persist(); // before the change: a crash mid-way still leaves what undo needs
    for (const argv of s.apply) await r.exec(argv, s.applyInput);
    report.steps.push({ id: s.id, description: s.description, action: 'applied', commands });
  }
  return report;
}

/**
 * Undo the plan: remove what apply created and restore the values it saved. Undoing twice, or
 * undoing a plan never applied, changes nothing.
 *
 * @param options - the same options given to {@link applyNetSetup}.
 * @param run - `{ dryRun: true }` only probes and reports what it would run.
 * @returns what was done, step by step (in reverse order of apply).
 * @throws {@link NetSetupError} as {@link applyNetSetup}.
 */
export async function undoNetSetup(options: NetSetupOptions, run: { dryRun?: boolean } = {}): Promise<NetSetupReport> {
  const r = resolve(options);
  const dryRun = run.dryRun === true;
  const facts = await readFacts(r);
  const state = loadState(r.statePath);
  const report: NetSetupReport = { mode: 'undo', dryRun, netns: r.netns, steps: [], changed: 0 };
  for (const s of steps(r).reverse()) {
    const plan = s.undoPlan(facts, state);
    if (plan === undefined) {
      report.steps.push({ id: s.id, description: s.description, action: 'absent', commands: [] });
      continue;
    }
    report.changed++;
    const commands = plan.map((a) => show(a, r));
    if (!dryRun) for (const argv of plan) await r.exec(argv);
    report.steps.push({ id: s.id, description: s.description, action: dryRun ? 'would-undo' : 'undone', commands });
  }
  if (!dryRun) rmSync(r.statePath, { force: true });
  return report;
}

/**
 * Render a report for a terminal: one line per step, its commands indented below.
 *
 * @param report - from {@link applyNetSetup} or {@link undoNetSetup}.
 * @returns printable text ending in a newline.
 */
export function formatNetSetupReport(report: NetSetupReport): string {
  const where = report.netns === undefined ? 'host network namespace' : `network namespace ${report.netns}`;
  const head = `net-setup ${report.mode}${report.dryRun ? ' (dry run)' : ''} in the ${where}: ` +
    `${report.changed} step${report.changed === 1 ? '' : 's'} ${report.dryRun ? 'to change' : 'changed'}`;
  const lines = [head];
  for (const s of report.steps) {
    lines.push(`  [${s.action}] ${s.id}: ${s.description}`);
    for (const c of s.commands) lines.push(...c.split('\n').map((l) => `      ${l}`));
  }
  return lines.join('\n') + '\n';
}

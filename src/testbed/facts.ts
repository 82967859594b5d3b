/**
 * Parsers for the facts a test reads from a namespace: interface counters (`ip -s -j link`),
 * TCP sockets with their internals (`ss -Htnio`), and kernel SNMP counters
 * (`nstat -asz --json`). Sans-IO: they take the tools' output text.
 *
 * @module
 */

/** Counters of one direction of an interface. */
export interface LinkCounters {
  bytes: number;
  packets: number;
  errors: number;
  dropped: number;
}

/** One interface's state and counters. */
export interface LinkStats {
  name: string;
  /** MAC address, lowercase. */
  mac: string;
  mtu: number;
  /** Administrative flags as `ip` prints them (`UP`, `NOARP`, `LOWER_UP`, …). */
  flags: string[];
  /** Whether the interface is administratively up. */
  up: boolean;
  rx: LinkCounters;
  tx: LinkCounters;
}

/**
 * Parse `ip -s -j link show` output.
 *
 * @param json - the command's stdout.
 * @returns one entry per interface.
 */
export function parseLinkStats(json: string): LinkStats[] {
  const items = JSON.parse(json) as Array<Record<string, unknown>>;
  const counters = (x: unknown): LinkCounters => {
    const c = (x ?? {}) as Record<string, number>;
    return { bytes: c.bytes ?? 0, packets: c.packets ?? 0, errors: c.errors ?? 0, dropped: c.dropped ?? 0 };
  };
  return items.map((i) => {
    const flags = (i.flags as string[] | undefined) ?? [];
    const s = (i.stats64 ?? i.stats ?? {}) as { rx?: unknown; tx?: unknown };
    return {
      name: String(i.ifname), mac: String(i.address ?? '').toLowerCase(), mtu: Number(i.mtu ?? 0),
      flags, up: flags.includes('UP'), rx: counters(s.rx), tx: counters(s.tx),
    };
  });
}

/** One TCP socket as `ss -tnio` shows it. */
export interface TcpSocketInfo {
  /** `ESTAB`, `LISTEN`, `SYN-SENT`, `FIN-WAIT-1`, … */
  state: string;
  recvQ: number;
  sendQ: number;
  local: { address: string; port: number };
  peer: { address: string; port: number };
  /** `key:value` fields of the info line; numbers where they parse (`rtt` is the smoothed RTT in ms). */
  fields: Record<string, string | number>;
  /** Standalone words of the info line (`ts`, `sack`, `app_limited`, the congestion control). */
  words: string[];
  /** The info line as printed. */
  raw: string;
}

function endpoint(s: string): { address: string; port: number } {
  const at = s.lastIndexOf(':');
  const port = s.slice(at + 1);
  return { address: s.slice(0, at).replace(/^\[|\]$/g, ''), port: port === '*' ? 0 : Number(port) };
}

/**
 * Parse `ss -Htnio` output (header lines followed by tab-indented info lines).
 *
 * @param text - the command's stdout.
 * @returns one entry per socket.
 */
export function parseSsTcp(text: string): TcpSocketInfo[] {
  const out: TcpSocketInfo[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const last = out[out.length - 1];
    if (/^\s/.test(line) && last !== undefined) {
      last.raw = line.trim();
      // `rtt:0.025/0.013` and `bbr:(bw:…,mrtt:…)`: keep the first number, skip parenthesised groups.
      for (const tok of line.trim().split(/\s+/)) {
        const m = /^([a-z_]+):(.+)$/.exec(tok);
        if (m === null) { last.words.push(tok); continue; }
        const [, k, v] = m as unknown as [string, string, string];
        if (v.startsWith('(')) continue;
        const num = Number(v.split('/')[0]);
        last.fields[k] = Number.isFinite(num) && /^[\d.]/.test(v) && !v.includes(',') ? num : v;
      }
      continue;
    }
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    out.push({
      state: cols[0] as string, recvQ: Number(cols[1]), sendQ: Number(cols[2]),
      local: endpoint(cols[3] as string), peer: endpoint(cols[4] as string), fields: {}, words: [], raw: '',
    });
  }
  return out;
}

/**
 * Parse `nstat -asz --json` output into a flat map of counters (`TcpExtTCPChallengeACK`, …).
 *
 * @param json - the command's stdout.
 * @returns counter name → value.
 */
export function parseNstat(json: string): Record<string, number> {
  const parsed = JSON.parse(json) as Record<string, Record<string, number>>;
  const out: Record<string, number> = {};
  for (const group of Object.values(parsed)) Object.assign(out, group);
  return out;
}

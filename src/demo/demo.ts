#!/usr/bin/env node
/**
 * `npm run demo`: builds a local testbed of network namespaces (client, router with a port
 * mirror, nginx decoy, station, covert web server), starts a station on the mirror, fetches a page
 * through TapDance from the client namespace, prints what happened step by step, and tears
 * everything down (also on Ctrl-C).
 *
 * Needs root (network namespaces) and the set-up `npm run demo` performs first.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { StationPath, type FetchSummary } from './station-path.js';

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const ms = (x: number | undefined): string => (x === undefined ? '?' : `${x.toFixed(1)} ms`);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('demo: needs root (it creates network namespaces); run it as root on a test machine\n');
    return 2;
  }
  const t0 = performance.now();
  out('tapdance demo: a page fetched through a TapDance station in a local testbed');
  out();
  out('1. Testbed: network namespaces, veth links, a router that mirrors client<->decoy traffic to the station');
  const path = await StationPath.up({ startStation: false });
  try {
    const a = path.tb.addresses;
    out(`   client ${a.client} -> router -> decoy ${a.decoys[0]} (nginx, TLS on 443, its default timeouts)`);
    out(`   router port mirror -> station tap ${path.tb.interfaces.stationTap}; station uplink ${a.stationInject}`);
    out(`   covert web server ${path.covert.address}:${path.covert.httpPort}, reachable from the station only`);
    out(`   up in ${ms(performance.now() - t0)}`);
    out();
    out('2. Station: native capture (AF_PACKET, 2 workers, fanout by IP pair), tag check, TCP_REPAIR takeover');
    const t1 = performance.now();
    await path.startStation();
    out(`   station key ${Buffer.from(path.key.publicKey).toString('hex').slice(0, 16)}..., listening on the mirror after ${ms(performance.now() - t1)}`);
    out();
    out(`3. Client: dial ${path.covert.address}:${path.covert.httpPort} through decoy ${path.decoys[0]!.servername}, GET /`);
    const r: FetchSummary = await path.fetch({ path: '/' });
    const f = r.firstFlow;
    out(`   TCP to decoy           ${ms(f?.tcpMs)}`);
    out(`   TLS 1.2 handshake      ${ms(f?.tlsMs)}   (our own TLS client, Chrome 62 ClientHello)`);
    out(`   tag sent -> station    ${ms(f?.stationMs)}   (tag in the first record's ciphertext; station took the flow over)`);
    if (r.falseStart === true) out('                          (the tag left with the client\'s Finished: TLS False Start)');
    if ((r.earlyBytes ?? 0) > 0) out(`   first ${r.earlyBytes} request bytes rode inside the tag: the covert server had them before the station answered`);
    out(`   HTTP ${r.status}, ${r.bytes} bytes: ${JSON.stringify(r.body)}`);
    out(`   total ${ms(r.ms.total)} over ${r.flows} flow(s)`);
    const started = path.stationLog.find((l) => l.msg === 'session started');
    out(`   station: session ${String(started?.session ?? '?')} started for decoy ${String(started?.decoy ?? '?')} (client address not logged)`);
    out();
    out('4. A larger transfer: 10 MB download, checked by SHA-256');
    const big = await path.fetch({ path: `/bytes/${10 << 20}` });
    const ok = big.sha256 === big.headerSha256;
    out(`   ${big.bytes} bytes in ${ms(big.ms.total)} (${((big.bytes * 8) / (big.ms.total / 1000) / 1e6).toFixed(0)} Mbit/s), SHA-256 ${ok ? 'matches' : 'DIFFERS'}`);
    const log = path.decoys[0]!.nginx.accessLog();
    out(`   nginx access log lines from tagged flows: ${log.trim() === '' ? 0 : log.trim().split('\n').length} (the decoy never saw a complete request)`);
    out();
    out('5. Station counters (after the 2 s delay of the RSTs that let the decoy free its sockets)');
    await new Promise((r) => setTimeout(r, 2_500));
    await path.stopStation();
    const stopped = path.stationLog.find((l) => l.msg === 'station stopped');
    const c = stopped?.counters as { native?: Record<string, number>; sessions?: Record<string, unknown> } | undefined;
    const n = c?.native ?? {};
    out(`   packets ${n.packets ?? '?'}, TLS flows tracked ${n.flows_created ?? '?'}, tag checks ${n.tag_checks ?? '?'},` +
      ` tags found ${n.tags_found ?? '?'}, takeovers ${n.takeovers ?? '?'}, decoy RSTs ${n.rsts_sent ?? '?'}`);
    const s = c?.sessions ?? {};
    out(`   sessions ${String(s.sessionsTotal ?? '?')}, flows ${String(s.flowsTotal ?? '?')}, bytes up ${String(s.bytesUp ?? '?')}, bytes down ${String(s.bytesDown ?? '?')}`);
    out();
    out(`6. Tearing down (total ${ms(performance.now() - t0)})`);
    return ok && r.status === 200 ? 0 : 1;
  } finally {
    await path.down();
  }
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`demo failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});

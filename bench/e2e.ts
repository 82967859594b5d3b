/**
 * End-to-end benchmark in the namespace testbed (`npm run bench:e2e`, as root), measured in one
 * run on the same path:
 *
 * 1. download throughput through TapDance (client → decoy flow taken over by the station →
 *    covert nginx serving the same file) as a ratio to a plain TLS download of the same size from the same nginx
 *    decoy by Node's https client, which does the same per-byte work in the same runtime
 *    (target ≥ 0.8); curl (OpenSSL, C) is printed as a second reference, and a plain download
 *    with this project's own TLS client as a third, which isolates the station path's cost;
 * 2. with a round-trip time added on the router: time from dial to the first covert byte minus
 *    the TCP and TLS handshake time, in round trips (target ≤ 1), with the client's defaults
 *    (TLS 1.2 False Start tag, the HTTP request as early data inside the tag: SPEC.md §5.1, §6.1)
 *    and, for comparison, with the public protocol's rule (tag after the handshake, request after
 *    the station's answer).
 *
 * `BENCH_E2E_MB` (default 64) sets the download size, `BENCH_E2E_RUNS` (default 3) the repeats
 * (the best run of each kind counts), `BENCH_E2E_DELAY_MS` (default `10,50`) the one-way delays.
 * The first covert byte of an HTTP GET needs the request to reach the covert server, so it is at
 * least one round trip after the station's answer in any design that waits for that answer.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StationPath } from '../src/demo/station-path.js';
import { startNginx } from '../src/testbed/nginx.js';

const MB = Number(process.env.BENCH_E2E_MB ?? 64);
const RUNS = Number(process.env.BENCH_E2E_RUNS ?? 3);
const DELAYS_MS = (process.env.BENCH_E2E_DELAY_MS ?? '10,50').split(',').map(Number);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench:e2e needs root (network namespaces); skipped');
    return;
  }
  const size = MB << 20;
  const big = Buffer.alloc(size, 0x5a);
  const path = await StationPath.up({ decoys: [{ files: { 'index.html': 'decoy ok\n', 'big.bin': big } }], startStation: false });
  try {
    const decoy = path.decoys[0]!;
    // The covert destination serves the same file from nginx too, so that both downloads come
    // from the same kind of server and only the path differs.
    const covertNginx = await startNginx({
      prefix: join(path.tb.workDir, 'nginx-covert'), netns: path.tb.netns('covert'),
      listen: [{ address: path.covert.address, port: 8080, ssl: false }], files: { 'big.bin': big },
    });
    const config = JSON.parse(readFileSync(path.stationConfigPath, 'utf8')) as { covert: { allow: unknown[] } };
    config.covert.allow.push({ cidr: `${path.covert.address}/32`, ports: '8080' });
    writeFileSync(path.stationConfigPath, JSON.stringify(config));
    await path.startStation();
    const target = `${path.covert.address}:8080`;
    // Warm up both paths once (JIT, page cache).
    await path.fetch({ path: '/big.bin', target });
    const https = new URL(`./https-download-main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    let bestTd = 0;
    let bestPlain = 0;
    let bestNode = 0;
    let bestOwn = 0;
    const own = new URL(`./tls-download-main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    for (let i = 0; i < RUNS; i++) {
      const td = await path.fetch({ path: '/big.bin', target }, 600_000);
      if (td.bytes !== size) throw new Error(`TapDance download returned ${td.bytes} bytes`);
      bestTd = Math.max(bestTd, (size * 8) / (td.ms.total / 1000));
      const plain = await path.tb.exec('client', 'curl', ['-s', '-o', '/dev/null', '--cacert', decoy.caPath,
        '--resolve', `${decoy.servername}:443:${decoy.address}`, '-w', '%{size_download} %{time_total}',
        `https://${decoy.servername}/big.bin`], { timeoutMs: 600_000 });
      const [bytes, seconds] = plain.stdout.trim().split(' ').map(Number) as [number, number];
      if (bytes !== size) throw new Error(`plain download returned ${bytes} bytes`);
      bestPlain = Math.max(bestPlain, (size * 8) / seconds);
      const node = await path.tb.runNode('client', https, [`https://${decoy.servername}/big.bin`, decoy.caPath, decoy.servername, decoy.address],
        { timeoutMs: 600_000 });
      const r = JSON.parse(node.stdout) as { bytes: number; ms: number };
      if (r.bytes !== size) throw new Error(`node https download returned ${r.bytes} bytes`);
      bestNode = Math.max(bestNode, (size * 8) / (r.ms / 1000));
      const o = JSON.parse((await path.tb.runNode('client', own, ['/big.bin', decoy.caPath, decoy.servername, decoy.address],
        { timeoutMs: 600_000 })).stdout) as { bytes: number; ms: number };
      if (o.bytes !== size) throw new Error(`own-TLS download returned ${o.bytes} bytes`);
      bestOwn = Math.max(bestOwn, (size * 8) / (o.ms / 1000));
    }
    console.log(`e2e download ${MB} MiB, best of ${RUNS}: TapDance ${(bestTd / 1e6).toFixed(0)} Mbit/s, ` +
      `plain TLS with Node https ${(bestNode / 1e6).toFixed(0)} Mbit/s, ratio ${(bestTd / bestNode).toFixed(2)} (target >= 0.8); ` +
      `curl ${(bestPlain / 1e6).toFixed(0)} Mbit/s (ratio ${(bestTd / bestPlain).toFixed(2)}); ` +
      `plain TLS with this project's TLS client ${(bestOwn / 1e6).toFixed(0)} Mbit/s (ratio ${(bestTd / bestOwn).toFixed(2)}: the station path alone)`);
    await covertNginx.stop();

    // Fixed processing (client tag building, station takeover) is a larger share of a short
    // round trip, so the figure is printed for a LAN-like and a long-haul round trip.
    for (const [delayMs, publicRule] of DELAYS_MS.flatMap((d) => [[d, false], [d, true]] as const)) {
      await path.tb.setImpairment({ delayMs });
      const rtt = 2 * delayMs;
      let best = Infinity;
      let sample = { firstByte: 0, tcp: 0, tls: 0, station: 0 };
      for (let i = 0; i < RUNS; i++) {
        const r = await path.fetch({ path: '/', publicRule });
        const handshake = (r.firstFlow?.tcpMs ?? 0) + (r.firstFlow?.tlsMs ?? 0);
        const extra = r.ms.firstByte - handshake;
        if (extra < best) {
          best = extra;
          sample = { firstByte: r.ms.firstByte, tcp: r.firstFlow?.tcpMs ?? 0, tls: r.firstFlow?.tlsMs ?? 0, station: r.firstFlow?.stationMs ?? 0 };
        }
      }
      console.log(`e2e first covert byte (HTTP GET, ${publicRule ? 'public rule' : 'defaults'}), RTT ${rtt} ms: dial→first byte ${sample.firstByte.toFixed(1)} ms − TCP+TLS ` +
        `${(sample.tcp + sample.tls).toFixed(1)} ms = ${best.toFixed(1)} ms = ${(best / rtt).toFixed(2)} RTT${publicRule ? '' : ' (target <= 1)'}; ` +
        `tag→station answer ${sample.station.toFixed(1)} ms`);
    }
  } finally {
    await path.down();
  }
}

await main();

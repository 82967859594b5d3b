/**
 * End-to-end benchmark in the namespace testbed (`npm run bench:e2e`, as root), measured in one
 * run on the same path:
 *
 * 1. download throughput through TapDance (client → decoy flow taken over by the station →
 *    covert nginx serving the same file) as a ratio to a plain TLS download of the same size from
 *    the same nginx decoy by Node's https client, which does the same per-byte work in the same
 *    runtime (target ≥ 0.8). Each client is a helper process (`*-download-main.ts`) that makes a
 *    new connection per download; a "running" client has done the same download a few times
 *    before, untimed, as a long-lived client (Tor's or Psiphon's transport) has its code
 *    optimised (see download-run.ts), and a "fresh" one has not. The station, as a deployed one,
 *    has relayed a few downloads before anything is timed. Layouts: with two or more CPUs, first
 *    as deployed, the client on CPU 0 and the decoy, covert server and station on CPU 1 (a client
 *    and a station never share a CPU), then all on shared CPUs, where the station's work
 *    competes with the client's. A plain download with this project's own TLS client isolates
 *    the station path's cost; curl (OpenSSL, C) is a further reference;
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
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StationPath } from '../src/demo/station-path.js';
import { startNginx } from '../src/testbed/nginx.js';
import { WARMUPS, type DownloadResult } from './download-run.js';

const MB = Number(process.env.BENCH_E2E_MB ?? 64);
const RUNS = Number(process.env.BENCH_E2E_RUNS ?? 3);
const DELAYS_MS = (process.env.BENCH_E2E_DELAY_MS ?? '10,50').split(',').map(Number);
/** Untimed downloads through the station before the timed ones (see main). */
const STATION_WARMUPS = 4;

const run = promisify(execFile);

/** The process ids in the testbed's network namespace `ns`. */
async function namespacePids(ns: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]);
  return stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
}

/** Pin every process (and thread) in the testbed's `namespaces` to `cpus` (a taskset list). */
async function pinNamespaces(namespaces: readonly string[], cpus: string): Promise<void> {
  for (const ns of namespaces) {
    for (const pid of await namespacePids(ns)) {
      await run('taskset', ['-a', '-p', '-c', cpus, pid]).catch(() => {}); // it may have exited
    }
  }
}

/** CPU time (all threads, user and system) used so far by the processes in `namespaces`, in ms. */
async function namespaceCpuMs(namespaces: readonly string[]): Promise<number> {
  const tick = 1000 / 100; // USER_HZ
  let ms = 0;
  for (const ns of namespaces) {
    for (const pid of await namespacePids(ns)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ms += (Number(fields[11]) + Number(fields[12])) * tick; // utime, stime
      } catch {
        // it exited
      }
    }
  }
  return ms;
}

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
    const entry = (name: string): URL => new URL(`./${name}.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    const clients = {
      tapdance: (warm: boolean) => [entry('tapdance-download-main'), ['/big.bin', path.clientConfPath, path.caPath, target, ...(warm ? ['/big.bin'] : [])]] as const,
      https: (warm: boolean) => [entry('https-download-main'), [`https://${decoy.servername}/big.bin`, decoy.caPath, decoy.servername, decoy.address,
        ...(warm ? [`https://${decoy.servername}/big.bin`] : [])]] as const,
      own: (warm: boolean) => [entry('tls-download-main'), ['/big.bin', decoy.caPath, decoy.servername, decoy.address, ...(warm ? ['/big.bin'] : [])]] as const,
    };
    type Kind = keyof typeof clients;
    const download = async (kind: Kind, warm: boolean, cpu: string | undefined): Promise<DownloadResult> => {
      const [file, args] = clients[kind](warm);
      const r = await path.tb.runNode('client', file, args, { timeoutMs: 600_000, ...(cpu === undefined ? {} : { env: { BENCH_CPU: cpu } }) });
      if (r.code !== 0) throw new Error(`${kind} download failed: ${r.stderr.trim()}`);
      const d = JSON.parse(r.stdout) as DownloadResult;
      if (d.bytes !== size) throw new Error(`${kind} download returned ${d.bytes} bytes`);
      return d;
    };
    const mbps = (ms: number): number => (size * 8) / (ms / 1000) / 1e6;
    // A deployed station has been running for days: its relay code is optimised. A fresh one
    // spent 15% of its CPU in TurboFan and ran baseline code during its first 64 MiB relays (perf
    // on its CPU), so it relays a few downloads before anything is timed (also the page cache).
    for (let i = 0; i < STATION_WARMUPS; i++) await download('tapdance', false, undefined);
    const serverNamespaces = [...path.tb.names.decoys, path.tb.names.covert, path.tb.names.station];
    const cpus = availableParallelism();
    // As deployed, the client and the station never share a CPU: the client side gets CPU 0, the
    // decoy, covert server and station CPU 1. On shared CPUs the station's work slows the client.
    const layouts = cpus >= 2 ? (['separate', 'shared'] as const) : (['shared'] as const);
    for (const layout of layouts) {
      await pinNamespaces(serverNamespaces, layout === 'separate' ? '1' : `0-${cpus - 1}`);
      const clientCpu = layout === 'separate' ? '0' : undefined;
      const best = { tapdance: { warm: 0, cold: 0, data: 0 }, https: { warm: 0, cold: 0, data: 0 }, own: { warm: 0, cold: 0, data: 0 } };
      // CPU per download: the client's (timed download only), and what serves it: the station
      // and the covert nginx for TapDance, the decoy nginx for plain TLS (whole helper run).
      const cpu = { tapdance: Infinity, https: Infinity, own: Infinity, station: Infinity, covert: Infinity, decoy: Infinity };
      for (let i = 0; i < RUNS; i++) {
        for (const kind of ['tapdance', 'https', 'own'] as const) {
          const before = await Promise.all([namespaceCpuMs([path.tb.names.station]), namespaceCpuMs([path.tb.names.covert]), namespaceCpuMs(path.tb.names.decoys)]);
          const warm = await download(kind, true, clientCpu);
          const after = await Promise.all([namespaceCpuMs([path.tb.names.station]), namespaceCpuMs([path.tb.names.covert]), namespaceCpuMs(path.tb.names.decoys)]);
          const per = (j: number): number => (after[j]! - before[j]!) / (WARMUPS + 1);
          if (kind === 'tapdance') [cpu.station, cpu.covert] = [Math.min(cpu.station, per(0)), Math.min(cpu.covert, per(1))];
          if (kind === 'https') cpu.decoy = Math.min(cpu.decoy, per(2));
          cpu[kind] = Math.min(cpu[kind], warm.cpuMs ?? Infinity);
          const cold = await download(kind, false, clientCpu);
          const b = best[kind];
          b.warm = Math.max(b.warm, mbps(warm.ms));
          b.data = Math.max(b.data, mbps(warm.ms - warm.firstByteMs));
          b.cold = Math.max(b.cold, mbps(cold.ms));
        }
      }
      const td = best.tapdance;
      const where = layout === 'separate' ? 'client on CPU 0, decoy, covert server and station on CPU 1 (as deployed)' : `all on ${cpus} shared CPU${cpus > 1 ? 's' : ''}`;
      console.log(`e2e download ${MB} MiB, best of ${RUNS}, ${where}:\n` +
        `  running clients (the same download done ${WARMUPS} times before in the process, a new connection each): TapDance ${td.warm.toFixed(0)} Mbit/s, ` +
        `plain TLS with Node https ${best.https.warm.toFixed(0)} Mbit/s, ratio ${(td.warm / best.https.warm).toFixed(2)}${layout === 'separate' ? ' (target >= 0.8)' : ''}; ` +
        `first to last byte ${(td.data / best.https.data).toFixed(2)}; ` +
        `this project's TLS client ${best.own.warm.toFixed(0)} Mbit/s (TapDance/own ${(td.warm / best.own.warm).toFixed(2)}: the station path alone)\n` +
        `  fresh processes (connect includes loading and compiling the code): TapDance ${td.cold.toFixed(0)} Mbit/s, ` +
        `Node https ${best.https.cold.toFixed(0)} Mbit/s, ratio ${(td.cold / best.https.cold).toFixed(2)}\n` +
        `  CPU per download (least of ${RUNS}, running): client TapDance ${cpu.tapdance.toFixed(0)} ms, this project's TLS ${cpu.own.toFixed(0)} ms, ` +
        `Node https ${cpu.https.toFixed(0)} ms; station ${cpu.station.toFixed(0)} ms and covert nginx ${cpu.covert.toFixed(0)} ms per download relayed, ` +
        `decoy nginx ${cpu.decoy.toFixed(0)} ms per download served over TLS (10 ms ticks)`);
    }
    await pinNamespaces(serverNamespaces, `0-${cpus - 1}`);
    let bestCurl = 0;
    for (let i = 0; i < RUNS; i++) {
      const plain = await path.tb.exec('client', 'curl', ['-s', '-o', '/dev/null', '--cacert', decoy.caPath,
        '--resolve', `${decoy.servername}:443:${decoy.address}`, '-w', '%{size_download} %{time_total}',
        `https://${decoy.servername}/big.bin`], { timeoutMs: 600_000 });
      const [bytes, seconds] = plain.stdout.trim().split(' ').map(Number) as [number, number];
      if (bytes !== size) throw new Error(`curl download returned ${bytes} bytes`);
      bestCurl = Math.max(bestCurl, mbps(seconds * 1000));
    }
    console.log(`e2e download ${MB} MiB with curl (OpenSSL, C; shared CPUs), best of ${RUNS}: ${bestCurl.toFixed(0)} Mbit/s`);
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

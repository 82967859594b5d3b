/**
 * Client benchmark in the namespace testbed (`npm run bench:client`, as root), in one run on the
 * same path:
 *
 * - upload throughput with flow switching (the decoy window of a typical ClientConf, 64 KiB, so a
 *   new flow every ~60 KiB) as a ratio to one long flow (a window larger than the transfer);
 * - CPU time of the client process per MB, for a download and for the switching upload.
 *
 * `BENCH_CLIENT_MB` (default 16) sets the size, `BENCH_CLIENT_RUNS` (default 3) the repeats.
 *
 * @module
 */
import { StationPath, type FetchSummary } from '../src/demo/station-path.js';

const MB = Number(process.env.BENCH_CLIENT_MB ?? 16);
const RUNS = Number(process.env.BENCH_CLIENT_RUNS ?? 3);

function best(runs: FetchSummary[], size: number): { mbps: number; cpuPerMb: number; flows: number } {
  const fastest = runs.reduce((a, b) => (a.ms.total <= b.ms.total ? a : b));
  return { mbps: (size * 8) / (fastest.ms.total / 1000) / 1e6, cpuPerMb: (fastest.cpuMs ?? 0) / (size / (1 << 20)), flows: fastest.flows ?? 0 };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench:client needs root (network namespaces); skipped');
    return;
  }
  const size = MB << 20;
  const path = await StationPath.up();
  try {
    await path.fetch({ path: '/upload', upload: 1 << 20 });
    const switching: FetchSummary[] = [];
    const single: FetchSummary[] = [];
    const download: FetchSummary[] = [];
    for (let i = 0; i < RUNS; i++) {
      switching.push(await path.fetch({ path: '/upload', upload: size, tcpWindow: 65_535 }, 600_000));
      single.push(await path.fetch({ path: '/upload', upload: size, tcpWindow: 2 * size }, 600_000));
      download.push(await path.fetch({ path: `/bytes/${size}` }, 600_000));
    }
    const s = best(switching, size);
    const o = best(single, size);
    const d = best(download, size);
    console.log(`client upload ${MB} MiB, best of ${RUNS}: with flow switching ${s.mbps.toFixed(0)} Mbit/s over ${s.flows} flows, ` +
      `one long flow ${o.mbps.toFixed(0)} Mbit/s, ratio ${(s.mbps / o.mbps).toFixed(2)}`);
    console.log(`client CPU per MiB: upload with switching ${s.cpuPerMb.toFixed(1)} ms, one flow ${o.cpuPerMb.toFixed(1)} ms, ` +
      `download ${d.cpuPerMb.toFixed(1)} ms (process total incl. start-up, divided by size)`);
  } finally {
    await path.down();
  }
}

await main();

/**
 * `npm run bench`: runs every benchmark script one after another, each in its own process so that
 * one's JIT state and memory do not colour the next. Each script measures its own baselines in
 * the same run and prints ratios. `cargo bench` (in station-native/) runs the Rust benchmarks.
 *
 * `BENCH_ONLY=crypto,tls` runs a subset.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ALL = ['crypto', 'tls', 'station', 'client', 'e2e'];
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
let failed = 0;
for (const name of only ?? ALL) {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  console.log(`\n== ${name} ==`);
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`bench ${name}: exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exitCode = failed === 0 ? 0 : 1;

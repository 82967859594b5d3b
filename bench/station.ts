/**
 * Station data-plane benchmark (`node dist/bench/station.js` after `npm run build`, or with a
 * TypeScript loader). Everything is measured in this run and printed as rates and ratios:
 *
 * - tag checks per second per core (native, one thread), tagged and untagged records, against
 *   the TypeScript reader (src/protocol/tag-reader.ts) on the same records: the speed-up;
 * - replay of a synthetic realistic mix through one worker: Gbps and Mpps per core;
 * - bytes of memory per tracked flow (flow table bytes / capacity).
 *
 * Targets from issue 3: ≥ 30,000 checks/s/core, ≥ 5 Gbps/core, ≤ 256 bytes/flow.
 * Asserts nothing; only prints.
 *
 * @module
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { benchCheckTag, replayCapture, stationPublicKey, synthesizeCapture } from '../src/station/native.js';
import { readTag } from '../src/protocol/tag-reader.js';

const secret = Buffer.alloc(32, 0x42);
const dir = mkdtempSync(path.join(tmpdir(), 'td-bench-station-'));

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

try {
  // A capture with tagged flows gives us real tagged records to time.
  const mix = path.join(dir, 'mix.pcap');
  synthesizeCapture(mix, { seed: 1, flows: 4000, tagged: 40, stationPublic: stationPublicKey(secret) });
  const probe = replayCapture(mix, [secret]);
  const tagged = probe.tagged[0]!.record;
  const untagged = Buffer.from(tagged);
  untagged[untagged.length - 40]! ^= 1; // breaks the tag's GCM: the common "no tag" case

  // Native: timed inside Rust (no JS crossing per check).
  const iters = 20_000;
  const nativeTagged = iters / (benchCheckTag(tagged, [secret], iters) / 1e9);
  const nativeUntagged = iters / (benchCheckTag(untagged, [secret], iters) / 1e9);

  // TypeScript reader on the same record.
  const tsIters = 300;
  const sk = new Uint8Array(secret);
  const rec = new Uint8Array(untagged);
  readTag(rec, [sk]);
  let t0 = performance.now();
  for (let i = 0; i < tsIters; i++) readTag(rec, [sk]);
  const tsUntagged = tsIters / ((performance.now() - t0) / 1000);

  console.log('tag checks (one core)');
  console.log(`  native, tagged record     ${fmt(nativeTagged).padStart(10)} /s`);
  console.log(`  native, untagged record   ${fmt(nativeUntagged).padStart(10)} /s   (${fmt(nativeUntagged / 30_000, 2)}x the 30,000/s target)`);
  console.log(`  TypeScript readTag        ${fmt(tsUntagged).padStart(10)} /s`);
  console.log(`  speed-up native / TypeScript: ${fmt(nativeUntagged / tsUntagged, 1)}x`);

  // Replay throughput: several passes of the mix through one worker.
  const passes = 5;
  const bytesOnDisk = statSync(mix).size;
  t0 = performance.now();
  const r = replayCapture(mix, [secret], { passes });
  const wall = (performance.now() - t0) / 1000;
  const secs = r.elapsedNs / 1e9;
  const frames = r.counters.packets!;
  const bytes = r.counters.bytes!;
  console.log('replay of a realistic mix (one worker, one core)');
  console.log(`  ${fmt(frames / passes)} frames, ${fmt(bytes / passes / 1e6, 1)} MB per pass (file ${fmt(bytesOnDisk / 1e6, 1)} MB), ${passes} passes, ${fmt(r.tagged.length / passes)} tagged flows per pass`);
  console.log(`  ${fmt((bytes * 8) / secs / 1e9, 2)} Gbps, ${fmt(frames / secs / 1e6, 2)} Mpps   (${fmt((bytes * 8) / secs / 5e9, 2)}x the 5 Gbps target; pipeline time ${fmt(secs, 3)} s of ${fmt(wall, 3)} s wall)`);
  console.log(`  tag checks in the mix: ${fmt(r.counters.tag_checks! / passes)} per pass`);

  const perFlow = r.tableMemory / r.tableCapacity;
  console.log('flow table');
  console.log(`  ${fmt(perFlow, 1)} bytes per tracked flow (capacity ${fmt(r.tableCapacity)}; ${fmt(perFlow / 256, 2)}x the 256-byte budget)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

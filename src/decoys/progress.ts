/**
 * Progress of a build for the operator: a `cli-progress` bar when stderr is a terminal, plain
 * lines (`[3/10] example.com: kept`) otherwise, so logs and CI output stay readable.
 *
 * @module
 */
import cliProgress from 'cli-progress';
import type { DecoyEntry } from './builder.js';

/** What the builder reports to. */
export interface BuildProgress {
  /** The build starts with this many candidates. */
  start(total: number): void;
  /** One candidate is done. */
  result(entry: DecoyEntry, done: number, total: number): void;
  /** The build is over. */
  stop(): void;
}

/**
 * The one-line summary of a finished candidate.
 *
 * @param entry - the candidate's result
 * @returns e.g. `example.com (192.0.2.1): kept, window 29200 B, timeout 60.0 s`
 */
export function progressLine(entry: DecoyEntry): string {
  if (!entry.keep) return `${entry.label}: dropped: ${entry.reasons.map((r) => r.code).join(', ')}`;
  const f = entry.figures;
  return `${entry.label}: kept, window ${f.window ?? '?'} B, timeout ${f.timeoutCapped ? '>=' : ''}${((f.timeoutMs ?? 0) / 1000).toFixed(1)} s`;
}

/**
 * Plain-line progress (non-terminal output).
 *
 * @param write - where lines go (e.g. stderr)
 * @returns the progress sink
 */
export function lineProgress(write: (text: string) => void): BuildProgress {
  return {
    start: (total) => write(`probing ${total} candidate${total === 1 ? '' : 's'}\n`),
    result: (entry, done, total) => write(`[${done}/${total}] ${progressLine(entry)}\n`),
    stop: () => {},
  };
}

/**
 * A progress bar on a terminal stream.
 *
 * @param stream - a TTY stream (process.stderr)
 * @returns the progress sink
 */
export function barProgress(stream: NodeJS.WritableStream): BuildProgress {
  const bar = new cliProgress.SingleBar({
    format: 'decoys [{bar}] {value}/{total} | kept {kept} | {last}',
    stream,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
  let kept = 0;
  return {
    start: (total) => bar.start(total, 0, { kept: 0, last: '' }),
    result: (entry, done) => {
      if (entry.keep) kept++;
      bar.update(done, { kept, last: progressLine(entry).slice(0, 60) });
    },
    stop: () => bar.stop(),
  };
}

/**
 * When the managed proxy must stop (pt-spec §3.4 and what tor and lyrebird do).
 *
 * - SIGTERM: stop now (tor's `process_unix_terminate`; Arti after its grace period).
 * - SIGINT: drain: stop accepting and let open connections finish; a second SIGINT or a SIGTERM
 *   then stops at once (the proposal-180 semantics the spec once had, as lyrebird keeps them).
 * - stdin closed, only when `TOR_PT_EXIT_ON_STDIN_CLOSE=1`: stop now. stdin is not touched
 *   otherwise, since it may be /dev/null (an immediate EOF).
 * - Otherwise, a change of parent process (tor died, we were re-parented) is noticed by polling
 *   `process.ppid`, as lyrebird polls getppid(), and stops us.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/** Why the proxy stops. */
export type StopReason = 'SIGTERM' | 'SIGINT' | 'stdin-close' | 'parent-exit';

/** Options of {@link watchTermination}. */
export interface TerminationOptions {
  /** `TOR_PT_EXIT_ON_STDIN_CLOSE` was `1`. */
  exitOnStdinClose: boolean;
  /** Called on the first SIGINT. */
  onDrain(): void;
  /** Called when the proxy must stop now; may be called after onDrain. */
  onStop(reason: StopReason): void;
  /** Source of SIGTERM/SIGINT. Default `process`. */
  signals?: EventEmitter;
  /** stdin. Default `process.stdin` (read only when `exitOnStdinClose`). */
  stdin?: Readable;
  /** Parent poll period, ms. Default 1000. */
  parentPollMs?: number;
}

/**
 * Watch for the reasons to stop.
 *
 * @param options - what to watch and whom to tell
 * @returns a function that removes every watcher
 * @example
 * ```ts
 * const unwatch = watchTermination({ exitOnStdinClose: env.exitOnStdinClose,
 *   onDrain: () => server.close().then(() => exit(0)), onStop: () => { server.destroy(); exit(0) } })
 * ```
 */
export function watchTermination(options: TerminationOptions): () => void {
  const signals = options.signals ?? process;
  let draining = false;
  let stopped = false;
  const stop = (reason: StopReason): void => {
    if (stopped) return;
    stopped = true;
    options.onStop(reason);
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => {
    if (draining) return stop('SIGINT');
    draining = true;
    options.onDrain();
  };
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);

  let stdin: Readable | undefined;
  const onStdinEnd = (): void => stop('stdin-close');
  if (options.exitOnStdinClose) {
    stdin = options.stdin ?? process.stdin;
    stdin.on('end', onStdinEnd);
    stdin.on('close', onStdinEnd);
    stdin.on('error', onStdinEnd);
    // Read and discard: the parent sends nothing, and flowing mode is what reports EOF.
    stdin.on('data', discard);
  }

  let poll: NodeJS.Timeout | undefined;
  if (!options.exitOnStdinClose) {
    const parent = process.ppid;
    poll = setInterval(() => {
      if (process.ppid !== parent) stop('parent-exit');
    }, options.parentPollMs ?? 1000);
    poll.unref();
  }

  return () => {
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
    if (stdin !== undefined) {
      stdin.off('end', onStdinEnd);
      stdin.off('close', onStdinEnd);
      stdin.off('error', onStdinEnd);
      stdin.off('data', discard);
      stdin.pause();
    }
    if (poll !== undefined) clearInterval(poll);
  };
}

function discard(): void {}

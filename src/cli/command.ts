/**
 * The shape of a `tapdance` subcommand and the small I/O surface commands write to, so that the
 * dispatcher (`main.ts`) and the tests can drive commands without a process.
 *
 * @module
 */

/** Where a command writes. The real CLI passes `process.stdout` / `process.stderr`. */
export interface CliIo {
  /** Normal output (results, JSON). */
  out: (text: string) => void;
  /** Diagnostics and errors. */
  err: (text: string) => void;
}

/** One subcommand. */
export interface Command {
  /** Words that select it, e.g. `['tag', 'decode']`. */
  readonly path: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** Full help text (usage, options, exit status). */
  readonly help: string;
  /**
   * Run with the arguments after the command words.
   *
   * @returns the exit status
   * @throws {@link UsageError} for bad arguments (the dispatcher prints it and exits 2)
   */
  run(args: string[], io: CliIo): Promise<number>;
}

/** Bad command-line arguments; `main` prints the message with a hint and exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit status of a usage error. */
export const EXIT_USAGE = 2;

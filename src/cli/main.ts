/**
 * The `tapdance` command-line tool: a table of subcommands and a dispatcher. New subcommands
 * (e.g. `decoys build`) are a new entry in {@link COMMANDS}; the dispatcher matches the longest
 * command path, prints help, and turns usage errors into exit status 2.
 *
 * No process globals here: `main` takes argv and an I/O object and returns the exit status, so
 * tests can run it in-process. The executable wrapper is `tapdance.ts`.
 *
 * @module
 */
import { EXIT_USAGE, UsageError, type CliIo, type Command } from './command.js';
import { decoysBuildCommand } from './commands/decoys-build.js';
import { keygenCommand } from './commands/keygen.js';
import { tagDecodeCommand } from './commands/tag-decode.js';
import { TapDanceError } from '../errors.js';

/** All subcommands, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [keygenCommand, tagDecodeCommand, decoysBuildCommand];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return `Usage: tapdance <command> [options]

TapDance refraction networking tools.

Commands:
${lines.join('\n')}

Run 'tapdance <command> --help' for the options of a command.
`;
}

/** The command whose path is the longest prefix of `argv`, and the remaining arguments. */
function lookup(argv: readonly string[]): { command: Command; rest: string[] } | null {
  let best: Command | null = null;
  for (const c of COMMANDS) {
    if (c.path.every((word, i) => argv[i] === word) && (best === null || c.path.length > best.path.length)) best = c;
  }
  return best === null ? null : { command: best, rest: argv.slice(best.path.length) };
}

/**
 * Run the CLI.
 *
 * @param argv - arguments after the program name
 * @param io - output sinks
 * @returns the exit status: 0 success, 1 the command's negative result (e.g. `no tag`),
 *   2 usage error, 3 unexpected failure
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2), { out: (s) => process.stdout.write(s),
 *   err: (s) => process.stderr.write(s) })
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(overview());
    return argv.length === 0 ? EXIT_USAGE : 0;
  }
  const found = lookup(argv);
  if (found === null) {
    const group = COMMANDS.filter((c) => c.path[0] === argv[0]);
    const hint = group.length > 0 ? `; try ${group.map((c) => `'tapdance ${c.path.join(' ')}'`).join(', ')}` : '';
    io.err(`tapdance: unknown command '${argv.join(' ')}'${hint}\nRun 'tapdance --help' for the list of commands.\n`);
    return EXIT_USAGE;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`tapdance ${command.path.join(' ')}: ${err.message}\nRun 'tapdance ${command.path.join(' ')} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    const detail = err instanceof TapDanceError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
    io.err(`tapdance ${command.path.join(' ')}: ${detail}\n`);
    return 3;
  }
}

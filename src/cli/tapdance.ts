#!/usr/bin/env node
/**
 * Executable entry of the `tapdance` command (package.json `bin`). All logic is in `main.ts`.
 *
 * @module
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
});

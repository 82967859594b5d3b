/**
 * Where a native addon built by `scripts/build-native.sh` is expected:
 * `<package root>/<crate>/<name>.<platform>-<arch>.node`, found from this module whether it runs
 * from `src/` (tsx, tests) or from `dist/src/` (built).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @param crate - the crate's folder at the package root, e.g. `station-native`
 * @param name - the addon's base name, e.g. `tapdance-station`
 * @returns the path (which may not exist: the caller reports a missing addon)
 */
export function addonPath(crate: string, name: string): string {
  const file = `${name}.${process.platform}-${process.arch}.node`;
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Walk up to the package root: the first folder holding the addon or a package.json.
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const p = path.join(dir, crate, file);
    if (existsSync(p) || existsSync(path.join(dir, 'package.json'))) return p;
  }
  return path.join(here, crate, file);
}

/**
 * tapdance: refraction networking for Node.js (client side).
 *
 * `import { dial } from 'tapdance'` is the entry point applications use; the station lives under
 * `tapdance/station` and the Tor pluggable transport under `tapdance/pt`.
 *
 * @module
 */
export { TapDanceError, InvalidArgumentError } from './errors.js';
export type { TapDanceErrorOptions } from './errors.js';

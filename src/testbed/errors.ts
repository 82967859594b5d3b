/**
 * Errors of the network-namespace testbed.
 *
 * One class, {@link TestbedError}, with a closed set of stable codes ({@link TestbedErrorCode}).
 * Context carries namespace names, commands and exit codes; never anything from outside the
 * testbed.
 *
 * @module
 */
import { TapDanceError, type TapDanceErrorOptions } from '../errors.js';

/**
 * Stable codes of {@link TestbedError}:
 *
 * - `ERR_TESTBED_NOT_ROOT`: network namespaces need root.
 * - `ERR_TESTBED_TOOL_MISSING`: a system tool (`ip`, `tc`, `nft`, `tcpdump`, `nginx`, …) is not installed.
 * - `ERR_TESTBED_COMMAND`: a command the testbed issued failed (context: argv, exit code, stderr).
 * - `ERR_TESTBED_FOREIGN_NETNS`: a request named a namespace this testbed did not create.
 * - `ERR_TESTBED_STATE`: the testbed is not up (not yet, or already torn down).
 * - `ERR_TESTBED_CHILD`: a helper process (covert server, delay line, capture) failed to start or died.
 * - `ERR_TESTBED_PCAP`: a capture file is malformed or truncated.
 */
export type TestbedErrorCode =
  | 'ERR_TESTBED_NOT_ROOT'
  | 'ERR_TESTBED_TOOL_MISSING'
  | 'ERR_TESTBED_COMMAND'
  | 'ERR_TESTBED_FOREIGN_NETNS'
  | 'ERR_TESTBED_STATE'
  | 'ERR_TESTBED_CHILD'
  | 'ERR_TESTBED_PCAP';

/**
 * Thrown by every testbed operation that fails.
 *
 * @example
 * ```ts
 * try { await Testbed.up() } catch (err) {
 *   if (err instanceof TestbedError && err.code === 'ERR_TESTBED_NOT_ROOT') process.exit(77)
 * }
 * ```
 */
export class TestbedError extends TapDanceError {
  static override brand = 'TestbedError';
  declare readonly code: TestbedErrorCode;

  /**
   * @param code - one of {@link TestbedErrorCode}.
   * @param message - one line for a human.
   * @param options - cause and machine-readable context.
   */
  constructor(code: TestbedErrorCode, message: string, options: TapDanceErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Assertion helpers shared by the TLS tests: "this throws a TlsError with that code".
 *
 * @module
 */
import type { Test } from 'tap';
import { TlsError, type TlsErrorCode } from '../../../src/tls/errors.js';

/** Assert that `fn` throws a {@link TlsError} with `code`; returns the error. */
export function throwsTls(t: Test, fn: () => unknown, code: TlsErrorCode, message = `throws ${code}`): TlsError | undefined {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof TlsError, `${message}: is a TlsError`);
    t.equal((err as TlsError).code, code, message);
    return err as TlsError;
  }
  t.fail(`${message}: did not throw`);
  return undefined;
}

/** Assert that `p` rejects with a {@link TlsError} with `code`; returns the error. */
export async function rejectsTls(t: Test, p: Promise<unknown>, code: TlsErrorCode, message = `rejects ${code}`): Promise<TlsError | undefined> {
  try {
    await p;
  } catch (err) {
    t.ok(err instanceof TlsError, `${message}: is a TlsError (${String(err)})`);
    t.equal((err as TlsError).code, code, message);
    return err as TlsError;
  }
  t.fail(`${message}: did not reject`);
  return undefined;
}

import t from 'tap';
import { TapDanceError, InvalidArgumentError } from '../src/errors.js';

class DemoError extends TapDanceError {
  static override brand = 'DemoError';
}

t.test('carries a stable code, frozen context and cause', async (t) => {
  const cause = new Error('low');
  const e = new DemoError('ERR_DEMO', 'demo failed', { cause, context: { len: 3 } });
  t.equal(e.code, 'ERR_DEMO');
  t.equal(e.name, 'DemoError');
  t.same(e.context, { len: 3 });
  t.ok(Object.isFrozen(e.context));
  t.equal(e.cause, cause);
  t.same(e.toJSON(), { name: 'DemoError', code: 'ERR_DEMO', message: 'demo failed', context: { len: 3 }, cause: 'low' });
});

t.test('instanceof follows the class chain and rejects foreign objects', async (t) => {
  const e = new DemoError('ERR_DEMO', 'x');
  t.ok(e instanceof DemoError);
  t.ok(e instanceof TapDanceError);
  t.notOk(e instanceof InvalidArgumentError);
  t.notOk(new Error('x') instanceof TapDanceError);
  t.notOk(({ code: 'ERR_DEMO' }) instanceof TapDanceError);
  const arg = new InvalidArgumentError('"x" expected number, got string');
  t.equal(arg.code, 'ERR_INVALID_ARG');
  t.ok(arg instanceof TapDanceError);
  t.notOk(arg instanceof DemoError);
});

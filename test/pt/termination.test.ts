import t from 'tap';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { watchTermination, type StopReason } from '../../pt/termination.js';

function watch(exitOnStdinClose: boolean) {
  const signals = new EventEmitter();
  const stdin = new PassThrough();
  const events: string[] = [];
  const unwatch = watchTermination({
    exitOnStdinClose,
    signals,
    stdin,
    onDrain: () => events.push('drain'),
    onStop: (reason: StopReason) => events.push(`stop:${reason}`),
  });
  return { signals, stdin, events, unwatch };
}

t.test('SIGTERM stops at once, once', async (t) => {
  const w = watch(false);
  w.signals.emit('SIGTERM');
  w.signals.emit('SIGTERM');
  t.same(w.events, ['stop:SIGTERM']);
  w.unwatch();
});

t.test('the first SIGINT drains, a second SIGINT or a SIGTERM then stops', async (t) => {
  const a = watch(false);
  a.signals.emit('SIGINT');
  t.same(a.events, ['drain']);
  a.signals.emit('SIGINT');
  t.same(a.events, ['drain', 'stop:SIGINT']);
  a.unwatch();
  const b = watch(false);
  b.signals.emit('SIGINT');
  b.signals.emit('SIGTERM');
  t.same(b.events, ['drain', 'stop:SIGTERM']);
  b.unwatch();
});

t.test('stdin EOF stops only when TOR_PT_EXIT_ON_STDIN_CLOSE=1', async (t) => {
  const asked = watch(true);
  asked.stdin.end('ignored bytes');
  await new Promise((r) => setImmediate(r));
  t.same(asked.events, ['stop:stdin-close']);
  asked.unwatch();
  const notAsked = watch(false);
  notAsked.stdin.end();
  await new Promise((r) => setImmediate(r));
  t.same(notAsked.events, []);
  t.equal(notAsked.stdin.listenerCount('data'), 0, 'stdin left untouched');
  notAsked.unwatch();
});

t.test('unwatching removes every listener', async (t) => {
  const w = watch(true);
  w.unwatch();
  w.signals.emit('SIGTERM');
  w.signals.emit('SIGINT');
  w.stdin.end();
  await new Promise((r) => setImmediate(r));
  t.same(w.events, []);
  t.equal(w.signals.listenerCount('SIGTERM') + w.signals.listenerCount('SIGINT'), 0);
});

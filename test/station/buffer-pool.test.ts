/**
 * The station's recycled output buffers (src/station/buffer-pool.ts): power-of-two sizes from
 * 16 KiB to 512 KiB, reuse of what is handed back, a cap on idle buffers, and plain buffers for
 * anything else.
 */
import t from 'tap';
import { BufferPool } from '../../src/station/buffer-pool.js';

const K = 1024;
const S = 2048; // room for record headers and tags on top of each power of two

t.test('sizes are powers of two from 16 KiB to 512 KiB plus 2 KiB; larger requests are exact and not pooled', async (t) => {
  const pool = new BufferPool();
  t.same([1, 16 * K + S, 16 * K + S + 1, 64 * K + 4 * 29, 300_000, 512 * K + S].map((n) => pool.take(n).length),
    [16 * K + S, 16 * K + S, 32 * K + S, 64 * K + S, 512 * K + S, 512 * K + S], 'one 64 KiB read as four records fits the 64 KiB size');
  const big = pool.take(600_000);
  t.equal(big.length, 600_000);
  pool.give(big);
  t.same(pool.idle, { buffers: 0, bytes: 0 }, 'an oversize buffer is not kept');
});

t.test('a buffer handed back is the one taken next; views and foreign buffers are ignored', async (t) => {
  const pool = new BufferPool();
  const a = pool.take(70_000);
  pool.give(a);
  t.same(pool.idle, { buffers: 1, bytes: 128 * K + S });
  t.equal(pool.take(100_000), a, 'reused');
  pool.give(a.subarray(0, 1000));
  pool.give(a.subarray(1));
  pool.give(Buffer.alloc(100)); // from Node's shared slab, or too small
  pool.give(Buffer.alloc(64 * K)); // not one of the sizes
  t.same(pool.idle, { buffers: 0, bytes: 0 });
});

t.test('at most `keep` idle buffers per size', async (t) => {
  const pool = new BufferPool(3);
  const taken = Array.from({ length: 5 }, () => pool.take(20_000));
  t.equal(new Set(taken).size, 5, 'each take while none is idle is a new buffer');
  for (const b of taken) pool.give(b);
  t.same(pool.idle, { buffers: 3, bytes: 3 * (32 * K + S) });
});

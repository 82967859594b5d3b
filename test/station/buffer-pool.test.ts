/**
 * The station's recycled output buffers (src/station/buffer-pool.ts): power-of-two sizes from
 * 16 KiB to 512 KiB, reuse of what is handed back, a cap on idle buffers, and plain buffers for
 * anything else.
 */
import t from 'tap';
import { BufferPool } from '../../src/station/buffer-pool.js';

t.test('sizes are the next power of two from 16 KiB to 512 KiB; larger requests are exact and not pooled', async (t) => {
  const pool = new BufferPool();
  t.same([1, 16384, 16385, 65536 + 29 * 4, 300_000, 524_288].map((n) => pool.take(n).length), [16384, 16384, 32768, 131072, 524288, 524288]);
  const big = pool.take(600_000);
  t.equal(big.length, 600_000);
  pool.give(big);
  t.same(pool.idle, { buffers: 0, bytes: 0 }, 'an oversize buffer is not kept');
});

t.test('a buffer handed back is the one taken next; views and foreign buffers are ignored', async (t) => {
  const pool = new BufferPool();
  const a = pool.take(70_000);
  pool.give(a);
  t.same(pool.idle, { buffers: 1, bytes: 131072 });
  t.equal(pool.take(100_000), a, 'reused');
  pool.give(a.subarray(0, 1000));
  pool.give(a.subarray(1));
  pool.give(Buffer.alloc(100)); // from Node's shared slab, or too small
  pool.give(Buffer.alloc(40_000)); // not a power of two
  t.same(pool.idle, { buffers: 0, bytes: 0 });
});

t.test('at most `keep` idle buffers per size', async (t) => {
  const pool = new BufferPool(3);
  const taken = Array.from({ length: 5 }, () => pool.take(20_000));
  t.equal(new Set(taken).size, 5, 'each take while none is idle is a new buffer');
  for (const b of taken) pool.give(b);
  t.same(pool.idle, { buffers: 3, bytes: 3 * 32768 });
});

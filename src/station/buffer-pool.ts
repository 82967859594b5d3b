/**
 * Recycled output buffers for the station's downstream relay.
 *
 * Sealed records wait in the flow socket's write queue until the kernel takes them, long enough
 * for their buffers to be promoted to V8's old generation; as garbage there they made V8 trace
 * the heap over and over (a quarter of a warm station's CPU went to concurrent marking while
 * relaying a 64 MiB download). Buffers handed back once written are reused instead.
 *
 * Sizes are powers of two from 16 KiB to 512 KiB plus 2 KiB, room for the records' headers and
 * tags, so that the usual batch (one 64 KiB covert read as four full records) fits the 64 KiB
 * size and a buffer in flight wastes at most about half its bytes; larger requests get a plain
 * buffer. Each size keeps at most a few idle buffers, so an idle station holds little.
 *
 * @module
 */

const MIN_SHIFT = 14; // 16 KiB
const MAX_SHIFT = 19; // 512 KiB
/** Added to each power of two: 29 bytes per 16 KiB record is at most 928 bytes at 512 KiB. */
const SLACK = 2048;

/** A pool of output buffers by power-of-two size. */
export class BufferPool {
  readonly #free: Buffer[][] = Array.from({ length: MAX_SHIFT - MIN_SHIFT + 1 }, () => []);
  readonly #keep: number;

  /**
   * @param keep - idle buffers kept per size (more are left to the garbage collector)
   */
  constructor(keep = 16) {
    this.#keep = keep;
  }

  /**
   * A buffer of at least `length` bytes (contents undefined).
   *
   * @param length - bytes needed
   */
  take(length: number): Buffer {
    const shift = Math.max(MIN_SHIFT, 32 - Math.clz32(Math.max(1, length - SLACK) - 1));
    if (shift > MAX_SHIFT) return Buffer.allocUnsafe(length);
    return this.#free[shift - MIN_SHIFT]!.pop() ?? Buffer.allocUnsafeSlow((1 << shift) + SLACK);
  }

  /**
   * Hand back a buffer from {@link take} once nothing uses it any more (its socket write is done).
   * Buffers of other sizes, and views, are ignored.
   */
  give(buf: Buffer): void {
    if (buf.byteOffset !== 0 || buf.length !== buf.buffer.byteLength || buf.length <= SLACK) return;
    const shift = 31 - Math.clz32(buf.length - SLACK);
    if (buf.length !== (1 << shift) + SLACK || shift < MIN_SHIFT || shift > MAX_SHIFT) return;
    const list = this.#free[shift - MIN_SHIFT]!;
    if (list.length < this.#keep) list.push(buf);
  }

  /** Idle buffers held, and their bytes (diagnostics, tests). */
  get idle(): { buffers: number; bytes: number } {
    let buffers = 0;
    let bytes = 0;
    for (const [i, list] of this.#free.entries()) {
      buffers += list.length;
      bytes += list.length * ((1 << (i + MIN_SHIFT)) + SLACK);
    }
    return { buffers, bytes };
  }
}

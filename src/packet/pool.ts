/**
 * BufPool: a bounded free list of backing stores of one size, so a busy link can reuse buffers
 * instead of allocating one per frame. Buffers given back beyond the bound are left to the GC.
 */
import { Buf } from "./buf.ts";

export class BufPool {
  readonly size: number;
  readonly maxFree: number;
  private readonly free: Uint8Array[] = [];
  /** Buffers handed out that had to be allocated because the free list was empty. */
  allocations = 0;

  constructor(size: number, maxFree = 256) {
    if (!(size > 0)) throw new RangeError("BufPool size must be positive");
    this.size = size;
    this.maxFree = maxFree;
  }

  /** A buffer with an empty body at `prefix` (default 0). Its bytes are not zeroed. */
  take(prefix = 0): Buf {
    let bytes = this.free.pop();
    if (bytes === undefined) {
      bytes = new Uint8Array(this.size);
      this.allocations++;
    }
    return new Buf(bytes, prefix, prefix);
  }

  /** Give a buffer's backing store back. Stores of another size are ignored. */
  give(buf: Buf): void {
    if (buf.bytes.length === this.size && this.free.length < this.maxFree) this.free.push(buf.bytes);
  }

  /** Buffers currently waiting for reuse. */
  get available(): number {
    return this.free.length;
  }
}

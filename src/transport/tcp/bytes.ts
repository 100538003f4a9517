/**
 * Byte copies for the TCP buffers. `Uint8Array.prototype.set` needs a `subarray` view of the source
 * (an allocation) and a builtin call, together about 60 ns whatever the length; a loop costs about
 * 2.5 ns a byte. So short ranges (a 1-byte echo, the tail of a ring) are copied with a loop and
 * longer ones with `set`.
 */

/** Ranges up to this many bytes are copied with a loop. */
export const SMALL_COPY = 24;

/** Copy `src[srcOff, srcOff + n)` to `dst[dstOff]` (the ranges must not overlap in one store). */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i];
  } else {
    dst.set(src.subarray(srcOff, srcOff + n), dstOff);
  }
}

/**
 * TCP sequence number arithmetic (RFC 9293 section 3.4, RFC 1982 serial number arithmetic).
 *
 * Sequence numbers are unsigned 32-bit integers that wrap. Two numbers compare by the sign of their
 * 32-bit difference, which is meaningful while they are less than 2^31 apart: every window TCP uses
 * (at most 2^30 bytes with window scaling, RFC 7323 section 2.3) is well inside that.
 * Every function takes and returns plain numbers; results are normalised to 0..2^32-1.
 */

/** `a + n` modulo 2^32 (`n` may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance `a - b` in -2^31..2^31-1: positive when `a` is after `b`. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** RFC 9293 3.4: `a` comes before `b`. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** `a` comes before `b` or equals it. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** `a` comes after `b`. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** `a` comes after `b` or equals it. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a >>> 0 : b >>> 0;
}

/** The earlier of two sequence numbers. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a >>> 0 : b >>> 0;
}

/**
 * `start <= seq < start + len` in sequence space (RFC 9293 3.10.7.4's window test, one side of it).
 * `len` is 0..2^32-1; a zero-length window contains nothing.
 */
export function inWindow(seq: number, start: number, len: number): boolean {
  return (seq - start) >>> 0 < len;
}

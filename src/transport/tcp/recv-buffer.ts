/**
 * The receive buffer: in-order bytes waiting for the application, plus out-of-order segments held
 * for reassembly, in one ring (after smoltcp's `RingBuffer` + `Assembler`).
 *
 * The ring covers the receive window: in-order data sits at the front (from the read position to
 * RCV.NXT) and an out-of-order segment is copied, once, straight to the place it will occupy when
 * the hole before it fills. A small sorted list of ranges (relative to RCV.NXT, merged when they
 * overlap or touch) records which bytes past RCV.NXT are present. The number of ranges is bounded:
 * a segment that would need more is dropped (the peer retransmits it), so a hostile peer cannot make
 * reassembly cost more than the window's memory and a fixed amount of bookkeeping.
 *
 * Each range remembers when it last grew, so SACK blocks (RFC 2018) list the most recently received
 * data first. A segment that brings bytes already held (below RCV.NXT or inside a range) leaves
 * their extent for a D-SACK block (RFC 2883).
 */
import { copyBytes } from "./bytes.ts";
import { seqAdd } from "./seqnum.ts";

const EMPTY = new Uint8Array(0);
/**
 * Smallest store allocated once data is written. V8 keeps typed arrays of up to 64 bytes on the JS
 * heap (cheap to allocate and collect); larger ones get an off-heap backing store, which costs about
 * a microsecond. A connection exchanging small messages thus never pays for one; the store doubles
 * as data needs it.
 */
const MIN_STORE = 64;
const NO_RANGES = new Float64Array(0);

/** Default bound on the number of out-of-order ranges (holes) kept. */
export const DEFAULT_MAX_RANGES = 16;
/** Ranges the bookkeeping array holds at first (it doubles up to the bound). */
const FIRST_RANGES = 8;

export class RecvBuffer {
  private store: Uint8Array = EMPTY;
  /** Index in `store` of the first unread byte. */
  private head = 0;
  /** In-order unread bytes. */
  private len = 0;
  private cap: number;
  /** Stream position of RCV.NXT (bytes received in order since creation; exact up to 2^53). */
  private nxt = 0;
  /** Out-of-order ranges: `r[3i]` start, `r[3i+1]` end (stream positions), `r[3i+2]` recency stamp. */
  private r: Float64Array = NO_RANGES;
  private count = 0;
  private stamp = 0;
  /** Most out-of-order ranges kept. */
  readonly maxRanges: number;
  /** Segments dropped because keeping them would exceed `maxRanges`. */
  dropped = 0;
  /**
   * The last `insert` found bytes it already held: their stream positions [dupStart, dupEnd) (the
   * first such run), for a D-SACK block (`dupLeft`, `dupRight`).
   */
  dup = false;
  private dupStart = 0;
  private dupEnd = 0;

  constructor(capacity: number, maxRanges = DEFAULT_MAX_RANGES) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`bad buffer capacity ${capacity}`);
    if (!Number.isInteger(maxRanges) || maxRanges < 1) throw new RangeError(`bad range bound ${maxRanges}`);
    this.cap = capacity;
    this.maxRanges = maxRanges;
  }

  /** Most bytes the buffer holds: the largest window it can advertise. */
  get capacity(): number {
    return this.cap;
  }

  /** In-order bytes the application can read. */
  get length(): number {
    return this.len;
  }

  /** Free space: the receive window to advertise (RFC 9293 3.8.6.2.2: from real buffer space). */
  window(): number {
    return this.cap - this.len;
  }

  /** Number of out-of-order ranges held. */
  get rangeCount(): number {
    return this.count;
  }

  /** Out-of-order bytes held past RCV.NXT. */
  get outOfOrderBytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.r[3 * i + 1] - this.r[3 * i];
    return n;
  }

  /**
   * Change the capacity; it cannot drop below what is held (in-order and out-of-order). Returns
   * the capacity in effect. Shrinking an advertised window is the caller's decision (RFC 9293 3.8.6).
   */
  setCapacity(capacity: number): number {
    const held = this.count > 0 ? this.len + this.r[3 * (this.count - 1) + 1] - this.nxt : this.len;
    this.cap = Math.max(capacity, held);
    return this.cap;
  }

  /**
   * A segment's payload `bytes[off, off + len)` whose first byte is `seqOffset` bytes after RCV.NXT
   * (negative: it starts with old bytes, which are skipped). Bytes past the window are cut off.
   * Returns how far RCV.NXT advanced (0 when the data is out of order, old, or dropped).
   */
  insert(seqOffset: number, bytes: Uint8Array, off: number, len: number): number {
    this.dup = false;
    if (seqOffset < 0) {
      // RFC 2883: the part below RCV.NXT is a duplicate.
      if (len > 0) this.noteDup(this.nxt + seqOffset, this.nxt + Math.min(0, seqOffset + len));
      off -= seqOffset;
      len += seqOffset;
      seqOffset = 0;
    }
    const win = this.cap - this.len;
    if (len <= 0 || seqOffset >= win) return 0;
    // RFC 9293 3.10.7.4: only the part inside the receive window is kept.
    const n = Math.min(len, win - seqOffset);
    const s = this.nxt + seqOffset;
    const e = s + n;
    // Ranges that overlap or touch [s, e) merge with it: [lo, hi) is their index span.
    let lo = 0;
    while (lo < this.count && this.r[3 * lo + 1] < s) lo++;
    let hi = lo;
    while (hi < this.count && this.r[3 * hi] <= e) hi++;
    if (seqOffset > 0 && this.count - (hi - lo) + 1 > this.maxRanges) {
      this.dropped++;
      return 0;
    }
    if (!this.dup) {
      // The first range [lo, hi) that really overlaps (not just touches) holds duplicates.
      for (let i = lo; i < hi; i++) {
        const ds = Math.max(s, this.r[3 * i]);
        const de = Math.min(e, this.r[3 * i + 1]);
        if (de > ds) {
          this.noteDup(ds, de);
          break;
        }
      }
    }
    const extent = this.len + Math.max(e, this.lastEnd()) - this.nxt;
    if (extent > this.store.length) this.grow(extent);
    this.copyIn(this.len + seqOffset, bytes, off, n);
    if (seqOffset === 0 && hi === lo && lo === 0) {
      // The common case: in order, nothing queued behind it.
      this.nxt = e;
      this.len += n;
      return n;
    }
    if (this.r.length < 3 * (this.count + 2)) this.growRanges();
    const ms = hi > lo ? Math.min(s, this.r[3 * lo]) : s;
    const me = hi > lo ? Math.max(e, this.r[3 * (hi - 1) + 1]) : e;
    this.replace(lo, hi, ms, me, ++this.stamp);
    if (this.r[0] > this.nxt) return 0;
    // The first range now starts at RCV.NXT: it becomes in-order data.
    const adv = this.r[1] - this.nxt;
    this.replace(0, 1, 0, 0, -1);
    this.nxt += adv;
    this.len += adv;
    return adv;
  }

  /**
   * The D-SACK block (RFC 2883) of the last `insert` (when `dup`): its left and right edges as
   * sequence numbers, given the current RCV.NXT.
   */
  dupLeft(rcvNxt: number): number {
    return seqAdd(rcvNxt, this.dupStart - this.nxt);
  }
  dupRight(rcvNxt: number): number {
    return seqAdd(rcvNxt, this.dupEnd - this.nxt);
  }

  private noteDup(s: number, e: number): void {
    this.dup = true;
    this.dupStart = s;
    this.dupEnd = e;
  }

  private growRanges(): void {
    const want = Math.min(Math.max(FIRST_RANGES, (this.r.length / 3) * 2), this.maxRanges + 1);
    const next = new Float64Array(3 * Math.max(want, this.count + 2));
    next.set(this.r.subarray(0, 3 * this.count));
    this.r = next;
  }

  /** Copy up to `len` in-order bytes into `dst[dstOff]` and consume them. Returns the count. */
  read(dst: Uint8Array, dstOff = 0, len: number = dst.length - dstOff): number {
    const n = this.peek(dst, dstOff, len);
    this.consume(n);
    return n;
  }

  /** Copy up to `len` in-order bytes into `dst[dstOff]` without consuming them. */
  peek(dst: Uint8Array, dstOff = 0, len: number = dst.length - dstOff): number {
    const n = Math.min(len, this.len);
    if (n <= 0) return 0;
    this.copyOut(0, n, dst, dstOff);
    return n;
  }

  /**
   * Hand up to `max` in-order bytes to `sink` as at most two views into the ring (no copy), then
   * consume them. The views are only valid during the call. Returns the bytes consumed.
   */
  readInto(sink: (bytes: Uint8Array, off: number, len: number) => void, max: number = this.len): number {
    const n = Math.min(max, this.len);
    if (n <= 0) return 0;
    const size = this.store.length;
    const first = Math.min(n, size - this.head);
    sink(this.store, this.head, first);
    if (first < n) sink(this.store, 0, n - first);
    this.consume(n);
    return n;
  }

  /** Discard up to `n` in-order bytes. Returns the count discarded. */
  consume(n: number): number {
    const k = Math.min(Math.max(n, 0), this.len);
    this.len -= k;
    if (this.len === 0 && this.count === 0) {
      this.head = 0;
    } else {
      this.head += k;
      if (this.head >= this.store.length) this.head -= this.store.length;
    }
    return k;
  }

  /**
   * RFC 2018 SACK blocks for the out-of-order data, given the current RCV.NXT: written to `out` as
   * (left edge, right edge) pairs, most recently received first (RFC 2018 4: the first block holds
   * the segment that triggered this ACK). Returns the number of blocks (at most `maxBlocks`: 4, or 3
   * alongside timestamps), written from pair index `first` on (after a D-SACK block, RFC 2883).
   */
  sackBlocks(rcvNxt: number, out: Uint32Array | number[], maxBlocks = 4, first = 0): number {
    let k = first;
    let below = Number.POSITIVE_INFINITY;
    while (k < first + maxBlocks) {
      let best = -1;
      let bestStamp = -1;
      for (let i = 0; i < this.count; i++) {
        const st = this.r[3 * i + 2];
        if (st < below && st > bestStamp) {
          best = i;
          bestStamp = st;
        }
      }
      if (best < 0) break;
      out[2 * k] = seqAdd(rcvNxt, this.r[3 * best] - this.nxt);
      out[2 * k + 1] = seqAdd(rcvNxt, this.r[3 * best + 1] - this.nxt);
      below = bestStamp;
      k++;
    }
    return k - first;
  }

  /** Out-of-order range `i` (0 = lowest) as offsets from RCV.NXT, into `out[0..1]`; false past the end. */
  range(i: number, out: number[]): boolean {
    if (i < 0 || i >= this.count) return false;
    out[0] = this.r[3 * i] - this.nxt;
    out[1] = this.r[3 * i + 1] - this.nxt;
    return true;
  }

  /** Forget everything (abort). */
  clear(): void {
    this.head = 0;
    this.len = 0;
    this.count = 0;
  }

  private lastEnd(): number {
    return this.count > 0 ? this.r[3 * (this.count - 1) + 1] : this.nxt;
  }

  /** Replace ranges `[lo, hi)` by one range (or by none when `stamp` is -1). */
  private replace(lo: number, hi: number, s: number, e: number, stamp: number): void {
    const r = this.r;
    const add = stamp >= 0 ? 1 : 0;
    const shift = add - (hi - lo);
    if (shift !== 0) r.copyWithin(3 * (lo + add), 3 * hi, 3 * this.count);
    this.count += shift;
    if (add === 1) {
      r[3 * lo] = s;
      r[3 * lo + 1] = e;
      r[3 * lo + 2] = stamp;
    }
  }

  /** Copy into the ring at `rel` bytes after the read position. */
  private copyIn(rel: number, src: Uint8Array, off: number, n: number): void {
    const size = this.store.length;
    let at = this.head + rel;
    if (at >= size) at -= size;
    const first = Math.min(n, size - at);
    copyBytes(this.store, at, src, off, first);
    if (first < n) copyBytes(this.store, 0, src, off + first, n - first);
  }

  private copyOut(rel: number, n: number, dst: Uint8Array, dstOff: number): void {
    const size = this.store.length;
    let at = this.head + rel;
    if (at >= size) at -= size;
    const first = Math.min(n, size - at);
    copyBytes(dst, dstOff, this.store, at, first);
    if (first < n) copyBytes(dst, dstOff + first, this.store, 0, n - first);
  }

  private grow(need: number): void {
    let size = Math.max(this.store.length, MIN_STORE);
    while (size < need) size *= 2;
    size = Math.min(size, Math.max(this.cap, need));
    const next = new Uint8Array(size);
    const used = this.len + this.lastEnd() - this.nxt;
    if (used > 0) this.copyOut(0, used, next, 0);
    this.store = next;
    this.head = 0;
  }
}

/**
 * The sender's scoreboard: one record per segment sent and not yet cumulatively acknowledged, with
 * its sequence range, when it was last (re)transmitted and what is known about it: SACKed (RFC
 * 2018), deemed lost (RFC 6675 IsLost, RFC 8985 RACK), retransmitted. From the records and the byte
 * counts kept beside them the sender gets RFC 6675's pipe (bytes in flight), the segments to
 * retransmit, and RACK's per-segment transmit times. D-SACK blocks (RFC 2883) are recognised and
 * reported, never marked.
 *
 * Records cover [SND.UNA, SND.NXT) exactly, in sequence order, without gaps (a FIN takes one
 * sequence number in the record that carries it). They live in one Float64Array, four numbers a
 * record (start, end, last transmission, flags), between `lo` and `hi` (no object per segment, one
 * allocation to grow): a cumulative ACK drops records from the front, a new segment appends one at
 * the back (the array is compacted or doubled when the back is reached), and a record is split only
 * when a SACK block or a shorter retransmission covers part of it. The array grows with the
 * segments in flight, which the send buffer bounds.
 */
import { seqGe, seqGt, seqLe, seqLt } from "./seqnum.ts";

/** Record flags. */
export const Seg = {
  /** Selectively acknowledged. */
  Sacked: 1,
  /** Deemed lost: to be retransmitted (or its retransmission is in flight, with `Retrans`). */
  Lost: 2,
  /** A retransmission of it is in flight (not SACKed, not deemed lost again). */
  Retrans: 4,
  /** Retransmitted at least once (RACK's and Karn's ambiguity). */
  EverRetrans: 8,
} as const;

/** Told about every record newly delivered (cumulatively or, with `sacked`, selectively acknowledged). */
export interface DeliveryListener {
  delivered(xmitTime: number, end: number, flags: number, sacked: boolean): void;
}

/** RFC 6675 2: DupThresh. */
export const DUP_THRESH = 3;

/** Records allocated at first: a typed array of up to 64 bytes stays on V8's heap (cheap). */
const INITIAL = 2;
/** Numbers per record: start, end, time, flags. */
const W = 4;
const EMPTY = new Float64Array(0);

export class Scoreboard {
  /** The records (allocated when the first segment is sent: an idle connection holds none). */
  private r = EMPTY;
  private lo = 0;
  private hi = 0;
  /** Bytes SACKed, deemed lost, and retransmitted-and-in-flight (over the records). */
  sackedBytes = 0;
  lostBytes = 0;
  retransBytes = 0;
  /** Records SACKed, and records with a retransmission in flight. */
  sackedSegs = 0;
  retransSegs = 0;
  /** The last `sack` call saw a D-SACK block (RFC 2883): its edges. */
  dsack = false;
  dsackLeft = 0;
  dsackRight = 0;
  /** Bytes the last `sack` call newly SACKed. */
  newlySacked = 0;

  /** Number of records (segments in flight or SACKed). */
  get count(): number {
    return this.hi - this.lo;
  }

  /** Record `i` (0 = the one at SND.UNA): first sequence number, end, last transmission, flags. */
  seqOf(i: number): number {
    return this.r[(this.lo + i) * W];
  }
  endOf(i: number): number {
    return this.r[(this.lo + i) * W + 1];
  }
  timeOf(i: number): number {
    return this.r[(this.lo + i) * W + 2];
  }
  flagsOf(i: number): number {
    return this.r[(this.lo + i) * W + 3];
  }

  /** RFC 6675 4 SetPipe() for a FlightSize of `flight` bytes (SND.NXT - SND.UNA). */
  pipe(flight: number): number {
    return flight - this.sackedBytes - this.lostBytes + this.retransBytes;
  }

  /** Forget everything (the connection's send side restarts at a new SND.UNA). */
  clear(): void {
    this.lo = 0;
    this.hi = 0;
    this.sackedBytes = 0;
    this.lostBytes = 0;
    this.retransBytes = 0;
    this.sackedSegs = 0;
    this.retransSegs = 0;
  }

  /** A new segment [seq, end) was sent at `time` (seq is the previous record's end). */
  push(seq: number, end: number, time: number): void {
    if (this.hi * W === this.r.length) this.makeRoom();
    const o = this.hi++ * W;
    const r = this.r;
    r[o] = seq >>> 0;
    r[o + 1] = end >>> 0;
    r[o + 2] = time;
    r[o + 3] = 0;
  }

  /**
   * SND.UNA advanced to `una`: drop the records it covers, telling `to` about those not SACKed
   * before. Returns the bytes newly delivered that way (acknowledged and not SACKed before).
   */
  ack(una: number, to: DeliveryListener | null): number {
    let delivered = 0;
    const r = this.r;
    while (this.lo < this.hi && seqLe(r[this.lo * W + 1], una)) {
      const o = this.lo++ * W;
      const len = (r[o + 1] - r[o]) >>> 0;
      const f = r[o + 3];
      if (f & Seg.Sacked) {
        this.sackedBytes -= len;
        this.sackedSegs--;
      } else {
        delivered += len;
        if (f & Seg.Lost) this.lostBytes -= len;
        if (f & Seg.Retrans) {
          this.retransBytes -= len;
          this.retransSegs--;
        }
        if (to !== null) to.delivered(r[o + 2], r[o + 1], f, false);
      }
    }
    if (this.lo === this.hi) {
      this.lo = 0;
      this.hi = 0;
    } else if (seqLt(r[this.lo * W], una)) {
      // Part of a segment acknowledged (a peer that trimmed it, or a re-segmentation).
      const o = this.lo * W;
      const part = (una - r[o]) >>> 0;
      const f = r[o + 3];
      if (f & Seg.Sacked) this.sackedBytes -= part;
      else {
        delivered += part;
        if (f & Seg.Lost) this.lostBytes -= part;
        if (f & Seg.Retrans) this.retransBytes -= part;
      }
      r[o] = una >>> 0;
    }
    return delivered;
  }

  /**
   * Apply the SACK blocks of one ACK (`blocks[2i]`, `blocks[2i+1]` for i < `count`) after SND.UNA
   * moved to `una`; `nxt` is SND.NXT; `segAck` the ACK's own acknowledgment number (below `una`
   * for an ACK overtaken on the path). A first block at or below `segAck` or inside the second
   * block is a D-SACK (RFC 2883 4): reported in `dsack`, not marked. Blocks outside (SND.UNA,
   * SND.NXT] are ignored (invalid or forged). Newly SACKed records go to `to`; returns the bytes
   * newly SACKed.
   */
  sack(
    una: number,
    nxt: number,
    blocks: ArrayLike<number>,
    count: number,
    to: DeliveryListener | null,
    segAck: number = una,
  ): number {
    this.dsack = false;
    const before = this.sackedBytes;
    for (let i = 0; i < count; i++) {
      let l = blocks[2 * i] >>> 0;
      const r = blocks[2 * i + 1] >>> 0;
      if (!seqLt(l, r) || (r - l) >>> 0 > 0x7fffffff) continue;
      if (i === 0) {
        const inSecond = count > 1 && seqGe(l, blocks[2] >>> 0) && seqLe(r, blocks[3] >>> 0);
        if (seqLe(r, segAck) || inSecond) {
          this.dsack = true;
          this.dsackLeft = l;
          this.dsackRight = r;
          continue;
        }
      }
      if (seqLe(r, una) || seqGt(r, nxt)) continue;
      if (seqLt(l, una)) l = una >>> 0;
      this.markSacked(l, r, to);
    }
    this.newlySacked = this.sackedBytes - before;
    return this.newlySacked;
  }

  /** Mark record `i` lost (clearing a retransmission in flight: it was lost too). False: SACKed. */
  markLost(i: number): boolean {
    const o = (this.lo + i) * W;
    const r = this.r;
    const f = r[o + 3];
    if (f & Seg.Sacked) return false;
    const len = (r[o + 1] - r[o]) >>> 0;
    if ((f & Seg.Lost) === 0) this.lostBytes += len;
    if (f & Seg.Retrans) {
      this.retransBytes -= len;
      this.retransSegs--;
    }
    r[o + 3] = (f | Seg.Lost) & ~Seg.Retrans;
    return true;
  }

  /** Record `i` was retransmitted at `time`. */
  retransmitted(i: number, time: number): void {
    const o = (this.lo + i) * W;
    const r = this.r;
    const f = r[o + 3];
    if ((f & Seg.Retrans) === 0 && (f & Seg.Sacked) === 0) {
      this.retransBytes += (r[o + 1] - r[o]) >>> 0;
      this.retransSegs++;
    }
    r[o + 3] = f | Seg.Retrans | Seg.EverRetrans;
    r[o + 2] = time;
  }

  /** The first record at or after `i` that is lost and not retransmitted since; -1 if none. */
  nextLost(i: number): number {
    const r = this.r;
    for (let j = this.lo + i; j < this.hi; j++) {
      if ((r[j * W + 3] & (Seg.Lost | Seg.Retrans | Seg.Sacked)) === Seg.Lost) return j - this.lo;
    }
    return -1;
  }

  /**
   * RFC 6675 4 IsLost() for every record: an unSACKed record with DupThresh discontiguous SACKed
   * runs, or more than (DupThresh - 1) * SMSS SACKed bytes, above it is lost. Returns the bytes
   * newly deemed lost.
   */
  markLost6675(mss: number): number {
    const before = this.lostBytes;
    const r = this.r;
    let bytes = 0;
    let runs = 0;
    let inRun = false;
    let j = this.hi - 1;
    for (; j >= this.lo; j--) {
      if (r[j * W + 3] & Seg.Sacked) {
        bytes += (r[j * W + 1] - r[j * W]) >>> 0;
        if (!inRun) runs++;
        inRun = true;
      } else {
        inRun = false;
        if (runs >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) break;
      }
    }
    for (; j >= this.lo; j--) {
      if ((r[j * W + 3] & (Seg.Sacked | Seg.Lost)) === 0) this.markLost(j - this.lo);
    }
    return this.lostBytes - before;
  }

  /**
   * RFC 8985 6.2 step 5 (RACK_detect_loss): every unSACKed record sent before the most recently
   * delivered one (`xmitTime`, `endSeq`) and not delivered within `wait` ms of its transmission
   * (RACK.rtt + RACK.reo_wnd) is lost, retransmissions included (a lost retransmission is found
   * here, without a timeout). Returns how long until the next record would expire (0: none), for
   * the reordering timer; the bytes newly lost are `lostBytes` minus its value before.
   */
  rackDetect(xmitTime: number, endSeq: number, wait: number, now: number): number {
    let timeout = 0;
    const r = this.r;
    for (let j = this.lo; j < this.hi; j++) {
      const o = j * W;
      const f = r[o + 3];
      if (f & Seg.Sacked) continue;
      // Lost and waiting for its retransmission: nothing to decide.
      if ((f & (Seg.Lost | Seg.Retrans)) === Seg.Lost) continue;
      const t = r[o + 2];
      if (t > xmitTime || (t === xmitTime && seqGt(r[o + 1], endSeq))) {
        // Sent after the delivered one. Original transmissions are in sequence and time order, and
        // any later record was first sent after this one: nothing further can be older.
        if ((f & Seg.EverRetrans) === 0) break;
        continue;
      }
      const remaining = t + wait - now;
      if (remaining <= 0) this.markLost(j - this.lo);
      else if (remaining > timeout) timeout = remaining;
    }
    return timeout;
  }

  /**
   * After a retransmission timeout (RFC 6298 5.4, RFC 5681 3.1): every unSACKed record is lost,
   * except (with RACK, Linux's tcp_timeout_mark_lost) those sent after `sentAfter`, whose ACK may
   * still come; the first one is always lost. A first record that is SACKed means the receiver
   * reneged (RFC 2018 8): the SACK marks are dropped first.
   */
  markAllLost(sentAfter: number): void {
    if (this.hi > this.lo && this.r[this.lo * W + 3] & Seg.Sacked) this.clearSacked();
    for (let j = this.lo; j < this.hi; j++) {
      if (j === this.lo || this.r[j * W + 2] <= sentAfter) this.markLost(j - this.lo);
    }
  }

  /** Undo (RFC 3708 / 4015 / 5682): the losses were not real; nothing is deemed lost any more. */
  clearLost(): void {
    for (let j = this.lo; j < this.hi; j++) this.r[j * W + 3] &= ~Seg.Lost;
    this.lostBytes = 0;
  }

  /** Forget the SACK marks (the receiver reneged). */
  clearSacked(): void {
    const r = this.r;
    this.sackedBytes = 0;
    this.sackedSegs = 0;
    // Lost and retransmitted bytes were only counted for unSACKed records: recount them.
    this.lostBytes = 0;
    this.retransBytes = 0;
    this.retransSegs = 0;
    for (let j = this.lo; j < this.hi; j++) {
      const o = j * W;
      r[o + 3] &= ~Seg.Sacked;
      const len = (r[o + 1] - r[o]) >>> 0;
      if (r[o + 3] & Seg.Lost) this.lostBytes += len;
      if (r[o + 3] & Seg.Retrans) {
        this.retransBytes += len;
        this.retransSegs++;
      }
    }
  }

  /** Split record `i` at sequence number `at` (inside it): record i + 1 starts there. */
  split(i: number, at: number): void {
    if (this.hi * W === this.r.length) this.makeRoom();
    const r = this.r;
    const o = (this.lo + i) * W;
    r.copyWithin(o + 2 * W, o + W, this.hi * W);
    this.hi++;
    r[o + W] = at >>> 0;
    r[o + W + 1] = r[o + 1];
    r[o + W + 2] = r[o + 2];
    r[o + W + 3] = r[o + 3];
    r[o + 1] = at >>> 0;
    if (r[o + 3] & Seg.Sacked) this.sackedSegs++;
    if (r[o + 3] & Seg.Retrans) this.retransSegs++;
  }

  /** Index of the first record whose end is after `seq` (`hi` when none). */
  private find(seq: number): number {
    // Binary search on the ends, relative to the first record's start (all within 2^31).
    const r = this.r;
    const base = r[this.lo * W];
    const x = (seq - base) >>> 0;
    let a = this.lo;
    let b = this.hi;
    while (a < b) {
      const m = (a + b) >>> 1;
      if ((r[m * W + 1] - base) >>> 0 <= x) a = m + 1;
      else b = m;
    }
    return a;
  }

  private markSacked(l: number, rEdge: number, to: DeliveryListener | null): void {
    if (this.lo === this.hi) return;
    // Relative indices: a split may move the records (makeRoom).
    for (let i = this.find(l) - this.lo; i < this.hi - this.lo; i++) {
      let o = (this.lo + i) * W;
      if (!seqLt(this.r[o], rEdge)) break;
      if (this.r[o + 3] & Seg.Sacked) continue;
      if (seqLt(this.r[o], l)) {
        this.split(i, l);
        continue; // the next record is the part from l
      }
      if (seqGt(this.r[o + 1], rEdge)) {
        this.split(i, rEdge);
        o = (this.lo + i) * W;
      }
      const r = this.r;
      const f = r[o + 3];
      const len = (r[o + 1] - r[o]) >>> 0;
      if (f & Seg.Lost) this.lostBytes -= len;
      if (f & Seg.Retrans) {
        this.retransBytes -= len;
        this.retransSegs--;
      }
      r[o + 3] = (f | Seg.Sacked) & ~(Seg.Lost | Seg.Retrans);
      this.sackedBytes += len;
      this.sackedSegs++;
      if (to !== null) to.delivered(r[o + 2], r[o + 1], f, true);
    }
  }

  private makeRoom(): void {
    const n = this.hi - this.lo;
    const size = this.r.length / W;
    if (this.lo > 0 && n < size >>> 1) {
      this.r.copyWithin(0, this.lo * W, this.hi * W);
    } else {
      const next = new Float64Array(Math.max(INITIAL, size * 2) * W);
      next.set(this.r.subarray(this.lo * W, this.hi * W));
      this.r = next;
    }
    this.lo = 0;
    this.hi = n;
  }
}

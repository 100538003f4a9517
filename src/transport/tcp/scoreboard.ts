/**
 * The sender's scoreboard: one record per segment sent and not yet cumulatively acknowledged, with
 * its sequence range, when it was last (re)transmitted and what is known about it: SACKed (RFC
 * 2018), deemed lost (RFC 6675 IsLost, RFC 8985 RACK), retransmitted. From the records and the byte
 * counts kept beside them the sender gets RFC 6675's pipe (bytes in flight), the segments to
 * retransmit, and RACK's per-segment transmit times. D-SACK blocks (RFC 2883) are recognised and
 * reported, never marked.
 *
 * Records cover [SND.UNA, SND.NXT) exactly, in sequence order, without gaps (a FIN takes one
 * sequence number in the record that carries it). They live in parallel typed arrays between `lo`
 * and `hi` (no object per segment): a cumulative ACK drops records from the front, a new segment
 * appends one at the back (the arrays are compacted or doubled when the back is reached), and a
 * record is split only when a SACK block or a shorter retransmission covers part of it. The arrays
 * grow with the segments in flight, which the send buffer bounds.
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

const INITIAL = 16;
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_F64 = new Float64Array(0);
const EMPTY_U8 = new Uint8Array(0);

export class Scoreboard {
  // Allocated when the first segment is sent (an idle connection holds none).
  private st = EMPTY_U32;
  private en = EMPTY_U32;
  private tm = EMPTY_F64;
  private fl = EMPTY_U8;
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
    return this.st[this.lo + i];
  }
  endOf(i: number): number {
    return this.en[this.lo + i];
  }
  timeOf(i: number): number {
    return this.tm[this.lo + i];
  }
  flagsOf(i: number): number {
    return this.fl[this.lo + i];
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
    if (this.hi === this.st.length) this.makeRoom();
    const j = this.hi++;
    this.st[j] = seq >>> 0;
    this.en[j] = end >>> 0;
    this.tm[j] = time;
    this.fl[j] = 0;
  }

  /**
   * SND.UNA advanced to `una`: drop the records it covers, telling `to` about those not SACKed
   * before. Returns the bytes newly delivered that way (acknowledged and not SACKed before).
   */
  ack(una: number, to: DeliveryListener | null): number {
    let delivered = 0;
    const st = this.st;
    const en = this.en;
    const fl = this.fl;
    while (this.lo < this.hi && seqLe(en[this.lo], una)) {
      const j = this.lo++;
      const len = (en[j] - st[j]) >>> 0;
      const f = fl[j];
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
        if (to !== null) to.delivered(this.tm[j], en[j], f, false);
      }
    }
    if (this.lo === this.hi) {
      this.lo = 0;
      this.hi = 0;
    } else if (seqLt(st[this.lo], una)) {
      // Part of a segment acknowledged (a peer that trimmed it, or a re-segmentation).
      const j = this.lo;
      const part = (una - st[j]) >>> 0;
      const f = fl[j];
      if (f & Seg.Sacked) this.sackedBytes -= part;
      else {
        delivered += part;
        if (f & Seg.Lost) this.lostBytes -= part;
        if (f & Seg.Retrans) this.retransBytes -= part;
      }
      st[j] = una >>> 0;
    }
    return delivered;
  }

  /**
   * Apply the SACK blocks of one ACK (`blocks[2i]`, `blocks[2i+1]` for i < `count`) after SND.UNA
   * moved to `una`; `nxt` is SND.NXT; `segAck` the ACK's own acknowledgment number (below `una`
   * for an ACK overtaken on the path). A first block at or below `segAck` or inside the second
   * block is a D-SACK (RFC 2883 4): reported in `dsack`, not marked. Blocks outside (SND.UNA, SND.NXT] are ignored (invalid or forged). Newly SACKed records
   * go to `to`; returns the bytes newly SACKed.
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
    const j = this.lo + i;
    const f = this.fl[j];
    if (f & Seg.Sacked) return false;
    const len = (this.en[j] - this.st[j]) >>> 0;
    if ((f & Seg.Lost) === 0) this.lostBytes += len;
    if (f & Seg.Retrans) {
      this.retransBytes -= len;
      this.retransSegs--;
    }
    this.fl[j] = (f | Seg.Lost) & ~Seg.Retrans;
    return true;
  }

  /** Record `i` was retransmitted at `time`. */
  retransmitted(i: number, time: number): void {
    const j = this.lo + i;
    const f = this.fl[j];
    if ((f & Seg.Retrans) === 0 && (f & Seg.Sacked) === 0) {
      this.retransBytes += (this.en[j] - this.st[j]) >>> 0;
      this.retransSegs++;
    }
    this.fl[j] = f | Seg.Retrans | Seg.EverRetrans;
    this.tm[j] = time;
  }

  /** The first record at or after `i` that is lost and not retransmitted since; -1 if none. */
  nextLost(i: number): number {
    const fl = this.fl;
    for (let j = this.lo + i; j < this.hi; j++) {
      if ((fl[j] & (Seg.Lost | Seg.Retrans | Seg.Sacked)) === Seg.Lost) return j - this.lo;
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
    let bytes = 0;
    let runs = 0;
    let inRun = false;
    let j = this.hi - 1;
    for (; j >= this.lo; j--) {
      if (this.fl[j] & Seg.Sacked) {
        bytes += (this.en[j] - this.st[j]) >>> 0;
        if (!inRun) runs++;
        inRun = true;
      } else {
        inRun = false;
        if (runs >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) break;
      }
    }
    for (; j >= this.lo; j--) {
      const f = this.fl[j];
      if ((f & (Seg.Sacked | Seg.Lost)) === 0) this.markLost(j - this.lo);
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
    const fl = this.fl;
    for (let j = this.lo; j < this.hi; j++) {
      const f = fl[j];
      if (f & Seg.Sacked) continue;
      // Lost and waiting for its retransmission: nothing to decide.
      if ((f & (Seg.Lost | Seg.Retrans)) === Seg.Lost) continue;
      const t = this.tm[j];
      if (t > xmitTime || (t === xmitTime && seqGt(this.en[j], endSeq))) {
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
    if (this.hi > this.lo && this.fl[this.lo] & Seg.Sacked) this.clearSacked();
    for (let j = this.lo; j < this.hi; j++) {
      if (j === this.lo || this.tm[j] <= sentAfter) this.markLost(j - this.lo);
    }
  }

  /** Undo (RFC 3708 / 4015 / 5682): the losses were not real; nothing is deemed lost any more. */
  clearLost(): void {
    for (let j = this.lo; j < this.hi; j++) this.fl[j] &= ~Seg.Lost;
    this.lostBytes = 0;
  }

  /** Forget the SACK marks (the receiver reneged). */
  clearSacked(): void {
    for (let j = this.lo; j < this.hi; j++) this.fl[j] &= ~Seg.Sacked;
    this.sackedBytes = 0;
    this.sackedSegs = 0;
    // Lost and retransmitted bytes were only counted for unSACKed records: recount them.
    this.lostBytes = 0;
    this.retransBytes = 0;
    this.retransSegs = 0;
    for (let j = this.lo; j < this.hi; j++) {
      const len = (this.en[j] - this.st[j]) >>> 0;
      if (this.fl[j] & Seg.Lost) this.lostBytes += len;
      if (this.fl[j] & Seg.Retrans) {
        this.retransBytes += len;
        this.retransSegs++;
      }
    }
  }

  /** Split record `i` at sequence number `at` (inside it): record i + 1 starts there. */
  split(i: number, at: number): void {
    if (this.hi === this.st.length) this.makeRoom();
    const j = this.lo + i;
    const n = this.hi - j - 1;
    if (n > 0) {
      this.st.copyWithin(j + 2, j + 1, this.hi);
      this.en.copyWithin(j + 2, j + 1, this.hi);
      this.tm.copyWithin(j + 2, j + 1, this.hi);
      this.fl.copyWithin(j + 2, j + 1, this.hi);
    }
    this.hi++;
    this.st[j + 1] = at >>> 0;
    this.en[j + 1] = this.en[j];
    this.tm[j + 1] = this.tm[j];
    this.fl[j + 1] = this.fl[j];
    this.en[j] = at >>> 0;
    if (this.fl[j] & Seg.Sacked) this.sackedSegs++;
    if (this.fl[j] & Seg.Retrans) this.retransSegs++;
  }

  /** Index of the first record whose end is after `seq` (count when none). */
  private find(seq: number): number {
    // Binary search on the ends, relative to the first record's start (all within 2^31).
    const base = this.st[this.lo];
    const x = (seq - base) >>> 0;
    let a = this.lo;
    let b = this.hi;
    while (a < b) {
      const m = (a + b) >>> 1;
      if ((this.en[m] - base) >>> 0 <= x) a = m + 1;
      else b = m;
    }
    return a;
  }

  private markSacked(l: number, r: number, to: DeliveryListener | null): void {
    if (this.lo === this.hi) return;
    // Relative indices: a split may move the records (makeRoom).
    for (let i = this.find(l) - this.lo; i < this.hi - this.lo; i++) {
      let j = this.lo + i;
      if (!seqLt(this.st[j], r)) break;
      if (this.fl[j] & Seg.Sacked) continue;
      if (seqLt(this.st[j], l)) {
        this.split(i, l);
        continue; // the next record is the part from l
      }
      if (seqGt(this.en[j], r)) {
        this.split(i, r);
        j = this.lo + i;
      }
      const f = this.fl[j];
      const len = (this.en[j] - this.st[j]) >>> 0;
      if (f & Seg.Lost) this.lostBytes -= len;
      if (f & Seg.Retrans) {
        this.retransBytes -= len;
        this.retransSegs--;
      }
      this.fl[j] = (f | Seg.Sacked) & ~(Seg.Lost | Seg.Retrans);
      this.sackedBytes += len;
      this.sackedSegs++;
      if (to !== null) to.delivered(this.tm[j], this.en[j], f, true);
    }
  }

  private makeRoom(): void {
    const n = this.hi - this.lo;
    if (this.lo > 0 && n < this.st.length >>> 1) {
      this.st.copyWithin(0, this.lo, this.hi);
      this.en.copyWithin(0, this.lo, this.hi);
      this.tm.copyWithin(0, this.lo, this.hi);
      this.fl.copyWithin(0, this.lo, this.hi);
    } else {
      const size = Math.max(INITIAL, this.st.length * 2);
      const st = new Uint32Array(size);
      const en = new Uint32Array(size);
      const tm = new Float64Array(size);
      const fl = new Uint8Array(size);
      st.set(this.st.subarray(this.lo, this.hi));
      en.set(this.en.subarray(this.lo, this.hi));
      tm.set(this.tm.subarray(this.lo, this.hi));
      fl.set(this.fl.subarray(this.lo, this.hi));
      this.st = st;
      this.en = en;
      this.tm = tm;
      this.fl = fl;
    }
    this.lo = 0;
    this.hi = n;
  }
}

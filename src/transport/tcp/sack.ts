/**
 * The sender's SACK scoreboard and the loss recovery rules of RFC 6675 (conservative SACK-based
 * loss recovery), over SACK blocks from RFC 2018.
 *
 * The scoreboard keeps the SACKed ranges above SND.UNA as a sorted, merged, bounded list. From it:
 * IsLost (DupThresh discontiguous SACKed ranges, or more than (DupThresh - 1) * SMSS SACKed bytes,
 * above a sequence number), NextSeg (what to send next during recovery) and the pipe (RFC 6675's
 * estimate of the bytes in flight).
 *
 * Conventions: `rxtEnd` is one past RFC 6675's HighRxt (everything in [SND.UNA, rxtEnd) has been
 * retransmitted in this recovery; SND.UNA when nothing has); `nxt` is SND.NXT, one past HighData.
 * "Discontiguous SACKed sequences" are counted as SACK ranges, the conservative reading; the byte
 * rule covers many small segments. The optional rescue retransmission (NextSeg rule 4) is left to
 * the caller.
 */
import { seqGt, seqLe, seqLt } from "./seqnum.ts";

/** RFC 6675 2: DupThresh = 3. */
export const DUP_THRESH = 3;
/** Default bound on the SACKed ranges remembered. */
export const DEFAULT_MAX_SACK_RANGES = 32;

/** What `nextSeg` chose (RFC 6675 section 4, NextSeg rules). */
export const NextSegKind = {
  /** Nothing to send. */
  None: 0,
  /** Rule 1: retransmit a lost segment. */
  Lost: 1,
  /** Rule 2: send new data. */
  New: 2,
  /** Rule 3: retransmit an unSACKed segment not yet deemed lost. */
  Unsacked: 3,
} as const;
export type NextSegKind = (typeof NextSegKind)[keyof typeof NextSegKind];

export class SackScoreboard {
  /** Range starts and ends (sequence numbers), sorted from SND.UNA upwards, disjoint, not touching. */
  private readonly s: Uint32Array;
  private readonly e: Uint32Array;
  private n = 0;
  private una = 0;
  /** Total SACKed bytes above SND.UNA. */
  sackedBytes = 0;
  /** The last `update` carried a D-SACK block (RFC 2883: below SND.UNA or inside another block). */
  sawDsack = false;
  readonly maxRanges: number;
  readonly dupThresh: number;
  /** `nextSeg`'s result: first sequence number and length of the segment to send. */
  segSeq = 0;
  segLen = 0;

  constructor(maxRanges = DEFAULT_MAX_SACK_RANGES, dupThresh = DUP_THRESH) {
    this.maxRanges = maxRanges;
    this.dupThresh = dupThresh;
    this.s = new Uint32Array(maxRanges + 1);
    this.e = new Uint32Array(maxRanges + 1);
  }

  /** Number of SACKed ranges held. */
  get rangeCount(): number {
    return this.n;
  }

  /** Forget everything; SND.UNA becomes `una`. */
  reset(una: number): void {
    this.n = 0;
    this.una = una >>> 0;
    this.sackedBytes = 0;
  }

  /** SND.UNA advanced to `una`: drop what it covers. */
  onAck(una: number): void {
    una >>>= 0;
    if (!seqGt(una, this.una)) return;
    this.una = una;
    let drop = 0;
    while (drop < this.n && seqLe(this.e[drop], una)) {
      this.sackedBytes -= (this.e[drop] - this.s[drop]) >>> 0;
      drop++;
    }
    if (drop > 0) this.remove(0, drop);
    if (this.n > 0 && seqLt(this.s[0], una)) {
      this.sackedBytes -= (una - this.s[0]) >>> 0;
      this.s[0] = una;
    }
  }

  /**
   * Record the SACK blocks of one ACK: `blocks[2i]`, `blocks[2i+1]` are left and right edges for
   * i < `count`. First applies the ACK's SND.UNA (`una`). Blocks outside (SND.UNA, SND.NXT] are
   * ignored (RFC 2883 D-SACKs and invalid or forged blocks). Returns the bytes newly SACKed.
   */
  update(una: number, nxt: number, blocks: ArrayLike<number>, count: number): number {
    this.onAck(una);
    const before = this.sackedBytes;
    this.sawDsack = false;
    for (let i = 0; i < count; i++) {
      let l = blocks[2 * i] >>> 0;
      const r = blocks[2 * i + 1] >>> 0;
      if (!seqLt(l, r) || seqLe(r, this.una) || seqGt(r, nxt) || (r - l) >>> 0 > 0x7fffffff) {
        // RFC 2883: a first block at or below the cumulative ACK is a duplicate report.
        if (i === 0 && seqLt(l, r) && seqLe(r, this.una)) this.sawDsack = true;
        continue;
      }
      if (seqLt(l, this.una)) l = this.una;
      if (i === 0 && this.covered(l, r)) this.sawDsack = true;
      this.add(l, r);
    }
    return Math.max(0, this.sackedBytes - before);
  }

  /** Was `seq` SACKed? */
  isSacked(seq: number): boolean {
    const x = this.rel(seq >>> 0);
    for (let i = 0; i < this.n; i++) {
      if (x < this.rel(this.s[i])) return false;
      if (x < this.rel(this.e[i])) return true;
    }
    return false;
  }

  /** SACKed bytes above `seq` (sequence numbers greater than it). */
  sackedAbove(seq: number): number {
    const x = this.rel(seq >>> 0);
    let sum = 0;
    for (let i = this.n - 1; i >= 0; i--) {
      const s = this.rel(this.s[i]);
      const e = this.rel(this.e[i]);
      if (e <= x + 1) break;
      sum += s > x ? e - s : e - x - 1;
    }
    return sum;
  }

  /** RFC 6675 4: IsLost(SeqNum) for an unSACKed `seq`. */
  isLost(seq: number, mss: number): boolean {
    if (this.isSacked(seq)) return false;
    return seqLt(seq >>> 0, this.lostEnd(mss));
  }

  /**
   * The end of the lost region: every unSACKed byte in [SND.UNA, lostEnd) satisfies IsLost, none
   * above does. SND.UNA when nothing is lost.
   */
  lostEnd(mss: number): number {
    let bytes = 0;
    for (let i = this.n - 1; i >= 0; i--) {
      bytes += (this.e[i] - this.s[i]) >>> 0;
      const ranges = this.n - i;
      // RFC 6675 4 IsLost: DupThresh discontiguous SACKed sequences, or more than
      // (DupThresh - 1) * SMSS SACKed bytes, above the hole below range i.
      if (ranges >= this.dupThresh || bytes > (this.dupThresh - 1) * mss) return this.s[i];
    }
    return this.una;
  }

  /** The highest SACKed sequence number plus one (SND.UNA when nothing is SACKed). */
  highestSacked(): number {
    return this.n > 0 ? this.e[this.n - 1] : this.una;
  }

  /**
   * RFC 6675 4 SetPipe(): bytes considered in flight. An unSACKed byte counts once if it is not
   * lost (its original transmission may still arrive) and once more if it was retransmitted.
   */
  pipe(nxt: number, rxtEnd: number, mss: number): number {
    const lost = this.lostEnd(mss);
    const notLost = this.unsackedIn(lost, nxt);
    const rxt = seqGt(rxtEnd, this.una) ? this.unsackedIn(this.una, seqLt(rxtEnd, nxt) ? rxtEnd : nxt) : 0;
    return notLost + rxt;
  }

  /**
   * RFC 6675 4 NextSeg(): choose the next segment to send during recovery. `canSendNew` says new
   * data is available and the receive window allows it. The segment (at most `mss` bytes, never
   * running into SACKed data) is left in `segSeq`/`segLen`; for new data `segLen` is `mss` and the
   * caller trims it to what it has.
   */
  nextSeg(nxt: number, rxtEnd: number, mss: number, canSendNew: boolean): NextSegKind {
    nxt >>>= 0;
    const from = seqGt(rxtEnd, this.una) ? rxtEnd >>> 0 : this.una;
    // Rule 1: the first unSACKed S2 >= rxtEnd (S2 > HighRxt), below HighData, with IsLost(S2).
    const lost = this.lostEnd(mss);
    if (this.firstUnsacked(from, seqLt(lost, nxt) ? lost : nxt, mss)) return NextSegKind.Lost;
    // Rule 2: new data.
    if (canSendNew) {
      this.segSeq = nxt;
      this.segLen = mss;
      return NextSegKind.New;
    }
    // Rule 3: an unSACKed S3 meeting 1.a and 1.b but not yet lost.
    if (this.firstUnsacked(from, nxt, mss)) return NextSegKind.Unsacked;
    this.segLen = 0;
    return NextSegKind.None;
  }

  /** Range `i` (0 = lowest) into `out[0..1]` as sequence numbers; false past the end. */
  range(i: number, out: number[] | Uint32Array): boolean {
    if (i < 0 || i >= this.n) return false;
    out[0] = this.s[i];
    out[1] = this.e[i];
    return true;
  }

  /** The first unSACKed byte in [from, to), with the segment from it into segSeq/segLen. */
  private firstUnsacked(from: number, to: number, mss: number): boolean {
    let x = this.rel(from);
    const end = this.rel(to);
    for (let i = 0; i <= this.n && x < end; i++) {
      const s = i < this.n ? this.rel(this.s[i]) : end;
      const e = i < this.n ? this.rel(this.e[i]) : end;
      if (x < s) {
        this.segSeq = (this.una + x) >>> 0;
        this.segLen = Math.min(mss, Math.min(s, end) - x);
        return true;
      }
      if (x < e) x = e;
    }
    return false;
  }

  /** UnSACKed bytes in [a, b) (a, b at or above SND.UNA). */
  private unsackedIn(a: number, b: number): number {
    const ra = this.rel(a >>> 0);
    const rb = this.rel(b >>> 0);
    if (rb <= ra) return 0;
    let n = rb - ra;
    for (let i = 0; i < this.n; i++) {
      const s = Math.max(this.rel(this.s[i]), ra);
      const e = Math.min(this.rel(this.e[i]), rb);
      if (e > s) n -= e - s;
    }
    return n;
  }

  private covered(l: number, r: number): boolean {
    const rl = this.rel(l);
    const rr = this.rel(r);
    for (let i = 0; i < this.n; i++) {
      if (this.rel(this.s[i]) <= rl && rr <= this.rel(this.e[i])) return true;
    }
    return false;
  }

  private add(l: number, r: number): void {
    const rl = this.rel(l);
    const rr = this.rel(r);
    let lo = 0;
    while (lo < this.n && this.rel(this.e[lo]) < rl) lo++;
    let hi = lo;
    while (hi < this.n && this.rel(this.s[hi]) <= rr) hi++;
    let ms = rl;
    let me = rr;
    for (let i = lo; i < hi; i++) {
      ms = Math.min(ms, this.rel(this.s[i]));
      me = Math.max(me, this.rel(this.e[i]));
      this.sackedBytes -= (this.e[i] - this.s[i]) >>> 0;
    }
    // Replace ranges [lo, hi) with the merged one.
    const shift = 1 - (hi - lo);
    if (shift !== 0) {
      this.s.copyWithin(lo + 1, hi, this.n);
      this.e.copyWithin(lo + 1, hi, this.n);
    }
    this.n += shift;
    this.s[lo] = (this.una + ms) >>> 0;
    this.e[lo] = (this.una + me) >>> 0;
    this.sackedBytes += me - ms;
    if (this.n > this.maxRanges) {
      // Bounded: forget the highest range (it is the least useful for recovery).
      this.n--;
      this.sackedBytes -= (this.e[this.n] - this.s[this.n]) >>> 0;
    }
  }

  private remove(i: number, k: number): void {
    this.s.copyWithin(i, i + k, this.n);
    this.e.copyWithin(i, i + k, this.n);
    this.n -= k;
  }

  /** Offset of `seq` above SND.UNA. */
  private rel(seq: number): number {
    return (seq - this.una) >>> 0;
  }
}

/**
 * Congestion control behind a small interface (RFC 5681's model), shared by NewReno and CUBIC, with
 * HyStart++ (RFC 9406) in the first slow start, a window set from outside during fast recovery
 * (PRR, RFC 6937, computed by the loss recovery) and undo of a reduction found to be spurious
 * (RFC 3708 / RFC 4015 / RFC 5682: the state before the reduction is restored).
 *
 * The state machine owns loss detection (duplicate ACKs, the SACK scoreboard, the retransmission
 * timer) and tells the controller what happened; the controller owns `cwnd` and `ssthresh`.
 * Windows are in bytes. Times are milliseconds from the stack's clock (`now`), RTTs in ms.
 *
 * `inFlight` is always the sender's FlightSize when the event happened (bytes sent and not yet
 * acknowledged, before the ACK's bytes are removed), which lets the controller tell a
 * window-limited sender from an application-limited one (RFC 7661's concern).
 */

import { HyStart } from "./hystart.ts";

export interface CongestionControl {
  /** "newreno", "cubic". */
  readonly name: string;
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow start threshold in bytes (Infinity until the first loss). */
  readonly ssthresh: number;
  /** The sender's maximum segment size (SMSS) in bytes. */
  readonly mss: number;
  /** Between `enterRecovery` and `exitRecovery`. */
  readonly inRecovery: boolean;
  /** Set SMSS (after the handshake or a path MTU change). Before data flows, resets the IW. */
  setMss(mss: number): void;
  /** `bytesAcked` new bytes were cumulatively acknowledged outside loss recovery. */
  onAck(bytesAcked: number, rtt: number, now: number, inFlight: number): void;
  /**
   * Loss detected by duplicate ACKs or SACK (RFC 5681 3.2 step 2, RFC 6675 5 step 4): reduce
   * ssthresh once for this window. `sack` selects RFC 6675 (cwnd = ssthresh, the pipe limits
   * sending) over RFC 5681/6582 (cwnd = ssthresh + 3 * SMSS, inflated per duplicate ACK).
   */
  enterRecovery(now: number, inFlight: number, sack: boolean): void;
  /** RFC 5681 3.2 step 4 / RFC 6582 3.2 step 3: another duplicate ACK in non-SACK recovery. */
  onDupAck(): void;
  /** RFC 6582 3.2 step 5: a partial ACK acknowledged `bytesAcked` new bytes in recovery. */
  onPartialAck(bytesAcked: number): void;
  /** RFC 6582 3.2 step 6 / RFC 6675: the ACK covering the recovery point ended recovery. */
  exitRecovery(now: number, inFlight: number): void;
  /** RFC 5681 3.1 / RFC 6298 5.5: the retransmission timer expired. */
  onRetransmitTimeout(now: number, inFlight: number): void;
  /** RFC 5681 4.1: sending restarts after an idle period longer than the RTO. */
  onIdleRestart(now: number): void;
  /**
   * Every ACK that acknowledged new data, before `onAck`: the ACK, SND.NXT, an RTT sample taken
   * from it (negative: none) and FlightSize before it. Drives HyStart++ (RFC 9406) in slow start.
   */
  onAckSample(ack: number, sndNxt: number, rtt: number, inFlight: number): void;
  /** Set cwnd (bytes) during fast recovery: PRR (RFC 6937) computes it. */
  setCwnd(bytes: number): void;
  /** A congestion episode begins: remember the state its reductions may have to be undone to. */
  saveUndo(): void;
  /** The episode's reductions were spurious: restore the state `saveUndo` kept (at least that cwnd). */
  undo(): void;
}

export interface CongestionOptions {
  /** SMSS in bytes. Default 1460. */
  mss?: number;
  /**
   * Initial window in segments. Default: RFC 5681 3.1's 2-4 segments by SMSS; RFC 6928 allows 10.
   */
  initialWindow?: number;
  /**
   * RFC 3465 Appropriate Byte Counting limit L: slow start grows by at most L * SMSS per ACK.
   * Default 2 (so delayed ACKs do not halve slow start's rate); RFC 5681 3.1's strict rule is 1.
   */
  abcLimit?: number;
  /** HyStart++ (RFC 9406) in the first slow start. Default true. */
  hystart?: boolean;
}

/** RFC 5681 3.1: IW = 2, 3 or 4 segments depending on SMSS. */
export function rfc5681InitialWindow(mss: number): number {
  if (mss > 2190) return 2 * mss;
  if (mss > 1095) return 3 * mss;
  return 4 * mss;
}

/**
 * The parts every controller shares: slow start, the recovery bookkeeping of RFC 5681 / 6582 /
 * 6675, timeouts and idle restart. Subclasses give the reduction on loss and the growth in
 * congestion avoidance.
 */
export abstract class CongestionBase implements CongestionControl {
  abstract readonly name: string;
  /** Congestion window, bytes (fractional internally). */
  protected w: number;
  protected thresh = Number.POSITIVE_INFINITY;
  protected smss: number;
  protected readonly iwSegments: number;
  protected readonly abcLimit: number;
  protected recovering = false;
  protected sackRecovery = false;
  /** A timeout happened and no new data was acknowledged since (RFC 5681 3.1: hold ssthresh). */
  protected timedOut = false;
  /** Has any data been acknowledged (setMss may reset the IW before that). */
  protected started = false;
  /** HyStart++ for the first slow start (created at the first ACK), or null (off, or done). */
  protected hystart: HyStart | null = null;
  private hystartOn: boolean;
  /** The state `saveUndo` kept: cwnd, ssthresh (NaN: nothing saved). */
  protected undoW = Number.NaN;
  protected undoThresh = 0;

  constructor(options: CongestionOptions = {}) {
    this.smss = options.mss ?? 1460;
    this.iwSegments = options.initialWindow ?? 0;
    this.abcLimit = options.abcLimit ?? 2;
    this.hystartOn = options.hystart !== false;
    this.w = this.initialWindow();
  }

  get cwnd(): number {
    return Math.max(Math.floor(this.w), this.smss);
  }

  get ssthresh(): number {
    return this.thresh;
  }

  get mss(): number {
    return this.smss;
  }

  get inRecovery(): boolean {
    return this.recovering;
  }

  /** The IW in bytes for the current SMSS. */
  initialWindow(): number {
    return this.iwSegments > 0 ? this.iwSegments * this.smss : rfc5681InitialWindow(this.smss);
  }

  setMss(mss: number): void {
    if (!(mss > 0)) return;
    const old = this.smss;
    this.smss = mss;
    if (!this.started) this.w = this.initialWindow();
    else this.w = (this.w / old) * mss;
  }

  onAck(bytesAcked: number, rtt: number, now: number, inFlight: number): void {
    if (bytesAcked <= 0) return;
    this.started = true;
    this.timedOut = false;
    if (this.recovering) return;
    // RFC 7661 spirit: an application-limited sender (far below cwnd) does not grow cwnd.
    if (inFlight * 2 < this.w) return;
    if (this.w < this.thresh) {
      // RFC 5681 3.1 (with RFC 3465's L): slow start: cwnd += min(N, L * SMSS); RFC 9406 4.2: a
      // quarter of that in Conservative Slow Start.
      const hs = this.hystart;
      const div = hs !== null && this.thresh === Number.POSITIVE_INFINITY ? hs.growthDivisor : 1;
      const grown = this.w + Math.min(bytesAcked, this.abcLimit * this.smss) / div;
      if (grown <= this.thresh) {
        this.w = grown;
        return;
      }
      // Crossing ssthresh: the remainder of the ACK counts as congestion avoidance.
      bytesAcked = grown - this.thresh;
      this.w = this.thresh;
      this.enterCongestionAvoidance(now);
    }
    this.growCongestionAvoidance(bytesAcked, rtt, now);
  }

  enterRecovery(now: number, inFlight: number, sack: boolean): void {
    if (this.recovering) return;
    this.started = true;
    this.recovering = true;
    this.sackRecovery = sack;
    // RFC 9406 4.2: a loss ends HyStart++ (slow start is over for good).
    this.hystart = null;
    this.hystartOn = false;
    this.thresh = Math.max(this.reducedSsthresh(now, inFlight), 2 * this.smss);
    // RFC 6675 5 step 4: cwnd = ssthresh. RFC 5681 3.2 step 3 / RFC 6582: cwnd = ssthresh + 3 * SMSS.
    this.w = sack ? this.thresh : this.thresh + 3 * this.smss;
  }

  onDupAck(): void {
    // RFC 5681 3.2 step 4: each further duplicate ACK inflates cwnd by SMSS.
    if (this.recovering && !this.sackRecovery) this.w += this.smss;
  }

  onPartialAck(bytesAcked: number): void {
    if (!this.recovering || this.sackRecovery) return;
    // RFC 6582 3.2 step 5: deflate by the new data acknowledged; add back SMSS if that was >= SMSS.
    this.w -= bytesAcked;
    if (bytesAcked >= this.smss) this.w += this.smss;
    if (this.w < this.smss) this.w = this.smss;
  }

  exitRecovery(now: number, inFlight: number): void {
    if (!this.recovering) return;
    this.recovering = false;
    if (this.sackRecovery) {
      this.w = this.thresh;
    } else {
      // RFC 6582 3.2 step 6 option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
      this.w = Math.min(this.thresh, Math.max(inFlight, this.smss) + this.smss);
    }
    this.enterCongestionAvoidance(now);
  }

  onRetransmitTimeout(now: number, inFlight: number): void {
    this.started = true;
    this.hystart = null;
    this.hystartOn = false;
    this.recovering = false;
    // RFC 5681 3.1: a segment retransmitted by the timer being lost again holds ssthresh.
    if (!this.timedOut) this.thresh = Math.max(this.reducedSsthreshOnTimeout(now, inFlight), 2 * this.smss);
    this.timedOut = true;
    // RFC 5681 3.1: cwnd <- LW = 1 SMSS.
    this.w = this.smss;
    this.onTimeoutReset(now);
  }

  onIdleRestart(_now: number): void {
    // RFC 5681 4.1: cwnd <- min(RW, cwnd) with RW = IW.
    this.w = Math.min(this.w, this.initialWindow());
  }

  onAckSample(ack: number, sndNxt: number, rtt: number, inFlight: number): void {
    if (!this.hystartOn || this.recovering || this.thresh !== Number.POSITIVE_INFINITY) return;
    let hs = this.hystart;
    if (hs === null) {
      // Made once the sender fills its window (an application-limited sender builds no queue).
      if (inFlight * 2 < this.w) return;
      hs = new HyStart();
      this.hystart = hs;
    }
    hs.onAck(ack, sndNxt, rtt);
    if (hs.done) {
      // RFC 9406 4.2: CSS_ROUNDS rounds of CSS: ssthresh = cwnd, congestion avoidance.
      this.hystart = null;
      this.hystartOn = false;
      this.thresh = Math.max(this.w, 2 * this.smss);
      this.enterCongestionAvoidance(0);
    }
  }

  setCwnd(bytes: number): void {
    this.w = Math.max(bytes, this.smss);
  }

  saveUndo(): void {
    this.undoW = this.w;
    // Linux's tcp_current_ssthresh: an undo restores ssthresh to at least 3/4 of this cwnd.
    this.undoThresh = Math.max(this.thresh, 0.75 * this.w);
    this.saveState();
  }

  undo(): void {
    if (Number.isNaN(this.undoW)) return;
    // Linux's tcp_undo_cwnd_reduction: the window and threshold from before, or more.
    this.recovering = false;
    this.timedOut = false;
    this.w = Math.max(this.w, this.undoW);
    this.thresh = Math.max(this.thresh, this.undoThresh);
    this.restoreState();
    this.undoW = Number.NaN;
  }

  /** Keep what `restoreState` brings back on undo (the controller's own state). */
  protected saveState(): void {}
  protected restoreState(): void {}

  /** ssthresh after a loss detected by ACKs (before the 2 * SMSS floor). */
  protected abstract reducedSsthresh(now: number, inFlight: number): number;
  /** ssthresh after a timeout (before the 2 * SMSS floor). */
  protected reducedSsthreshOnTimeout(now: number, inFlight: number): number {
    return this.reducedSsthresh(now, inFlight);
  }
  /** Growth in congestion avoidance by `bytesAcked`. */
  protected abstract growCongestionAvoidance(bytesAcked: number, rtt: number, now: number): void;
  /** Called when cwnd reaches ssthresh or recovery ends. */
  protected enterCongestionAvoidance(_now: number): void {}
  /** Called after a timeout set cwnd to one segment. */
  protected onTimeoutReset(_now: number): void {}
}

/**
 * HyStart++ (RFC 9406): leave slow start before it overflows the bottleneck's queue.
 *
 * Slow start is measured in rounds (one round ends when the ACK covers what was sent when it
 * began). In each round the smallest of the first RTT samples is compared with the previous
 * round's: when it rose by more than a threshold (an eighth of the RTT, clamped to 4..16 ms) the
 * queue is filling, and slow start gives way to Conservative Slow Start (CSS), which grows the window
 * four times slower. Should the RTT fall back below the baseline, it was a false alarm and slow start
 * resumes; after 5 rounds of CSS, congestion avoidance begins (ssthresh = cwnd). Only the first slow
 * start of a connection uses it (RFC 9406 4.3: ssthresh still at its initial infinity).
 */
import { seqGe } from "./seqnum.ts";

/** RFC 9406 4.3 constants. */
export const MIN_RTT_THRESH = 4;
export const MAX_RTT_THRESH = 16;
export const MIN_RTT_DIVISOR = 8;
export const N_RTT_SAMPLE = 8;
export const CSS_GROWTH_DIVISOR = 4;
export const CSS_ROUNDS = 5;

export class HyStart {
  /** In Conservative Slow Start. */
  inCss = false;
  /** CSS ran its rounds: the caller enters congestion avoidance. */
  done = false;
  private windowEnd = 0;
  private started = false;
  private lastRoundMinRtt = Number.POSITIVE_INFINITY;
  private currentRoundMinRtt = Number.POSITIVE_INFINITY;
  private samples = 0;
  private cssBaselineMinRtt = Number.POSITIVE_INFINITY;
  private cssRounds = 0;

  /**
   * An ACK in slow start: `ack` its cumulative acknowledgment, `sndNxt` SND.NXT, `rtt` an RTT
   * sample from it (negative: none).
   */
  onAck(ack: number, sndNxt: number, rtt: number): void {
    if (!this.started || seqGe(ack, this.windowEnd)) {
      // A round ends (RFC 9406 4.2: the ACK covers windowEnd): the next one begins.
      if (this.started && this.inCss && ++this.cssRounds >= CSS_ROUNDS) this.done = true;
      this.started = true;
      this.windowEnd = sndNxt;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Number.POSITIVE_INFINITY;
      this.samples = 0;
    }
    if (!(rtt >= 0)) return;
    if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt;
    this.samples++;
    if (this.samples < N_RTT_SAMPLE) return;
    if (!this.inCss) {
      if (this.lastRoundMinRtt === Number.POSITIVE_INFINITY || this.currentRoundMinRtt === Number.POSITIVE_INFINITY) {
        return;
      }
      const thresh = Math.min(Math.max(this.lastRoundMinRtt / MIN_RTT_DIVISOR, MIN_RTT_THRESH), MAX_RTT_THRESH);
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.inCss = true;
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.cssRounds = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // RFC 9406 4.2: the RTT increase was spurious: back to slow start.
      this.inCss = false;
      this.cssBaselineMinRtt = Number.POSITIVE_INFINITY;
    }
  }

  /** Divisor of slow start's growth now (1, or CSS_GROWTH_DIVISOR in CSS). */
  get growthDivisor(): number {
    return this.inCss ? CSS_GROWTH_DIVISOR : 1;
  }
}

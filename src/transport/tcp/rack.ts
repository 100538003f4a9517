/**
 * RACK-TLP (RFC 8985): time-based loss detection and tail loss probes.
 *
 * RACK remembers the most recently sent segment that was delivered (cumulatively or selectively
 * acknowledged): its transmit time, end and the RTT it measured. A segment sent before it and not
 * delivered within RACK.rtt + RACK.reo_wnd of its own transmission is lost, whether it was an
 * original transmission or a retransmission (so a lost retransmission is found without a timeout).
 * The reordering window starts at min_RTT / 4 once reordering was seen (zero before, during
 * recovery), grows by that step for each round trip that brings a D-SACK (RFC 2883: a
 * retransmission was spurious) up to SRTT, and falls back after 16 recoveries without one.
 *
 * TLP sends one probe (new data, or the last segment again) when no ACK came for about two round
 * trips, so a loss at the tail of a flight is repaired by RACK on the probe's ACK instead of by the
 * retransmission timeout; the ACK of a probe that repaired a loss lowers the window as a fast
 * recovery would (section 7.4).
 */
import { type DeliveryListener, DUP_THRESH, type Scoreboard, Seg } from "./scoreboard.ts";
import { seqGe, seqGt, seqLt } from "./seqnum.ts";

/** RFC 8985 7.2.2: a new reordering window is kept for 16 recoveries without D-SACK. */
const REO_WND_PERSIST = 16;
/** Lower bound of the probe timeout (ms), as Linux's two-tick TCP_TIMEOUT_MIN. */
export const PTO_MIN_MS = 2;

export class Rack implements DeliveryListener {
  /** RACK.xmit_ts and RACK.end_seq: the most recently sent segment delivered so far. */
  xmitTime = Number.NEGATIVE_INFINITY;
  endSeq = 0;
  /** RACK.rtt: the RTT measured from that segment. */
  rtt = 0;
  /** RACK.min_RTT (the smallest RTT measured from segments without a retransmission ambiguity). */
  minRtt = Number.POSITIVE_INFINITY;
  /** RACK.fack: the highest end of a delivered segment. */
  fack = 0;
  private fackSet = false;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  /** RACK.xmit_ts moved since the last loss detection. */
  advanced = false;
  /** RACK.dsack_round (SND.NXT when the last D-SACK round began), RACK.reo_wnd_mult, _persist. */
  private dsackRound = 0;
  private dsackRoundSet = false;
  reoWndMult = 1;
  private reoWndPersist = 0;

  /** TLP.end_seq (SND.NXT after the probe) while a probe is unresolved, and TLP.is_retrans. */
  tlpOut = false;
  tlpEnd = 0;
  tlpRetrans = false;

  /** A segment never retransmitted was delivered by the current ACK (F-RTO's spurious-timeout test). */
  origDelivered = false;

  // The current ACK.
  private now = 0;
  private tsEcr = -1;
  private tsNow = 0;

  /** Start processing an ACK at `now`; `tsEcr` its echoed timestamp (-1: none), `tsNow` our clock. */
  beginAck(now: number, tsEcr: number, tsNow: number): void {
    this.now = now;
    this.tsEcr = tsEcr;
    this.tsNow = tsNow;
    this.origDelivered = false;
  }

  /** RFC 8985 6.2 steps 2 and 3 for one newly delivered segment. */
  delivered(xmitTime: number, end: number, flags: number, sacked: boolean): void {
    const retransmitted = (flags & Seg.EverRetrans) !== 0;
    if (!retransmitted) this.origDelivered = true;
    // Step 3 (RACK_detect_reordering): a never retransmitted segment below RACK.fack arrived late.
    if (!this.fackSet || seqGt(end, this.fack)) {
      this.fack = end;
      this.fackSet = true;
    } else if (seqLt(end, this.fack) && !retransmitted) {
      this.reorderingSeen = true;
    }
    // Step 2 (RACK_update).
    const rtt = this.now - xmitTime;
    if (retransmitted) {
      // Ambiguous: the ACK may be for an earlier transmission. An echoed timestamp older than this
      // transmission says so when the ACK acknowledges it cumulatively (a SACK echoes the
      // timestamp of the last in-order segment instead: Linux checks only the RTT then); an RTT
      // below min_RTT cannot be this transmission's.
      if (!sacked && this.tsEcr >= 0 && seqLt(this.tsEcr, this.tsOf(xmitTime))) return;
      if (rtt < this.minRtt) return;
    } else if (rtt < this.minRtt) {
      this.minRtt = rtt;
    }
    this.rtt = rtt;
    if (xmitTime > this.xmitTime || (xmitTime === this.xmitTime && seqGt(end, this.endSeq))) {
      this.xmitTime = xmitTime;
      this.endSeq = end;
      this.advanced = true;
    }
  }

  /**
   * RFC 8985 6.2 step 4 (RACK_update_reo_wnd), once per ACK: a D-SACK on this ACK starts a round
   * (until SND.UNA passes the SND.NXT of now) that widens the window by one step; `exitedRecovery`
   * counts a recovery without D-SACK.
   */
  updateReoWnd(dsack: boolean, sndUna: number, sndNxt: number, exitedRecovery: boolean): void {
    if (this.dsackRoundSet && seqGe(sndUna, this.dsackRound)) this.dsackRoundSet = false;
    if (!this.dsackRoundSet && dsack) {
      this.dsackRoundSet = true;
      this.dsackRound = sndNxt;
      this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    } else if (exitedRecovery && --this.reoWndPersist <= 0) {
      this.reoWndMult = 1;
    }
  }

  /** RACK.reo_wnd (section 6.2 step 4): ms. */
  reoWnd(inRecovery: boolean, sackedSegs: number, srtt: number): number {
    if (!this.reorderingSeen) {
      // No reordering seen: as fast as the classic DupThresh rule in and after its trigger.
      if (inRecovery || sackedSegs >= DUP_THRESH) return 0;
    }
    const min = this.minRtt === Number.POSITIVE_INFINITY ? srtt : this.minRtt;
    return Math.min((min / 4) * this.reoWndMult, srtt);
  }

  /**
   * Step 5 (RACK_detect_loss) over the scoreboard. Returns the ms until the reordering timer should
   * fire (0: no record is waiting).
   */
  detectLoss(board: Scoreboard, reoWnd: number, now: number): number {
    this.advanced = false;
    if (this.xmitTime === Number.NEGATIVE_INFINITY) return 0;
    return board.rackDetect(this.xmitTime, this.endSeq, this.rtt + reoWnd, now);
  }

  /**
   * RFC 8985 7.2: the probe timeout, ms: two SRTTs, plus the worst-case delayed ACK when a single
   * segment is in flight (its ACK may be delayed); 1 s before any RTT sample.
   */
  static pto(srtt: number, sampled: boolean, flight: number, mss: number, maxAckDelay: number): number {
    if (!sampled) return 1000;
    let pto = 2 * srtt;
    if (flight <= mss) pto += maxAckDelay;
    return Math.max(pto, PTO_MIN_MS);
  }

  /** A probe was sent; SND.NXT is now `sndNxt`. */
  probeSent(sndNxt: number, retransmission: boolean): void {
    this.tlpOut = true;
    this.tlpEnd = sndNxt;
    this.tlpRetrans = retransmission;
  }

  /**
   * RFC 8985 7.4.2 (TLP_process_ack): does this ACK end the probe episode, and was a loss repaired
   * by the probe (true: the caller lowers the window)? `dsackEnd` is the right edge of a D-SACK
   * block on the ACK (-1: none); `dupAck` an ACK that acknowledged and SACKed nothing new.
   */
  probeAcked(ack: number, dsackEnd: number, dupAck: boolean): boolean {
    if (!this.tlpOut || seqLt(ack, this.tlpEnd)) return false;
    if (!this.tlpRetrans || dsackEnd === this.tlpEnd || (dupAck && ack === this.tlpEnd)) {
      // New data delivered, or the original and the probe both arrived.
      this.tlpOut = false;
      return false;
    }
    if (seqGt(ack, this.tlpEnd)) {
      this.tlpOut = false;
      return true;
    }
    return false;
  }

  /** Our timestamp clock's value at time `t` (ms ticks). */
  private tsOf(t: number): number {
    return (this.tsNow - (Math.floor(this.now) - Math.floor(t))) >>> 0;
  }
}

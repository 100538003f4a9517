/**
 * Proportional Rate Reduction (RFC 6937): the congestion window during fast recovery.
 *
 * Instead of halving the window at once (and then sending nothing for half a round trip, or bursting
 * when a partial ACK comes), PRR spreads the reduction over the recovery: while the pipe is above
 * ssthresh it sends ssthresh / RecoverFS bytes per byte delivered to the receiver, so the window
 * reaches ssthresh smoothly by the end of the round trip; below ssthresh it grows back towards it
 * at most as fast as slow start would (the PRR-SSRB bound), or only as much as was delivered when
 * the ACK reported new losses (PRR-CRB). With Linux's rule that the first ACK of a recovery may
 * always send one segment (the fast retransmit).
 */

export class Prr {
  /** prr_delivered: bytes delivered to the receiver since recovery began. */
  delivered = 0;
  /** prr_out: bytes sent since recovery began. */
  out = 0;
  /** RecoverFS: FlightSize when recovery began. */
  recoverFs = 1;

  /** Recovery begins with `flight` bytes in flight. */
  start(flight: number): void {
    this.delivered = 0;
    this.out = 0;
    this.recoverFs = Math.max(flight, 1);
  }

  /** Bytes were sent (new data or a retransmission) during recovery. */
  sent(bytes: number): void {
    this.out += bytes;
  }

  /**
   * RFC 6937 3 "on every ACK during recovery": `deliveredData` bytes newly delivered (acknowledged
   * or SACKed), `pipe` the bytes in flight after the ACK. Returns the new cwnd (pipe + sndcnt).
   * `unaAdvanced`: the ACK moved SND.UNA; `newlyLost`: it made segments count as lost.
   */
  onAck(
    deliveredData: number,
    pipe: number,
    ssthresh: number,
    mss: number,
    unaAdvanced: boolean,
    newlyLost: boolean,
  ): number {
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > ssthresh) {
      // Proportional reduction: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else if (unaAdvanced && !newlyLost) {
      // PRR-SSRB: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS.
      sndcnt = Math.min(ssthresh - pipe, Math.max(this.delivered - this.out, deliveredData) + mss);
    } else {
      // PRR-CRB: no faster than the data delivered.
      sndcnt = Math.min(ssthresh - pipe, deliveredData);
    }
    // Linux (tcp_cwnd_reduction): the first ACK of a recovery always lets the retransmission go.
    sndcnt = Math.max(sndcnt, this.out === 0 ? mss : 0);
    return pipe + sndcnt;
  }
}

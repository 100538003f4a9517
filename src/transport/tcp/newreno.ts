/**
 * NewReno congestion control: RFC 5681 (slow start, congestion avoidance, fast retransmit and fast
 * recovery) with RFC 6582's partial-ACK handling (in `CongestionBase`), and byte counting in
 * congestion avoidance (RFC 5681 3.1's alternative to equation (3); RFC 3465).
 */
import { CongestionBase, type CongestionOptions } from "./congestion.ts";

export class NewReno extends CongestionBase {
  readonly name = "newreno";
  /** Bytes acknowledged in congestion avoidance not yet turned into window growth. */
  private acked = 0;

  constructor(options: CongestionOptions = {}) {
    super(options);
  }

  protected reducedSsthresh(_now: number, inFlight: number): number {
    // RFC 5681 equation (4): ssthresh = max(FlightSize / 2, 2 * SMSS).
    this.acked = 0;
    return inFlight / 2;
  }

  protected growCongestionAvoidance(bytesAcked: number, _rtt: number, _now: number): void {
    // RFC 5681 3.1: cwnd grows by one SMSS per cwnd's worth of acknowledged bytes.
    this.acked += bytesAcked;
    const w = Math.max(this.w, this.smss);
    if (this.acked >= w) {
      this.acked -= w;
      this.w += this.smss;
    }
  }

  protected override enterCongestionAvoidance(_now: number): void {
    this.acked = 0;
  }
}

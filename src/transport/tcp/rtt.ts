/**
 * Round-trip time estimation and the retransmission timer's value: RFC 6298 (SRTT, RTTVAR, RTO,
 * Karn's algorithm, exponential backoff) with RFC 7323's timestamp-based samples (section 4 and
 * appendix G). All times are milliseconds; fractional values are fine.
 */
import { seqGe } from "./seqnum.ts";

export interface RttOptions {
  /** Lower bound on the RTO. RFC 6298 2.4 says 1000 ms; Linux uses 200 ms. Default 1000. */
  minRto?: number;
  /** Upper bound on the RTO, backoff included (RFC 6298 2.5: at least 60 s). Default 60 000. */
  maxRto?: number;
  /** RTO before the first sample (RFC 6298 2.1: 1 s). Default 1000. */
  initialRto?: number;
  /** Clock granularity G (RFC 6298 2.3). Default 1 ms. */
  granularity?: number;
}

/** RFC 6298 2.3: alpha = 1/8, beta = 1/4, K = 4. */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;
/** Backoff exponent cap (2^16 x any sane RTO is far above any max). */
const MAX_BACKOFF_SHIFT = 16;

export class RttEstimator {
  readonly minRto: number;
  readonly maxRto: number;
  readonly initialRto: number;
  readonly granularity: number;
  /** Smoothed RTT; 0 before the first sample. */
  srtt = 0;
  /** RTT variation; 0 before the first sample. */
  rttvar = 0;
  /** Most recent sample; 0 before the first. */
  latest = 0;
  /** Smallest sample seen (for CUBIC / RACK style uses); Infinity before the first. */
  minRtt = Number.POSITIVE_INFINITY;
  /** Number of consecutive timeouts backed off (RFC 6298 5.5). */
  backoffCount = 0;
  /** RTO without backoff. */
  private base: number;
  private sampled = false;

  constructor(options: RttOptions = {}) {
    this.minRto = options.minRto ?? 1000;
    this.maxRto = options.maxRto ?? 60_000;
    this.initialRto = options.initialRto ?? 1000;
    this.granularity = options.granularity ?? 1;
    if (!(this.minRto > 0 && this.maxRto >= this.minRto)) throw new RangeError("bad RTO bounds");
    this.base = this.clamp(this.initialRto);
  }

  /** True once a sample has been taken. */
  get hasSample(): boolean {
    return this.sampled;
  }

  /** The retransmission timeout in effect: the base RTO doubled per backoff, capped at `maxRto`. */
  get rto(): number {
    const n = this.backoffCount;
    if (n === 0) return this.base;
    return Math.min(this.base * 2 ** Math.min(n, MAX_BACKOFF_SHIFT), this.maxRto);
  }

  /**
   * Feed one RTT measurement. `expectedSamples` (RFC 7323 appendix G) is the number of samples
   * expected per RTT when every ACK yields one (timestamps): ceil(FlightSize / (2 * SMSS)); gains are
   * divided by it so the estimator moves at RFC 6298's per-RTT rate. Negative samples are ignored.
   */
  sample(rtt: number, expectedSamples = 1): void {
    if (!(rtt >= 0)) return;
    this.latest = rtt;
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (!this.sampled) {
      this.sampled = true;
      // RFC 6298 2.2: first measurement R: SRTT <- R, RTTVAR <- R/2.
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      const n = Math.max(1, expectedSamples);
      const a = ALPHA / n;
      const b = BETA / n;
      // RFC 6298 2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'| (before SRTT is updated),
      // SRTT <- (1 - alpha) * SRTT + alpha * R'.
      this.rttvar = (1 - b) * this.rttvar + b * Math.abs(this.srtt - rtt);
      this.srtt = (1 - a) * this.srtt + a * rtt;
    }
    // RFC 6298 2.2/2.3: RTO <- SRTT + max(G, K * RTTVAR), then 2.4/2.5 bounds.
    this.base = this.clamp(this.srtt + Math.max(this.granularity, K * this.rttvar));
  }

  /** RFC 6298 5.5: the retransmission timer expired: double the RTO (up to `maxRto`). */
  backoff(): void {
    if (this.base * 2 ** Math.min(this.backoffCount, MAX_BACKOFF_SHIFT) < this.maxRto) this.backoffCount++;
  }

  /** New data was acknowledged after a backoff: the RTO returns to the estimate (RFC 6298 5.7). */
  resetBackoff(): void {
    this.backoffCount = 0;
  }

  /**
   * RFC 6298 5.7: after the retransmission timer backed off while the connection was establishing,
   * the RTO for data starts at 3 s unless a sample arrived. Also used after a long idle period.
   */
  resetTo(rto: number): void {
    this.sampled = false;
    this.srtt = 0;
    this.rttvar = 0;
    this.backoffCount = 0;
    this.base = this.clamp(rto);
  }

  private clamp(rto: number): number {
    return Math.min(Math.max(rto, this.minRto), this.maxRto);
  }
}

/**
 * Karn's algorithm (RFC 6298 3) for connections without timestamps: time one segment at a time, and
 * take no sample from a segment that was retransmitted.
 */
export class RttTimer {
  private timing = false;
  /** The sequence number the ACK must cover (end of the timed segment). */
  private seq = 0;
  private sentAt = 0;

  /** True while a segment is being timed. */
  get active(): boolean {
    return this.timing;
  }

  /** A new segment ending at `endSeq` was sent at `now`: time it unless one is already timed. */
  onSend(endSeq: number, now: number): void {
    if (this.timing) return;
    this.timing = true;
    this.seq = endSeq >>> 0;
    this.sentAt = now;
  }

  /** RFC 6298 3 (Karn): a retransmission makes the pending measurement ambiguous: drop it. */
  onRetransmit(): void {
    this.timing = false;
  }

  /** An ACK for `ack` arrived at `now`: the RTT when it covers the timed segment, else -1. */
  onAck(ack: number, now: number): number {
    if (!this.timing || !seqGe(ack, this.seq)) return -1;
    this.timing = false;
    return now - this.sentAt;
  }
}

/**
 * RFC 7323 4.1: an RTT sample from an ACK's TSecr, where our TSval clock ticks `tsHz` times per
 * second and `tsNow` is that clock's current value (both 32-bit). Returns milliseconds, or -1 when
 * the echo is missing (0) or from the future (a broken or forged echo).
 */
export function timestampRtt(tsNow: number, tsEcr: number, tsHz = 1000): number {
  if (tsEcr === 0) return -1;
  const ticks = (tsNow - tsEcr) | 0;
  if (ticks < 0) return -1;
  return (ticks * 1000) / tsHz;
}

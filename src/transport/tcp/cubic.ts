/**
 * CUBIC congestion control, RFC 9438.
 *
 * In congestion avoidance the window follows W_cubic(t) = C * (t - K)^3 + W_max (equation 1):
 * concave up to W_max (the window where the last loss happened), flat around it, convex beyond.
 * K = cbrt((W_max - cwnd_epoch) / C) (equation 2) is when the curve reaches W_max again. Windows are
 * computed in segments (C = 0.4 segments/s^3); `now` is the stack clock in ms. Slow start, recovery
 * and timeouts follow RFC 5681 through `CongestionBase`, with beta = 0.7 for the reduction.
 */
import { CongestionBase, type CongestionOptions } from "./congestion.ts";

export interface CubicOptions extends CongestionOptions {
  /** RFC 9438 4.1: C = 0.4. */
  c?: number;
  /** RFC 9438 4.6: beta_cubic = 0.7. */
  beta?: number;
  /** RFC 9438 4.7: fast convergence. Default true. */
  fastConvergence?: boolean;
}

export class Cubic extends CongestionBase {
  readonly name = "cubic";
  readonly c: number;
  readonly beta: number;
  readonly fastConvergence: boolean;
  /** RFC 9438 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta). */
  readonly alpha: number;
  /** W_max in segments (0 before the first congestion event). */
  wMax = 0;
  /** K in seconds for the current epoch. */
  k = 0;
  /** Start of the current congestion avoidance stage (ms), or -1 when none has started. */
  epochStart = -1;
  /** cwnd (segments) at the start of the epoch. */
  cwndEpoch = 0;
  /** The Reno-friendly estimate W_est in segments (RFC 9438 4.3). */
  wEst = 0;
  /** cwnd (segments) just before the last reduction. */
  cwndPrior = 0;
  private afterTimeout = false;
  // What saveState kept for an undo.
  private savedWMax = 0;
  private savedK = 0;
  private savedEpoch = -1;
  private savedCwndEpoch = 0;
  private savedWEst = 0;
  private savedCwndPrior = 0;
  private savedAfterTimeout = false;

  constructor(options: CubicOptions = {}) {
    super(options);
    this.c = options.c ?? 0.4;
    this.beta = options.beta ?? 0.7;
    this.fastConvergence = options.fastConvergence ?? true;
    this.alpha = (3 * (1 - this.beta)) / (1 + this.beta);
  }

  /** RFC 9438 equation (1): W_cubic(t) in segments, `t` seconds into the epoch. */
  wCubic(t: number): number {
    const d = t - this.k;
    return this.c * d * d * d + this.wMax;
  }

  /** RFC 9438 equation (2) for a given W_max and cwnd_epoch (segments): K in seconds. */
  kFor(wMax: number, cwndEpoch: number): number {
    return wMax > cwndEpoch ? Math.cbrt((wMax - cwndEpoch) / this.c) : 0;
  }

  protected reducedSsthresh(_now: number, inFlight: number): number {
    const cwnd = this.w / this.smss;
    this.cwndPrior = cwnd;
    // RFC 9438 4.7: fast convergence: a loss below the previous W_max releases bandwidth.
    if (this.fastConvergence && cwnd < this.wMax) this.wMax = (cwnd * (1 + this.beta)) / 2;
    else this.wMax = cwnd;
    this.epochStart = -1;
    this.afterTimeout = false;
    // RFC 9438 4.6: ssthresh = flight_size * beta_cubic (at least 2 segments, applied by the base).
    return Math.min(inFlight, this.w) * this.beta;
  }

  protected override saveState(): void {
    this.savedWMax = this.wMax;
    this.savedK = this.k;
    this.savedEpoch = this.epochStart;
    this.savedCwndEpoch = this.cwndEpoch;
    this.savedWEst = this.wEst;
    this.savedCwndPrior = this.cwndPrior;
    this.savedAfterTimeout = this.afterTimeout;
  }

  protected override restoreState(): void {
    // RFC 9438 4.9 (spurious fast retransmits / timeouts): the state before the congestion event.
    this.wMax = this.savedWMax;
    this.k = this.savedK;
    this.epochStart = this.savedEpoch;
    this.cwndEpoch = this.savedCwndEpoch;
    this.wEst = this.savedWEst;
    this.cwndPrior = this.savedCwndPrior;
    this.afterTimeout = this.savedAfterTimeout;
  }

  protected override onTimeoutReset(_now: number): void {
    // RFC 9438 4.8: the first congestion avoidance stage after a timeout uses K = 0 and
    // W_max = cwnd at its start.
    this.epochStart = -1;
    this.afterTimeout = true;
  }

  protected override enterCongestionAvoidance(_now: number): void {
    this.epochStart = -1;
  }

  override onIdleRestart(now: number): void {
    super.onIdleRestart(now);
    this.epochStart = -1;
  }

  protected growCongestionAvoidance(bytesAcked: number, rtt: number, now: number): void {
    const mss = this.smss;
    let cwnd = this.w / mss;
    if (this.epochStart < 0) {
      // RFC 9438 4.2: a new congestion avoidance stage starts.
      this.epochStart = now;
      this.cwndEpoch = cwnd;
      if (this.afterTimeout || this.wMax < cwnd) {
        this.wMax = cwnd;
        this.afterTimeout = false;
      }
      this.k = this.kFor(this.wMax, cwnd);
      this.wEst = cwnd;
    }
    const acked = bytesAcked / mss;
    const t = (now - this.epochStart) / 1000;
    // RFC 9438 4.3: W_est grows by alpha_cubic segments per window acknowledged; alpha becomes 1
    // once W_est reaches cwnd_prior.
    const a = this.wEst >= this.cwndPrior ? 1 : this.alpha;
    this.wEst += (a * acked) / cwnd;
    const wt = this.wCubic(t);
    if (wt < this.wEst) {
      // RFC 9438 4.3: Reno-friendly region.
      cwnd = Math.max(cwnd, this.wEst);
    } else {
      // RFC 9438 4.4/4.5: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd]; cwnd grows
      // by (target - cwnd) / cwnd per acknowledged segment.
      const target = Math.min(Math.max(this.wCubic(t + Math.max(rtt, 0) / 1000), cwnd), 1.5 * cwnd);
      cwnd += ((target - cwnd) / cwnd) * acked;
    }
    this.w = cwnd * mss;
  }
}

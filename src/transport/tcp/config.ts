/**
 * TCP layer configuration: every limit and timer value the state machine uses, with documented
 * defaults (Linux's where RFC 9293 leaves the choice), and the per-socket options.
 */

import type { CongestionControl } from "./congestion.ts";
import { Cubic } from "./cubic.ts";
import { NewReno } from "./newreno.ts";

/** Congestion control algorithms by name. */
export type CongestionName = "cubic" | "newreno";

/** Per-socket options (settable at connect/listen time and with `setOptions`). */
export interface TcpSocketOptions {
  /** Send buffer capacity in bytes. */
  sendBufferSize?: number;
  /** Receive buffer capacity in bytes: the largest window advertised. */
  recvBufferSize?: number;
  /** Disable Nagle's algorithm (RFC 896; RFC 9293 3.7.4). */
  noDelay?: boolean;
  /** Send keepalive probes on an idle connection (RFC 9293 3.8.4, RFC 1122 4.2.3.6). */
  keepAlive?: boolean;
  /** Idle time before the first keepalive probe (ms). */
  keepAliveIdle?: number;
  /** Time between unanswered keepalive probes (ms). */
  keepAliveInterval?: number;
  /** Unanswered probes before the connection fails with ETIMEDOUT. */
  keepAliveCount?: number;
  /** Keep the sending side open after the peer's FIN (Node's allowHalfOpen). Default true. */
  allowHalfOpen?: boolean;
  /** Congestion control for new connections. */
  congestion?: CongestionName;
  /** RFC 5482 user timeout: fail a connection whose data stays unacknowledged this long (ms); 0: off. */
  userTimeout?: number;
}

/** Layer-wide configuration. */
export interface TcpConfig extends Required<TcpSocketOptions> {
  /** RFC 6928 initial window in segments (10). */
  initialWindow: number;
  /** RFC 6298 2.4 lower bound on the RTO (ms). Default 200 (Linux's TCP_RTO_MIN; RFC 6298 says 1 s). */
  minRto: number;
  /** RFC 6298 2.5 upper bound (ms). Default 60 000. */
  maxRto: number;
  /** RFC 6298 2.1 RTO before any sample (ms). Default 1000. */
  initialRto: number;
  /** SYN retransmissions before ECONNREFUSED-less failure (ETIMEDOUT). Default 6 (Linux tcp_syn_retries). */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped. Default 5. */
  synAckRetries: number;
  /** Data retransmissions before ETIMEDOUT (RFC 9293 3.8.3 R2). Default 15 (Linux tcp_retries2). */
  maxRetries: number;
  /** TIME-WAIT duration, 2 * MSL (RFC 9293 3.6.1). Default 60 000 ms. */
  timeWaitMs: number;
  /**
   * Connections kept in TIME-WAIT at once (Linux tcp_max_tw_buckets); past it the oldest one ends
   * early (`tcp.time-wait-overflow`). Default 16 384.
   */
  maxTimeWait: number;
  /** An orphaned (closed by the user) connection stays in FIN-WAIT-2 this long. Default 60 000 ms. */
  finWait2Timeout: number;
  /** Delayed ACK timeout (RFC 9293 3.8.6.3: < 0.5 s; RFC 5681 4.2: <= 500 ms). Default 40 ms. */
  delayedAckMs: number;
  /**
   * Inside a receive batch (`TcpLayer.beginBatch` / `endBatch`, the Stack's `beginBatch` /
   * `receiveFrames`), the ACK owed for every second full-sized segment waits for the end of the
   * batch, as long as fewer than this many bytes are unacknowledged: one cumulative ACK per
   * connection per batch (RFC 9293 3.8.6.3 / RFC 5681 4.2 allow stretch ACKs; Linux's GRO makes the
   * same). 0: no deferral. Default 65 536.
   */
  batchAckBytes: number;
  /** RFC 7323 window scaling. */
  windowScaling: boolean;
  /** RFC 7323 timestamps (RTTM and PAWS). */
  timestamps: boolean;
  /** RFC 2018 SACK. */
  sack: boolean;
  /**
   * Half-open connections per listener before SYN cookies (or drops). Default 1024: larger than the
   * default backlog, as Linux's SYN queue (tcp_max_syn_backlog) is larger than its accept queue.
   */
  synQueueSize: number;
  /** Default accept backlog (established connections not yet accepted). Default 511, Node's default. */
  defaultBacklog: number;
  /** RFC 4987 SYN cookies when the SYN queue is full. Default true. */
  syncookies: boolean;
  /** SYN cookie counter tick (ms). Default 60 000. */
  syncookiePeriodMs: number;
  /** RFC 5961 section 7: challenge ACKs per second (layer-wide). Default 1000 (Linux). */
  challengeAckRate: number;
  /** Challenge ACK burst. Default 100. */
  challengeAckBurst: number;
  /**
   * Per connection, the least time (ms) between two ACKs answering unacceptable segments that carry
   * nothing (out of window, PAWS, ACK of unsent data): two desynchronized ends cannot ping-pong ACKs
   * (RFC 5961 10; Linux's tcp_invalid_ratelimit). Default 500.
   */
  invalidAckRatelimitMs: number;
  /** Out-of-order ranges kept per connection (bounded reassembly). Default 16. */
  maxOooRanges: number;
  /** Ephemeral port range (RFC 6335 6 / RFC 6056). */
  ephemeralMin: number;
  ephemeralMax: number;
  /** Most connections (all states) at once; further connects get EMFILE and SYNs are dropped. */
  maxConnections: number;
}

/** The defaults. */
export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = {
  sendBufferSize: 262144,
  recvBufferSize: 262144,
  noDelay: false,
  keepAlive: false,
  // RFC 1122 4.2.3.6: the keepalive interval MUST default to no less than two hours.
  keepAliveIdle: 7_200_000,
  keepAliveInterval: 75_000,
  keepAliveCount: 9,
  allowHalfOpen: true,
  congestion: "cubic",
  userTimeout: 0,
  initialWindow: 10,
  minRto: 200,
  maxRto: 60_000,
  initialRto: 1000,
  synRetries: 6,
  synAckRetries: 5,
  maxRetries: 15,
  timeWaitMs: 60_000,
  maxTimeWait: 16_384,
  finWait2Timeout: 60_000,
  delayedAckMs: 40,
  batchAckBytes: 65536,
  windowScaling: true,
  timestamps: true,
  sack: true,
  synQueueSize: 1024,
  defaultBacklog: 511,
  syncookies: true,
  syncookiePeriodMs: 60_000,
  challengeAckRate: 1000,
  challengeAckBurst: 100,
  invalidAckRatelimitMs: 500,
  maxOooRanges: 16,
  ephemeralMin: 49152,
  ephemeralMax: 65535,
  maxConnections: 1 << 20,
};

/** Resolve a partial configuration against the defaults (and check the values that matter). */
export function resolveTcpConfig(partial: Partial<TcpConfig> = {}): TcpConfig {
  const c: TcpConfig = { ...DEFAULT_TCP_CONFIG, ...partial };
  if (!(c.delayedAckMs >= 0 && c.delayedAckMs <= 500)) throw new RangeError("delayedAckMs must be 0..500");
  if (!(c.minRto > 0 && c.maxRto >= c.minRto)) throw new RangeError("bad RTO bounds");
  if (!(c.sendBufferSize >= 0 && c.recvBufferSize >= 0)) throw new RangeError("bad buffer size");
  return c;
}

/** A new congestion controller by name. */
export function makeCongestion(name: CongestionName, mss: number, initialWindow: number): CongestionControl {
  return name === "newreno" ? new NewReno({ mss, initialWindow }) : new Cubic({ mss, initialWindow });
}

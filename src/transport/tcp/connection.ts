/**
 * One TCP connection: the RFC 9293 state machine (section 3.10 "Event Processing"), with
 * RFC 6298 retransmission timing, RFC 5681 / 6582 / 6675 congestion control and loss recovery,
 * RFC 7323 window scaling, timestamps and PAWS, RFC 2018 SACK, RFC 5961 blind-attack defences,
 * RFC 1122 / 9293 delayed ACKs, Nagle, keepalive, persist and silly window avoidance.
 *
 * A connection never touches the network or the clock itself: it calls its `ConnHost` (the
 * `TcpLayer`) to transmit a segment (the payload is a range of its send buffer, copied once into
 * the outgoing packet), to (re)schedule its single timer and to emit events. All the connection's
 * timers (retransmission, persist, delayed ACK, keepalive, TIME-WAIT / FIN-WAIT-2) are deadlines
 * here, multiplexed onto one `Timer` in the core queue at their minimum.
 */
import type { ErrorCode, SocketId, TimerId } from "../../context.ts";
import type { IpVersion } from "../../ip/version.ts";
import { Timer } from "../../timers.ts";
import { TcpFlags, type TcpView } from "../../wire/tcp.ts";
import type { TcpOptions } from "../../wire/tcp-options.ts";
import type { TcpConfig } from "./config.ts";
import type { CongestionControl } from "./congestion.ts";
import { RecvBuffer } from "./recv-buffer.ts";
import { RttEstimator, RttTimer, timestampRtt } from "./rtt.ts";
import { NextSegKind, SackScoreboard } from "./sack.ts";
import { SendBuffer } from "./send-buffer.ts";
import { inWindow, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from "./seqnum.ts";

/** RFC 9293 3.3.2 connection states. */
export const TcpState = {
  Closed: 0,
  Listen: 1,
  SynSent: 2,
  SynRcvd: 3,
  Established: 4,
  FinWait1: 5,
  FinWait2: 6,
  CloseWait: 7,
  Closing: 8,
  LastAck: 9,
  TimeWait: 10,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

/** State names, for logs and tests. */
export const TCP_STATE_NAMES: readonly string[] = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

/** An address of either version as the connection keeps it (owned). */
export type TcpAddrAny = number | Uint8Array;

/** Largest window field (RFC 9293 3.1: 16 bits). */
const MAX_WIN_FIELD = 0xffff;
/** RFC 7323 2.3: the shift count is at most 14. */
const MAX_WSCALE = 14;
/** RFC 7323 5.5: TS.Recent older than 24 days is invalid (PAWS must not reject on it). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** RFC 9293 3.7.1: default send MSS when the peer sent no MSS option. */
export const DEFAULT_MSS_V4 = 536;
export const DEFAULT_MSS_V6 = 1220;
/**
 * Switches for tests and benchmarks: `headerPrediction` off sends every segment down the general
 * path (the fast path must not change what goes on the wire); `predicted` counts fast-path hits.
 */
export const tcpTuning = { headerPrediction: true, predicted: 0 };

/** Flags header prediction looks at: only ACK (PSH aside) may be set. */
const PREDICT_MASK = TcpFlags.SYN | TcpFlags.FIN | TcpFlags.RST | TcpFlags.ACK | TcpFlags.URG;
/** Bytes the timestamps option takes in every segment (NOP NOP TS). */
const TS_OPT_LEN = 12;

/** What a connection needs from its layer. */
export interface ConnHost {
  readonly config: TcpConfig;
  now(): number;
  /** Our RFC 7323 timestamp clock (ms ticks, 32-bit). */
  tsNow(): number;
  /** Put the connection's timer at `at` (Infinity: cancel). */
  setTimer(c: TcpConnection, at: number): void;
  /**
   * Send one segment: header from the connection's fields (`seq`, `flags`), payload the send buffer
   * range `[dataOff, dataOff + dataLen)` after SND.UNA. `opts` carries SYN options (null otherwise).
   */
  transmit(c: TcpConnection, seq: number, flags: number, dataOff: number, dataLen: number, syn: boolean): void;
  /** RFC 5961 7: may a challenge ACK be sent now (rate limit)? */
  challengeAckAllowed(): boolean;
  /**
   * Inside a receive batch: note that `c` owes an ACK, to be sent (one cumulative ACK) when the
   * batch ends. False outside a batch (the ACK goes now).
   */
  deferAck(c: TcpConnection): boolean;
  /** A passive connection reached ESTABLISHED: queue it for accept. False when the backlog is full. */
  established(c: TcpConnection): boolean;
  /** The connection reached CLOSED (`error` set when it failed) or TIME-WAIT. */
  finished(c: TcpConnection, error: ErrorCode | null): void;
  /** Remove the connection from every table (after CLOSED, or when TIME-WAIT ends). */
  remove(c: TcpConnection): void;
  emitReadable(c: TcpConnection): void;
  emitWritable(c: TcpConnection): void;
  emitConnected(c: TcpConnection): void;
  /** Count an event by name. */
  count(what: CounterName): void;
}

/** The counters a connection bumps. */
export type CounterName =
  | "retransmit"
  | "rto"
  | "fast-retransmit"
  | "sack-recovery"
  | "dupack"
  | "challenge-ack"
  | "challenge-ack-limited"
  | "paws-drop"
  | "out-of-window"
  | "ack-unsent"
  | "rst-received"
  | "rst-ignored"
  | "ooo-segment"
  | "persist-probe"
  | "keepalive-probe"
  | "delayed-ack"
  | "window-update"
  | "syn-on-synchronized";

/** Fields a connection is created with. */
export interface ConnInit {
  id: SocketId;
  I: IpVersion<TcpAddrAny>;
  local: TcpAddrAny;
  localPort: number;
  remote: TcpAddrAny;
  remotePort: number;
  iss: number;
  /** Our MSS from the route (bytes of payload in a segment without options). */
  mss: number;
  cc: CongestionControl;
}

export class TcpConnection {
  readonly id: SocketId;
  readonly I: IpVersion<TcpAddrAny>;
  readonly local: TcpAddrAny;
  readonly localPort: number;
  readonly remote: TcpAddrAny;
  readonly remotePort: number;
  readonly timer: Timer<TimerId>;
  /** Demux hash and chain (owned by the layer). */
  hash = 0;
  hashNext: TcpConnection | null = null;
  /** In the layer's demux table. */
  inTable = false;
  /** The listener that created this connection, until it is accepted (owned by the layer). */
  listener: unknown = null;
  /** Waiting in a listener's accept queue. */
  queued = false;
  /** Opened by a listener (passive open). */
  passive = false;

  state: TcpState = TcpState.Closed;

  // ---- send sequence space (RFC 9293 3.3.1) ----
  iss: number;
  sndUna: number;
  sndNxt: number;
  /** One past the highest sequence number sent (SND.NXT before a go-back-N rewind). */
  sndMax: number;
  /** Send window in bytes (scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer offered (RFC 5961 5.2's MAX.SND.WND, SWS's max window). */
  maxSndWnd = 0;
  /** RFC 7323: shift applied to the peer's window fields. */
  sndWscale = 0;

  // ---- receive sequence space ----
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window last advertised (never moved left: RFC 9293 3.8.6). */
  rcvAdv = 0;
  /** RFC 7323: shift we apply to our window fields (0 unless both sides sent the option). */
  rcvWscale = 0;
  /** The shift we offered in our SYN (before knowing whether the peer scales). */
  rcvWscaleOffer = 0;
  /** Last ACK value sent (RFC 7323 4.3's Last.ACK.sent). */
  lastAckSent = 0;

  sendBuf: SendBuffer;
  recvBuf: RecvBuffer;

  /** The application shut the sending side: a FIN follows the buffered data. */
  finQueued = false;
  /** Our FIN was acknowledged. */
  finAcked = false;
  /** The peer's FIN was received (in order). */
  peerFin = false;
  /** An out-of-order FIN at this sequence number waits for the data before it. */
  peerFinSeq = 0;
  peerFinPending = false;

  // ---- options ----
  /** Our MSS (route), the peer's MSS option, and the payload of a full segment (SMSS). */
  ourMss: number;
  peerMss: number;
  smss: number;
  tsOk = false;
  tsRecent = 0;
  tsRecentAt = 0;
  sackOk = false;
  wsOk = false;
  /** What the peer's SYN offered (kept for SYN-ACK retransmissions). */
  synOpts = { mss: -1, wscale: -1, sack: false, ts: false };

  // ---- retransmission and congestion ----
  readonly rtt: RttEstimator;
  readonly rttTimer = new RttTimer();
  cc: CongestionControl;
  sb: SackScoreboard | null = null;
  dupAcks = 0;
  inRecovery = false;
  recoverPoint = 0;
  /** RFC 6675 HighRxt + 1. */
  rxtEnd = 0;
  retries = 0;
  /** Segments retransmitted (TcpInfo.retransmits). */
  retransmits = 0;
  /** First retransmission of the current episode (for the user timeout). */
  rtxStart = 0;
  synRetransmitted = false;
  persistBackoff = 0;
  kaProbes = 0;
  lastRecvAt = 0;
  /** When an ACK last answered an unacceptable segment that carried nothing (rate limit). */
  lastInvalidAckAt = -Infinity;
  /** When the retransmission timer last sent a window probe (see windowProbeTimeout). */
  lastProbeAt = -Infinity;

  // ---- timer deadlines (Infinity: off) ----
  rtoAt = Infinity;
  persistAt = Infinity;
  delackAt = Infinity;
  kaAt = Infinity;
  closeAt = Infinity;
  /** The deadline the host timer is set to. */
  timerAt = Infinity;

  // ---- ACK state ----
  ackNow = false;
  ackDelayed = false;
  /** Full-sized segments received since the last ACK sent. */
  unackedSegs = 0;
  /** On the layer's list of connections owing an ACK at the end of the receive batch. */
  ackBatched = false;

  // ---- socket flags ----
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveIdle: number;
  keepAliveInterval: number;
  keepAliveCount: number;
  allowHalfOpen: boolean;
  userTimeout: number;
  userClosed = false;
  /** `closed` (and maybe `error`) was emitted. */
  done = false;
  readNotified = false;
  wantWritable = false;
  /** An ICMP error reported while established (RFC 1122 4.2.3.9): the code used on timeout. */
  softError: ErrorCode | null = null;
  /** The error the connection failed with. */
  error: ErrorCode | null = null;

  private readonly host: ConnHost;

  constructor(host: ConnHost, init: ConnInit, config: TcpConfig) {
    this.host = host;
    this.id = init.id;
    this.I = init.I;
    this.local = init.local;
    this.localPort = init.localPort;
    this.remote = init.remote;
    this.remotePort = init.remotePort;
    this.timer = new Timer<TimerId>({ kind: "tcp", socket: init.id });
    this.iss = init.iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.recoverPoint = this.iss;
    this.ourMss = init.mss;
    this.peerMss = init.I.version === 6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
    this.smss = Math.min(this.ourMss, this.peerMss);
    this.cc = init.cc;
    this.sendBuf = new SendBuffer(config.sendBufferSize);
    this.recvBuf = new RecvBuffer(config.recvBufferSize, config.maxOooRanges);
    this.rtt = new RttEstimator({ minRto: config.minRto, maxRto: config.maxRto, initialRto: config.initialRto });
    this.noDelay = config.noDelay;
    this.keepAlive = config.keepAlive;
    this.keepAliveIdle = config.keepAliveIdle;
    this.keepAliveInterval = config.keepAliveInterval;
    this.keepAliveCount = config.keepAliveCount;
    this.allowHalfOpen = config.allowHalfOpen;
    this.userTimeout = config.userTimeout;
    let s = 0;
    // RFC 7323 2.3: the smallest shift that lets the buffer's size be advertised.
    while (s < MAX_WSCALE && config.recvBufferSize >>> s > MAX_WIN_FIELD) s++;
    this.rcvWscaleOffer = config.windowScaling ? s : -1;
  }

  // ================= queries =================

  /** True in states where the three-way handshake completed (RFC 9293's synchronized states). */
  get synchronized(): boolean {
    return this.state >= TcpState.Established;
  }

  /** Bytes sent and not acknowledged (FlightSize, sequence space including SYN/FIN). */
  get flight(): number {
    return seqSub(this.sndNxt, this.sndUna);
  }

  /** Buffered bytes not yet sent. */
  get unsent(): number {
    const sent = seqSub(this.sndNxt, this.sndUna);
    return Math.max(this.sendBuf.length - sent, 0);
  }

  /** The FIN's sequence number (meaningful once `finQueued`). */
  get finSeq(): number {
    return seqAdd(this.sndUna, this.sendBuf.length);
  }

  /** Our FIN was sent (and not rewound by a retransmission timeout). */
  get finSent(): boolean {
    return this.finQueued && seqSub(this.sndNxt, this.sndUna) > this.sendBuf.length;
  }

  /** The window to advertise now, before scaling (RFC 9293 3.8.6.2.2 receiver SWS avoidance). */
  receiveWindow(): number {
    const buf = this.recvBuf;
    const free = buf.window();
    let cur = seqSub(this.rcvAdv, this.rcvNxt);
    if (cur < 0) cur = 0;
    let win = free;
    // RFC 9293 3.8.6.2.2: move the right edge only by at least min(RCV.BUFF / 2, Eff.snd.MSS).
    if (free - cur < Math.min(buf.capacity >>> 1, this.smss)) win = cur;
    // (A shift, not `2 **`: the shift is at most 14, so the product stays below 2^30.)
    const max = MAX_WIN_FIELD << this.rcvWscale;
    if (win > max) win = max;
    return win;
  }

  // ================= application calls =================

  /** Append data to the send buffer. Returns the bytes accepted. */
  write(data: Uint8Array, off: number, len: number): number {
    const n = this.sendBuf.write(data, off, len);
    if (n < len) this.wantWritable = true;
    if (n > 0 && this.synchronized) this.output(this.host.now());
    return n;
  }

  /** The application read: maybe send a window update (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3). */
  afterRead(): void {
    this.readNotified = false;
    if (!this.synchronized || this.state === TcpState.TimeWait || this.peerFin) return;
    const cur = Math.max(0, seqSub(this.rcvAdv, this.rcvNxt));
    const win = this.receiveWindow();
    // Like Linux's tcp_cleanup_rbuf: announce when the window at least doubled by a useful amount.
    if (win - cur >= Math.min(this.recvBuf.capacity >>> 1, this.smss) && win >= 2 * cur) {
      this.host.count("window-update");
      this.ackNow = true;
      this.output(this.host.now());
    }
  }

  /** Shut the sending side (RFC 9293 3.10.4 CLOSE on the sending half). */
  shutdown(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case TcpState.SynSent:
        // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB.
        this.finish(null);
        return;
      case TcpState.SynRcvd:
      case TcpState.Established:
        this.finQueued = true;
        if (this.state === TcpState.Established) this.state = TcpState.FinWait1;
        break;
      case TcpState.CloseWait:
        this.finQueued = true;
        this.state = TcpState.LastAck;
        break;
      default:
        return;
    }
    this.output(this.host.now());
  }

  /** Send a RST if synchronized and drop everything (RFC 9293 3.10.5 ABORT). */
  abort(error: ErrorCode | null): void {
    if (this.state === TcpState.Closed) return;
    if (
      this.state === TcpState.SynRcvd ||
      this.state === TcpState.Established ||
      this.state === TcpState.FinWait1 ||
      this.state === TcpState.FinWait2 ||
      this.state === TcpState.CloseWait
    ) {
      // RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>.
      this.host.transmit(this, this.sndNxt, TcpFlags.RST | TcpFlags.ACK, 0, 0, false);
    }
    this.finish(error);
  }

  // ================= opening =================

  /** Active open: send the SYN (RFC 9293 3.10.1). */
  connect(now: number): void {
    this.state = TcpState.SynSent;
    this.sendSyn(now);
  }

  /** Passive open from a listener: the peer's SYN (already parsed into `opts`) is in `seg`. */
  acceptSyn(seg: TcpView, opts: TcpOptions, now: number): void {
    this.passive = true;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.applySynOptions(opts, now);
    // RFC 7323 2.2: the window field of a SYN is never scaled.
    this.setSendWindow(seg.window, seg.seq, 0);
    this.sndWl2 = this.iss;
    this.state = TcpState.SynRcvd;
    this.sendSyn(now);
  }

  /**
   * A connection created from a valid SYN cookie (RFC 4987 3.6): ESTABLISHED at once, with the
   * options the cookie kept. `seg` is the completing ACK.
   */
  acceptCookie(seg: TcpView, opts: TcpOptions, mss: number, wscale: number, sackOk: boolean, now: number): void {
    this.passive = true;
    this.irs = seqAdd(seg.seq, -1);
    this.rcvNxt = seg.seq;
    this.rcvAdv = this.rcvNxt;
    this.sndUna = seqAdd(this.iss, 1);
    this.sndNxt = this.sndUna;
    this.sndMax = this.sndUna;
    this.peerMss = mss;
    this.tsOk = opts.hasTs && this.host.config.timestamps;
    if (this.tsOk) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    this.wsOk = this.tsOk && wscale >= 0 && this.rcvWscaleOffer >= 0;
    this.sndWscale = this.wsOk ? Math.min(wscale, MAX_WSCALE) : 0;
    this.rcvWscale = this.wsOk ? this.rcvWscaleOffer : 0;
    this.sackOk = this.tsOk && sackOk && this.host.config.sack;
    this.updateMss();
    this.setSendWindow(seg.window << this.sndWscale, seg.seq, seg.ack);
    this.state = TcpState.Established;
    this.lastRecvAt = now;
    this.armKeepalive(now);
  }

  private applySynOptions(opts: TcpOptions, now: number): void {
    const cfg = this.host.config;
    this.synOpts.mss = opts.mss;
    this.synOpts.wscale = opts.wscale;
    this.synOpts.sack = opts.sackPermitted;
    this.synOpts.ts = opts.hasTs;
    if (opts.mss > 0) this.peerMss = opts.mss;
    // RFC 7323 2.2: scaling is in effect only when both SYNs carried the option.
    this.wsOk = cfg.windowScaling && opts.wscale >= 0 && this.rcvWscaleOffer >= 0;
    // RFC 7323 2.3: a shift above 14 is used as 14.
    this.sndWscale = this.wsOk ? Math.min(opts.wscale, MAX_WSCALE) : 0;
    this.rcvWscale = this.wsOk ? this.rcvWscaleOffer : 0;
    // RFC 7323 3.2: timestamps only when the SYN carried them.
    this.tsOk = cfg.timestamps && opts.hasTs;
    if (this.tsOk) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    // RFC 2018 2: SACK only when both SYNs offered it.
    this.sackOk = cfg.sack && opts.sackPermitted;
    this.updateMss();
  }

  /** SMSS: the smaller MSS, less the option bytes every segment carries (RFC 6691). */
  updateMss(): void {
    let m = Math.min(this.ourMss, this.peerMss);
    if (this.tsOk) m -= TS_OPT_LEN;
    if (m < 64) m = 64;
    this.smss = m;
    this.cc.setMss(m);
  }

  private sendSyn(now: number): void {
    const ack = this.state === TcpState.SynRcvd;
    this.host.transmit(this, this.iss, ack ? TcpFlags.SYN | TcpFlags.ACK : TcpFlags.SYN, 0, 0, true);
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = seqMax(this.sndMax, this.sndNxt);
    if (!this.synRetransmitted) this.rttTimer.onSend(this.sndNxt, now);
    this.rtoAt = now + this.rtt.rto;
    this.updateTimer();
  }

  // ================= segment arrival (RFC 9293 3.10.7) =================

  /** A segment for this connection. `opts` holds its parsed options. */
  input(seg: TcpView, opts: TcpOptions, now: number): void {
    if (this.state === TcpState.Established && tcpTuning.headerPrediction && this.predicted(seg, opts, now)) {
      tcpTuning.predicted++;
      this.output(now);
      return;
    }
    if (this.state === TcpState.SynSent) {
      this.inputSynSent(seg, opts, now);
    } else if (this.inputSynchronized(seg, opts, now) && this.state !== TcpState.Closed) {
      this.output(now);
    }
    if (this.state !== TcpState.Closed) this.updateTimer();
  }

  /**
   * Header prediction (Van Jacobson's fast path, RFC 1323 / RFC 7323 appendix, Linux's
   * tcp_rcv_established): in ESTABLISHED, a segment at RCV.NXT with only ACK (and PSH) set, the
   * window unchanged, no SACK blocks, a timestamp that passes PAWS, and nothing unusual on our side
   * (no recovery, no rewind, no holes) is either a pure ACK of new data or in-order data that
   * acknowledges nothing new. Every check of the general path (3.10.7.4) is then known to pass, so
   * those are done directly. False: not predicted, nothing changed; take the general path.
   */
  private predicted(seg: TcpView, opts: TcpOptions, now: number): boolean {
    if ((seg.flags & PREDICT_MASK) !== TcpFlags.ACK || seg.seq !== this.rcvNxt) return false;
    if (opts.sackCount !== 0 || this.inRecovery || this.sndNxt !== this.sndMax) return false;
    if (seg.window << this.sndWscale !== this.sndWnd) return false;
    const ack = seg.ack;
    // RFC 7323 5.3 R1: PAWS passes (TS.Recent is then updated: the segment is at RCV.NXT).
    if (this.tsOk) {
      if (!opts.hasTs || seqLt(opts.tsVal, this.tsRecent)) return false;
    }
    const plen = seg.payloadLen;
    if (plen === 0) {
      // A pure ACK of new data (not beyond SND.MAX).
      if (!seqGt(ack, this.sndUna) || seqGt(ack, this.sndMax)) return false;
      this.predictedCommon(seg, opts, now);
      this.ackNew(opts, ack, seqSub(this.sndMax, this.sndUna), now);
      if (this.state !== TcpState.Established) return true;
    } else {
      // In-order data within the window that acknowledges nothing new.
      if (ack !== this.sndUna || this.recvBuf.rangeCount !== 0 || this.peerFinPending || this.userClosed) return false;
      if (plen > seqSub(this.rcvAdv, this.rcvNxt)) return false;
      this.predictedCommon(seg, opts, now);
      this.receiveData(seg, now);
    }
    return true;
  }

  /** What every predicted segment does: liveness, TS.Recent, SND.WL1/WL2. */
  private predictedCommon(seg: TcpView, opts: TcpOptions, now: number): void {
    this.lastRecvAt = now;
    this.kaProbes = 0;
    // RFC 7323 4.3: the segment is at RCV.NXT, which covers Last.ACK.sent.
    if (this.tsOk && seqLe(seg.seq, this.lastAckSent)) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    // RFC 9293 3.10.7.4: the window is unchanged; SND.WL1/WL2 move when the segment is newer.
    const seq = seg.seq;
    if (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, seg.ack))) {
      this.sndWl1 = seq;
      this.sndWl2 = seg.ack;
    }
  }

  /** RFC 9293 3.10.7.3: SYN-SENT. */
  private inputSynSent(seg: TcpView, opts: TcpOptions, now: number): void {
    const f = seg.flags;
    const hasAck = (f & TcpFlags.ACK) !== 0;
    // First: check the ACK bit.
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      // RFC 9293 3.10.7.3: unacceptable ACK: <SEQ=SEG.ACK><CTL=RST> unless RST is set.
      if ((f & TcpFlags.RST) === 0) this.host.transmit(this, seg.ack, TcpFlags.RST, 0, 0, false);
      return;
    }
    // Second: the RST bit. RFC 5961 3.2 / RFC 9293: only with an acceptable ACK.
    if (f & TcpFlags.RST) {
      if (hasAck) {
        this.host.count("rst-received");
        this.finish("ECONNREFUSED");
      }
      return;
    }
    // Fourth: the SYN bit.
    if ((f & TcpFlags.SYN) === 0) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.applySynOptions(opts, now);
    this.lastRecvAt = now;
    if (hasAck) {
      this.sndUna = seg.ack;
      this.takeSynRtt(opts, now);
      // RFC 7323 2.2: the SYN-ACK's window is not scaled.
      this.setSendWindow(seg.window, seg.seq, seg.ack);
      this.state = TcpState.Established;
      this.retries = 0;
      this.rtoAt = Infinity;
      this.ackNow = true;
      this.armKeepalive(now);
      this.host.emitConnected(this);
      this.output(now);
    } else {
      // RFC 9293 3.10.7.3: simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
      this.setSendWindow(seg.window, seg.seq, this.iss);
      this.state = TcpState.SynRcvd;
      this.sndNxt = this.iss;
      this.sendSyn(now);
    }
  }

  private takeSynRtt(opts: TcpOptions, now: number): void {
    let sample = -1;
    if (this.tsOk && opts.hasTs) sample = timestampRtt(this.host.tsNow(), opts.tsEcr);
    else sample = this.rttTimer.onAck(this.sndUna, now);
    if (sample >= 0) this.rtt.sample(sample);
    // RFC 6298 5.7: a retransmitted SYN without a sample leaves an RTO of 3 s for data.
    else if (this.synRetransmitted && !this.rtt.hasSample) this.rtt.resetTo(3000);
    this.rtt.resetBackoff();
  }

  /** RFC 9293 3.10.7.4: every state after SYN-SENT. Returns true when output should run. */
  private inputSynchronized(seg: TcpView, opts: TcpOptions, now: number): boolean {
    const f = seg.flags;
    const seq = seg.seq;
    const segLen = seg.payloadLen + (f & TcpFlags.SYN ? 1 : 0) + (f & TcpFlags.FIN ? 1 : 0);

    // Simultaneous open: in SYN-RECEIVED (from SYN-SENT) the peer's SYN-ACK acknowledging our SYN
    // completes the handshake (as Linux's tcp_validate_incoming allows); ACK it.
    if (
      this.state === TcpState.SynRcvd &&
      !this.passive &&
      (f & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) === (TcpFlags.SYN | TcpFlags.ACK) &&
      seqAdd(seq, 1) === this.rcvNxt &&
      seg.ack === this.sndMax
    ) {
      this.establish(seg, opts, now);
      this.ackNow = true;
      return true;
    }
    // RFC 7323 5.3 R1: PAWS, before the sequence number check.
    if (this.tsOk && opts.hasTs && (f & TcpFlags.RST) === 0) {
      if (seqLt(opts.tsVal, this.tsRecent) && now - this.tsRecentAt < PAWS_IDLE_MS) {
        this.host.count("paws-drop");
        // RFC 7323 5.3 R1: not acceptable: ACK (rate limited) and drop.
        if (!this.unacceptableAckAllowed(segLen, f, now)) return false;
        this.ackNow = true;
        return true;
      }
    }

    // First: the sequence number (RFC 9293 3.10.7.4's acceptability table).
    let rcvWnd = seqSub(this.rcvAdv, this.rcvNxt);
    if (rcvWnd < 0) rcvWnd = 0;
    let ok: boolean;
    if (segLen === 0) {
      ok = rcvWnd === 0 ? seq === this.rcvNxt : inWindow(seq, this.rcvNxt, rcvWnd);
    } else {
      ok = rcvWnd > 0 && (inWindow(seq, this.rcvNxt, rcvWnd) || inWindow(seqAdd(seq, segLen - 1), this.rcvNxt, rcvWnd));
    }
    // A zero-window receiver still processes ACK and RST of a segment at RCV.NXT (RFC 9293 3.10.7.4
    // "special allowance"), and a data segment entirely below RCV.NXT is a duplicate.
    if (!ok && rcvWnd === 0 && seq === this.rcvNxt) ok = (f & TcpFlags.ACK) !== 0 || (f & TcpFlags.RST) !== 0;
    if (!ok) {
      // RFC 9293 3.10.7.4: unacceptable: send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> unless RST; drop.
      this.host.count("out-of-window");
      if ((f & TcpFlags.RST) === 0) {
        // Rate limited (RFC 5961 10): per connection for segments carrying nothing, so two ends
        // that disagree cannot ping-pong ACKs, and with the challenge ACKs, so a flood of blind
        // out-of-window segments is not reflected one for one at the real peer.
        if (!this.unacceptableAckAllowed(segLen, f, now)) return false;
        this.ackNow = true;
        if (this.state === TcpState.TimeWait) this.sendAck();
        return this.state !== TcpState.TimeWait;
      }
      return false;
    }
    const dataAllowed = rcvWnd > 0 || segLen === 0;

    // Second: the RST bit (RFC 5961 3.2).
    if (f & TcpFlags.RST) {
      if (seq !== this.rcvNxt) {
        // RFC 5961 3.2: in the window but not exactly at RCV.NXT: challenge ACK.
        this.challengeAck();
        return false;
      }
      this.host.count("rst-received");
      switch (this.state) {
        case TcpState.SynRcvd:
          // RFC 9293: from a passive open, back to LISTEN (the half-open connection goes);
          // from an active one, the connection is refused.
          this.finish(this.passive ? null : "ECONNREFUSED");
          return false;
        case TcpState.Established:
        case TcpState.FinWait1:
        case TcpState.FinWait2:
        case TcpState.CloseWait:
          this.finish("ECONNRESET");
          return false;
        default:
          // CLOSING, LAST-ACK, TIME-WAIT: enter CLOSED quietly.
          this.finish(null);
          return false;
      }
    }

    // Fourth: the SYN bit. RFC 5961 4.2 / RFC 9293: a SYN in a synchronized state (or in
    // SYN-RECEIVED) gets a challenge ACK and is dropped.
    if (f & TcpFlags.SYN) {
      if (this.state === TcpState.SynRcvd && this.passive && seq === this.irs) {
        // A retransmitted SYN of this very connection: answer with the SYN-ACK again.
        this.sendSyn(now);
        return false;
      }
      this.host.count("syn-on-synchronized");
      this.challengeAck();
      return false;
    }

    // Fifth: the ACK field.
    if ((f & TcpFlags.ACK) === 0) return false;
    this.lastRecvAt = now;
    this.kaProbes = 0;
    if (this.state === TcpState.SynRcvd) {
      if (seqGt(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndMax)) {
        if (this.passive && !this.host.established(this)) return false; // backlog full: stay, peer retries
        this.establish(seg, opts, now);
      } else {
        // RFC 9293 3.10.7.4: <SEQ=SEG.ACK><CTL=RST>.
        this.host.transmit(this, seg.ack, TcpFlags.RST, 0, 0, false);
        return false;
      }
    }

    // RFC 7323 4.3: update TS.Recent when the segment covers Last.ACK.sent.
    if (this.tsOk && opts.hasTs && seqGe(opts.tsVal, this.tsRecent) && seqLe(seq, this.lastAckSent)) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }

    if (!this.processAck(seg, opts, now)) return true;
    if (this.state === TcpState.Closed) return false;

    // Seventh: the segment text (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2).
    const plen = seg.payloadLen;
    if (plen > 0 && dataAllowed) {
      if (this.state === TcpState.Established || this.state === TcpState.FinWait1 || this.state === TcpState.FinWait2) {
        if (this.userClosed) {
          // RFC 9293 3.10.7.4 / RFC 2525 2.17: data for a closed socket: reset the connection.
          this.abort(null);
          return false;
        }
        this.receiveData(seg, now);
      }
    } else if (plen > 0) {
      this.ackNow = true;
    }

    // Eighth: the FIN bit.
    if (f & TcpFlags.FIN) {
      const fseq = seqAdd(seq, plen);
      if (fseq === this.rcvNxt) {
        this.receiveFin(now);
      } else if (seqGt(fseq, this.rcvNxt) && seqLe(fseq, this.rcvAdv)) {
        // Out of order: remember it until the data before it arrives.
        this.peerFinSeq = fseq;
        this.peerFinPending = true;
        this.ackNow = true;
      }
    }
    return true;
  }

  /** SYN-RECEIVED -> ESTABLISHED on an acceptable ACK. */
  private establish(seg: TcpView, opts: TcpOptions, now: number): void {
    this.state = TcpState.Established;
    this.sndUna = seg.ack;
    this.takeSynRtt(opts, now);
    this.retries = 0;
    this.rtoAt = Infinity;
    this.synRetransmitted = false;
    this.setSendWindow(seg.window << this.sndWscale, seg.seq, seg.ack);
    this.armKeepalive(now);
    this.lastRecvAt = now;
    if (!this.passive) this.host.emitConnected(this);
    if (this.finQueued) this.state = TcpState.FinWait1;
  }

  /**
   * May an ACK answer this unacceptable segment (out of window, PAWS, an ACK of unsent or too old
   * data)? Like Linux's tcp_oow_rate_limited: a segment that carries nothing (no data, no FIN) or a
   * SYN gets at most one answer per `invalidAckRatelimitMs` on this connection (an ACK answering an
   * ACK is how two desynchronized ends loop forever); every answer also takes from the layer-wide
   * challenge ACK budget (RFC 5961 7).
   */
  private unacceptableAckAllowed(segLen: number, flags: number, now: number): boolean {
    const perConn = segLen === 0 || (flags & TcpFlags.SYN) !== 0;
    if (perConn && now - this.lastInvalidAckAt < this.host.config.invalidAckRatelimitMs) {
      this.host.count("challenge-ack-limited");
      return false;
    }
    if (!this.host.challengeAckAllowed()) {
      this.host.count("challenge-ack-limited");
      return false;
    }
    if (perConn) this.lastInvalidAckAt = now;
    return true;
  }

  /** RFC 5961 7: a rate-limited challenge ACK. */
  private challengeAck(): void {
    if (this.host.challengeAckAllowed()) {
      this.host.count("challenge-ack");
      this.sendAck();
    } else {
      this.host.count("challenge-ack-limited");
    }
  }

  private setSendWindow(wnd: number, seq: number, ack: number): void {
    this.sndWnd = wnd;
    this.sndWl1 = seq;
    this.sndWl2 = ack;
    if (wnd > this.maxSndWnd) this.maxSndWnd = wnd;
  }

  /** RFC 9293 3.10.7.4 "fifth, check the ACK field" for synchronized states. False: drop the segment. */
  private processAck(seg: TcpView, opts: TcpOptions, now: number): boolean {
    const ack = seg.ack;
    // RFC 5961 5.2 / RFC 9293: an ACK of something not yet sent: send an ACK, drop the segment.
    if (seqGt(ack, this.sndMax)) {
      this.host.count("ack-unsent");
      if (this.unacceptableAckAllowed(seg.payloadLen + (seg.flags & TcpFlags.FIN ? 1 : 0), seg.flags, now)) {
        this.ackNow = true;
      }
      return false;
    }
    // RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND is dropped with an ACK.
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      this.host.count("ack-unsent");
      if (this.unacceptableAckAllowed(seg.payloadLen + (seg.flags & TcpFlags.FIN ? 1 : 0), seg.flags, now)) {
        this.ackNow = true;
      }
      return false;
    }
    // RFC 7323 2.3: the window field scaled by the peer's shift (at most 14: below 2^30).
    const wnd = seg.window << this.sndWscale;
    const flightBefore = seqSub(this.sndMax, this.sndUna);
    let newlySacked = 0;
    if (this.sackOk && opts.sackCount > 0 && flightBefore > 0) {
      if (this.sb === null) this.sb = new SackScoreboard();
      newlySacked = this.sb.update(seqGt(ack, this.sndUna) ? ack : this.sndUna, this.sndMax, opts.sack, opts.sackCount);
    }

    if (seqGt(ack, this.sndUna)) {
      this.ackNew(opts, ack, flightBefore, now);
    } else if (
      ack === this.sndUna &&
      flightBefore > 0 &&
      seg.payloadLen === 0 &&
      (seg.flags & (TcpFlags.SYN | TcpFlags.FIN)) === 0 &&
      (this.sackOk ? newlySacked > 0 || wnd === this.sndWnd : wnd === this.sndWnd)
    ) {
      this.duplicateAck(now, flightBefore);
    }

    // RFC 9293 3.10.7.4: update the send window when the segment is newer.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      const opened = this.sndWnd === 0 && wnd > 0;
      this.setSendWindow(wnd, seg.seq, ack);
      if (opened) {
        this.persistAt = Infinity;
        this.persistBackoff = 0;
      }
    }
    return true;
  }

  /** SND.UNA < SEG.ACK <= SND.MAX: new data acknowledged. */
  private ackNew(opts: TcpOptions, ack: number, flightBefore: number, now: number): void {
    let acked = seqSub(ack, this.sndUna);
    // RTT: RFC 7323 4 (timestamps) or RFC 6298 3 with Karn's algorithm.
    let sample = -1;
    if (this.tsOk && opts.hasTs) sample = timestampRtt(this.host.tsNow(), opts.tsEcr);
    else sample = this.rttTimer.onAck(ack, now);
    if (sample >= 0) {
      const expected = this.tsOk ? Math.max(1, Math.ceil(flightBefore / (2 * this.smss))) : 1;
      this.rtt.sample(sample, expected);
    }
    // RFC 6298 5.7 (after Karn): new data acknowledged restores the RTO from the estimate.
    this.rtt.resetBackoff();
    this.retries = 0;
    this.rtxStart = 0;
    this.persistBackoff = 0;

    const bufLen = this.sendBuf.length;
    if (acked > bufLen) {
      // The ACK covers our FIN (or SYN's sequence number during the handshake).
      if (this.finQueued) this.finAcked = true;
      this.sendBuf.ack(bufLen);
      acked = bufLen;
    } else {
      this.sendBuf.ack(acked);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.sb !== null) this.sb.onAck(ack);

    if (this.inRecovery) {
      if (seqGe(ack, this.recoverPoint)) {
        // RFC 6582 3.2 step 6 / RFC 6675 5: a full ACK ends recovery.
        this.inRecovery = false;
        this.cc.exitRecovery(now, seqSub(this.sndMax, this.sndUna));
      } else {
        // RFC 6582 3.2 step 5: a partial ACK: retransmit the first unacknowledged segment.
        this.cc.onPartialAck(acked);
        if (!this.sackOk) {
          this.retransmit(this.sndUna, this.smss);
          this.host.count("fast-retransmit");
        }
      }
    } else {
      this.cc.onAck(acked, this.rtt.srtt, now, flightBefore);
    }
    this.dupAcks = 0;

    // RFC 6298 5.2/5.3: stop the timer when all is acknowledged, else restart it.
    if (seqSub(this.sndMax, this.sndUna) > 0) this.rtoAt = now + this.rtt.rto;
    else this.rtoAt = Infinity;

    if (this.wantWritable && (this.sendBuf.free >= this.sendBuf.capacity >>> 1 || this.sendBuf.length === 0)) {
      this.wantWritable = false;
      this.host.emitWritable(this);
    }

    if (this.finAcked) {
      switch (this.state) {
        case TcpState.FinWait1:
          this.state = TcpState.FinWait2;
          if (this.userClosed) this.closeAt = now + this.host.config.finWait2Timeout;
          break;
        case TcpState.Closing:
          this.enterTimeWait(now);
          break;
        case TcpState.LastAck:
          this.finish(null);
          break;
      }
    }
  }

  /** RFC 5681 3.2 / RFC 6582 / RFC 6675 5: a duplicate ACK. */
  private duplicateAck(now: number, flight: number): void {
    this.dupAcks++;
    this.host.count("dupack");
    if (this.inRecovery) {
      if (!this.sackOk) this.cc.onDupAck();
      return;
    }
    const sb = this.sb;
    const lost = this.sackOk && sb?.isLost(this.sndUna, this.smss) === true;
    if (this.dupAcks < 3 && !lost) return;
    // RFC 6582 3.2 step 2: only when the ACK covers more than `recover` (no second reduction for
    // losses of the same window, e.g. after a timeout's go-back-N).
    if (seqLt(this.sndUna, this.recoverPoint)) return;
    this.inRecovery = true;
    this.recoverPoint = this.sndMax;
    this.rxtEnd = this.sndUna;
    this.cc.enterRecovery(now, flight, this.sackOk);
    if (this.sackOk) {
      this.host.count("sack-recovery");
    } else {
      // RFC 5681 3.2 step 2: retransmit the lost segment.
      this.host.count("fast-retransmit");
      this.retransmit(this.sndUna, this.smss);
    }
    this.rtoAt = now + this.rtt.rto;
  }

  /** Data in the segment (RFC 9293 3.10.7.4 seventh; RFC 5681 4.2 ACK generation). */
  private receiveData(seg: TcpView, now: number): void {
    const off = seqSub(seg.seq, this.rcvNxt);
    const hadHoles = this.recvBuf.rangeCount > 0;
    const plen = seg.payloadLen;
    const adv = this.recvBuf.insert(off, seg.bytes, seg.payloadOff, plen);
    if (adv > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, adv);
      if (!this.readNotified) {
        this.readNotified = true;
        this.host.emitReadable(this);
      }
    }
    if (off > 0) this.host.count("ooo-segment");
    // RFC 5681 4.2: ACK out-of-order segments and segments filling a hole at once; RFC 9293
    // 3.8.6.3: ACK at least every second full-sized segment; otherwise delay the ACK.
    if (off !== 0 || hadHoles || adv < plen) {
      this.ackNow = true;
    } else {
      this.unackedSegs += plen >= this.smss ? 1 : 0.5;
      const cfg = this.host.config;
      if (this.unackedSegs < 2 && cfg.delayedAckMs !== 0) {
        if (!this.ackDelayed) {
          this.ackDelayed = true;
          this.delackAt = now + cfg.delayedAckMs;
        }
      } else if (
        cfg.delayedAckMs === 0 ||
        seqSub(this.rcvNxt, this.lastAckSent) >= cfg.batchAckBytes ||
        !this.host.deferAck(this)
      ) {
        this.ackNow = true;
      } else if (!this.ackDelayed) {
        // RFC 9293 3.8.6.3 / RFC 5681 4.2: inside a receive batch the ACK every second full-sized
        // segment asks for becomes one cumulative ACK at the batch's end (a stretch ACK, as Linux
        // sends after GRO), at most `batchAckBytes` behind. The delayed-ACK timer stays armed as a
        // bound should the batch never be closed.
        this.ackDelayed = true;
        this.delackAt = now + cfg.delayedAckMs;
      }
    }
    if (this.peerFinPending && this.rcvNxt === this.peerFinSeq) this.receiveFin(now);
  }

  /** RFC 9293 3.10.7.4 eighth: the FIN. */
  private receiveFin(now: number): void {
    if (this.peerFin) {
      // A retransmitted FIN: just ACK it (TIME-WAIT restarts its timer below).
      this.ackNow = true;
      if (this.state === TcpState.TimeWait) {
        this.closeAt = now + this.host.config.timeWaitMs;
        this.sendAck();
      }
      return;
    }
    this.peerFin = true;
    this.peerFinPending = false;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    this.host.emitReadable(this);
    this.readNotified = true;
    switch (this.state) {
      case TcpState.SynRcvd:
      case TcpState.Established:
        this.state = TcpState.CloseWait;
        if (!this.allowHalfOpen) this.shutdown();
        break;
      case TcpState.FinWait1:
        if (this.finAcked) this.enterTimeWait(now);
        else this.state = TcpState.Closing;
        break;
      case TcpState.FinWait2:
        this.enterTimeWait(now);
        break;
    }
  }

  private enterTimeWait(now: number): void {
    this.state = TcpState.TimeWait;
    this.rtoAt = Infinity;
    this.persistAt = Infinity;
    this.kaAt = Infinity;
    this.delackAt = Infinity;
    // RFC 9293 3.6.1: TIME-WAIT lasts 2 MSL.
    this.closeAt = now + this.host.config.timeWaitMs;
    if (this.ackNow) this.sendAck();
    this.host.finished(this, null);
  }

  /** RFC 6191 (via the layer): a new SYN may reuse the 4-tuple of this TIME-WAIT connection. */
  timeWaitAcceptsSyn(seg: TcpView, opts: TcpOptions): boolean {
    // RFC 6191 2: with timestamps, the SYN's TSval must be greater than TS.Recent; without, its
    // sequence number must be greater than RCV.NXT (RFC 1122 4.2.2.13).
    if (this.tsOk && opts.hasTs) return seqGt(opts.tsVal, this.tsRecent);
    return seqGt(seg.seq, this.rcvNxt);
  }

  // ================= output =================

  /** Send what the windows allow, then an ACK if one is still owed. */
  output(now: number): void {
    const st = this.state;
    if (st === TcpState.Closed || st === TcpState.Listen || st === TcpState.SynSent) return;
    if (st === TcpState.TimeWait) {
      if (this.ackNow) this.sendAck();
      return;
    }
    if (st === TcpState.SynRcvd) {
      // Anything owed in SYN-RECEIVED is answered with the SYN-ACK again (timers unchanged).
      if (this.ackNow) this.host.transmit(this, this.iss, TcpFlags.SYN | TcpFlags.ACK, 0, 0, true);
      return;
    }
    let sent = false;
    if (this.inRecovery && this.sackOk && this.sb !== null) sent = this.sackRecoverySend();
    else sent = this.sendNewData(false);
    if (!sent && this.ackNow) this.sendAck();
    // RFC 6298 5.1: the retransmission timer runs while data is outstanding.
    if (this.flight > 0) {
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
      this.persistAt = Infinity;
    } else if ((this.unsent > 0 || (this.finQueued && !this.finSent)) && this.persistAt === Infinity) {
      // RFC 9293 3.8.6.1: zero window (or data held by SWS avoidance): the persist timer.
      this.persistAt = now + Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.host.config.maxRto);
    }
    this.updateTimer();
  }

  /** Send new data from SND.NXT within min(cwnd, SND.WND). `force`: override SWS avoidance once. */
  private sendNewData(force: boolean): boolean {
    let sent = false;
    const cc = this.cc;
    for (;;) {
      const flight = seqSub(this.sndNxt, this.sndUna);
      const bufLen = this.sendBuf.length;
      const unsent = bufLen - flight;
      const finToSend = this.finQueued && flight <= bufLen;
      if (unsent <= 0 && !finToSend) break;
      if (unsent > 0) {
        const wnd = Math.min(this.sndWnd, cc.cwnd);
        const usable = wnd - flight;
        let len = Math.min(unsent, usable, this.smss);
        if (len <= 0) {
          if (!force || flight > 0) break;
          len = 1;
        }
        if (len < this.smss && !force) {
          // RFC 9293 3.8.6.2.1 (sender SWS avoidance): a partial segment only when it carries
          // everything queued or at least half the largest window the peer offered.
          if (len < unsent && len < this.maxSndWnd >>> 1) break;
          // RFC 896 / RFC 9293 3.7.4 (Nagle): no small segment while data is unacknowledged.
          if (!this.noDelay && flight > 0) break;
        }
        const fin = finToSend && len === unsent;
        this.sendSegment(this.sndNxt, flight, len, fin, false);
        this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
        force = false;
      } else {
        // Only the FIN remains.
        this.sendSegment(this.sndNxt, flight, 0, true, false);
        this.sndNxt = seqAdd(this.sndNxt, 1);
      }
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      sent = true;
    }
    return sent;
  }

  /** RFC 6675 5 (C): during SACK recovery, send while cwnd - pipe >= 1 SMSS. */
  private sackRecoverySend(): boolean {
    const sb = this.sb!;
    const mss = this.smss;
    let sent = false;
    for (let guard = 0; guard < 1024; guard++) {
      const pipe = sb.pipe(this.sndMax, this.rxtEnd, mss);
      if (this.cc.cwnd - pipe < mss) break;
      const flight = seqSub(this.sndNxt, this.sndUna);
      const unsent = this.sendBuf.length - flight;
      const canNew = unsent > 0 && flight + Math.min(unsent, mss) <= this.sndWnd;
      const kind = sb.nextSeg(this.sndMax, this.rxtEnd, mss, canNew);
      if (kind === NextSegKind.Lost || kind === NextSegKind.Unsacked) {
        const n = this.retransmit(sb.segSeq, sb.segLen);
        const end = seqAdd(sb.segSeq, Math.max(n, 1));
        this.rxtEnd = seqMax(this.rxtEnd, end);
      } else if (kind === NextSegKind.New) {
        const len = Math.min(unsent, mss);
        const fin = this.finQueued && len === unsent;
        this.sendSegment(this.sndNxt, flight, len, fin, false);
        this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
        if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      } else {
        break;
      }
      sent = true;
    }
    return sent;
  }

  /** Retransmit up to `maxLen` bytes at `seq` (below SND.MAX). Returns the sequence space sent. */
  private retransmit(seq: number, maxLen: number): number {
    const off = seqSub(seq, this.sndUna);
    const bufLen = this.sendBuf.length;
    if (off < 0) return 0;
    // Only what was sent before (below SND.MAX): never-sent data goes out through sendNewData,
    // which moves SND.MAX, or the peer's ACK of it would be refused as ACK of unsent data.
    let len = Math.min(maxLen, this.smss, bufLen - off, seqSub(this.sndMax, seq));
    if (len < 0) len = 0;
    // The FIN goes again when this segment reaches the end of the data and it was sent before.
    const fin = this.finQueued && off + len === bufLen && seqGt(this.sndMax, this.finSeq);
    if (len === 0 && !fin) return 0;
    this.rttTimer.onRetransmit();
    this.host.count("retransmit");
    this.retransmits++;
    this.sendSegment(seq, off, len, fin, true);
    return len + (fin ? 1 : 0);
  }

  /** One segment with the ACK of RCV.NXT. */
  private sendSegment(seq: number, off: number, len: number, fin: boolean, rtx: boolean): void {
    let flags = TcpFlags.ACK;
    if (fin) flags |= TcpFlags.FIN;
    if (len > 0 && off + len === this.sendBuf.length) flags |= TcpFlags.PSH;
    if (!rtx && !this.tsOk && len > 0 && seq === this.sndMax) this.rttTimer.onSend(seqAdd(seq, len), this.host.now());
    this.host.transmit(this, seq, flags, off, len, false);
  }

  /** A pure ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
  sendAck(): void {
    this.host.transmit(this, this.sndNxt, TcpFlags.ACK, 0, 0, false);
  }

  /** The layer sent a segment carrying an ACK: what was owed is paid, and the window advertised. */
  acked(win: number): void {
    this.ackNow = false;
    this.ackDelayed = false;
    this.unackedSegs = 0;
    this.delackAt = Infinity;
    this.lastAckSent = this.rcvNxt;
    const right = seqAdd(this.rcvNxt, win);
    if (seqGt(right, this.rcvAdv)) this.rcvAdv = right;
  }

  // ================= timers =================

  /** Move the host timer to the earliest deadline. */
  updateTimer(): void {
    let at = this.rtoAt;
    if (this.persistAt < at) at = this.persistAt;
    if (this.delackAt < at) at = this.delackAt;
    if (this.kaAt < at) at = this.kaAt;
    if (this.closeAt < at) at = this.closeAt;
    if (at !== this.timerAt) {
      this.timerAt = at;
      this.host.setTimer(this, at);
    }
  }

  private armKeepalive(now: number): void {
    this.kaAt = this.keepAlive ? now + this.keepAliveIdle : Infinity;
  }

  /** Keepalive settings changed. */
  setKeepAlive(on: boolean, idle?: number): void {
    this.keepAlive = on;
    if (idle !== undefined) this.keepAliveIdle = idle;
    if (this.synchronized) {
      this.kaAt = on ? this.lastRecvAt + this.keepAliveIdle : Infinity;
      this.updateTimer();
    }
  }

  /** The connection's timer fired. */
  onTimer(now: number): void {
    this.timerAt = Infinity;
    if (this.closeAt <= now) {
      this.closeAt = Infinity;
      if (this.state === TcpState.TimeWait) {
        this.state = TcpState.Closed;
        this.host.remove(this);
        return;
      }
      // FIN-WAIT-2 of an orphaned connection.
      this.finish(null);
      return;
    }
    if (this.rtoAt <= now) {
      this.rtoAt = Infinity;
      this.onRetransmitTimeout(now);
      if (this.state === TcpState.Closed) return;
    }
    if (this.persistAt <= now) {
      this.persistAt = Infinity;
      this.onPersist(now);
    }
    if (this.delackAt <= now) {
      this.delackAt = Infinity;
      if (this.ackDelayed) {
        this.host.count("delayed-ack");
        this.ackNow = true;
        this.output(now);
      }
    }
    if (this.kaAt <= now) {
      this.kaAt = Infinity;
      this.onKeepalive(now);
      if (this.state === TcpState.Closed) return;
    }
    this.updateTimer();
  }

  /** RFC 6298 5.4-5.7: the retransmission timer expired. */
  private onRetransmitTimeout(now: number): void {
    const cfg = this.host.config;
    if (this.state === TcpState.SynSent || this.state === TcpState.SynRcvd) {
      this.host.count("rto");
      const limit = this.state === TcpState.SynSent ? cfg.synRetries : cfg.synAckRetries;
      if (++this.retries > limit) {
        this.finish(this.passive ? null : (this.softError ?? "ETIMEDOUT"));
        return;
      }
      this.synRetransmitted = true;
      this.retransmits++;
      this.rttTimer.onRetransmit();
      this.rtt.backoff();
      this.sndNxt = this.iss;
      this.sendSyn(now);
      return;
    }
    const flight = seqSub(this.sndMax, this.sndUna);
    if (flight <= 0) return;
    // What is outstanding fills a peer window below one segment: a window probe (see below).
    const probe = this.sndWnd < this.smss && flight >= this.sndWnd;
    if (probe && this.lastRecvAt >= this.lastProbeAt) {
      // Like Linux's probe timer: a peer that answered the last probe (even without a new ACK) is
      // alive; the retry limit counts only the probes it leaves unanswered.
      this.retries = 0;
      this.rtxStart = now;
    }
    if (this.rtxStart === 0) this.rtxStart = now;
    // RFC 9293 3.8.3 (R2) / RFC 5482: give up after the retry limit or the user timeout.
    if (++this.retries > cfg.maxRetries || (this.userTimeout > 0 && now - this.rtxStart >= this.userTimeout)) {
      this.finish(this.softError ?? "ETIMEDOUT");
      return;
    }
    if (probe) {
      this.windowProbeTimeout(now);
      return;
    }
    this.host.count("rto");
    this.cc.onRetransmitTimeout(now, flight);
    // RFC 6298 5.5: back off the timer.
    this.rtt.backoff();
    this.rttTimer.onRetransmit();
    // RFC 6582 3.2 step 4 (after a timeout): recover = the highest sequence number sent.
    this.inRecovery = false;
    this.recoverPoint = this.sndMax;
    this.dupAcks = 0;
    // RFC 2018 8 / RFC 6675 5.1: after a timeout SACK information is not trusted: start over.
    if (this.sb !== null) this.sb.reset(this.sndUna);
    this.rxtEnd = this.sndUna;
    // Go back N: resend from SND.UNA as the congestion window allows.
    this.sndNxt = this.sndUna;
    const n = this.retransmit(this.sndUna, this.smss);
    this.sndNxt = seqAdd(this.sndUna, n);
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    // RFC 6298 5.6: restart the timer with the backed-off value.
    this.rtoAt = now + this.rtt.rto;
  }

  /**
   * The timer fired while what is outstanding fills a peer window below one segment: the data
   * sent was a window probe (RFC 9293 3.8.6.1; the peer's window, not the network, holds it), so
   * it is probed again as the persist timer would: no congestion signal (cwnd and the recovery
   * state stay; RFC 6298 5.5's backoff still spaces the probes), counted as a persist probe.
   */
  private windowProbeTimeout(now: number): void {
    this.host.count("persist-probe");
    this.lastProbeAt = now;
    this.rtt.backoff();
    this.rttTimer.onRetransmit();
    // Back to SND.UNA: what the window did not take goes again (from SND.NXT) when it opens.
    this.sndNxt = this.sndUna;
    const n = this.retransmit(this.sndUna, Math.max(this.sndWnd, 1));
    this.sndNxt = seqAdd(this.sndUna, n);
    this.rtoAt = now + this.rtt.rto;
  }

  /** RFC 9293 3.8.6.1: the persist timer: probe a zero window, or override SWS avoidance. */
  private onPersist(now: number): void {
    if (!this.synchronized || this.flight > 0) return;
    if (this.unsent === 0 && !(this.finQueued && !this.finSent)) return;
    if (this.sndWnd > 0) {
      // RFC 9293 3.8.6.2.1: the override timeout: send what the window allows.
      this.sendNewData(true);
    } else {
      // A zero-window probe: an out-of-window segment the peer must answer with an ACK carrying
      // its current window (Linux's tcp_xmit_probe_skb: SEQ = SND.UNA - 1).
      this.host.count("persist-probe");
      this.host.transmit(this, seqAdd(this.sndUna, -1), TcpFlags.ACK, 0, 0, false);
      this.persistBackoff++;
    }
    if (this.flight > 0) {
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
    } else {
      this.persistAt = now + Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.host.config.maxRto);
    }
  }

  /** RFC 9293 3.8.4 / RFC 1122 4.2.3.6: keepalive. */
  private onKeepalive(now: number): void {
    if (!this.keepAlive || !this.synchronized || this.state === TcpState.TimeWait) return;
    if (this.flight > 0) {
      // Data is outstanding: the retransmission timer watches the peer.
      this.kaAt = now + this.keepAliveIdle;
      return;
    }
    const idle = now - this.lastRecvAt;
    if (this.kaProbes === 0 && idle < this.keepAliveIdle) {
      this.kaAt = this.lastRecvAt + this.keepAliveIdle;
      return;
    }
    if (this.kaProbes >= this.keepAliveCount) {
      this.finish("ETIMEDOUT");
      return;
    }
    // RFC 1122 4.2.3.6: a probe with SEG.SEQ = SND.NXT - 1 (no data) elicits an ACK.
    this.host.count("keepalive-probe");
    this.host.transmit(this, seqAdd(this.sndNxt, -1), TcpFlags.ACK, 0, 0, false);
    this.kaProbes++;
    this.kaAt = now + this.keepAliveInterval;
  }

  // ================= ICMP =================

  /**
   * An ICMP error quoting a segment with sequence number `seq` (RFC 5927 validation: it must be in
   * [SND.UNA, SND.MAX]). `mtu` > 0: fragmentation needed / packet too big (RFC 1191, RFC 8201).
   */
  icmpError(code: ErrorCode, mtu: number, seq: number, now: number): boolean {
    if (seqLt(seq, this.sndUna) || seqGt(seq, this.sndMax)) return false;
    if (mtu > 0) {
      const mss = mtu - this.I.headerLen - 20;
      if (mss >= 64 && mss < this.ourMss) {
        this.ourMss = mss;
        this.updateMss();
        // RFC 1191 / 8201: resend what was too big now, not after a timeout (not a congestion signal).
        if (this.synchronized && this.flight > 0) {
          this.sndNxt = this.sndUna;
          this.rttTimer.onRetransmit();
          this.output(now);
          this.updateTimer();
        }
      }
      return true;
    }
    if (this.state === TcpState.SynSent) {
      // Linux: an unreachable error during the handshake fails the connect.
      this.finish(code);
      return true;
    }
    // RFC 1122 4.2.3.9: soft errors are reported only if the connection later times out.
    this.softError = code;
    return true;
  }

  // ================= teardown =================

  /** Enter CLOSED: cancel timers, tell the layer (which emits `error` / `closed`). */
  finish(error: ErrorCode | null): void {
    if (this.state === TcpState.Closed) return;
    this.state = TcpState.Closed;
    this.error = error;
    this.rtoAt = Infinity;
    this.persistAt = Infinity;
    this.delackAt = Infinity;
    this.kaAt = Infinity;
    this.closeAt = Infinity;
    this.updateTimer();
    this.host.finished(this, error);
    this.host.remove(this);
  }
}

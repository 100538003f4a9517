/**
 * The transmission control block (RFC 9293 3.3.1) of a TCP connection: its variables (send and
 * receive sequence space, options, buffers, timers, socket flags), the queries on them, and what
 * the connection needs from its layer (`ConnHost`). sender.ts adds the send side and connection.ts
 * the state machine on top.
 */
import type { ErrorCode, SocketId, TimerId } from "../../context.ts";
import type { IpVersion } from "../../ip/version.ts";
import { Timer } from "../../timers.ts";
import type { TcpConfig } from "./config.ts";
import type { CongestionControl } from "./congestion.ts";
import { LossRecovery, type RecoveryCounter, type RecoverySender } from "./recovery.ts";
import { RecvBuffer } from "./recv-buffer.ts";
import { RttEstimator, RttTimer } from "./rtt.ts";
import { SendBuffer } from "./send-buffer.ts";
import { seqAdd, seqSub } from "./seqnum.ts";

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
export const MAX_WIN_FIELD = 0xffff;
/** RFC 7323 2.3: the shift count is at most 14. */
export const MAX_WSCALE = 14;
/** RFC 9293 3.7.1: default send MSS when the peer sent no MSS option. */
export const DEFAULT_MSS_V4 = 536;
export const DEFAULT_MSS_V6 = 1220;

/** What a connection needs from its layer. */
export interface ConnHost {
  readonly config: TcpConfig;
  now(): number;
  /** Our RFC 7323 timestamp clock (ms ticks, 32-bit). */
  tsNow(): number;
  /** Put the connection's timer at `at` (Infinity: cancel). */
  setTimer(c: Tcb, at: number): void;
  /**
   * Send one segment: header from the connection's fields (`seq`, `flags`), payload the send buffer
   * range `[dataOff, dataOff + dataLen)` after SND.UNA. `opts` carries SYN options (null otherwise).
   */
  transmit(c: Tcb, seq: number, flags: number, dataOff: number, dataLen: number, syn: boolean): void;
  /** RFC 5961 7: may a challenge ACK be sent now (rate limit)? */
  challengeAckAllowed(): boolean;
  /**
   * Inside a receive batch: note that `c` owes an ACK, to be sent (one cumulative ACK) when the
   * batch ends. False outside a batch (the ACK goes now).
   */
  deferAck(c: Tcb): boolean;
  /** A passive connection reached ESTABLISHED: queue it for accept. False when the backlog is full. */
  established(c: Tcb): boolean;
  /** The connection reached CLOSED (`error` set when it failed) or TIME-WAIT. */
  finished(c: Tcb, error: ErrorCode | null): void;
  /** Remove the connection from every table (after CLOSED, or when TIME-WAIT ends). */
  remove(c: Tcb): void;
  emitReadable(c: Tcb): void;
  emitWritable(c: Tcb): void;
  emitConnected(c: Tcb): void;
  /** Count an event by name. */
  count(what: CounterName): void;
}

/** The counters a connection bumps (`tcp.<name>`). */
export const COUNTER_NAMES = [
  "retransmit",
  "rto",
  "fast-retransmit",
  "sack-recovery",
  "dupack",
  "challenge-ack",
  "challenge-ack-limited",
  "paws-drop",
  "out-of-window",
  "ack-unsent",
  "rst-received",
  "rst-ignored",
  "ooo-segment",
  "ooo-drop",
  "persist-probe",
  "keepalive-probe",
  "delayed-ack",
  "window-update",
  "syn-on-synchronized",
  "dsack-sent",
  "dsack-received",
  "undo",
  "spurious-rto",
  "tlp",
  "tlp-recovered",
  "lost-retransmit",
  "reorder-timeout",
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** What the retransmission deadline (`rtoAt`) stands for. */
export const Xmit = { Rto: 0, Probe: 1, Reorder: 2 } as const;

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

export abstract class Tcb implements RecoverySender {
  readonly id: SocketId;
  readonly I: IpVersion<TcpAddrAny>;
  readonly local: TcpAddrAny;
  readonly localPort: number;
  readonly remote: TcpAddrAny;
  readonly remotePort: number;
  readonly timer: Timer<TimerId>;
  /** Demux hash and chain (owned by the layer). */
  hash = 0;
  hashNext: this | null = null;
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
  /** One past the highest sequence number sent (never rewound: retransmissions come from the scoreboard). */
  sndNxt: number;
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
  /** Loss detection and recovery, with the scoreboard of the segments in flight. */
  readonly rec: LossRecovery;
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
  /** The retransmission deadline, of kind `xmitKind` (RTO, tail loss probe, reordering timer). */
  rtoAt = Infinity;
  xmitKind: number = Xmit.Rto;
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
  /** In-order segments still to be ACKed at once (quick ACKs at the start of the connection). */
  quickAcks = 0;
  /** A D-SACK block (RFC 2883) for the next ACK: [dsackLeft, dsackRight). */
  dsackPending = false;
  dsackLeft = 0;
  dsackRight = 0;

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

  protected readonly host: ConnHost;

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
    this.ourMss = init.mss;
    this.peerMss = init.I.version === 6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
    this.smss = Math.min(this.ourMss, this.peerMss);
    this.cc = init.cc;
    this.sendBuf = new SendBuffer(config.sendBufferSize);
    this.recvBuf = new RecvBuffer(config.recvBufferSize, config.maxOooRanges);
    this.rtt = new RttEstimator({ minRto: config.minRto, maxRto: config.maxRto, initialRto: config.initialRto });
    this.rec = new LossRecovery(this, config, this.iss);
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

  /** SND.MAX: one past the highest sequence number sent (SND.NXT: nothing is ever rewound). */
  get sndMax(): number {
    return this.sndNxt;
  }

  /** In fast recovery or timeout recovery. */
  get inRecovery(): boolean {
    return this.rec.recovering;
  }

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

  /** RecoverySender: unsent data the peer's window would take now. */
  canSendNew(): boolean {
    return this.unsent > 0 && this.sndWnd - this.flight > 0;
  }

  /** RecoverySender: count a recovery event. */
  countRecovery(what: RecoveryCounter): void {
    this.host.count(what);
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

  protected armKeepalive(now: number): void {
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
}

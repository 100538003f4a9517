/**
 * The TCP layer: demultiplexing, listeners, and the socket API over `TcpConnection`s.
 * RFC 9293 (3.9 user interface, 3.10.7.1-2 segments for CLOSED and LISTEN), RFC 6528 (ISNs),
 * RFC 4987 (SYN cookies), RFC 6191 (TIME-WAIT reuse with timestamps), RFC 5961 7 (challenge ACK
 * rate limit), RFC 6056 (ephemeral ports).
 *
 * Demultiplexing is O(1): a connection's 4-tuple hashes (seeded, so a remote host cannot choose
 * colliding tuples) to a bucket of a `Map<number, TcpConnection>` whose entries chain through the
 * connections themselves; the lookup builds no key string and allocates nothing. Listeners are
 * found by (version, port), then the exact address before the unspecified one.
 *
 * Sending: one `TcpBuilder` is reused for every segment; a segment's payload is a range of the
 * connection's send buffer written straight into the outgoing packet (`SendSlice` as a
 * `BodySource`); a segment without payload sent while a received segment is being processed (its
 * ACK, a RST, a SYN-ACK, a challenge ACK) is serialized into the received buffer.
 *
 * Events (`readable`, `writable`, `connected`, `accepted`, `error`, `closed`) go to `emit`, which
 * must not call back into the layer (queue them, as the Stack does).
 */
import type { ErrorCode, SocketId, StackEvent, TimerId } from "../../context.ts";
import { type CounterId, type Counters, counter } from "../../counters.ts";
import { TokenBucket } from "../../ip/ratelimit.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSender, IpSendOptions, TransportProtocol } from "../../ip/transport-api.ts";
import type { IpVersion } from "../../ip/version.ts";
import { Buf } from "../../packet/buf.ts";
import { BytesBody, EMPTY_BODY, type Nested, Serializer, type TooBig } from "../../packet/serialize.ts";
import type { CoreTimers } from "../../timers.ts";
import { pseudoSum } from "../../wire/checksum.ts";
import { IpProto } from "../../wire/ipproto.ts";
import { TcpBuilder, TcpFlags, TcpView } from "../../wire/tcp.ts";
import { TcpOptions } from "../../wire/tcp-options.ts";
import { pickEphemeralPort } from "../udp/ports.ts";
import { makeCongestion, resolveTcpConfig, type TcpConfig, type TcpSocketOptions } from "./config.ts";
import {
  COUNTER_NAMES,
  type ConnHost,
  type CounterName,
  DEFAULT_MSS_V4,
  DEFAULT_MSS_V6,
  TCP_STATE_NAMES,
  type TcpAddrAny,
  TcpConnection,
  TcpState,
} from "./connection.ts";
import { IsnGenerator } from "./isn.ts";
import { SendSlice } from "./send-buffer.ts";
import { seqAdd } from "./seqnum.ts";
import { MSS_TABLE_V4, MSS_TABLE_V6, SynCookies } from "./syncookie.ts";

// ---- counters ----
const C = {
  rx: counter("tcp.rx"),
  tx: counter("tcp.tx"),
  txError: counter("tcp.tx.error"),
  rxMulticast: counter("tcp.rx.multicast"),
  rxBadFlags: counter("tcp.rx.bad-flags"),
  rxNoSocket: counter("tcp.rx.no-socket"),
  rstSent: counter("tcp.rst-sent"),
  synRcvd: counter("tcp.syn-received"),
  synDropBacklog: counter("tcp.syn-drop.backlog"),
  synDropQueue: counter("tcp.syn-drop.syn-queue"),
  cookieSent: counter("tcp.syncookie.sent"),
  cookieOk: counter("tcp.syncookie.ok"),
  cookieBad: counter("tcp.syncookie.bad"),
  cookieMaxConnections: counter("tcp.syncookie.max-connections"),
  acceptOverflow: counter("tcp.accept-overflow"),
  timeWaitReuse: counter("tcp.time-wait-reuse"),
  timeWaitOverflow: counter("tcp.time-wait-overflow"),
  icmp: counter("tcp.icmp-error"),
  icmpIgnored: counter("tcp.icmp-error.ignored"),
  connEstablished: counter("tcp.established"),
} as const;
const PARSE_DROPS = new Map<string, CounterId>();
for (const r of ["too-short", "bad-data-offset", "bad-checksum", "bad-option-length", "option-truncated"]) {
  PARSE_DROPS.set(r, counter(`tcp.rx.${r}`));
}
const CONN_COUNTERS = {} as Record<CounterName, CounterId>;
for (const name of COUNTER_NAMES) CONN_COUNTERS[name] = counter(`tcp.${name}`);

/** What a `TcpLayer` is built from (the Stack passes its own services). */
export interface TcpLayerInit {
  ip: IpSender;
  timers: CoreTimers<TimerId>;
  now(): number;
  /** Uniform 32-bit random numbers (keys, ports, offsets). */
  random(): number;
  emit(ev: StackEvent): void;
  counters: Counters;
  options?: Partial<TcpConfig>;
  /** Hands out socket ids (the Stack shares one space across transports); default a counter. */
  allocSocketId?: () => SocketId;
}

/** A socket's local or remote endpoint. */
export interface TcpEndpoint {
  address: TcpAddrAny;
  port: number;
  family: "IPv4" | "IPv6";
}

/** A snapshot of a connection, for tests, logs and `netstack` tools. */
export interface TcpInfo {
  state: string;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  rcvNxt: number;
  rcvWnd: number;
  smss: number;
  cwnd: number;
  ssthresh: number;
  congestion: string;
  srtt: number;
  rto: number;
  inRecovery: boolean;
  sendBuffered: number;
  recvBuffered: number;
  wscale: [snd: number, rcv: number];
  timestamps: boolean;
  sack: boolean;
  /** Initial send / receive sequence numbers (IRS is 0 before the peer's SYN arrived). */
  iss: number;
  irs: number;
  /** Highest sequence number sent (SND.MAX: above SND.NXT after a retransmission timeout). */
  sndMax: number;
  /** Retransmission timeouts in a row without progress (the retry limit counts these). */
  retries: number;
  /** Segments this connection retransmitted (timeouts and fast retransmits). */
  retransmits: number;
  /** Core clock (ms) when the last segment from the peer arrived; 0 before any. */
  lastRecvAt: number;
}

type AnyVersion = IpVersion<TcpAddrAny>;

/** A listening socket. */
class TcpListener {
  readonly queue: TcpConnection[] = [];
  synCount = 0;
  lastCookieAt = -Infinity;
  constructor(
    readonly id: SocketId,
    readonly I: AnyVersion,
    readonly addr: TcpAddrAny,
    readonly port: number,
    public backlog: number,
    readonly config: TcpConfig,
  ) {}
}

/** A body whose buffer is a received packet, reused for the reply. */
class ReplyBody extends Serializer {
  buf: Buf = new Buf(new Uint8Array(0));
  measure(): number {
    return this.buf.length;
  }
  headersLen(): number {
    return 0;
  }
  tooBig(): TooBig | null {
    return null;
  }
  writeInto(_buf: Buf): void {}
  inPlace(): Buf | null {
    return this.buf;
  }
}

function mix(h: number, x: number): number {
  let k = Math.imul(x, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function addrHash(h: number, a: TcpAddrAny): number {
  if (typeof a === "number") return mix(h, a);
  for (let i = 0; i < 16; i += 4) h = mix(h, (a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]);
  return h;
}

/** The 12 option bytes at `o` are NOP, NOP, timestamps (kind 8, length 10). */
function isTsOnly(b: Uint8Array, o: number): boolean {
  return b[o] === 1 && b[o + 1] === 1 && b[o + 2] === 8 && b[o + 3] === 10;
}

/** RFC 7323 2.3: the shift our SYN offers for a receive buffer of `size` bytes (-1: scaling off). */
export function wscaleFor(size: number, enabled: boolean): number {
  if (!enabled) return -1;
  let s = 0;
  while (s < 14 && size >>> s > 0xffff) s++;
  return s;
}

export class TcpLayer implements TransportProtocol, ConnHost {
  readonly config: TcpConfig;
  readonly counters: Counters;
  private readonly ip: IpSender;
  private readonly timers: CoreTimers<TimerId>;
  private readonly clock: () => number;
  private readonly rand: () => number;
  private readonly emitFn: (ev: StackEvent) => void;
  private readonly allocId: () => SocketId;
  private nextId = 1;

  /** Every connection the layer or the application still holds, by id. */
  private readonly conns = new Map<SocketId, TcpConnection>();
  private readonly listenersById = new Map<SocketId, TcpListener>();
  /** TIME-WAIT connections, oldest first (`enterTimeWait`). */
  private readonly timeWait = new Set<TcpConnection>();
  /** Demux buckets: 4-tuple hash -> chain of connections. */
  private readonly table = new Map<number, TcpConnection>();
  /** Listeners by version * 65536 + port. */
  private readonly listeners = new Map<number, TcpListener[]>();
  /** Local port use counts by version * 65536 + port. */
  private readonly ports = new Map<number, number>();
  private readonly hashSeed: number;
  private readonly isn: IsnGenerator;
  private readonly cookies4: SynCookies;
  private readonly cookies6: SynCookies;
  private readonly challenge: TokenBucket;
  private readonly tsOffset: number;
  /** Connections in the demux table. */
  private live = 0;
  /** Nesting depth of `beginBatch` (receive batches). */
  private batchDepth = 0;
  /** Connections owing the ACK deferred to the end of the current batch (`deferAck`). */
  private readonly batchAcks: (TcpConnection | null)[] = [];
  private batchAckCount = 0;
  /**
   * The clock, read once per call into the layer: while `inCall` > 0, `now()` is `callNow` and
   * `tsNow()` its timestamp-clock value (`callTs`, -1 until first asked for).
   */
  private inCall = 0;
  private callNow = 0;
  private callTs = -1;

  // ---- reused per segment ----
  private readonly view = new TcpView();
  private readonly rxOpts = new TcpOptions();
  private readonly tx = new TcpBuilder(0, 0);
  private readonly txSlice: SendSlice;
  private readonly txData: Nested;
  private readonly txEmpty: Nested;
  private readonly reply = new ReplyBody();
  private readonly txReply: Nested;
  // Every optional field present, so the IP layer's reads of them find own properties.
  private readonly sendOpts: IpSendOptions<TcpAddrAny> = {
    src: null,
    dst: 0,
    proto: IpProto.Tcp,
    ttl: undefined,
    dontFragment: true,
    device: undefined,
  };
  /** The connection the last lookup found (consecutive segments are mostly for one connection). */
  private lastConn: TcpConnection | null = null;
  /** The received packet while it is being processed: the first empty reply is written into it. */
  private rxBuf: Buf | null = null;
  private rxReplyOff = 0;
  private readonly scratchA = new Uint8Array(16);
  private readonly scratchB = new Uint8Array(16);

  constructor(init: TcpLayerInit) {
    this.config = resolveTcpConfig(init.options);
    this.ip = init.ip;
    this.timers = init.timers;
    this.clock = init.now;
    this.rand = init.random;
    this.emitFn = init.emit;
    this.counters = init.counters;
    this.allocId = init.allocSocketId ?? (() => this.nextId++);
    this.hashSeed = init.random() | 0;
    this.isn = new IsnGenerator(init.random);
    const period = this.config.syncookiePeriodMs;
    this.cookies4 = new SynCookies(init.random, { mssTable: MSS_TABLE_V4, periodMs: period });
    this.cookies6 = new SynCookies(init.random, { mssTable: MSS_TABLE_V6, periodMs: period });
    this.challenge = new TokenBucket(this.config.challengeAckRate, this.config.challengeAckBurst, init.now());
    this.tsOffset = init.random() >>> 0;
    this.txSlice = new SendSlice(null as never);
    this.txData = new BytesBody(this.txSlice).wrapIn(this.tx);
    this.txEmpty = EMPTY_BODY.wrapIn(this.tx);
    this.txReply = this.reply.wrapIn(this.tx);
  }

  // ================= ConnHost =================

  now(): number {
    return this.inCall > 0 ? this.callNow : this.clock();
  }

  tsNow(): number {
    if (this.inCall === 0) return (Math.floor(this.clock()) + this.tsOffset) >>> 0;
    let ts = this.callTs;
    if (ts < 0) {
      ts = (Math.floor(this.callNow) + this.tsOffset) >>> 0;
      this.callTs = ts;
    }
    return ts;
  }

  /** Start a call into the layer: the clock is read here, once, for everything the call does. */
  private enter(): number {
    if (this.inCall++ === 0) {
      this.callNow = this.clock();
      this.callTs = -1;
    }
    return this.callNow;
  }

  private exit(): void {
    this.inCall--;
  }

  deferAck(c: TcpConnection): boolean {
    if (this.batchDepth === 0) return false;
    if (!c.ackBatched) {
      c.ackBatched = true;
      this.batchAcks[this.batchAckCount++] = c;
    }
    return true;
  }

  /**
   * Start a receive batch: until the matching `endBatch`, the ACK that every second full-sized
   * segment asks for is deferred and sent once per connection when the batch ends (at most
   * `config.batchAckBytes` behind). Out-of-order data, FINs, window updates and duplicate ACKs stay
   * immediate. Batches nest; only the outermost end sends.
   */
  beginBatch(): void {
    this.batchDepth++;
  }

  /** Connections whose ACK waits for the end of the current batch. */
  get deferredAcks(): number {
    return this.batchAckCount;
  }

  /** End a receive batch: one cumulative ACK for each connection that deferred one. */
  endBatch(): void {
    if (this.batchDepth === 0 || --this.batchDepth > 0) return;
    const n = this.batchAckCount;
    if (n === 0) return;
    const list = this.batchAcks;
    const now = this.enter();
    try {
      for (let i = 0; i < n; i++) {
        const c = list[i] as TcpConnection;
        c.ackBatched = false;
        // Still owed (no segment since carried it) and the connection is still there.
        if (c.ackDelayed && c.state !== TcpState.Closed) {
          c.ackNow = true;
          c.output(now);
        }
      }
    } finally {
      for (let i = 0; i < n; i++) {
        (list[i] as TcpConnection).ackBatched = false;
        list[i] = null;
      }
      this.batchAckCount = 0;
      this.exit();
    }
  }

  setTimer(c: TcpConnection, at: number): void {
    if (at === Infinity) this.timers.cancel(c.timer);
    else this.timers.schedule(c.timer, at);
  }

  challengeAckAllowed(): boolean {
    return this.challenge.take(this.clock());
  }

  count(what: CounterName): void {
    this.counters.inc(CONN_COUNTERS[what]);
  }

  emitReadable(c: TcpConnection): void {
    if (this.visible(c) && !c.userClosed) this.emitFn({ type: "readable", socket: c.id });
  }

  emitWritable(c: TcpConnection): void {
    if (this.visible(c) && !c.userClosed) this.emitFn({ type: "writable", socket: c.id });
  }

  emitConnected(c: TcpConnection): void {
    this.counters.inc(C.connEstablished);
    this.emitFn({ type: "connected", socket: c.id });
  }

  established(c: TcpConnection): boolean {
    const l = c.listener as TcpListener | null;
    if (l === null) return true;
    if (l.queue.length >= l.backlog) {
      this.counters.inc(C.acceptOverflow);
      return false;
    }
    l.synCount--;
    this.enqueue(l, c);
    return true;
  }

  private enqueue(l: TcpListener, c: TcpConnection): void {
    c.queued = true;
    l.queue.push(c);
    this.counters.inc(C.connEstablished);
    this.emitFn({ type: "accepted", socket: l.id, conn: c.id });
  }

  finished(c: TcpConnection, error: ErrorCode | null): void {
    if (c.state === TcpState.TimeWait) this.enterTimeWait(c);
    const l = c.listener as TcpListener | null;
    if (l !== null) {
      if (c.queued) {
        // Died in the accept queue: the application never gets it (its events say so).
        const i = l.queue.indexOf(c);
        if (i >= 0) l.queue.splice(i, 1);
        c.queued = false;
        c.userClosed = true;
        c.listener = null;
      } else {
        l.synCount--;
        c.listener = null;
        return; // a half-open connection was never visible
      }
    }
    if (c.done) return;
    c.done = true;
    if (error !== null) this.emitFn({ type: "error", socket: c.id, code: error });
    this.emitFn({ type: "closed", socket: c.id });
  }

  /**
   * Keep TIME-WAIT bounded (`config.maxTimeWait`, as Linux's tcp_max_tw_buckets): connections in
   * TIME-WAIT in the order they entered it; past the bound the oldest ends now. RFC 9293 3.6.1 asks
   * for 2 MSL; ending it early only risks a late duplicate of that old connection (RFC 1337).
   */
  private enterTimeWait(c: TcpConnection): void {
    const tw = this.timeWait;
    tw.add(c);
    if (tw.size <= this.config.maxTimeWait) return;
    for (const old of tw) {
      this.counters.inc(C.timeWaitOverflow);
      old.finish(null);
      if (tw.size <= this.config.maxTimeWait) return;
    }
  }

  /** Connections in TIME-WAIT (at most `config.maxTimeWait`). */
  get timeWaitCount(): number {
    return this.timeWait.size;
  }

  remove(c: TcpConnection): void {
    this.timeWait.delete(c);
    if (c.inTable) {
      this.unhash(c);
      c.inTable = false;
      if (this.lastConn === c) this.lastConn = null;
      c.hashNext = null;
      this.live--;
      this.portRelease(c.I, c.localPort);
    }
    this.timers.cancel(c.timer);
    c.timerAt = Infinity;
    this.release(c);
  }

  /** Forget a connection neither the protocol nor the application holds any more. */
  private release(c: TcpConnection): void {
    if (!c.inTable && (c.userClosed || (c.passive && !c.done && c.state === TcpState.Closed))) {
      this.conns.delete(c.id);
    }
  }

  private visible(c: TcpConnection): boolean {
    return !c.passive || c.queued || c.listener === null;
  }

  transmit(c: TcpConnection, seq: number, flags: number, dataOff: number, dataLen: number, syn: boolean): void {
    const tx = this.tx;
    const cfg = this.config;
    tx.src = c.local;
    tx.dst = c.remote;
    tx.srcPort = c.localPort;
    tx.dstPort = c.remotePort;
    tx.seq = seq >>> 0;
    tx.flags = flags;
    const hasAck = (flags & TcpFlags.ACK) !== 0;
    tx.ack = hasAck ? c.rcvNxt : 0;
    const o = tx.options;
    o.clear();
    let win = 0;
    if (flags & TcpFlags.RST) {
      tx.window = 0;
    } else if (syn) {
      // RFC 7323 2.2: the window in a SYN is never scaled.
      win = Math.min(c.recvBuf.window(), 0xffff);
      tx.window = win;
      o.mss = c.ourMss;
      const synAck = (flags & TcpFlags.ACK) !== 0;
      if (synAck ? c.wsOk : c.rcvWscaleOffer >= 0) o.wscale = c.rcvWscaleOffer;
      if (synAck ? c.sackOk : cfg.sack) o.sackPermitted = true;
      if (synAck ? c.tsOk : cfg.timestamps) o.setTs(this.tsNow(), synAck ? c.tsRecent : 0);
    } else {
      // RFC 7323 2.3: the field is the window shifted right by our scale (win < 2^30: shifts are exact).
      const ws = c.rcvWscale;
      let field = c.receiveWindow() >>> ws;
      if (field > 0xffff) field = 0xffff;
      win = field << ws;
      tx.window = field;
      if (c.tsOk) o.setTs(this.tsNow(), c.tsRecent);
      if (c.sackOk && hasAck && (c.recvBuf.rangeCount > 0 || c.dsackPending)) {
        // RFC 2018 4 / RFC 2883 4: SACK blocks, a D-SACK block first, then the most recent; on a
        // data segment only as many as fit.
        let max = c.tsOk ? 3 : 4;
        if (dataLen > 0) {
          const room = c.smss - dataLen - 4;
          max = Math.min(max, Math.floor(room / 8));
        }
        if (max > 0) o.sackCount = c.sackBlocks(o.sack, max);
      }
    }
    let body: Serializer;
    if (dataLen > 0) {
      c.sendBuf.slice(dataOff, dataLen, this.txSlice);
      body = this.txData;
    } else if (this.rxBuf !== null) {
      const b = this.rxBuf;
      this.rxBuf = null;
      b.setRange(this.rxReplyOff, this.rxReplyOff);
      this.reply.buf = b;
      body = this.txReply;
    } else {
      body = this.txEmpty;
    }
    const so = this.sendOpts;
    so.src = c.local;
    so.dst = c.remote;
    this.counters.inc(C.tx);
    if (flags & TcpFlags.RST) this.counters.inc(C.rstSent);
    const err = this.ip.send(c.I, so, body);
    if (err !== null) this.counters.inc(C.txError);
    if (hasAck && (flags & TcpFlags.RST) === 0) c.acked(win);
  }

  // ================= TransportProtocol =================

  receive<A>(info: IpRxInfo<A>, buf: Buf): void {
    const I = info.I as unknown as AnyVersion;
    const src = info.src as unknown as TcpAddrAny;
    const dst = info.dst as unknown as TcpAddrAny;
    this.counters.inc(C.rx);
    const len = buf.length;
    const v = this.view;
    // RFC 9293 3.1: the checksum is verified before anything else looks at the segment.
    const err = v.parseFrom(buf.bytes, buf.start, len, pseudoSum(src, dst, IpProto.Tcp, len));
    if (err !== null) {
      this.counters.inc(PARSE_DROPS.get(err.reason) ?? C.rxBadFlags);
      return;
    }
    // RFC 9293 3.9.1.1 / RFC 1122 4.2.3.10: TCP is unicast only.
    if (info.multicast) {
      this.counters.inc(C.rxMulticast);
      return;
    }
    const f = v.flags;
    // Invalid combinations (SYN+FIN, SYN+RST) are dropped before a connection or listener sees
    // them (as Linux does); with neither, RFC 9293 3.10.7.1 answers them like any segment.
    const badFlags = (f & TcpFlags.SYN) !== 0 && (f & (TcpFlags.FIN | TcpFlags.RST)) !== 0;
    const opts = this.rxOpts;
    const ol = v.optionsLen;
    if (ol === 0) opts.clear();
    else if (ol === 12 && isTsOnly(v.bytes, v.off + 20)) {
      // The options of almost every synchronized segment, NOP NOP TS (RFC 7323 appendix A's
      // layout): read straight, without the general option walk.
      const b = v.bytes;
      const o = v.off + 24;
      opts.clear();
      opts.hasTs = true;
      opts.tsVal = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
      opts.tsEcr = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
    } else v.readOptions(opts);
    const now = this.enter();
    this.rxBuf = buf;
    this.rxReplyOff = v.payloadOff;
    try {
      const c = this.lookup(I, dst, v.dstPort, src, v.srcPort);
      if (c !== null && badFlags) {
        this.counters.inc(C.rxBadFlags);
        return;
      }
      if (c !== null) {
        if (c.state === TcpState.TimeWait && (f & (TcpFlags.SYN | TcpFlags.ACK)) === TcpFlags.SYN) {
          const l = this.findListener(I, dst, v.dstPort);
          if (l !== null && c.timeWaitAcceptsSyn(v, opts)) {
            // RFC 6191 / RFC 9293 3.6.1: a new incarnation may reuse a TIME-WAIT 4-tuple.
            this.counters.inc(C.timeWaitReuse);
            c.finish(null);
            this.listenInput(l, I, src, dst, v, opts, now);
            return;
          }
        }
        c.input(v, opts, now);
        return;
      }
      const l = this.findListener(I, dst, v.dstPort);
      if (l !== null && badFlags) this.counters.inc(C.rxBadFlags);
      else if (l !== null) this.listenInput(l, I, src, dst, v, opts, now);
      else this.closedInput(I, src, dst, v);
    } finally {
      this.rxBuf = null;
      this.exit();
    }
  }

  receiveIcmpError<A>(err: IcmpErrorInfo<A>): void {
    const I = err.I as unknown as AnyVersion;
    const c = this.lookup(
      I,
      err.src as unknown as TcpAddrAny,
      err.srcPort,
      err.dst as unknown as TcpAddrAny,
      err.dstPort,
    );
    if (c === null || !c.icmpError(err.code, err.mtu, err.seq, this.clock())) {
      this.counters.inc(C.icmpIgnored);
      return;
    }
    this.counters.inc(C.icmp);
  }

  /** The Stack's timer dispatch for `{ kind: "tcp", socket }`. */
  handleTimer(socket: SocketId): void {
    const c = this.conns.get(socket);
    if (c === undefined || c.state === TcpState.Closed) return;
    const now = this.enter();
    try {
      c.onTimer(now);
    } finally {
      this.exit();
    }
  }

  // ================= CLOSED and LISTEN =================

  /** RFC 9293 3.10.7.1: no connection: answer with a RST (never to a RST). */
  private closedInput(I: AnyVersion, src: TcpAddrAny, dst: TcpAddrAny, v: TcpView): void {
    this.counters.inc(C.rxNoSocket);
    const f = v.flags;
    if (f & TcpFlags.RST) return;
    if (f & TcpFlags.ACK) {
      // <SEQ=SEG.ACK><CTL=RST>
      this.sendBare(I, dst, src, v.dstPort, v.srcPort, v.ack, 0, TcpFlags.RST);
    } else {
      // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
      const segLen = v.payloadLen + (f & TcpFlags.SYN ? 1 : 0) + (f & TcpFlags.FIN ? 1 : 0);
      this.sendBare(I, dst, src, v.dstPort, v.srcPort, 0, seqAdd(v.seq, segLen), TcpFlags.RST | TcpFlags.ACK);
    }
  }

  /** A segment with no connection behind it (RST, cookie SYN-ACK), into the received buffer. */
  private sendBare(
    I: AnyVersion,
    local: TcpAddrAny,
    remote: TcpAddrAny,
    lport: number,
    rport: number,
    seq: number,
    ack: number,
    flags: number,
    prepared = false,
  ): void {
    // The addresses are borrowed from the packet we are about to overwrite: copy them.
    if (typeof local !== "number") {
      this.scratchA.set(local);
      local = this.scratchA;
      this.scratchB.set(remote as Uint8Array);
      remote = this.scratchB;
    }
    const tx = this.tx;
    tx.src = local;
    tx.dst = remote;
    tx.srcPort = lport;
    tx.dstPort = rport;
    tx.seq = seq >>> 0;
    tx.ack = ack >>> 0;
    tx.flags = flags;
    if (!prepared) {
      tx.window = 0;
      tx.options.clear();
    }
    let body: Serializer = this.txEmpty;
    if (this.rxBuf !== null) {
      const b = this.rxBuf;
      this.rxBuf = null;
      b.setRange(this.rxReplyOff, this.rxReplyOff);
      this.reply.buf = b;
      body = this.txReply;
    }
    const so = this.sendOpts;
    so.src = local;
    so.dst = remote;
    this.counters.inc(C.tx);
    if (flags & TcpFlags.RST) this.counters.inc(C.rstSent);
    if (this.ip.send(I, so, body) !== null) this.counters.inc(C.txError);
  }

  /** RFC 9293 3.10.7.2: LISTEN. */
  private listenInput(
    l: TcpListener,
    I: AnyVersion,
    src: TcpAddrAny,
    dst: TcpAddrAny,
    v: TcpView,
    opts: TcpOptions,
    now: number,
  ): void {
    const f = v.flags;
    // First: an incoming RST is ignored.
    if (f & TcpFlags.RST) return;
    // Second: an ACK is bad unless it completes a SYN cookie handshake.
    if (f & TcpFlags.ACK) {
      if ((f & TcpFlags.SYN) === 0 && now - l.lastCookieAt <= l.config.syncookiePeriodMs * 2) {
        if (this.cookieAck(l, I, src, dst, v, opts, now)) return;
      }
      this.sendBare(I, dst, src, v.dstPort, v.srcPort, v.ack, 0, TcpFlags.RST);
      return;
    }
    // Third: a SYN.
    if ((f & TcpFlags.SYN) === 0) return;
    this.counters.inc(C.synRcvd);
    if (l.queue.length >= l.backlog) {
      // The accept queue is full: drop the SYN (the peer retries), as Linux does.
      this.counters.inc(C.synDropBacklog);
      return;
    }
    if (l.synCount >= l.config.synQueueSize || this.live >= this.config.maxConnections) {
      if (l.config.syncookies) this.cookieSynAck(l, I, src, dst, v, opts, now);
      else this.counters.inc(C.synDropQueue);
      return;
    }
    const c = this.newConnection(I, dst, v.dstPort, src, v.srcPort, l.config, now);
    c.listener = l;
    l.synCount++;
    this.insert(c);
    this.portTake(I, v.dstPort);
    c.acceptSyn(v, opts, now);
  }

  /** RFC 4987 3.6: answer a SYN statelessly; the ISN encodes what the connection needs. */
  private cookieSynAck(
    l: TcpListener,
    I: AnyVersion,
    src: TcpAddrAny,
    dst: TcpAddrAny,
    v: TcpView,
    opts: TcpOptions,
    now: number,
  ): void {
    const cfg = l.config;
    const jar = I.version === 6 ? this.cookies6 : this.cookies4;
    const peerMss = opts.mss > 0 ? opts.mss : I.version === 6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
    const iss = jar.encode(now, dst, v.dstPort, src, v.srcPort, v.seq, peerMss);
    const tx = this.tx;
    const o = tx.options;
    o.clear();
    o.mss = this.ip.maxPayload(I, src) - 20;
    tx.window = Math.min(cfg.recvBufferSize, 0xffff);
    // Without timestamps a cookie cannot carry window scale or SACK-permitted (Linux does the same).
    if (opts.hasTs && cfg.timestamps) {
      const ws = cfg.windowScaling && opts.wscale >= 0 ? opts.wscale : -1;
      const sack = cfg.sack && opts.sackPermitted;
      o.setTs(jar.encodeTimestamp(this.tsNow(), ws, sack), opts.tsVal);
      if (ws >= 0) o.wscale = wscaleFor(cfg.recvBufferSize, true);
      if (sack) o.sackPermitted = true;
    }
    l.lastCookieAt = now;
    this.counters.inc(C.cookieSent);
    this.sendBare(I, dst, src, v.dstPort, v.srcPort, iss, seqAdd(v.seq, 1), TcpFlags.SYN | TcpFlags.ACK, true);
  }

  /** The ACK completing a cookie handshake: a connection is created ESTABLISHED. */
  private cookieAck(
    l: TcpListener,
    I: AnyVersion,
    src: TcpAddrAny,
    dst: TcpAddrAny,
    v: TcpView,
    opts: TcpOptions,
    now: number,
  ): boolean {
    const jar = I.version === 6 ? this.cookies6 : this.cookies4;
    const mss = jar.check(now, dst, v.dstPort, src, v.srcPort, v.seq, v.ack);
    if (mss === 0) {
      this.counters.inc(C.cookieBad);
      return false;
    }
    if (l.queue.length >= l.backlog) {
      this.counters.inc(C.acceptOverflow);
      return true; // dropped; the peer's data retransmissions will retry
    }
    // The global bound holds for cookie connections too (they are how a SYN past it is answered).
    if (this.live >= this.config.maxConnections) {
      this.counters.inc(C.cookieMaxConnections);
      return true;
    }
    let ws = -1;
    let sack = false;
    if (opts.hasTs) {
      jar.decodeTimestamp(opts.tsEcr);
      ws = jar.wscale;
      sack = jar.sackOk;
    }
    this.counters.inc(C.cookieOk);
    const c = this.newConnection(I, dst, v.dstPort, src, v.srcPort, l.config, now, seqAdd(v.ack, -1));
    c.acceptCookie(v, opts, mss, ws, sack, now);
    this.insert(c);
    this.portTake(I, v.dstPort);
    c.listener = l;
    this.enqueue(l, c);
    // The ACK may carry data: process it as an established connection would.
    c.input(v, opts, now);
    return true;
  }

  private newConnection(
    I: AnyVersion,
    local: TcpAddrAny,
    lport: number,
    remote: TcpAddrAny,
    rport: number,
    cfg: TcpConfig,
    now: number,
    iss?: number,
  ): TcpConnection {
    local = I.copy(local);
    remote = I.copy(remote);
    const mss = Math.max(this.ip.maxPayload(I, remote) - 20, 64);
    const id = this.allocId();
    const c = new TcpConnection(
      this,
      {
        id,
        I,
        local,
        localPort: lport,
        remote,
        remotePort: rport,
        // RFC 6528: ISN = M + F(4-tuple, secret).
        iss: iss ?? this.isn.isn(now, local, lport, remote, rport),
        mss,
        cc: makeCongestion(cfg.congestion, mss, cfg.initialWindow, cfg.hystart),
      },
      cfg,
    );
    this.conns.set(id, c);
    return c;
  }

  // ================= demux =================

  private hashOf(I: AnyVersion, local: TcpAddrAny, lport: number, remote: TcpAddrAny, rport: number): number {
    let h = mix(this.hashSeed, (lport << 16) | rport);
    h = addrHash(h, local);
    h = addrHash(h, remote);
    return mix(h, I.version);
  }

  private lookup(
    I: AnyVersion,
    local: TcpAddrAny,
    lport: number,
    remote: TcpAddrAny,
    rport: number,
  ): TcpConnection | null {
    const last = this.lastConn;
    if (
      last !== null &&
      last.localPort === lport &&
      last.remotePort === rport &&
      last.I === I &&
      last.inTable &&
      (typeof remote === "number"
        ? last.remote === remote && last.local === local
        : I.equals(last.remote, remote) && I.equals(last.local, local))
    ) {
      return last;
    }
    let c = this.table.get(this.hashOf(I, local, lport, remote, rport)) ?? null;
    while (c !== null) {
      if (
        c.localPort === lport &&
        c.remotePort === rport &&
        c.I === I &&
        I.equals(c.remote, remote) &&
        I.equals(c.local, local)
      ) {
        if (c.inTable) this.lastConn = c;
        return c;
      }
      c = c.hashNext;
    }
    return null;
  }

  private insert(c: TcpConnection): void {
    const h = this.hashOf(c.I, c.local, c.localPort, c.remote, c.remotePort);
    c.hash = h;
    c.hashNext = this.table.get(h) ?? null;
    c.inTable = true;
    this.table.set(h, c);
    this.live++;
  }

  private unhash(c: TcpConnection): void {
    let p = this.table.get(c.hash) ?? null;
    if (p === c) {
      if (c.hashNext === null) this.table.delete(c.hash);
      else this.table.set(c.hash, c.hashNext);
      return;
    }
    while (p !== null && p.hashNext !== c) p = p.hashNext;
    if (p !== null) p.hashNext = c.hashNext;
  }

  private findListener(I: AnyVersion, addr: TcpAddrAny, port: number): TcpListener | null {
    const list = this.listeners.get(I.version * 65536 + port);
    if (list === undefined) return null;
    let any: TcpListener | null = null;
    for (let i = 0; i < list.length; i++) {
      const l = list[i];
      if (I.isUnspecified(l.addr)) any = l;
      else if (I.equals(l.addr, addr)) return l;
    }
    return any;
  }

  private portTake(I: AnyVersion, port: number): void {
    const k = I.version * 65536 + port;
    this.ports.set(k, (this.ports.get(k) ?? 0) + 1);
  }

  private portRelease(I: AnyVersion, port: number): void {
    const k = I.version * 65536 + port;
    const n = (this.ports.get(k) ?? 0) - 1;
    if (n <= 0) this.ports.delete(k);
    else this.ports.set(k, n);
  }

  private ephemeral(I: AnyVersion): number {
    const base = I.version * 65536;
    return pickEphemeralPort(
      this.rand,
      (p) => !this.ports.has(base + p),
      this.config.ephemeralMin,
      this.config.ephemeralMax,
    );
  }

  // ================= socket API =================

  /**
   * Active open (RFC 9293 3.10.1) to `remote`:`port` from `local` (null: the source the IP layer
   * selects) and `options.localPort` (default: an ephemeral port). Returns the socket id; a
   * `connected` event follows, or `error` (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...) and `closed`.
   */
  connect<A>(
    I: IpVersion<A>,
    local: A | null,
    remote: A,
    port: number,
    options: TcpSocketOptions & { localPort?: number } = {},
  ): SocketId | ErrorCode {
    const V = I as unknown as AnyVersion;
    const r = remote as unknown as TcpAddrAny;
    if (!(port > 0 && port <= 0xffff) || V.isUnspecified(r) || V.isMulticast(r)) return "EINVAL";
    const src =
      (local as unknown as TcpAddrAny | null) ?? (this.ip.selectSource(I, remote) as unknown as TcpAddrAny | null);
    if (src === null) return "ENETUNREACH";
    if (this.live >= this.config.maxConnections) return "EMFILE";
    let lport = options.localPort ?? 0;
    if (lport === 0) {
      lport = this.ephemeral(V);
      if (lport < 0) return "EADDRNOTAVAIL";
    } else if (this.lookup(V, src, lport, r, port) !== null || this.findListener(V, src, lport) !== null) {
      // Linux: bind() to a port a listening socket holds fails even with SO_REUSEADDR.
      return "EADDRINUSE";
    }
    const cfg = this.merge(this.config, options);
    const now = this.clock();
    const c = this.newConnection(V, src, lport, r, port, cfg, now);
    this.insert(c);
    this.portTake(V, lport);
    c.connect(now);
    return c.id;
  }

  /**
   * Passive open: listen on `addr` (unspecified: every address) and `port` (0: ephemeral), with an
   * accept queue of `backlog` established connections. `accepted` events announce connections;
   * `accept` takes them.
   */
  listen<A>(
    I: IpVersion<A>,
    addr: A,
    port: number,
    backlog?: number,
    options: TcpSocketOptions = {},
  ): SocketId | ErrorCode {
    const V = I as unknown as AnyVersion;
    const a = V.copy(addr as unknown as TcpAddrAny);
    if (!(port >= 0 && port <= 0xffff)) return "EINVAL";
    if (port === 0) {
      port = this.ephemeral(V);
      if (port < 0) return "EADDRNOTAVAIL";
    }
    const key = V.version * 65536 + port;
    const list = this.listeners.get(key) ?? [];
    for (const l of list) {
      if (V.isUnspecified(l.addr) || V.isUnspecified(a) || V.equals(l.addr, a)) return "EADDRINUSE";
    }
    const l = new TcpListener(
      this.allocId(),
      V,
      a,
      port,
      Math.max(1, backlog ?? this.config.defaultBacklog),
      this.merge(this.config, options),
    );
    list.push(l);
    this.listeners.set(key, list);
    this.listenersById.set(l.id, l);
    this.portTake(V, port);
    return l.id;
  }

  /** The next established connection of listener `id`, or null when none is waiting. */
  accept(id: SocketId): SocketId | null {
    const l = this.listenersById.get(id);
    if (l === undefined) return null;
    const c = l.queue.shift();
    if (c === undefined) return null;
    c.queued = false;
    c.listener = null;
    return c.id;
  }

  /** Established connections waiting in a listener's accept queue. */
  pending(id: SocketId): number {
    return this.listenersById.get(id)?.queue.length ?? 0;
  }

  /**
   * Queue `data[off, off + len)` for sending. Returns the bytes accepted (fewer than asked when the
   * send buffer is full: a `writable` event follows when it has room), or EPIPE after shutdown/close.
   */
  send(id: SocketId, data: Uint8Array, off = 0, len: number = data.length - off): number | ErrorCode {
    const c = this.user(id);
    if (c === undefined) return "EBADF";
    const st = c.state;
    if (
      c.finQueued ||
      !(st === TcpState.Established || st === TcpState.CloseWait || st === TcpState.SynSent || st === TcpState.SynRcvd)
    ) {
      return c.error === "ECONNRESET" ? "ECONNRESET" : "EPIPE";
    }
    this.enter();
    try {
      return c.write(data, off, len);
    } finally {
      this.exit();
    }
  }

  /**
   * Read up to `len` bytes into `into[off]`. Returns the count (0: nothing yet), or -1 at the end of
   * the stream (the peer's FIN, or the connection is gone) once the data before it was read.
   */
  recvInto(id: SocketId, into: Uint8Array, off = 0, len: number = into.length - off): number {
    const c = this.user(id);
    if (c === undefined) return -1;
    const n = c.recvBuf.read(into, off, len);
    if (n === 0 && len > 0) return c.peerFin || c.state === TcpState.Closed ? -1 : 0;
    this.enter();
    try {
      c.afterRead();
    } finally {
      this.exit();
    }
    return n;
  }

  /** Read up to `max` bytes (a copy). Empty: nothing yet; null: end of stream. */
  recv(id: SocketId, max = Number.POSITIVE_INFINITY): Uint8Array | null {
    const c = this.user(id);
    if (c === undefined) return null;
    const n = Math.min(max, c.recvBuf.length);
    if (n === 0) return c.peerFin || c.state === TcpState.Closed ? null : new Uint8Array(0);
    const out = new Uint8Array(n);
    c.recvBuf.read(out, 0, n);
    c.afterRead();
    return out;
  }

  /** Bytes waiting to be read. */
  readable(id: SocketId): number {
    return this.user(id)?.recvBuf.length ?? 0;
  }

  /** Room in the send buffer. */
  writable(id: SocketId): number {
    const c = this.user(id);
    return c === undefined || c.finQueued ? 0 : c.sendBuf.free;
  }

  /** Half-close: send a FIN after the queued data (RFC 9293 3.10.4 on the sending side). */
  shutdown(id: SocketId): ErrorCode | null {
    const c = this.user(id);
    if (c === undefined) return "EBADF";
    if (c.state === TcpState.Closed) return "ENOTCONN";
    c.shutdown();
    return null;
  }

  /**
   * Close: the socket id is released once the connection is done. Unread received data makes it
   * an abort (RST; RFC 2525 2.17), otherwise a FIN follows the queued data. Listeners stop
   * listening; connections waiting in their accept queue are reset.
   */
  close(id: SocketId): ErrorCode | null {
    const l = this.listenersById.get(id);
    if (l !== undefined) {
      this.closeListener(l);
      return null;
    }
    const c = this.user(id);
    if (c === undefined) return "EBADF";
    if (c.userClosed) return null;
    c.userClosed = true;
    if (c.state === TcpState.Closed || c.state === TcpState.TimeWait) {
      this.release(c);
      return null;
    }
    if (c.recvBuf.length > 0) {
      c.abort(null);
      return null;
    }
    c.shutdown();
    if (c.state === TcpState.FinWait2) {
      c.closeAt = this.clock() + this.config.finWait2Timeout;
      c.updateTimer();
    }
    this.release(c);
    return null;
  }

  /** Reset the connection (RFC 9293 3.10.5 ABORT) and release the socket. */
  abort(id: SocketId): ErrorCode | null {
    const c = this.user(id);
    if (c === undefined) return this.close(id);
    c.userClosed = true;
    c.abort(null);
    this.release(c);
    return null;
  }

  private closeListener(l: TcpListener): void {
    this.listenersById.delete(l.id);
    const key = l.I.version * 65536 + l.port;
    const list = this.listeners.get(key);
    if (list !== undefined) {
      const i = list.indexOf(l);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.listeners.delete(key);
    }
    this.portRelease(l.I, l.port);
    for (const c of [...l.queue]) c.abort("ECONNRESET");
    // Half-open connections of this listener go too.
    for (const c of [...this.conns.values()]) if (c.listener === l) c.abort(null);
    this.emitFn({ type: "closed", socket: l.id });
  }

  /** Nagle's algorithm off (true) or on (RFC 9293 3.7.4). */
  setNoDelay(id: SocketId, on = true): ErrorCode | null {
    const c = this.user(id);
    if (c === undefined) return "EBADF";
    c.noDelay = on;
    if (on) {
      c.output(this.clock());
      c.updateTimer();
    }
    return null;
  }

  /** Keepalive on or off, with the idle time before the first probe (ms). */
  setKeepAlive(id: SocketId, on: boolean, idleMs?: number): ErrorCode | null {
    const c = this.user(id);
    if (c === undefined) return "EBADF";
    c.setKeepAlive(on, idleMs);
    return null;
  }

  /** Change buffer sizes (a window already advertised is never withdrawn). */
  setBufferSizes(id: SocketId, sizes: { send?: number; recv?: number }): ErrorCode | null {
    const c = this.user(id);
    if (c === undefined) return "EBADF";
    if (sizes.send !== undefined) c.sendBuf.setCapacity(sizes.send);
    if (sizes.recv !== undefined) {
      c.recvBuf.setCapacity(sizes.recv);
      c.afterRead();
    }
    return null;
  }

  /** The local endpoint (getsockname). */
  address(id: SocketId): TcpEndpoint | null {
    const l = this.listenersById.get(id);
    if (l !== undefined) return { address: l.addr, port: l.port, family: l.I.version === 6 ? "IPv6" : "IPv4" };
    const c = this.user(id);
    if (c === undefined) return null;
    return { address: c.local, port: c.localPort, family: c.I.version === 6 ? "IPv6" : "IPv4" };
  }

  /** The remote endpoint (getpeername). */
  remoteAddress(id: SocketId): TcpEndpoint | null {
    const c = this.user(id);
    if (c === undefined) return null;
    return { address: c.remote, port: c.remotePort, family: c.I.version === 6 ? "IPv6" : "IPv4" };
  }

  /** The RFC 9293 state name of a socket ("LISTEN" for listeners), or null. */
  state(id: SocketId): string | null {
    if (this.listenersById.has(id)) return "LISTEN";
    const c = this.user(id);
    return c === undefined ? null : TCP_STATE_NAMES[c.state];
  }

  /** A snapshot of a connection's variables. */
  info(id: SocketId): TcpInfo | null {
    const c = this.user(id);
    if (c === undefined) return null;
    return {
      state: TCP_STATE_NAMES[c.state],
      sndUna: c.sndUna,
      sndNxt: c.sndNxt,
      sndWnd: c.sndWnd,
      rcvNxt: c.rcvNxt,
      rcvWnd: c.receiveWindow(),
      smss: c.smss,
      cwnd: c.cc.cwnd,
      ssthresh: c.cc.ssthresh,
      congestion: c.cc.name,
      srtt: c.rtt.srtt,
      rto: c.rtt.rto,
      inRecovery: c.inRecovery,
      sendBuffered: c.sendBuf.length,
      recvBuffered: c.recvBuf.length,
      wscale: [c.sndWscale, c.rcvWscale],
      timestamps: c.tsOk,
      sack: c.sackOk,
      iss: c.iss,
      irs: c.irs,
      sndMax: c.sndMax,
      retries: c.retries,
      retransmits: c.retransmits,
      lastRecvAt: c.lastRecvAt,
    };
  }

  /** The connection object itself (tests and tools; not a stable API). */
  connection(id: SocketId): TcpConnection | null {
    return this.user(id) ?? null;
  }

  /** Connections in the demux table (all states but LISTEN and CLOSED). */
  get connectionCount(): number {
    return this.live;
  }

  /** Sockets held (connections and listeners). */
  get socketCount(): number {
    return this.conns.size + this.listenersById.size;
  }

  /** A connection the application still holds. */
  private user(id: SocketId): TcpConnection | undefined {
    const c = this.conns.get(id);
    return c === undefined || c.userClosed ? undefined : c;
  }

  private merge(base: TcpConfig, o: TcpSocketOptions): TcpConfig {
    let has = false;
    for (const k in o) {
      if ((o as Record<string, unknown>)[k] !== undefined) has = true;
    }
    if (!has) return base;
    const m = { ...base };
    for (const [k, val] of Object.entries(o)) if (val !== undefined) (m as Record<string, unknown>)[k] = val;
    return m;
  }
}

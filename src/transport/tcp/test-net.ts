/**
 * TcpTestNet: a deterministic network of `TcpLayer`s without the IP stack, for TCP tests and
 * benchmarks (after smoltcp's netsim and netstack3's FakeNetwork).
 *
 * Each host has a `TcpLayer`, a core timer queue and an `IpSender` that hands segments to the net.
 * The net carries them through a seeded channel (latency, jitter that reorders, loss, duplication,
 * corruption, an optional bottleneck with a bandwidth and a bounded queue, a path MTU that answers
 * with ICMP "packet too big") and delivers them in virtual time. Events from the layers are queued
 * and handed to each host's `onEvent` after the layer call that produced them has returned (so a
 * handler may call the layer, as a real host would).
 */
import type { SocketId, StackEvent, TimerId } from "../../context.ts";
import { Counters } from "../../counters.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSendError, IpSender, IpSendOptions } from "../../ip/transport-api.ts";
import { type IpVersion, Ipv4, Ipv6 } from "../../ip/version.ts";
import { Buf } from "../../packet/buf.ts";
import type { Serializer } from "../../packet/serialize.ts";
import { Rng } from "../../testing/rng.ts";
import { CoreTimers } from "../../timers.ts";
import type { TcpConfig } from "./config.ts";
import type { TcpAddrAny } from "./connection.ts";
import { TcpLayer } from "./tcp-layer.ts";

/** Channel impairments (all probabilities per packet). */
export interface ChannelOptions {
  /** One-way delay in ms. Default 1. */
  latency?: number;
  /** Probability that a packet gets an extra delay of up to `jitter` ms (so it is reordered). */
  reorder?: number;
  /** Extra delay bound for reordered packets (ms). Default 5. */
  jitter?: number;
  loss?: number;
  duplicate?: number;
  /** Probability that one bit of the packet is flipped. */
  corrupt?: number;
  /** Bottleneck rate in bytes per ms (0: unlimited). 125 000 B/ms = 1 Gbit/s. */
  bandwidth?: number;
  /** Packets the bottleneck queues at most (per direction) before dropping. Default 100. */
  queueLimit?: number;
  /** Path MTU (IP packet size): larger packets are dropped with an ICMP packet-too-big. 0: none. */
  pathMtu?: number;
  /**
   * Each packet's delay (ms) drawn by this function instead of `latency` plus `reorder`/`jitter`
   * (e.g. netem's "delay 20ms 10ms reorder 25%"); null: the default model.
   */
  delay?: ((rng: Rng) => number) | null;
}

interface Packet {
  at: number;
  order: number;
  to: TcpTestHost;
  from: TcpTestHost | null;
  I: IpVersion<TcpAddrAny>;
  src: TcpAddrAny;
  dst: TcpAddrAny;
  bytes: Uint8Array;
  len: number;
  icmp: IcmpErrorInfo<TcpAddrAny> | null;
}

/** Prefix left before a delivered segment (room for replies written in place). */
const PREFIX = 64;

/** One host: a TCP layer and what it needs. */
export class TcpTestHost implements IpSender {
  readonly timers: CoreTimers<TimerId>;
  readonly counters = new Counters();
  readonly tcp: TcpLayer;
  readonly I: IpVersion<TcpAddrAny>;
  /** Events handed out so far (when the net records). */
  readonly events: StackEvent[] = [];
  /** Called for each event, after the layer call that produced it returned. */
  onEvent: ((ev: StackEvent, host: TcpTestHost) => void) | null = null;
  /** Packets dropped by this host's sender-side checks (no route). */
  mtu: number;
  /** A down host neither sends nor receives. */
  down = false;
  /** Segments this host sent (count) and bytes. */
  sent = 0;
  sentBytes = 0;
  readonly pending: StackEvent[] = [];
  private readonly scratch = new Buf(new Uint8Array(70000), PREFIX, PREFIX);

  constructor(
    readonly net: TcpTestNet,
    readonly name: string,
    readonly addr: TcpAddrAny,
    options: Partial<TcpConfig>,
    mtu: number,
  ) {
    this.I = (typeof addr === "number" ? Ipv4 : Ipv6) as unknown as IpVersion<TcpAddrAny>;
    this.mtu = mtu;
    this.timers = new CoreTimers<TimerId>({ scheduleTimer() {}, cancelTimer() {} });
    const rng = net.rng.fork();
    this.tcp = new TcpLayer({
      ip: this,
      timers: this.timers,
      now: () => net.now,
      random: () => rng.uint32(),
      emit: (ev) => this.pending.push(ev),
      counters: this.counters,
      options,
    });
  }

  // ---- IpSender ----

  send<A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer): IpSendError {
    const out = body.serialize({ target: this.scratch, prefix: PREFIX });
    if (!(out instanceof Buf)) return "EMSGSIZE";
    const len = out.length;
    if (len + I.headerLen > this.mtu) return "EMSGSIZE";
    this.sent++;
    this.sentBytes += len;
    this.net.transmit(
      this,
      I as unknown as IpVersion<TcpAddrAny>,
      opts as IpSendOptions<TcpAddrAny>,
      out.bytes,
      out.start,
      len,
    );
    return null;
  }

  maxPayload<A>(I: IpVersion<A>, _dst: A): number {
    return this.mtu - I.headerLen;
  }

  selectSource<A>(I: IpVersion<A>, _dst: A): A | null {
    return (I as unknown) === this.I ? (this.addr as unknown as A) : null;
  }

  isLocal<A>(I: IpVersion<A>, a: A): boolean {
    return (I as unknown) === this.I && this.I.equals(a as unknown as TcpAddrAny, this.addr);
  }

  sendIcmpError<A>(_info: IpRxInfo<A>, _buf: Buf, _type: number, _code: number): void {}

  /** Fire due timers. */
  fireTimers(now: number): void {
    for (;;) {
      const t = this.timers.popExpired(now);
      if (t === null) break;
      if (t.data.kind === "tcp") this.tcp.handleTimer(t.data.socket);
    }
  }

  /** Hand queued events to `onEvent` (handlers may cause more). */
  dispatch(record: boolean): void {
    const q = this.pending;
    for (let i = 0; i < q.length; i++) {
      const ev = q[i];
      if (record) this.events.push(ev);
      this.onEvent?.(ev, this);
    }
    q.length = 0;
  }

  /** Events of one type (recorded). */
  eventsOf<K extends StackEvent["type"]>(type: K): Extract<StackEvent, { type: K }>[] {
    return this.events.filter((e) => e.type === type) as Extract<StackEvent, { type: K }>[];
  }
}

/** A binary heap of packets by (time, order). */
class PacketQueue {
  private readonly h: Packet[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Packet | undefined {
    return this.h[0];
  }
  push(p: Packet): void {
    const h = this.h;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const j = (i - 1) >> 1;
      if (!before(h[i], h[j])) break;
      [h[i], h[j]] = [h[j], h[i]];
      i = j;
    }
  }
  pop(): Packet | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r], h[l]) ? r : l;
        if (!before(h[c], h[i])) break;
        [h[i], h[c]] = [h[c], h[i]];
        i = c;
      }
    }
    return top;
  }
}

function before(a: Packet, b: Packet): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

export interface TcpTestNetOptions extends ChannelOptions {
  seed?: number;
  /** Keep every event in `host.events` (default true). */
  record?: boolean;
}

/** The network: hosts, a channel, a virtual clock. */
export class TcpTestNet {
  now = 0;
  readonly rng: Rng;
  readonly hosts: TcpTestHost[] = [];
  /** The channel, mutable between steps. */
  channel: Required<ChannelOptions>;
  record: boolean;
  /** Packets dropped by the channel, by reason. */
  readonly drops = { loss: 0, queue: 0, down: 0, mtu: 0, noHost: 0 };
  delivered = 0;
  duplicated = 0;
  corrupted = 0;
  /** Called with every packet put on the wire (a copy is made only if the tap keeps it). */
  tap: ((from: TcpTestHost, bytes: Uint8Array, off: number, len: number) => void) | null = null;
  private readonly queue = new PacketQueue();
  private order = 0;
  /** Time each direction's bottleneck is busy until, by "from->to". */
  private readonly busyUntil = new Map<string, number>();
  private readonly byAddr = new Map<number | string, TcpTestHost>();
  private readonly free: Uint8Array[] = [];

  constructor(options: TcpTestNetOptions = {}) {
    this.rng = new Rng(options.seed ?? 1);
    this.record = options.record ?? true;
    this.channel = {
      latency: 1,
      reorder: 0,
      jitter: 5,
      loss: 0,
      duplicate: 0,
      corrupt: 0,
      bandwidth: 0,
      queueLimit: 100,
      pathMtu: 0,
      delay: null,
      ...options,
    };
  }

  /** Add a host with address `addr` (IPv4 as a number, IPv6 as 16 bytes). */
  addHost(name: string, addr: TcpAddrAny, options: Partial<TcpConfig> = {}, mtu = 1500): TcpTestHost {
    const h = new TcpTestHost(this, name, addr, options, mtu);
    this.hosts.push(h);
    this.byAddr.set(h.I.key(addr), h);
    return h;
  }

  /** Put a packet on the wire (called by hosts). */
  transmit(
    from: TcpTestHost,
    I: IpVersion<TcpAddrAny>,
    opts: IpSendOptions<TcpAddrAny>,
    bytes: Uint8Array,
    off: number,
    len: number,
  ): void {
    this.tap?.(from, bytes, off, len);
    const ch = this.channel;
    const to = this.byAddr.get(I.key(opts.dst));
    if (to === undefined) {
      this.drops.noHost++;
      return;
    }
    if (from.down || to.down) {
      this.drops.down++;
      return;
    }
    const src = I.copy(opts.src ?? from.addr);
    const dst = I.copy(opts.dst);
    if (ch.pathMtu > 0 && len + I.headerLen > ch.pathMtu) {
      // A router on the path: RFC 1191 / RFC 8201 "packet too big" back to the sender.
      this.drops.mtu++;
      const b = bytes;
      const o = off;
      this.push({
        at: this.now + ch.latency,
        order: this.order++,
        to: from,
        from: null,
        I,
        src,
        dst,
        bytes: new Uint8Array(0),
        len: 0,
        icmp: {
          I,
          src,
          dst,
          srcPort: (b[o] << 8) | b[o + 1],
          dstPort: (b[o + 2] << 8) | b[o + 3],
          code: "EMSGSIZE",
          mtu: ch.pathMtu,
          seq: ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0,
        },
      });
      return;
    }
    if (this.rng.chance(ch.loss)) {
      this.drops.loss++;
      return;
    }
    const copies = this.rng.chance(ch.duplicate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let k = 0; k < copies; k++) {
      let at = this.now;
      if (ch.bandwidth > 0) {
        const key = `${from.name}>${to.name}`;
        const busy = Math.max(this.busyUntil.get(key) ?? 0, this.now);
        const backlog = (busy - this.now) * ch.bandwidth;
        if (backlog > ch.queueLimit * 1500) {
          this.drops.queue++;
          continue;
        }
        at = busy + (len + I.headerLen) / ch.bandwidth;
        this.busyUntil.set(key, at);
      }
      if (ch.delay !== null) {
        at += ch.delay(this.rng);
      } else {
        at += ch.latency;
        if (this.rng.chance(ch.reorder)) at += this.rng.float() * ch.jitter;
      }
      const store = this.take(len);
      store.set(bytes.subarray(off, off + len), PREFIX);
      if (this.rng.chance(ch.corrupt)) {
        this.corrupted++;
        const bit = this.rng.int(len * 8);
        store[PREFIX + (bit >>> 3)] ^= 1 << (bit & 7);
      }
      this.push({ at, order: this.order++, to, from, I, src, dst, bytes: store, len, icmp: null });
    }
  }

  private push(p: Packet): void {
    this.queue.push(p);
  }

  private take(len: number): Uint8Array {
    if (len + PREFIX <= 2048) {
      const s = this.free.pop();
      if (s !== undefined) return s;
      return new Uint8Array(2048);
    }
    return new Uint8Array(len + PREFIX);
  }

  private give(b: Uint8Array): void {
    if (b.length === 2048 && this.free.length < 4096) this.free.push(b);
  }

  /** The time of the next thing to happen (packet or timer), Infinity when idle. */
  nextEventTime(): number {
    let t = this.queue.peek()?.at ?? Infinity;
    for (const h of this.hosts) {
      const d = h.timers.nextDeadline();
      if (d < t) t = d;
    }
    return t;
  }

  /** Process everything due at the next event time. False when idle or past `until`. */
  step(until = Infinity): boolean {
    const t = this.nextEventTime();
    if (t === Infinity || t > until) return false;
    if (t > this.now) this.now = t;
    const p = this.queue.peek();
    if (p !== undefined && p.at <= t) {
      this.queue.pop();
      this.deliver(p);
    } else {
      for (const h of this.hosts) if (h.timers.nextDeadline() <= this.now) h.fireTimers(this.now);
    }
    this.dispatchAll();
    return true;
  }

  /** Hand out pending events until none is left. */
  dispatchAll(): void {
    for (let again = true; again; ) {
      again = false;
      for (const h of this.hosts) {
        if (h.pending.length > 0) {
          h.dispatch(this.record);
          again = true;
        }
      }
    }
  }

  /** Run until nothing is left to do, or virtual time `until`, or `maxSteps`. Returns steps taken. */
  run(until = Infinity, maxSteps = 50_000_000): number {
    this.dispatchAll();
    let n = 0;
    while (n < maxSteps && this.step(until)) n++;
    if (until !== Infinity && this.now < until && this.nextEventTime() > until) this.now = until;
    return n;
  }

  /** Run until `pred()` holds (checked after each step) or time `until`. Returns whether it held. */
  runUntil(pred: () => boolean, until = Infinity): boolean {
    this.dispatchAll();
    while (!pred()) if (!this.step(until)) return pred();
    return true;
  }

  /** Advance the clock by `ms`, processing everything due on the way. */
  advance(ms: number): void {
    this.run(this.now + ms);
  }

  private deliver(p: Packet): void {
    const to = p.to;
    if (to.down) {
      this.drops.down++;
      return;
    }
    if (p.icmp !== null) {
      to.tcp.receiveIcmpError(p.icmp);
      return;
    }
    this.delivered++;
    const buf = new Buf(p.bytes, PREFIX, PREFIX + p.len);
    const info: IpRxInfo<TcpAddrAny> = {
      I: p.I,
      src: p.src,
      dst: p.dst,
      device: 0,
      ttl: 64,
      multicast: false,
      ipOff: PREFIX - p.I.headerLen,
    };
    to.tcp.receive(info, buf);
    this.give(buf.bytes);
  }
}

/** Bytes 0..n-1 of a deterministic pattern (position-dependent, so reordering bugs show). */
export function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** What a `bulkTransfer` returns. */
export interface TransferResult {
  /** Bytes received by the server, in order (empty with `discard`). */
  received: Uint8Array;
  /** Bytes received. */
  total: number;
  /** Virtual ms from connect to the last byte read. */
  elapsed: number;
  /** The server saw the end of stream. */
  eof: boolean;
  client: SocketId;
  server: SocketId | null;
}

/**
 * Connect `client` to a listener on `server`:`port`, write `data`, shut down, and let the server
 * read everything (at most `readChunk` bytes per readable event; 0: all). Runs the net until the
 * server reads EOF or time `until`.
 */
export function bulkTransfer(
  net: TcpTestNet,
  client: TcpTestHost,
  server: TcpTestHost,
  data: Uint8Array,
  options: { port?: number; until?: number; readChunk?: number; close?: boolean; discard?: boolean } = {},
): TransferResult {
  const port = options.port ?? 5000;
  const lid = server.tcp.listen(server.I, server.I.unspecified, port, 16);
  if (typeof lid !== "number") throw new Error(`listen: ${lid}`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let eof = false;
  let sid: SocketId | null = null;
  const start = net.now;
  let end = start;
  const scratch = options.discard ? new Uint8Array(1 << 18) : null;
  const readAll = (id: SocketId) => {
    if (scratch !== null) {
      for (;;) {
        const n = server.tcp.recvInto(id, scratch);
        if (n < 0) {
          eof = true;
          if (options.close !== false) server.tcp.close(id);
          return;
        }
        if (n === 0) return;
        total += n;
        end = net.now;
      }
    }
    for (;;) {
      const b = server.tcp.recv(id, options.readChunk || Number.POSITIVE_INFINITY);
      if (b === null) {
        eof = true;
        if (options.close !== false) server.tcp.close(id);
        return;
      }
      if (b.length === 0) return;
      chunks.push(b);
      total += b.length;
      end = net.now;
      if (options.readChunk) return;
    }
  };
  const prevServer = server.onEvent;
  server.onEvent = (ev) => {
    if (ev.type === "accepted" && ev.socket === lid) {
      const id = server.tcp.accept(lid);
      if (id !== null) {
        sid = id;
        readAll(id);
      }
    } else if (ev.type === "readable" && ev.socket === sid) {
      readAll(ev.socket);
    }
  };
  const cid = client.tcp.connect(client.I, null, server.addr, port);
  if (typeof cid !== "number") throw new Error(`connect: ${cid}`);
  let off = 0;
  const pump = () => {
    while (off < data.length) {
      const n = client.tcp.send(cid, data, off);
      if (typeof n !== "number" || n === 0) break;
      off += n;
    }
    if (off === data.length) client.tcp.shutdown(cid);
  };
  const prevClient = client.onEvent;
  client.onEvent = (ev) => {
    if ((ev.type === "connected" || ev.type === "writable") && ev.socket === cid && off < data.length) pump();
  };
  net.runUntil(() => eof, options.until ?? net.now + 600_000);
  server.onEvent = prevServer;
  client.onEvent = prevClient;
  server.tcp.close(lid);
  const received = new Uint8Array(scratch === null ? total : 0);
  let p = 0;
  for (const c of chunks) {
    received.set(c, p);
    p += c.length;
  }
  return { received, total, elapsed: end - start, eof, client: cid, server: sid };
}

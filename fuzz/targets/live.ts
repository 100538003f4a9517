/**
 * A live pair for the whole-stack target: the victim Stack (the host the fuzzer attacks) and a
 * peer Stack on one direct in-process Ethernet segment, sharing one virtual clock, with ESTABLISHED
 * TCP connections between them (IPv4 and IPv6, accepted by the victim's listener and opened by the
 * victim) and UDP sockets. Everything is deterministic: two pairs built alike are byte-for-byte the
 * same, so frames captured from one pair's conversation are valid (sequence numbers, timestamps,
 * ports) in another, and a reproducer replays alone.
 *
 * The fuzzer injects frames into the victim's device only (as an attacker on the segment would);
 * whatever the victim sends goes to the peer, and the peer's answers come back, until both are
 * quiet (`pump`, bounded: an endless exchange is a storm and is reported).
 */
import type { SocketId } from "../../src/context.ts";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "../../src/ip/addr.ts";
import { type IpVersion, Ipv4, Ipv6 } from "../../src/ip/version.ts";
import { Buf } from "../../src/packet/buf.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import { FakeBindings, FakeClock } from "../../src/testing/fake-bindings.ts";

export const VICTIM_MAC = "12:e0:69:8e:f3:3c";
export const PEER_MAC_TEXT = "62:71:28:ca:55:4a";
export const V4_VICTIM = parseV4("10.77.0.2") as Ipv4Addr;
export const V4_PEER = parseV4("10.77.0.1") as Ipv4Addr;
export const V6_VICTIM = parseV6("fd77::2") as Ipv6Addr;
export const V6_PEER = parseV6("fd77::1") as Ipv6Addr;
/** The victim's TCP listener (the port of the fixtures' TCP conversations). */
export const LISTEN_PORT = 8080;
/** The peer's listener (the victim's active open goes there). */
export const PEER_PORT = 7777;
/** The victim's UDP sockets. */
export const UDP_PORT = 9999;

/** Frames one pump may move before it is called a storm. */
export const PUMP_LIMIT = 64;

/** Small bounds, so the fuzzer reaches them with the few frames of one input. */
export const VICTIM_OPTIONS: StackOptions = {
  limits: {
    dadTransmits: 0,
    routerSolicitations: 0,
    neighborEntries: 16,
    neighborPending: 4,
    reassemblyDatagrams: 8,
    reassemblyBytes: 96 * 1024,
    reassemblyFragments: 64,
  },
  udp: { recvQueueDatagrams: 4 },
  tcp: {
    sendBufferSize: 8192,
    recvBufferSize: 8192,
    synQueueSize: 4,
    defaultBacklog: 2,
    maxConnections: 12,
  },
};

const PEER_OPTIONS: StackOptions = {
  limits: { dadTransmits: 0, routerSolicitations: 0 },
  tcp: { sendBufferSize: 8192, recvBufferSize: 8192 },
};

/** One established connection: its socket on each side. */
export interface LiveConn {
  name: string;
  I: IpVersion<unknown>;
  /** The victim's socket and the peer's. */
  v: SocketId;
  p: SocketId;
}

export class LivePair {
  readonly clock = new FakeClock(0);
  readonly vb: FakeBindings;
  readonly pb: FakeBindings;
  readonly v: Stack;
  readonly p: Stack;
  readonly vdev: number;
  readonly pdev: number;
  /** Frames in flight: victim to peer, peer to victim. */
  private toPeer: Uint8Array[] = [];
  private toVictim: Uint8Array[] = [];
  /** Called with each frame the pump delivers from the peer to the victim. */
  tap: ((frame: Uint8Array) => void) | null = null;
  /** When set, frames the peer sends are kept here instead of being delivered. */
  capture: Uint8Array[] | null = null;
  /** Frames the last pump moved, and whether a pump stopped at `PUMP_LIMIT` (until the owner clears it). */
  moved = 0;
  storm = false;
  /** The victim's listeners (IPv4, IPv6) on `LISTEN_PORT`, and its UDP sockets (IPv4, IPv6). */
  /** Frames the victim sent, and how many of them the last injected frame caused directly (before any answer of the peer). */
  vSent = 0;
  direct = 0;
  /** The times of frames the victim's own timers sent (not its answers to the peer); the owner empties it. */
  timerSent: number[] = [];
  listeners: SocketId[] = [];
  udp: SocketId[] = [];
  conns: LiveConn[] = [];
  private peerListener: SocketId = 0;

  constructor() {
    this.vb = new FakeBindings({
      seed: 1,
      clock: this.clock,
      onFrame: (_d, b) => {
        this.vSent++;
        this.toPeer.push(b);
      },
    });
    this.pb = new FakeBindings({
      seed: 2,
      clock: this.clock,
      record: false,
      onFrame: (_d, b) => (this.capture ?? this.toVictim).push(b),
    });
    this.v = new Stack(this.vb, VICTIM_OPTIONS);
    this.p = new Stack(this.pb, PEER_OPTIONS);
    this.vdev = this.v.addEthernetDevice({ mac: VICTIM_MAC });
    this.pdev = this.p.addEthernetDevice({ mac: PEER_MAC_TEXT });
    for (const [s, d, addrs] of [
      [this.v, this.vdev, ["10.77.0.2/24", "fd77::2/64"]],
      [this.p, this.pdev, ["10.77.0.1/24", "fd77::1/64"]],
    ] as const) {
      for (const a of addrs) {
        const e = s.addAddress(d, a);
        if (e !== null) throw new Error(`addAddress ${a}: ${e}`);
      }
    }
  }

  /** Deliver frames both ways until both hosts are quiet (at most `PUMP_LIMIT`). */
  pump(): void {
    this.moved = 0;
    while (this.toPeer.length > 0 || this.toVictim.length > 0) {
      if (this.moved >= PUMP_LIMIT) {
        this.storm = true;
        this.toPeer = [];
        this.toVictim = [];
        return;
      }
      const a = this.toPeer;
      this.toPeer = [];
      for (const f of a) {
        this.moved++;
        this.p.receiveFrame(this.pdev, Buf.from(f, 64, 64));
      }
      const b = this.toVictim;
      this.toVictim = [];
      for (const f of b) {
        this.moved++;
        this.tap?.(f);
        this.v.receiveFrame(this.vdev, Buf.from(f, 64, 64));
      }
    }
  }

  /** Inject a frame into the victim's device (from nowhere the peer sees), then pump. */
  inject(frame: Uint8Array): void {
    const before = this.vSent;
    this.v.receiveFrame(this.vdev, Buf.from(frame, 64, 64));
    this.direct = this.vSent - before;
    this.pump();
  }

  /**
   * Move the clock forward by `ms`, firing both hosts' timers in time order and pumping after each.
   * Returns `storm`.
   */
  advance(ms: number): boolean {
    const t = this.clock.now + ms;
    for (let n = 0; n < 100_000; n++) {
      const at = Math.min(this.vb.wakeAt, this.pb.wakeAt);
      if (at > t) break;
      if (at > this.clock.now) this.clock.now = at;
      if (this.vb.wakeAt <= this.clock.now) {
        this.vb.wakeAt = Infinity;
        const before = this.vSent;
        this.v.handleTimers(this.clock.now);
        for (let i = before; i < this.vSent; i++) this.timerSent.push(this.clock.now);
      } else {
        this.pb.wakeAt = Infinity;
        this.p.handleTimers(this.clock.now);
      }
      this.pump();
    }
    if (t > this.clock.now) this.clock.now = t;
    return this.storm;
  }

  /** Run timers (delayed ACKs, retransmissions) until `done()` or `ms` passed; `done` may act. */
  runUntil(done: () => boolean, ms: number): boolean {
    const end = this.clock.now + ms;
    while (!done()) {
      // Straight to the next timer of either host (nothing else can move).
      const at = Math.min(this.vb.wakeAt, this.pb.wakeAt, end);
      if (this.clock.now >= end) return false;
      this.advance(Math.max(1, at - this.clock.now));
    }
    return true;
  }

  /** Listeners and UDP sockets on the victim, a listener on the peer. */
  open(): void {
    for (const I of [Ipv4, Ipv6] as IpVersion<unknown>[]) {
      const l = this.v.tcp.listen(I, I.unspecified, LISTEN_PORT);
      if (typeof l !== "number") throw new Error(`listen: ${l}`);
      this.listeners.push(l);
      const u = this.v.udp.open(I as typeof Ipv4);
      if (typeof u !== "number") throw new Error(`udp open: ${u}`);
      const e = this.v.udp.bind(u, I.unspecified as never, UDP_PORT);
      if (e !== null) throw new Error(`udp bind: ${e}`);
      this.udp.push(u);
    }
    const pl = this.p.tcp.listen(Ipv4, Ipv4.unspecified, PEER_PORT);
    if (typeof pl !== "number") throw new Error(`peer listen: ${pl}`);
    this.peerListener = pl;
  }

  /** The peer connects to the victim's listener; returns the connection or what failed. */
  connectToVictim(name: string, I: IpVersion<unknown>, localPort?: number): LiveConn | string {
    const dst = I.version === 4 ? V4_VICTIM : V6_VICTIM;
    const p = this.p.tcp.connect(I, null, dst, LISTEN_PORT, localPort !== undefined ? { localPort } : {});
    if (typeof p !== "number") return `${name}: connect failed: ${p}`;
    this.pump();
    let v: SocketId | null = null;
    const l = this.listeners[I.version === 4 ? 0 : 1];
    this.runUntil(() => {
      v ??= this.v.tcp.accept(l);
      return v !== null && this.p.tcp.state(p) === "ESTABLISHED";
    }, 3000);
    if (v === null) return `${name}: the victim accepted no connection (peer ${this.p.tcp.state(p)})`;
    return { name, I, v, p };
  }

  /** The victim connects to the peer. */
  connectFromVictim(name: string): LiveConn | string {
    const v = this.v.tcp.connect(Ipv4, null, V4_PEER, PEER_PORT);
    if (typeof v !== "number") return `${name}: connect failed: ${v}`;
    this.pump();
    let p: SocketId | null = null;
    this.runUntil(() => {
      p ??= this.p.tcp.accept(this.peerListener);
      return p !== null && this.v.tcp.state(v) === "ESTABLISHED";
    }, 3000);
    if (p === null) return `${name}: the peer accepted no connection (victim ${this.v.tcp.state(v)})`;
    return { name, I: Ipv4 as IpVersion<unknown>, v, p };
  }

  /**
   * Send `a` from the peer and `b` from the victim on `c` and run until both arrived; returns null
   * or what went wrong (the bytes read are compared, not just counted).
   */
  exchange(c: LiveConn, a: Uint8Array, b: Uint8Array, ms = 5000): string | null {
    const got = { v: [] as Uint8Array[], p: [] as Uint8Array[], nv: 0, np: 0 };
    let ia = 0;
    let ib = 0;
    const step = (): boolean => {
      if (ia < a.length) {
        const n = this.p.tcp.send(c.p, a, ia);
        if (typeof n === "number") ia += n;
      }
      if (ib < b.length) {
        const n = this.v.tcp.send(c.v, b, ib);
        if (typeof n === "number") ib += n;
      }
      this.pump();
      for (const [s, id, side] of [
        [this.v, c.v, "v"],
        [this.p, c.p, "p"],
      ] as const) {
        for (;;) {
          const r = s.tcp.recv(id);
          if (r === null || r.length === 0) break;
          got[side].push(r);
          if (side === "v") got.nv += r.length;
          else got.np += r.length;
        }
      }
      return got.nv >= a.length && got.np >= b.length;
    };
    const ok = this.runUntil(step, ms);
    if (!ok) {
      return (
        `${c.name}: ${got.nv}/${a.length} bytes reached the victim and ${got.np}/${b.length} the peer ` +
        `(victim ${this.v.tcp.state(c.v)}, peer ${this.p.tcp.state(c.p)})`
      );
    }
    if (!sameBytes(got.v, a)) return `${c.name}: the bytes the victim read differ from what the peer sent`;
    if (!sameBytes(got.p, b)) return `${c.name}: the bytes the peer read differ from what the victim sent`;
    return null;
  }

  /** Peer frames produced by `act` (not delivered): the peer's next frames in this state. */
  capturePeer(act: () => void): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.capture = out;
    try {
      act();
    } finally {
      this.capture = null;
    }
    return out;
  }
}

function sameBytes(parts: Uint8Array[], want: Uint8Array): boolean {
  let o = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) if (want[o + i] !== p[i]) return false;
    o += p.length;
  }
  return o === want.length;
}

/** A deterministic payload: `n` bytes from `seed`. */
export function payload(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

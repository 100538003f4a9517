/**
 * Target "stack": the whole Stack (src/stack.ts), live, fed a sequence of frames.
 *
 * The host (`newHost`, see `live.ts`): the victim Stack, 12:e0:69:8e:f3:3c with 10.77.0.2/24 and
 * fd77::2/64 (the receiving side of test/fixtures/*.pcap, so real frames arrive addressed to it),
 * with TCP listeners on port 8080 (IPv4, IPv6), UDP sockets on port 9999, and three ESTABLISHED
 * TCP connections to a peer Stack (62:71:28:ca:55:4a, 10.77.0.1, fd77::1) on a direct in-process
 * link: accepted over IPv4 and IPv6, and opened by the victim. Small bounds (`VICTIM_OPTIONS`) so
 * the fuzzer reaches them. A fresh, identical host per input, so a reproducer replays alone and the
 * live conversation's frames (captured once as seeds) carry valid sequence numbers.
 *
 * Input: records `[u16 h][frame]`: the frame is `h & 0x3fff` bytes (cut at the end of the input),
 * and `h >>> 14` advances the virtual clock before it (0, 10 ms, 1 s, 61 s), firing both hosts'
 * timers. A frame is injected into the victim's device; what the victim sends goes to the peer and
 * back until both are quiet. A record starting with `LIVE_MAGIC` is a live operation instead: the
 * peer's next real segment on a connection (or its ACK to the victim's data), taken off the wire,
 * patched, cut or fragmented as the record says, and injected, so sequence numbers are near-valid
 * whatever happened before (see `liveRecord`).
 *
 * Invariants after every frame: nothing escapes; `stack.internal-error` stays 0 on both hosts;
 * counters are non-negative integers; `ethernet.tx` equals the frames the victim sent; every frame
 * it sends decodes (`decodeFrame`) and comes from its MAC; one injected frame makes it send at most
 * 8 frames directly, timers at most 8 per second of virtual time; no exchange with the peer that a
 * frame starts runs away (a storm: more than `PUMP_LIMIT` frames); every bounded structure within its bound (neighbour
 * entries and queued packets, reassembly datagrams and bytes, path MTU entries, TCP connections,
 * SYN queues and accept queues, UDP receive queues). After the sequence: a UDP datagram to 9999 is
 * delivered intact; each connection the fuzz frames did not legitimately change (an injected frame
 * that moved its RCV.NXT, SND.UNA, state, TS.Recent or out-of-order data: a blind attacker with the right numbers can
 * do that to any TCP) still carries fresh data both ways, byte-exact, and when one was changed or
 * reset, a new connection to the listener does.
 */
import { Ipv4, Ipv6 } from "../../src/ip/version.ts";
import { BytesBody, TooBig } from "../../src/packet/serialize.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { seqGt } from "../../src/transport/tcp/seqnum.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { EthernetBuilder, EtherType } from "../../src/wire/ethernet.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4Builder } from "../../src/wire/ipv4.ts";
import { UdpBuilder } from "../../src/wire/udp.ts";
import { type FuzzTarget, hex, type LengthField, parseStats } from "../target.ts";
import { decodeTarget } from "./decode.ts";
import { FragKind, fragmentFrame } from "./frag.ts";
import {
  type LiveConn,
  LivePair,
  PUMP_LIMIT,
  payload,
  UDP_PORT,
  V4_PEER,
  V4_VICTIM,
  VICTIM_MAC,
  VICTIM_OPTIONS,
} from "./live.ts";

export const STACK_MAC = VICTIM_MAC;
const OUR_MAC = Uint8Array.of(0x12, 0xe0, 0x69, 0x8e, 0xf3, 0x3c);
const PEER_MAC = Uint8Array.of(0x62, 0x71, 0x28, 0xca, 0x55, 0x4a);
const FD77 = Uint8Array.of(0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
/** Records a generated input holds at most; `BATCH` of them are joined into one execution. */
const MAX_FRAMES = 16;
/** Records one input may hold when replayed (a joined batch). */
const MAX_RECORDS = 1024;
/** Generated inputs joined into one execution: the live host is built once for all of them. */
export const BATCH = 32;
const MAX_OUT_PER_FRAME = 8;
const ADVANCE = [0, 10, 1000, 61_000];

/**
 * Findings reported to the lead and not fixed yet (each has a reproducer in fuzz/regressions/,
 * listed in OPEN). While `tolerateKnown` is on (the seeded test and long runs), an input that
 * shows one goes on (a storm is cut short, as a lossy link would) and is counted in `knownHits`
 * instead of being a finding, so the run keeps exploring; the regression replay turns it off.
 * Remove an entry with its fix. Names used by the checks: "ack-loop" (a storm), "rto-sndmax" (a
 * connection stalled with SND.NXT ahead of SND.MAX).
 */
export const KNOWN: Record<string, string> = {
  // Empty: the ACK loop (stack-1fe4b338) and the RTO past SND.MAX (stack-8db7233a) were fixed.
};
export const stackOptions = { tolerateKnown: true };
export const knownHits: Record<string, number> = {};

function known(name: string): boolean {
  if (!Object.hasOwn(KNOWN, name)) return false;
  knownHits[name] = (knownHits[name] ?? 0) + 1;
  return stackOptions.tolerateKnown;
}

/** What a storm and a stalled sender are called in findings. */
const STORM = "the exchange with the peer ran past";
const SNDMAX = "SND.NXT ahead of SND.MAX";

/** A record that is a live operation: `fe ed 4c 56 op conn len:u16 cut:u16 (off:u16 xor:u8)*`. */
export const LIVE_MAGIC = Uint8Array.of(0xfe, 0xed, 0x4c, 0x56);
/** Live operation kinds (`op & 3`). */
export const LiveOp = {
  /** The peer's next data segment (`len` bytes), patched. */
  PeerData: 0,
  /** The peer's ACK of `len` bytes the victim sent, patched. */
  PeerAck: 1,
  /** The peer's next data segment as an IP fragment chain (`op >> 4 & 3` = `FragKind`), patched first. */
  PeerFragments: 2,
  /** The victim sends `len` bytes to the peer (ordinary traffic; nothing injected). */
  VictimData: 3,
} as const;
/** `op` bit: recompute checksums after patching. */
export const LIVE_FIX = 0x80;

/** Split an input into (clock advance, frame) records. */
export function splitFrames(input: Uint8Array, max = MAX_RECORDS): { advance: number; frame: Uint8Array }[] {
  const out: { advance: number; frame: Uint8Array }[] = [];
  let o = 0;
  while (o + 2 <= input.length && out.length < max) {
    const h = (input[o] << 8) | input[o + 1];
    const n = Math.min(h & 0x3fff, input.length - o - 2);
    out.push({ advance: ADVANCE[h >>> 14], frame: input.subarray(o + 2, o + 2 + n) });
    o += 2 + n;
  }
  return out;
}

/** Records back into an input. */
export function joinFrames(frames: readonly { advance?: number; frame: Uint8Array }[]): Uint8Array {
  let n = 0;
  for (const f of frames) n += 2 + Math.min(f.frame.length, 0x3fff);
  const out = new Uint8Array(n);
  let o = 0;
  for (const f of frames) {
    const a = Math.max(0, ADVANCE.indexOf(f.advance ?? 0));
    const len = Math.min(f.frame.length, 0x3fff);
    const h = (a << 14) | len;
    out[o] = h >>> 8;
    out[o + 1] = h & 0xff;
    out.set(f.frame.subarray(0, len), o + 2);
    o += 2 + len;
  }
  return out;
}

/** A live-operation record. */
export function liveRecord(
  op: number,
  conn: number,
  len: number,
  patches: readonly (readonly [off: number, xor: number])[] = [],
  cut = 0,
): Uint8Array {
  const r = new Uint8Array(10 + 3 * patches.length);
  r.set(LIVE_MAGIC, 0);
  r[4] = op;
  r[5] = conn;
  r[6] = len >> 8;
  r[7] = len & 0xff;
  r[8] = cut >> 8;
  r[9] = cut & 0xff;
  patches.forEach(([off, x], i) => {
    r[10 + 3 * i] = off >> 8;
    r[11 + 3 * i] = off & 0xff;
    r[12 + 3 * i] = x;
  });
  return r;
}

function isLive(f: Uint8Array): boolean {
  return f.length >= 10 && f[0] === 0xfe && f[1] === 0xed && f[2] === 0x4c && f[3] === 0x56;
}

/** A victim-side connection's numbers a blind attacker can move with the right segment. */
function connKey(h: Host, c: LiveConn): string {
  const x = h.pair.v.tcp.connection(c.v);
  if (x === null) return "gone";
  // Out-of-order data counts: a forged segment past RCV.NXT waits there and is delivered when the gap fills.
  return `${x.state} ${x.rcvNxt} ${x.sndUna} ${x.tsRecent} ${x.recvBuf.outOfOrderBytes} ${x.recvBuf.rangeCount}`;
}

export interface Host {
  pair: LivePair;
  /** Frames the victim sent before `vb.frames` was last emptied. */
  taken: number;
  /** Per connection: an injected frame changed it (see the file comment). */
  tainted: boolean[];
}

/** Listeners, UDP sockets, three connections with data exchanged, then idle. Throws when it cannot. */
function build(pair: LivePair): void {
  pair.open();
  for (const [name, I] of [
    ["v4-in", Ipv4],
    ["v6-in", Ipv6],
  ] as const) {
    const c = pair.connectToVictim(name, I as never);
    if (typeof c === "string") throw new Error(c);
    pair.conns.push(c);
  }
  const out = pair.connectFromVictim("v4-out");
  if (typeof out === "string") throw new Error(out);
  pair.conns.push(out);
  pair.conns.forEach((c, i) => {
    const e = pair.exchange(c, payload(300, i), payload(200, i + 10));
    if (e !== null) throw new Error(e);
  });
  // Everything acknowledged, delayed ACKs sent: an idle, synchronized pair.
  pair.advance(500);
}

/** A fresh live host (deterministic: every call builds the same one). */
export function newHost(): Host {
  const pair = new LivePair();
  build(pair);
  const taken = pair.vb.takeFrames().length;
  pair.vb.takeEvents();
  return { pair, taken, tainted: pair.conns.map(() => false) };
}

const INTERNAL = "stack.internal-error";

/** Bound checks on the victim's tables and queues; null or what is over its bound. */
function checkBounds(h: Host): string | null {
  const { v } = h.pair;
  const L = v.limits;
  const u = v.usage();
  if (u.neighborEntries > L.neighborEntries) return `neighbour table at ${u.neighborEntries} > ${L.neighborEntries}`;
  if (u.neighborPending > L.neighborPending) return `neighbour queue at ${u.neighborPending} > ${L.neighborPending}`;
  if (u.reassemblyDatagrams > L.reassemblyDatagrams) return `reassembly at ${u.reassemblyDatagrams} datagrams`;
  if (u.reassemblyBytes > L.reassemblyBytes) return `reassembly holds ${u.reassemblyBytes} bytes`;
  if (u.pmtuEntries > L.pmtuEntries) return `path MTU cache at ${u.pmtuEntries}`;
  if (u.tcpConnections > v.tcp.config.maxConnections) return `${u.tcpConnections} TCP connections`;
  for (const l of h.pair.listeners) {
    const n = v.tcp.pending(l);
    if (n > (VICTIM_OPTIONS.tcp?.defaultBacklog ?? 128)) return `accept queue of listener ${l} at ${n}`;
  }
  // The SYN queues: the layer has no public accessor, read its listeners when they are there.
  const byId = (v.tcp as unknown as { listenersById?: Map<number, { synCount: number }> }).listenersById;
  if (byId !== undefined) {
    for (const l of byId.values()) {
      if (l.synCount > v.tcp.config.synQueueSize || l.synCount < 0) return `SYN queue at ${l.synCount}`;
    }
  }
  for (const id of h.pair.udp) {
    const q = v.udp.queued(id);
    if (q === null) return `UDP socket ${id} vanished`;
    if (q.datagrams > v.udp.limits.recvQueueDatagrams) return `UDP receive queue at ${q.datagrams}`;
    while (v.udp.recv(id) !== null) {}
  }
  return null;
}

function checkHost(h: Host, sentBefore: number, what: string, bound: "frame" | "timers" | "none"): string | null {
  const { v, p, vb } = h.pair;
  for (const [name, s] of [
    ["victim", v],
    ["peer", p],
  ] as const) {
    if (s.counters.get(INTERNAL) !== 0) {
      const e = s.lastInternalError as Error | null;
      const at = (e?.stack ?? "").split("\n").find((l) => l.includes("/src/")) ?? "";
      return `${what}: internal error caught by the ${name}: ${e?.name}: ${e?.message} ${at.trim()}`;
    }
  }
  const storm = h.pair.storm;
  if (storm) {
    h.pair.storm = false;
    if (!known("ack-loop")) return `${what}: ${STORM} ${PUMP_LIMIT} frames (a storm)`;
  }
  const c = v.counters;
  for (const x of c.values) {
    if (!(x >= 0) || !Number.isInteger(x)) return `${what}: a counter holds ${x}`;
  }
  const tx = c.get("ethernet.tx");
  if (tx !== h.taken + vb.frames.length) {
    return `${what}: ethernet.tx counts ${tx} frames, the bindings saw ${h.taken + vb.frames.length}`;
  }
  // The answer to the attacker's frame itself; the exchange with the peer it may start is bounded
  // by the storm check.
  const sent = h.pair.direct;
  if (bound === "frame" && sent > MAX_OUT_PER_FRAME) return `${what}: answered with ${sent} frames`;
  if (bound === "timers") {
    // Timers over a long advance legitimately send many frames (retransmitted solicitations,
    // reassembly time-outs): bound them per second of virtual time instead.
    const perSecond = new Map<number, number>();
    for (const t of h.pair.timerSent) {
      const sec = Math.floor(t / 1000);
      const n = (perSecond.get(sec) ?? 0) + 1;
      if (n > MAX_OUT_PER_FRAME) return `${what}: sent ${n} frames within one second`;
      perSecond.set(sec, n);
    }
  }
  for (let i = sentBefore; i < vb.frames.length; i++) {
    const f = vb.frames[i].bytes;
    const d = decodeFrame(f);
    if (!d.record.ok) return `${what}: sent a malformed frame (${d.record.error}): ${hex(f.subarray(0, 80))}`;
    for (let k = 0; k < 6; k++) {
      if (f[6 + k] !== OUR_MAC[k]) return `${what}: sent a frame from ${hex(f.subarray(6, 12))}`;
    }
  }
  const b = checkBounds(h);
  if (b !== null) return `${what}: ${b}`;
  // Keep memory flat over long inputs: checked frames and events go.
  h.taken += vb.frames.length;
  vb.frames.length = 0;
  h.pair.timerSent.length = 0;
  vb.events.length = 0;
  return null;
}

/** Inject `frames` into the victim, marking the connections they change. */
function injectAll(h: Host, frames: readonly Uint8Array[], genuine: boolean): void {
  const before = h.pair.conns.map((c) => connKey(h, c));
  for (const f of frames) h.pair.inject(f);
  if (genuine) return;
  h.pair.conns.forEach((c, i) => {
    if (connKey(h, c) !== before[i]) h.tainted[i] = true;
  });
}

/** Run a live-operation record (see `LiveOp`). */
function runLive(h: Host, rec: Uint8Array): void {
  const { pair } = h;
  const op = rec[4];
  const conn = pair.conns[rec[5] % pair.conns.length];
  const len = 1 + (((rec[6] << 8) | rec[7]) % 1400);
  const cut = (rec[8] << 8) | rec[9];
  const kind = op & 3;
  const data = payload(len, op ^ (rec[5] << 8));
  let captured: Uint8Array[];
  if (kind === LiveOp.VictimData) {
    pair.v.tcp.send(conn.v, data);
    pair.pump();
    return;
  }
  if (kind === LiveOp.PeerAck) {
    pair.v.tcp.send(conn.v, data);
    captured = pair.capturePeer(() => {
      pair.pump();
      if (pair.capture?.length === 0) pair.advance(50);
    });
  } else {
    captured = pair.capturePeer(() => {
      pair.p.tcp.send(conn.p, data);
    });
  }
  // The first TCP segment the peer sent (not a neighbour solicitation).
  const seg = captured.find((f) => f.length > 14 && ((f[12] << 8) | f[13]) !== EtherType.Arp);
  if (seg === undefined) return;
  let f = seg.slice();
  for (let i = 10; i + 3 <= rec.length; i += 3) {
    const off = ((rec[i] << 8) | rec[i + 1]) % f.length;
    f[off] ^= rec[i + 2];
  }
  if (cut > 0 && cut < f.length) f = f.slice(0, cut);
  if (op & LIVE_FIX) decodeTarget.fixup?.(f);
  const same = f.length === seg.length && hex(f) === hex(seg);
  if (kind === LiveOp.PeerFragments) {
    const chain = fragmentFrame(f, ((op >> 4) & 3) as FragKind, 8 * (1 + (rec[7] % 40)), (rec[6] << 8) | rec[7]);
    injectAll(h, chain ?? [f], same && (op & 0x30) === 0);
    return;
  }
  injectAll(h, [f], same);
}

/** A well-formed UDP datagram from the peer (10.77.0.1:5000) to the victim's port 9999. */
function probe(data: Uint8Array): Uint8Array {
  const r = new BytesBody(data)
    .wrapIn(new UdpBuilder(V4_PEER, V4_VICTIM, 5000, UDP_PORT))
    .wrapIn(new Ipv4Builder(V4_PEER, V4_VICTIM, IpProto.Udp))
    .wrapIn(new EthernetBuilder(PEER_MAC as never, OUR_MAC as never, EtherType.Ipv4))
    .serialize();
  if (r instanceof TooBig) throw new Error("probe too big");
  return r.toBytes();
}

const PROBE_PAYLOAD = new TextEncoder().encode("still alive after the fuzz frames");
const PROBE = probe(PROBE_PAYLOAD);

/** The peer announcing itself (a gratuitous ARP reply, an unsolicited NA with Override): undoes spoofing. */
function announcements(): Uint8Array[] {
  const arp = new Uint8Array(42);
  arp.set(OUR_MAC, 0);
  arp.set(PEER_MAC, 6);
  arp.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
  arp.set(PEER_MAC, 22);
  arp.set([10, 77, 0, 1], 28);
  arp.set(OUR_MAC, 32);
  arp.set([10, 77, 0, 2], 38);
  const na = new Uint8Array(14 + 40 + 32);
  na.set(OUR_MAC, 0);
  na.set(PEER_MAC, 6);
  na.set([0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255], 12);
  na.set(FD77, 22);
  na[37] = 1;
  na.set(FD77, 38);
  na[53] = 2;
  na.set([136, 0, 0, 0, 0x20, 0, 0, 0], 54);
  na.set(FD77, 62);
  na[77] = 1;
  na.set([2, 1], 78);
  na.set(PEER_MAC, 80);
  decodeTarget.fixup?.(na);
  return [arp, na];
}
const ANNOUNCE = announcements();

function sndMaxBehind(s: LivePair["v"], id: number): boolean {
  const x = s.tcp.connection(id);
  return x !== null && seqGt(x.sndNxt, x.sndMax);
}

/** After the records: the probe datagram, the connections, a new connection when needed. */
function checkLiveness(h: Host): string | null {
  const { pair } = h;
  const { v, p } = pair;
  pair.inject(PROBE);
  const got = v.udp.recv(pair.udp[0]);
  if (got === null) return "after the frames, a well-formed UDP datagram to port 9999 was not delivered";
  if (hex(got.data) !== hex(PROBE_PAYLOAD)) return "after the frames, the probe datagram arrived changed";
  for (const f of ANNOUNCE) pair.inject(f);
  // Let the conversation settle: retransmissions of segments the live operations took off the
  // wire, zero-window probes, delayed ACKs.
  const idle = (): boolean =>
    pair.conns.every((c, i) => {
      if (h.tainted[i]) return true;
      const a = v.tcp.info(c.v);
      const b = p.tcp.info(c.p);
      return a === null || b === null || (a.sendBuffered === 0 && b.sendBuffered === 0);
    });
  pair.runUntil(idle, 30_000);
  let needNew = false;
  for (let i = 0; i < pair.conns.length; i++) {
    const c = pair.conns[i];
    const vs = v.tcp.state(c.v);
    const ps = p.tcp.state(c.p);
    if (h.tainted[i] || vs !== "ESTABLISHED" || ps !== "ESTABLISHED") {
      // Reset or moved by a frame a blind attacker could send: it may be dead, not broken.
      needNew = true;
      continue;
    }
    while ((v.tcp.recv(c.v)?.length ?? 0) > 0) {}
    while ((p.tcp.recv(c.p)?.length ?? 0) > 0) {}
    const e = pair.exchange(c, payload(3000, 77 + i), payload(2500, 99 + i), 30_000);
    if (e !== null) {
      const stuck = sndMaxBehind(v, c.v) || sndMaxBehind(p, c.p);
      if (stuck && known("rto-sndmax")) {
        needNew = true;
        continue;
      }
      return `after the frames, ${e}${stuck ? ` (${SNDMAX})` : ""}`;
    }
  }
  if (!needNew) return null;
  // The application drains the accept queues (as a server does) before the new client comes.
  for (const l of pair.listeners) {
    for (let id = v.tcp.accept(l); id !== null; id = v.tcp.accept(l)) v.tcp.abort(id);
  }
  pair.pump();
  const c = pair.connectToVictim("new", Ipv4 as never, 40_000);
  if (typeof c === "string") return `after the frames, a new connection failed: ${c}`;
  const e = pair.exchange(c, payload(3000, 5), payload(2500, 6), 30_000);
  return e === null ? null : `after the frames, on a new connection: ${e}`;
}

/** The host of the last `runStack` (tests look inside). */
export let lastHost: Host | null = null;

export function runStack(input: Uint8Array): string | null {
  const h = newHost();
  lastHost = h;
  const { pair } = h;
  const frames = splitFrames(input);
  for (let i = 0; i < frames.length; i++) {
    const { advance, frame } = frames[i];
    let before = pair.vb.frames.length;
    if (advance > 0) {
      pair.advance(advance);
      const e = checkHost(h, before, `timers before frame ${i}`, "timers");
      if (e !== null) return e;
      before = pair.vb.frames.length;
    }
    if (isLive(frame)) {
      runLive(h, frame);
      const e = checkHost(h, before, `live operation ${i}`, "none");
      if (e !== null) return e;
      continue;
    }
    // The stack owns the buffer it is given: `inject` hands it a copy with room around it.
    injectAll(h, [frame], false);
    const e = checkHost(h, before, `frame ${i}`, "frame");
    if (e !== null) return e;
  }
  parseStats.ok++;
  const before = pair.vb.frames.length;
  const e = checkLiveness(h) ?? checkHost(h, before, "the liveness check", "none");
  return e;
}

// ---- seeds ----

let conversation: { peer: Uint8Array[]; next: Uint8Array[][] } | null = null;

/**
 * The live conversation, captured once: every frame the peer sent the victim while the host was
 * built (handshakes, data, ACKs, neighbour resolution), and, per connection, frames the peer would
 * send next from the built state: a data segment, its FIN, its RST.
 */
export function liveConversation(): { peer: Uint8Array[]; next: Uint8Array[][] } {
  if (conversation !== null) return conversation;
  const peer: Uint8Array[] = [];
  const pair = new LivePair();
  pair.tap = (f) => peer.push(f.slice());
  build(pair);
  const next: Uint8Array[][] = [];
  for (let i = 0; i < pair.conns.length; i++) {
    const frames: Uint8Array[] = [];
    for (const act of ["data", "fin", "rst"] as const) {
      const h = newHost();
      const c = h.pair.conns[i];
      frames.push(
        ...h.pair.capturePeer(() => {
          if (act === "data") h.pair.p.tcp.send(c.p, payload(100, i));
          else if (act === "fin") h.pair.p.tcp.shutdown(c.p);
          else h.pair.p.tcp.abort(c.p);
        }),
      );
    }
    next.push(frames);
  }
  conversation = { peer, next };
  return conversation;
}

/** Seeds made from the live conversation: next frames alone and in runs, fragment chains, live operations. */
function liveSeeds(): Uint8Array[] {
  const { peer, next } = liveConversation();
  const out: Uint8Array[] = [];
  for (const frames of next) {
    for (const f of frames) out.push(joinFrames([{ frame: f }]));
    out.push(joinFrames(frames.map((frame) => ({ frame }))));
    for (const kind of [FragKind.Plain, FragKind.Tiny, FragKind.Overlap, FragKind.Beyond]) {
      const chain = fragmentFrame(frames[0], kind, 48);
      if (chain !== null) out.push(joinFrames(chain.slice(0, MAX_FRAMES).map((frame) => ({ frame }))));
    }
  }
  for (let i = 0; i < peer.length; i += 6) out.push(joinFrames(peer.slice(i, i + 8).map((frame) => ({ frame }))));
  for (let c = 0; c < 3; c++) {
    out.push(
      joinFrames([
        { frame: liveRecord(LiveOp.PeerData, c, 100) },
        { frame: liveRecord(LiveOp.PeerData | LIVE_FIX, c, 200, [[47, 0x04]]) },
        { frame: liveRecord(LiveOp.PeerAck | LIVE_FIX, c, 10, [[46, 0x02]]) },
        { frame: liveRecord(LiveOp.VictimData, c, 500), advance: 10 },
        { frame: liveRecord(LiveOp.PeerFragments | (FragKind.Overlap << 4), c, 300) },
        { frame: liveRecord(LiveOp.PeerFragments | (FragKind.Tiny << 4), c, 64) },
        { frame: liveRecord(LiveOp.PeerFragments | (FragKind.Beyond << 4), c, 900) },
      ]),
    );
  }
  return out;
}

export const stackTarget: FuzzTarget = {
  name: "stack",
  description:
    "a live Stack (TCP listeners, established connections to a peer, UDP) fed sequences of frames: bounds, no storms, liveness",
  maxLen: 512,
  batch: BATCH,
  join: (inputs) => {
    const recs: { advance: number; frame: Uint8Array }[] = [];
    for (const x of inputs) recs.push(...splitFrames(x, MAX_FRAMES));
    return joinFrames(recs);
  },
  seedsFromFrames(frames) {
    // Each fixture frame alone, and runs of consecutive frames (fragment chains, handshakes).
    const out = frames.map((f) => joinFrames([{ frame: f }]));
    for (let i = 0; i + 1 < frames.length; i += 4)
      out.push(joinFrames(frames.slice(i, i + 6).map((frame) => ({ frame }))));
    return [...out, ...liveSeeds()];
  },
  builtSeeds: (rng: Rng) => [
    joinFrames([{ frame: PROBE }]),
    joinFrames(decodeTarget.builtSeeds(rng).map((frame) => ({ frame, advance: 10 }))),
  ],
  lengthFields(b) {
    const fields: LengthField[] = [];
    let o = 0;
    for (const r of splitFrames(b)) {
      fields.push({ off: o, size: 2 });
      const base = o + 2;
      if (!isLive(r.frame)) {
        for (const f of decodeTarget.lengthFields?.(r.frame) ?? []) fields.push({ ...f, off: base + f.off });
      } else {
        fields.push({ off: base + 6, size: 2 }, { off: base + 8, size: 2 });
      }
      o += 2 + r.frame.length;
    }
    return fields;
  },
  fixup(b) {
    // Fix the checksums of every frame in place (the records are subarrays of `b`).
    for (const r of splitFrames(b)) if (!isLive(r.frame)) decodeTarget.fixup?.(r.frame);
  },
  soup(rng, base) {
    const frames: { frame: Uint8Array; advance: number }[] =
      base !== null ? splitFrames(base, MAX_FRAMES).map((r) => ({ frame: r.frame.slice(), advance: r.advance })) : [];
    let f: Uint8Array;
    if (rng.chance(0.3)) {
      // A live operation with random patches.
      const patches: [number, number][] = [];
      for (let i = rng.int(4); i > 0; i--) patches.push([14 + rng.int(80), 1 << rng.int(8)]);
      f = liveRecord(rng.int(256), rng.int(3), rng.int(1400), patches, rng.chance(0.2) ? rng.int(120) : 0);
    } else {
      f = decodeTarget.soup?.(rng, null) ?? new Uint8Array(0);
      if (f.length >= 14) {
        f.set(OUR_MAC, 0);
        f.set(PEER_MAC, 6);
        // Address the packet to us, from the peer, so it gets past the IP layer's filter.
        const type = (f[12] << 8) | f[13];
        if (type === EtherType.Ipv4 && f.length >= 34) f.set(Uint8Array.of(10, 77, 0, 1, 10, 77, 0, 2), 26);
        if (type === EtherType.Ipv6 && f.length >= 54) {
          f.set(FD77, 22);
          f[37] = 1;
          f.set(FD77, 38);
          f[53] = 2;
        }
        decodeTarget.fixup?.(f);
      }
    }
    frames.splice(rng.int(frames.length + 1), 0, { frame: f, advance: ADVANCE[rng.int(4)] });
    return joinFrames(frames.slice(0, MAX_FRAMES));
  },
  framesOf: (input) => splitFrames(input).length,
  run: runStack,
};

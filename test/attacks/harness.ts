/**
 * The attack lab (issue 6, "Attacks the stack must survive"): a victim Stack `v` and a legitimate
 * client Stack `c` on one FakeNetwork link, an attacker that injects crafted frames straight into
 * the victim's device, frame builders for every header the attacks lie in, a record of what the
 * victim put on the wire, the bound checks run after every attack, and the legitimate TCP
 * connection that must succeed once the attack is over.
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import type { StackEvent } from "../../src/context.ts";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, parseMac, parseV4, parseV6 } from "../../src/ip/addr.ts";
import { type IpVersion, Ipv4, Ipv6 } from "../../src/ip/version.ts";
import { DEFAULT_STACK_LIMITS, type Stack, type StackLimits, type StackOptions } from "../../src/stack.ts";
import { FakeNetwork } from "../../src/testing/fake-network.ts";
import { DEFAULT_TCP_CONFIG } from "../../src/transport/tcp/config.ts";
import { finish, pseudoSum, sumBytes } from "../../src/wire/checksum.ts";
import { EtherType } from "../../src/wire/ethernet.ts";
import { Icmpv4EchoBuilder, Icmpv4Type } from "../../src/wire/icmpv4.ts";
import { Icmpv6EchoBuilder, Icmpv6Type } from "../../src/wire/icmpv6.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4Builder, Ipv4View } from "../../src/wire/ipv4.ts";
import { Ipv6Builder, type Ipv6ExtHeader, type Ipv6FragFields, Ipv6View } from "../../src/wire/ipv6.ts";
import { TcpBuilder } from "../../src/wire/tcp.ts";
import { UdpBuilder } from "../../src/wire/udp.ts";
import { addHost, pattern, settle } from "../scenarios/helpers.ts";

export const V_MAC = parseMac("02:00:00:00:00:02")!;
export const C_MAC = parseMac("02:00:00:00:00:01")!;
/** The attacker's MAC (frames are injected; nothing listens on it). */
export const M_MAC = parseMac("02:00:00:00:00:66")!;
export const V4 = parseV4("10.0.0.2")!;
export const C4 = parseV4("10.0.0.1")!;
export const V6 = parseV6("2001:db8::2")!;
export const C6 = parseV6("2001:db8::1")!;
/** A port the victim listens on (`lab` opens it, both versions). */
export const PORT = 80;
/** A port nobody listens on. */
export const CLOSED = 81;

/** A decoded frame the victim sent. */
export interface Sent {
  bytes: Uint8Array;
  etherType: number;
  /** IP version (0 for ARP), protocol after extension headers, addresses as text. */
  ip: 0 | 4 | 6;
  proto: number;
  src: string;
  dst: string;
  /** For TCP: the segment. */
  tcp: { sport: number; dport: number; seq: number; ack: number; flags: number; len: number } | null;
  /** For ICMP: type and code. */
  icmp: { type: number; code: number } | null;
}

export interface Lab {
  net: FakeNetwork<Stack>;
  v: Stack;
  c: Stack;
  /** Frames the victim transmitted since the last `clear()`. */
  sent: Sent[];
  /** Listener ids on `PORT` (IPv4, IPv6). */
  lst4: number;
  lst6: number;
  inject(frame: Uint8Array): void;
  /** Run the network until idle or `ms` of virtual time passed. */
  run(ms?: number): void;
  clear(): void;
}

/** Victim and client on one link; the victim listens on `PORT` (v4 and v6); default routes via the client. */
export function lab(options: StackOptions = {}, seed = 1, backlog?: number): Lab {
  const net = new FakeNetwork<Stack>({ seed, record: false });
  const v = addHost(net, "v", {
    macs: ["02:00:00:00:00:02"],
    addrs: [["10.0.0.2/24", "2001:db8::2/64"]],
    options,
  }).stack;
  const c = addHost(net, "c", { macs: ["02:00:00:00:00:01"], addrs: [["10.0.0.1/24", "2001:db8::1/64"]] }).stack;
  // Replies to spoofed off-link sources go to the client's MAC, which drops them (no forwarding).
  v.addRoute("0.0.0.0/0", { gateway: "10.0.0.1" });
  v.addRoute("::/0", { gateway: "2001:db8::1" });
  net.link(["v", 1], ["c", 1], { latency: 1 });
  settle(net);
  const lst4 = v.tcp.listen(Ipv4, Ipv4.unspecified, PORT, backlog);
  const lst6 = v.tcp.listen(Ipv6, Ipv6.unspecified, PORT, backlog);
  assert.equal(typeof lst4, "number");
  assert.equal(typeof lst6, "number");
  const sent: Sent[] = [];
  net.tap((r) => {
    if (r.host === "v" && r.dir === "tx") sent.push(decode(r.bytes));
  });
  return {
    net,
    v,
    c,
    sent,
    lst4: lst4 as number,
    lst6: lst6 as number,
    inject: (f) => net.inject(["v", 1], f),
    run: (ms = 1000) => {
      net.runUntilIdle(net.now + ms);
    },
    clear: () => {
      sent.length = 0;
    },
  };
}

function decode(bytes: Uint8Array): Sent {
  const etherType = (bytes[12] << 8) | bytes[13];
  const s: Sent = { bytes: bytes.slice(), etherType, ip: 0, proto: -1, src: "", dst: "", tcp: null, icmp: null };
  let upper = -1;
  let end = bytes.length;
  if (etherType === EtherType.Ipv4) {
    const v = Ipv4View.parse(bytes, 14, bytes.length - 14);
    if (v instanceof Ipv4View) {
      s.ip = 4;
      s.proto = v.proto;
      s.src = Ipv4.format(v.src);
      s.dst = Ipv4.format(v.dst);
      upper = v.payloadOff;
      end = v.off + v.len;
    }
  } else if (etherType === EtherType.Ipv6) {
    const v = Ipv6View.parse(bytes, 14, bytes.length - 14);
    if (v instanceof Ipv6View) {
      s.ip = 6;
      s.proto = v.proto;
      s.src = Ipv6.format(v.src);
      s.dst = Ipv6.format(v.dst);
      upper = v.upperOff;
      end = v.off + v.len;
    }
  }
  if (upper >= 0 && s.proto === IpProto.Tcp) {
    const b = bytes;
    const o = upper;
    const hl = (b[o + 12] >>> 4) * 4;
    s.tcp = {
      sport: (b[o] << 8) | b[o + 1],
      dport: (b[o + 2] << 8) | b[o + 3],
      seq: ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0,
      ack: ((b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11]) >>> 0,
      flags: b[o + 13],
      len: end - o - hl,
    };
  } else if (upper >= 0 && (s.proto === IpProto.Icmp || s.proto === IpProto.Icmpv6)) {
    s.icmp = { type: bytes[upper], code: bytes[upper + 1] };
  }
  return s;
}

// ---- frame builders ----

/** An Ethernet II frame (padded to 60 bytes). */
export function eth(type: number, payload: Uint8Array, dst: MacAddr = V_MAC, src: MacAddr = M_MAC): Uint8Array {
  const f = new Uint8Array(Math.max(60, 14 + payload.length));
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = type >>> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

export interface Ip4Opts {
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  fragOffset?: number;
  options?: Uint8Array;
}

/** An IPv4 packet around `payload` (checksum right). */
export function ip4(src: Ipv4Addr, dst: Ipv4Addr, proto: number, payload: Uint8Array, o: Ip4Opts = {}): Uint8Array {
  const b = new Ipv4Builder(src, dst, proto, o.ttl ?? 64);
  b.id = o.id ?? 1;
  b.df = o.df ?? false;
  b.mf = o.mf ?? false;
  b.fragOffset = o.fragOffset ?? 0;
  if (o.options) b.options = o.options;
  const p = new Uint8Array(b.headerLen + payload.length);
  p.set(payload, b.headerLen);
  b.serialize(p, 0, payload.length);
  return p;
}

export interface Ip6Opts {
  hopLimit?: number;
  exts?: Ipv6ExtHeader[];
  frag?: Ipv6FragFields | null;
}

/** An IPv6 packet around `payload`; `next` is the upper layer after `exts` and `frag`. */
export function ip6(src: Ipv6Addr, dst: Ipv6Addr, next: number, payload: Uint8Array, o: Ip6Opts = {}): Uint8Array {
  const b = new Ipv6Builder(src, dst, next, { hopLimit: o.hopLimit ?? 64, exts: o.exts, frag: o.frag ?? null });
  const hl = b.headerLen;
  const p = new Uint8Array(hl + payload.length);
  p.set(payload, hl);
  b.serialize(p, 0, payload.length);
  return p;
}

export interface SegOpts {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags: number;
  window?: number;
  data?: Uint8Array;
  mss?: number;
  /** Timestamps option [tsVal, tsEcr]. */
  ts?: [number, number];
}

/** A TCP segment from `src` to `dst` (checksum right for that pseudo-header). */
export function seg(src: Ipv4Addr | Ipv6Addr, dst: Ipv4Addr | Ipv6Addr, o: SegOpts): Uint8Array {
  const t = new TcpBuilder(src, dst);
  t.srcPort = o.sport ?? 40000;
  t.dstPort = o.dport ?? PORT;
  t.seq = (o.seq ?? 1000) >>> 0;
  t.ack = (o.ack ?? 0) >>> 0;
  t.flags = o.flags;
  t.window = o.window ?? 65535;
  if (o.mss !== undefined) t.options.mss = o.mss;
  if (o.ts !== undefined) t.options.setTs(o.ts[0], o.ts[1]);
  const data = o.data ?? new Uint8Array(0);
  const hl = t.headerLen;
  const p = new Uint8Array(hl + data.length);
  p.set(data, hl);
  t.serialize(p, 0, data.length);
  return p;
}

/** Recompute the checksum of a TCP (`field` 16) or UDP (`field` 6) packet `p` after editing it. */
export function fixChecksum(p: Uint8Array, src: Ipv4Addr | Ipv6Addr, dst: Ipv4Addr | Ipv6Addr, proto: number) {
  const field = proto === IpProto.Tcp ? 16 : 6;
  p[field] = 0;
  p[field + 1] = 0;
  let c = finish(sumBytes(p, 0, p.length, pseudoSum(src, dst, proto, p.length)));
  if (c === 0 && proto === IpProto.Udp) c = 0xffff;
  p[field] = c >>> 8;
  p[field + 1] = c & 0xff;
  return p;
}

/** A UDP datagram (checksum right). */
export function dgram(
  src: Ipv4Addr | Ipv6Addr,
  dst: Ipv4Addr | Ipv6Addr,
  sport: number,
  dport: number,
  data: Uint8Array,
) {
  const u = new UdpBuilder(src, dst, sport, dport);
  const p = new Uint8Array(8 + data.length);
  p.set(data, 8);
  u.serialize(p, 0, data.length);
  return p;
}

export function build(
  b: { headerLen: number; serialize(x: Uint8Array, o: number, n: number): void },
  data: Uint8Array,
) {
  const p = new Uint8Array(b.headerLen + data.length);
  p.set(data, b.headerLen);
  b.serialize(p, 0, data.length);
  return p;
}

/** An ICMPv4 echo request (id 7). */
export function echo4(seq: number, data: Uint8Array): Uint8Array {
  return build(new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, 7, seq), data);
}

/** An ICMPv6 echo request (id 7) from `src` to `dst`. */
export function echo6(src: Ipv6Addr, dst: Ipv6Addr, seq: number, data: Uint8Array): Uint8Array {
  return build(new Icmpv6EchoBuilder(src, dst, Icmpv6Type.EchoRequest, 7, seq), data);
}

/** A TCP segment in an IPv4 frame to the victim. */
export function tcp4(o: SegOpts, src: Ipv4Addr = C4, dst: Ipv4Addr = V4, ip: Ip4Opts = {}): Uint8Array {
  return eth(EtherType.Ipv4, ip4(src, dst, IpProto.Tcp, seg(src, dst, o), ip));
}

/** A TCP segment in an IPv6 frame to the victim. */
export function tcp6(o: SegOpts, src: Ipv6Addr = C6, dst: Ipv6Addr = V6): Uint8Array {
  return eth(EtherType.Ipv6, ip6(src, dst, IpProto.Tcp, seg(src, dst, o)));
}

/** The 32-bit IPv4 address 10.<a>.<b>.<c> style spoofed source number `i` (off-link, unique). */
export function spoof4(i: number): Ipv4Addr {
  return ((172 << 24) | (16 << 16) | (i & 0xffff)) as Ipv4Addr;
}

/** A spoofed off-link IPv6 source number `i`. */
export function spoof6(i: number): Ipv6Addr {
  const a = parseV6("2001:db8:bad::")!;
  a[14] = (i >>> 8) & 0xff;
  a[15] = i & 0xff;
  return a;
}

// ---- checks ----

/** Every bounded structure of `s` is within its bound, and no exception escaped the stack. */
export function assertBounded(s: Stack, limits: Partial<StackLimits> = {}, maxConnections?: number): void {
  const L = { ...DEFAULT_STACK_LIMITS, ...limits };
  assert.equal(s.counters.get("stack.internal-error"), 0, String(s.lastInternalError));
  const u = s.usage();
  assert.ok(u.neighborEntries <= L.neighborEntries, `neighbour entries ${u.neighborEntries} <= ${L.neighborEntries}`);
  assert.ok(u.neighborPending <= L.neighborPending, `pending ${u.neighborPending} <= ${L.neighborPending}`);
  assert.ok(u.reassemblyDatagrams <= L.reassemblyDatagrams, `reassembly datagrams ${u.reassemblyDatagrams}`);
  assert.ok(u.reassemblyBytes <= L.reassemblyBytes, `reassembly bytes ${u.reassemblyBytes}`);
  assert.ok(u.pmtuEntries <= L.pmtuEntries, `pmtu entries ${u.pmtuEntries}`);
  assert.ok(u.loopbackQueue <= L.loopbackQueue, "loopback queue");
  const maxConn = maxConnections ?? DEFAULT_TCP_CONFIG.maxConnections;
  assert.ok(u.tcpConnections <= maxConn, `tcp connections ${u.tcpConnections} <= ${maxConn}`);
}

/**
 * A legitimate connection from the client to the victim's `PORT`: 20 kB up, 5 kB back, both intact.
 * Accepts (and closes) whatever else is waiting in the victim's accept queue first.
 */
export function legit<A>(L: Lab, I: IpVersion<A>, up = 20_000, down = 5_000): void {
  const { net, v, c } = L;
  const lst = I.version === 4 ? L.lst4 : L.lst6;
  const dst = (I.version === 4 ? V4 : V6) as unknown as A;
  const ev: StackEvent[] = [];
  const cb = net.bindings("c");
  cb.events.length = 0;
  const conn = c.tcp.connect(I, null, dst, PORT);
  assert.equal(typeof conn, "number", `connect: ${String(conn)}`);
  const id = conn as number;
  const dataUp = pattern(up);
  const dataDown = pattern(down).map((x) => x ^ 0x5a);
  let sentUp = 0;
  let sentDown = 0;
  let srv: number | null = null;
  const gotUp: number[] = [];
  const gotDown: number[] = [];
  const cAddr = I.version === 4 ? "10.0.0.1" : "2001:db8::1";
  const ok = net.runUntil(() => {
    ev.push(...cb.events.splice(0));
    while (srv === null) {
      const a = v.tcp.accept(lst);
      if (a === null) break;
      const r = v.tcp.remoteAddress(a);
      if (r !== null && r.port === c.tcp.address(id)?.port && I.format(r.address as A) === cAddr) srv = a;
      else v.tcp.abort(a);
    }
    if (sentUp < up) {
      const n = c.tcp.send(id, dataUp, sentUp, up - sentUp);
      if (typeof n === "number") sentUp += n;
    }
    if (srv !== null) {
      for (let ch = v.tcp.recv(srv); ch !== null && ch.length > 0; ch = v.tcp.recv(srv)) gotUp.push(...ch);
      if (sentDown < down) {
        const n = v.tcp.send(srv, dataDown, sentDown, down - sentDown);
        if (typeof n === "number") sentDown += n;
      }
    }
    for (let ch = c.tcp.recv(id); ch !== null && ch.length > 0; ch = c.tcp.recv(id)) gotDown.push(...ch);
    return gotUp.length === up && gotDown.length === down;
  }, net.now + 120_000);
  assert.ok(ok, `legitimate transfer finished (up ${gotUp.length}/${up}, down ${gotDown.length}/${down})`);
  assert.deepEqual(Uint8Array.from(gotUp), dataUp, "upload intact");
  assert.deepEqual(Uint8Array.from(gotDown), dataDown, "download intact");
  assert.ok(!ev.some((e) => e.type === "error" && e.socket === id), "no error on the client");
  c.tcp.close(id);
  if (srv !== null) v.tcp.close(srv);
  net.runUntilIdle(net.now + 1000);
}

/** A connection from the client to the victim's `PORT`, established; returns both socket ids. */
export function establish<A>(L: Lab, I: IpVersion<A>): { cid: number; sid: number; cport: number } {
  const dst = (I.version === 4 ? V4 : V6) as unknown as A;
  const cid = L.c.tcp.connect(I, null, dst, PORT);
  assert.equal(typeof cid, "number");
  let sid: number | null = null;
  const lst = I.version === 4 ? L.lst4 : L.lst6;
  const accepted = L.net.runUntil(() => {
    sid ??= L.v.tcp.accept(lst);
    return sid !== null;
  }, L.net.now + 10_000);
  assert.ok(accepted, "accepted");
  L.net.runUntilIdle(L.net.now + 100);
  assert.equal(L.c.tcp.state(cid as number), "ESTABLISHED");
  return { cid: cid as number, sid: sid as unknown as number, cport: L.c.tcp.address(cid as number)!.port };
}

/** Send `data` from one socket and read it all at the other; returns what arrived. */
export function pump(L: Lab, from: Stack, fromId: number, to: Stack, toId: number, data: Uint8Array): Uint8Array {
  let sent = 0;
  const got: number[] = [];
  L.net.runUntil(() => {
    if (sent < data.length) {
      const n = from.tcp.send(fromId, data, sent, data.length - sent);
      if (typeof n === "number") sent += n;
    }
    for (let ch = to.tcp.recv(toId); ch !== null && ch.length > 0; ch = to.tcp.recv(toId)) got.push(...ch);
    return got.length >= data.length;
  }, L.net.now + 60_000);
  return Uint8Array.from(got);
}

let gcFn: (() => void) | null = null;

/** Force a full garbage collection (exposes `gc` through V8 flags when node was started without it). */
export function gc(): void {
  if (gcFn === null) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === "function") gcFn = g;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFn = vm.runInNewContext("gc") as () => void;
    }
  }
  gcFn();
}

/**
 * Bytes in use after a full collection: the JS heap plus ArrayBuffer backing stores (packet and
 * reassembly buffers live outside `heapUsed`).
 */
export function heapUsed(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** 150 MB, the memory ceiling. */
export const MEMORY_CEILING = 150 * 1024 * 1024;

export { EtherType, IpProto, Ipv4, Ipv6 };

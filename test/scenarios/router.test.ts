// Two hosts and a router, IPv4 and IPv6 (issue 3's scenarios): ping across the router with the
// forwarded bytes checked, the forwarded frame sent in the buffer it arrived in, fragmented pings,
// TTL / hop limit expiry, unresolvable neighbours, path MTU discovery.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "../../src/ip/addr.ts";
import { Ipv4, Ipv6 } from "../../src/ip/version.ts";
import type { Buf } from "../../src/packet/buf.ts";
import { BytesBody } from "../../src/packet/serialize.ts";
import type { Stack, StackOptions } from "../../src/stack.ts";
import { FakeNetwork, type LinkOptions, type TapRecord } from "../../src/testing/fake-network.ts";
import { Icmpv4EchoBuilder, Icmpv4View } from "../../src/wire/icmpv4.ts";
import { Icmpv6EchoBuilder, Icmpv6View } from "../../src/wire/icmpv6.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4View } from "../../src/wire/ipv4.ts";
import { Ipv6View } from "../../src/wire/ipv6.ts";
import { addHost, mode, pattern, ping, settle, testBothModes, toHex } from "./helpers.ts";

const MAC_A = "02:00:00:00:01:02";
const MAC_R1 = "02:00:00:00:01:01";
const MAC_R2 = "02:00:00:00:02:01";
const MAC_B = "02:00:00:00:02:02";

interface Topo {
  mtu2?: number;
  link?: LinkOptions;
  seed?: number;
  options?: StackOptions;
}

/** a (10.0.1.2) -- link1 -- (10.0.1.1) r (10.0.2.1) -- link2 -- (10.0.2.2) b; the same in 2001:db8:1::/64, :2::/64. */
function topology(t: Topo = {}) {
  const net = new FakeNetwork<Stack>({ seed: t.seed ?? 7, lendFrames: mode.lend });
  const a = addHost(net, "a", {
    macs: [MAC_A],
    addrs: [["10.0.1.2/24", "2001:db8:1::2/64"]],
    options: t.options,
  });
  const r = addHost(net, "r", {
    macs: [MAC_R1, MAC_R2],
    addrs: [
      ["10.0.1.1/24", "2001:db8:1::1/64"],
      ["10.0.2.1/24", "2001:db8:2::1/64"],
    ],
    mtus: [1500, t.mtu2 ?? 1500],
    options: { ...t.options, forwarding: { v4: true, v6: true } },
  });
  const b = addHost(net, "b", {
    macs: [MAC_B],
    addrs: [["10.0.2.2/24", "2001:db8:2::2/64"]],
    mtus: [t.mtu2 ?? 1500],
    options: t.options,
  });
  assert.equal(a.stack.addRoute("0.0.0.0/0", { gateway: "10.0.1.1" }), null);
  assert.equal(a.stack.addRoute("::/0", { gateway: "2001:db8:1::1" }), null);
  assert.equal(b.stack.addRoute("0.0.0.0/0", { gateway: "10.0.2.1" }), null);
  assert.equal(b.stack.addRoute("::/0", { gateway: "2001:db8:2::1" }), null);
  const link1 = net.link(["a", 1], ["r", 1], { latency: 1, ...t.link });
  const link2 = net.link(["r", 2], ["b", 1], { latency: 1, ...t.link });
  settle(net);
  const frames: TapRecord[] = [];
  net.tap((rec) => {
    if (rec.dir === "tx") frames.push(rec);
  });
  return { net, a, r, b, link1, link2, frames };
}

function ipv4Of(f: TapRecord): Ipv4View | null {
  if (f.bytes[12] !== 0x08 || f.bytes[13] !== 0x00) return null;
  const v = Ipv4View.parse(f.bytes, 14, f.bytes.length - 14);
  return v instanceof Ipv4View ? v : null;
}

function ipv6Of(f: TapRecord): Ipv6View | null {
  if (f.bytes[12] !== 0x86 || f.bytes[13] !== 0xdd) return null;
  const v = Ipv6View.parse(f.bytes, 14, f.bytes.length - 14);
  return v instanceof Ipv6View ? v : null;
}

function noInternalErrors(...hosts: { stack: Stack }[]) {
  for (const h of hosts)
    assert.equal(h.stack.counters.get("stack.internal-error"), 0, String(h.stack.lastInternalError));
}

testBothModes("IPv4 ping across the router: TTL decremented, checksum patched, link header rewritten", () => {
  const { net, a, r, b, frames } = topology();
  const payload = pattern(64);
  assert.equal(ping(a.stack, "10.0.2.2", 42, 1, payload), null);
  net.runUntilIdle(net.now + 20_000);
  assert.deepEqual(a.replies, [{ from: "10.0.2.2", id: 42, seq: 1, payload }]);
  const reqIn = frames.find((f) => f.host === "a" && ipv4Of(f)?.proto === 1);
  const reqOut = frames.find((f) => f.host === "r" && f.device === 2 && ipv4Of(f)?.dst === parseV4("10.0.2.2"));
  assert.ok(reqIn && reqOut);
  const vin = ipv4Of(reqIn)!;
  const vout = ipv4Of(reqOut)!;
  assert.equal(vin.ttl, 64);
  assert.equal(vout.ttl, 63, "RFC 1812 5.3.1: TTL decremented");
  // Link header: to b's MAC from the router's second interface.
  assert.equal(toHex(reqOut.bytes.subarray(0, 12)), "020000000202020000000201");
  // Everything after the TTL and checksum is unchanged.
  assert.deepEqual(reqOut.bytes.subarray(14 + 12), reqIn.bytes.subarray(14 + 12));
  assert.equal(r.stack.counters.get("ipv4.forward"), 2);
  noInternalErrors(a, r, b);
});

testBothModes("the forwarded frame is the received buffer (no copy)", () => {
  const { net, a, r } = topology();
  // Warm the neighbour caches.
  ping(a.stack, "10.0.2.2", 1, 1, pattern(8));
  net.runUntilIdle(net.now + 20_000);
  const received = new Set<Uint8Array>();
  const sentStores: Uint8Array[] = [];
  const recv = r.stack.receiveFrame.bind(r.stack);
  r.stack.receiveFrame = (dev: number, buf: Buf) => {
    received.add(buf.bytes);
    recv(dev, buf);
  };
  const bind = net.bindings("r");
  const send = bind.sendFrame.bind(bind);
  bind.sendFrame = (dev, frame) => {
    sentStores.push(frame.bytes);
    send(dev, frame);
  };
  ping(a.stack, "10.0.2.2", 1, 2, pattern(200));
  net.runUntilIdle(net.now + 20_000);
  assert.equal(sentStores.length, 2, "request and reply forwarded");
  for (const s of sentStores) assert.ok(received.has(s), "sent in a received buffer");
  assert.equal(a.replies.length, 2);
});

testBothModes("IPv6 ping across the router: hop limit decremented", () => {
  const { net, a, r, b, frames } = topology();
  const payload = pattern(100);
  assert.equal(ping(a.stack, "2001:db8:2::2", 5, 6, payload), null);
  net.runUntilIdle(net.now + 20_000);
  assert.deepEqual(a.replies, [{ from: "2001:db8:2::2", id: 5, seq: 6, payload }]);
  const out = frames.find((f) => f.host === "r" && ipv6Of(f)?.proto === 58 && ipv6Of(f)!.upper()[0] === 128);
  assert.ok(out);
  const v = ipv6Of(out)!;
  assert.equal(v.hopLimit, 63);
  assert.equal(toHex(out.bytes.subarray(0, 12)), "020000000202020000000201");
  const m = Icmpv6View.parse(out.bytes, v.upperOff, v.upperLen, v.src, v.dst);
  assert.ok(m instanceof Icmpv6View, "checksum still valid");
  noInternalErrors(a, r, b);
});

for (const [name, dst] of [
  ["IPv4", "10.0.2.2"],
  ["IPv6", "2001:db8:2::2"],
] as const) {
  test(`${name}: a 4000-byte ping is fragmented, forwarded and reassembled both ways`, () => {
    const { net, a, r, b, frames } = topology();
    const payload = pattern(4000);
    assert.equal(ping(a.stack, dst, 9, 1, payload), null);
    net.runUntilIdle(net.now + 20_000);
    assert.equal(a.replies.length, 1);
    assert.deepEqual(a.replies[0].payload, payload);
    const v6 = name === "IPv6";
    const fromA = frames.filter((f) => f.host === "a" && (v6 ? ipv6Of(f)?.hasFrag : ipv4Of(f)?.isFragment));
    assert.equal(fromA.length, 3, "4008 bytes of ICMP in three fragments");
    for (const f of fromA) assert.ok(f.bytes.length <= 1514);
    const fromB = frames.filter((f) => f.host === "b" && (v6 ? ipv6Of(f)?.hasFrag : ipv4Of(f)?.isFragment));
    assert.equal(fromB.length, 3);
    assert.equal(b.stack.counters.get(v6 ? "ipv6.reassembly.complete" : "ipv4.reassembly.complete"), 1);
    assert.equal(a.stack.counters.get(v6 ? "ipv6.reassembly.complete" : "ipv4.reassembly.complete"), 1);
    noInternalErrors(a, r, b);
  });
}

testBothModes("IPv4 TTL expiry: the router answers with time exceeded", () => {
  const { net, a, r, frames } = topology();
  const body = new BytesBody(pattern(16)).wrapIn(new Icmpv4EchoBuilder(8, 77, 3));
  const dst = parseV4("10.0.2.2") as Ipv4Addr;
  assert.equal(a.stack.ip.send(Ipv4, { src: null, dst, proto: IpProto.Icmp, ttl: 1 }, body), null);
  net.runUntilIdle(net.now + 20_000);
  const te = frames.find((f) => f.host === "r" && ipv4Of(f)?.proto === 1);
  assert.ok(te);
  const ip = ipv4Of(te)!;
  assert.equal(ip.src, parseV4("10.0.1.1"));
  assert.equal(ip.dst, parseV4("10.0.1.2"));
  const m = Icmpv4View.parse(te.bytes, ip.payloadOff, ip.payloadLen) as Icmpv4View;
  assert.equal(m.type, 11);
  assert.equal(m.code, 0);
  // The quote starts with the offending header as received (TTL 1).
  const q = m.quote();
  assert.equal(q[8], 1);
  assert.equal(toHex(q.subarray(12, 20)), "0a0001020a000202");
  assert.equal(a.errors.length, 1);
  assert.equal(a.errors[0].code, "EHOSTUNREACH");
  assert.equal(a.errors[0].srcPort, 77, "the echo identifier");
  assert.equal(a.errors[0].seq, 3);
  assert.equal(r.stack.counters.get("ipv4.forward.ttl-exceeded"), 1);
  assert.equal(a.replies.length, 0);
});

testBothModes("IPv6 hop limit expiry: time exceeded from the router", () => {
  const { net, a, frames } = topology();
  const src = parseV6("2001:db8:1::2") as Ipv6Addr;
  const dst = parseV6("2001:db8:2::2") as Ipv6Addr;
  const body = new BytesBody(pattern(16)).wrapIn(new Icmpv6EchoBuilder(src, dst, 128, 12, 13));
  assert.equal(a.stack.ip.send(Ipv6, { src, dst, proto: IpProto.Icmpv6, ttl: 1 }, body), null);
  net.runUntilIdle(net.now + 20_000);
  const te = frames.find((f) => f.host === "r" && ipv6Of(f)?.proto === 58 && ipv6Of(f)!.upper()[0] === 3);
  assert.ok(te);
  const ip = ipv6Of(te)!;
  assert.equal(Ipv6.format(ip.src), "2001:db8:1::1");
  assert.deepEqual(
    a.errors.map((e) => [e.code, e.srcPort, e.seq]),
    [["EHOSTUNREACH", 12, 13]],
  );
});

testBothModes("an unresolvable neighbour: three ARP requests, then host unreachable", () => {
  const { net, a, r, frames } = topology();
  assert.equal(ping(a.stack, "10.0.2.99", 3, 4, pattern(10)), null);
  net.runUntilIdle(net.now + 60_000);
  const asks = frames.filter(
    (f) =>
      f.host === "r" && f.bytes[12] === 0x08 && f.bytes[13] === 0x06 && toHex(f.bytes.subarray(38, 42)) === "0a000263",
  );
  assert.equal(asks.length, 3, "RFC 4861 MAX_MULTICAST_SOLICIT requests");
  assert.ok(asks[2].time - asks[0].time >= 2000);
  const unreach = frames.find((f) => f.host === "r" && ipv4Of(f)?.proto === 1);
  assert.ok(unreach);
  const ip = ipv4Of(unreach)!;
  const m = Icmpv4View.parse(unreach.bytes, ip.payloadOff, ip.payloadLen) as Icmpv4View;
  assert.deepEqual([m.type, m.code], [3, 1]);
  assert.deepEqual(
    a.errors.map((e) => e.code),
    ["EHOSTUNREACH"],
  );
  assert.equal(r.stack.counters.get("neighbor.resolution-failed"), 1);
  assert.equal(r.stack.neighbors(2, 4).length, 0);
});

testBothModes("an unresolvable IPv6 neighbour: three solicitations, then address unreachable", () => {
  const { net, a, r, frames } = topology();
  assert.equal(ping(a.stack, "2001:db8:2::99", 3, 4, pattern(10)), null);
  net.runUntilIdle(net.now + 60_000);
  const ns = frames.filter(
    (f) =>
      f.host === "r" &&
      ipv6Of(f)?.proto === 58 &&
      ipv6Of(f)!.upper()[0] === 135 &&
      Ipv6.format(Ipv6.readAt(ipv6Of(f)!.upper(), 8)) === "2001:db8:2::99",
  );
  assert.equal(ns.length, 3);
  const unreach = frames.find((f) => f.host === "r" && ipv6Of(f)?.proto === 58 && ipv6Of(f)!.upper()[0] === 1);
  assert.ok(unreach);
  assert.equal(ipv6Of(unreach)!.upper()[1], 3, "code 3: address unreachable");
  assert.deepEqual(
    a.errors.map((e) => e.code),
    ["EHOSTUNREACH"],
  );
  assert.equal(r.stack.counters.get("neighbor.resolution-failed"), 1);
});

testBothModes("IPv6 path MTU: packet too big lowers the estimate; later pings are fragmented at the source", () => {
  const { net, a, r, b, frames } = topology({ mtu2: 1280 });
  const dst = parseV6("2001:db8:2::2") as Ipv6Addr;
  assert.equal(a.stack.ip.maxPayload(Ipv6, dst), 1460);
  ping(a.stack, "2001:db8:2::2", 1, 1, pattern(1400));
  net.runUntilIdle(net.now + 20_000);
  assert.equal(a.replies.length, 0, "the first ping died at the router");
  const ptb = frames.find((f) => f.host === "r" && ipv6Of(f)?.proto === 58 && ipv6Of(f)!.upper()[0] === 2);
  assert.ok(ptb);
  const m = Icmpv6View.parse(
    ptb.bytes,
    ipv6Of(ptb)!.upperOff,
    ipv6Of(ptb)!.upperLen,
    ipv6Of(ptb)!.src,
    ipv6Of(ptb)!.dst,
  );
  assert.ok(m instanceof Icmpv6View);
  assert.equal(m.mtu, 1280);
  assert.deepEqual(
    a.errors.map((e) => [e.code, e.mtu]),
    [["EMSGSIZE", 1280]],
  );
  assert.equal(a.stack.ip.maxPayload(Ipv6, dst), 1240);
  ping(a.stack, "2001:db8:2::2", 1, 2, pattern(1400));
  net.runUntilIdle(net.now + 40_000);
  assert.equal(a.replies.length, 1);
  assert.deepEqual(a.replies[0].payload, pattern(1400));
  noInternalErrors(a, r, b);
});

testBothModes("IPv4 path MTU: fragmentation needed with DF; without DF the router fragments", () => {
  const { net, a, r, frames } = topology({ mtu2: 1000 });
  const dst = parseV4("10.0.2.2") as Ipv4Addr;
  const body = () => new BytesBody(pattern(1400)).wrapIn(new Icmpv4EchoBuilder(8, 2, 1));
  assert.equal(a.stack.ip.send(Ipv4, { src: null, dst, proto: 1, dontFragment: true }, body()), null);
  net.runUntilIdle(net.now + 20_000);
  const fn = frames.find((f) => f.host === "r" && ipv4Of(f)?.proto === 1);
  assert.ok(fn);
  const ip = ipv4Of(fn)!;
  const m = Icmpv4View.parse(fn.bytes, ip.payloadOff, ip.payloadLen) as Icmpv4View;
  assert.deepEqual([m.type, m.code, m.nextHopMtu], [3, 4, 1000]);
  assert.deepEqual(
    a.errors.map((e) => [e.code, e.mtu]),
    [["EMSGSIZE", 1000]],
  );
  assert.equal(a.stack.ip.maxPayload(Ipv4, dst), 980);
  // With DF the sender now refuses; without DF the router fragments.
  assert.equal(a.stack.ip.send(Ipv4, { src: null, dst, proto: 1, dontFragment: true }, body()), "EMSGSIZE");
  frames.length = 0;
  a.stack.pmtu4.clear();
  assert.equal(a.stack.ip.send(Ipv4, { src: null, dst, proto: 1 }, body()), null);
  net.runUntilIdle(net.now + 40_000);
  assert.equal(r.stack.counters.get("ipv4.forward.fragmented") >= 1, true);
  assert.equal(a.replies.length, 1);
  assert.deepEqual(a.replies[0].payload, pattern(1400));
});

// ICMP redirects: a host takes a better first hop from its current router (RFC 1122 3.2.2.2 for
// IPv4, RFC 4861 8 for IPv6) and ignores redirects that fail the RFCs' checks; the learned host
// routes are bounded. Checked by where the next packet goes on the wire (its destination MAC).
import assert from "node:assert/strict";
import { type Ipv6Addr, parseMac, parseV4 } from "../../src/ip/addr.ts";
import { Ipv6 } from "../../src/ip/version.ts";
import { BytesBody, type PacketBuilder, TooBig } from "../../src/packet/serialize.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { EthernetBuilder } from "../../src/wire/ethernet.ts";
import { Icmpv4ErrorBuilder } from "../../src/wire/icmpv4.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4Builder } from "../../src/wire/ipv4.ts";
import { Ipv6Builder } from "../../src/wire/ipv6.ts";
import { LinkAddrOption, NdpOptionType, RedirectBuilder } from "../../src/wire/ndp.ts";
import { addHost, mode, ping, settle, testBothModes } from "./helpers.ts";

const MAC_A = "02:00:00:00:00:0a";
const MAC_R1 = "02:00:00:00:00:01";
const MAC_R2 = "02:00:00:00:00:02";
const MAC_D = "02:00:00:00:00:0d";

/** Host a with routers r1 (the default gateway) and r2 on its link. */
function lan(redirectRoutes?: number) {
  const net = new FakeNetwork<Stack>({ seed: 11, lendFrames: mode.lend });
  const options = redirectRoutes === undefined ? undefined : { limits: { redirectRoutes } };
  const a = addHost(net, "a", { macs: [MAC_A], addrs: [["10.0.0.10/24", "2001:db8::a/64"]], options });
  addHost(net, "r1", { macs: [MAC_R1], addrs: [["10.0.0.1/24", "2001:db8::1/64"]] });
  addHost(net, "r2", { macs: [MAC_R2], addrs: [["10.0.0.2/24", "2001:db8::2/64"]] });
  net.segment({ latency: 1 }, ["a", 1], ["r1", 1], ["r2", 1]);
  assert.equal(a.stack.addRoute("0.0.0.0/0", { gateway: "10.0.0.1" }), null);
  assert.equal(a.stack.addRoute("::/0", { gateway: "fe80::ff:fe00:1" }), null);
  settle(net);
  const tx: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "tx" && r.host === "a") tx.push(r);
  });
  return { net, a, tx };
}

function frame(srcMac: string, inner: PacketBuilder, ip: PacketBuilder, body: Uint8Array): Uint8Array {
  const f = new BytesBody(body)
    .wrapIn(inner)
    .wrapIn(ip)
    .wrapIn(new EthernetBuilder(parseMac(srcMac)!, parseMac(MAC_A)!, ip instanceof Ipv6Builder ? 0x86dd : 0x0800))
    .serialize({});
  if (f instanceof TooBig) throw new Error("too big");
  return f.toBytes();
}

/** The destination MAC of the last frame a sent carrying an IP packet to `dst` (text). */
function nextHopMac(tx: TapRecord[], dst: string): string | null {
  for (let i = tx.length - 1; i >= 0; i--) {
    const b = tx[i].bytes;
    const type = (b[12] << 8) | b[13];
    let to: string | null = null;
    if (type === 0x0800) to = [...b.subarray(30, 34)].join(".");
    else if (type === 0x86dd) to = Ipv6.format(b.subarray(38, 54) as Ipv6Addr);
    if (to === dst) return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
  }
  return null;
}

/** The first 28 bytes of a datagram a sent to `dst` (what a redirect quotes). */
function quote4(dst: string): Uint8Array {
  const q = new Ipv4Builder(parseV4("10.0.0.10")!, parseV4(dst)!, IpProto.Udp, 64);
  const f = new BytesBody(new Uint8Array(8)).wrapIn(q).serialize({});
  if (f instanceof TooBig) throw new Error("too big");
  return f.toBytes();
}

function redirect4(from: string, fromMac: string, dst: string, gateway: string, code = 1): Uint8Array {
  const ip = new Ipv4Builder(parseV4(from)!, parseV4("10.0.0.10")!, IpProto.Icmp, 64);
  return frame(fromMac, Icmpv4ErrorBuilder.redirect(code, parseV4(gateway)!), ip, quote4(dst));
}

function redirect6(from: string, target: string, dst: string, opts: { hopLimit?: number; tll?: string } = {}) {
  const src = Ipv6.parse(from)!;
  const me = Ipv6.parse("2001:db8::a")!;
  const options = opts.tll === undefined ? [] : [new LinkAddrOption(NdpOptionType.TargetLinkAddr, parseMac(opts.tll)!)];
  const r = new RedirectBuilder(src, me, Ipv6.parse(target)!, Ipv6.parse(dst)!, options);
  const ip = new Ipv6Builder(src, me, IpProto.Icmpv6, { hopLimit: opts.hopLimit ?? 255 });
  return frame(MAC_R1, r, ip, new Uint8Array(0));
}

function send(net: FakeNetwork<Stack>, a: { stack: Stack }, dst: string): void {
  assert.equal(ping(a.stack, dst, 7, 1, new Uint8Array(8)), null);
  net.runUntilIdle(net.now + 5000);
}

testBothModes("redirect (IPv4): the current gateway's redirect moves a destination to another gateway", () => {
  const { net, a, tx } = lan();
  send(net, a, "192.0.2.7");
  assert.equal(nextHopMac(tx, "192.0.2.7"), MAC_R1);

  // Not from the current first hop (r2 redirecting to itself): ignored.
  net.inject(["a", 1], redirect4("10.0.0.2", MAC_R2, "192.0.2.7", "10.0.0.2"));
  net.runUntilIdle(net.now + 100);
  send(net, a, "192.0.2.7");
  assert.equal(nextHopMac(tx, "192.0.2.7"), MAC_R1);
  // A gateway off the link: ignored (RFC 1122 3.2.2.2).
  net.inject(["a", 1], redirect4("10.0.0.1", MAC_R1, "192.0.2.7", "172.16.0.1"));
  net.runUntilIdle(net.now + 100);
  send(net, a, "192.0.2.7");
  assert.equal(nextHopMac(tx, "192.0.2.7"), MAC_R1);
  assert.equal(a.stack.counters.get("redirect.ignored"), 2);

  // From r1, naming r2 (a network redirect, code 0, is taken as a host redirect).
  net.inject(["a", 1], redirect4("10.0.0.1", MAC_R1, "192.0.2.7", "10.0.0.2", 0));
  net.runUntilIdle(net.now + 100);
  assert.equal(a.stack.counters.get("redirect.learned"), 1);
  send(net, a, "192.0.2.7");
  assert.equal(nextHopMac(tx, "192.0.2.7"), MAC_R2);
  // Only that host: its neighbour in the same /24 still goes through r1.
  send(net, a, "192.0.2.8");
  assert.equal(nextHopMac(tx, "192.0.2.8"), MAC_R1);
});

testBothModes("redirect (IPv6): RFC 4861 8.1 checks; a better router, and a destination that is on-link", () => {
  const { net, a, tx } = lan();
  send(net, a, "2001:db8:9::7");
  assert.equal(nextHopMac(tx, "2001:db8:9::7"), MAC_R1);

  // Hop limit below 255: ignored. From a global address: ignored.
  net.inject(["a", 1], redirect6("fe80::ff:fe00:1", "fe80::ff:fe00:2", "2001:db8:9::7", { hopLimit: 64 }));
  net.inject(["a", 1], redirect6("2001:db8::1", "fe80::ff:fe00:2", "2001:db8:9::7"));
  // From a router that is not the first hop for the destination: ignored.
  net.inject(["a", 1], redirect6("fe80::ff:fe00:2", "fe80::ff:fe00:2", "2001:db8:9::7"));
  net.runUntilIdle(net.now + 100);
  send(net, a, "2001:db8:9::7");
  assert.equal(nextHopMac(tx, "2001:db8:9::7"), MAC_R1);
  assert.equal(a.stack.counters.get("redirect.ignored"), 3);

  // A valid redirect to r2 with its link-layer address: used at once, without a solicitation.
  tx.length = 0;
  net.inject(["a", 1], redirect6("fe80::ff:fe00:1", "fe80::ff:fe00:2", "2001:db8:9::7", { tll: MAC_R2 }));
  net.runUntilIdle(net.now + 100);
  assert.equal(ping(a.stack, "2001:db8:9::7", 7, 2, new Uint8Array(8)), null);
  assert.equal(tx.length, 1, "the echo request left at once: the target's entry came with the redirect");
  assert.equal(nextHopMac(tx, "2001:db8:9::7"), MAC_R2);

  // Target = destination: the destination is on-link (RFC 4861 8.3); its address comes along.
  net.inject(["a", 1], redirect6("fe80::ff:fe00:1", "2001:db8:7::d", "2001:db8:7::d", { tll: MAC_D }));
  net.runUntilIdle(net.now + 100);
  assert.equal(ping(a.stack, "2001:db8:7::d", 7, 3, new Uint8Array(8)), null);
  assert.equal(nextHopMac(tx, "2001:db8:7::d"), MAC_D);
  assert.equal(a.stack.counters.get("redirect.learned"), 2);
});

testBothModes("redirect: learned routes are bounded (limits.redirectRoutes); the oldest goes first", () => {
  const { net, a, tx } = lan(2);
  for (const d of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
    net.inject(["a", 1], redirect4("10.0.0.1", MAC_R1, d, "10.0.0.2"));
    net.runUntilIdle(net.now + 100);
  }
  assert.equal(a.stack.counters.get("redirect.learned"), 3);
  send(net, a, "192.0.2.1");
  assert.equal(nextHopMac(tx, "192.0.2.1"), MAC_R1, "the first redirect was dropped for the third");
  send(net, a, "192.0.2.2");
  assert.equal(nextHopMac(tx, "192.0.2.2"), MAC_R2);
  send(net, a, "192.0.2.3");
  assert.equal(nextHopMac(tx, "192.0.2.3"), MAC_R2);
});

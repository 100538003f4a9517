// IPv6 host configuration through the Stack (src/hostconf/, issue 13): the features that come as
// `StackOptions.hostconf` options (RFC 7527 DAD nonces, the random first router solicitation delay,
// ReachableTime / RetransTimer from advertisements, RFC 7217 stable identifiers), each against the
// default, and what a device going down and up does to its addresses (RFC 4862 5.3, 5.4).
import assert from "node:assert/strict";
import type { StackEvent } from "../../src/context.ts";
import { formatV6, type Ipv6Addr, parseMac } from "../../src/ip/addr.ts";
import { Ipv6 } from "../../src/ip/version.ts";
import { EMPTY_BODY, TooBig } from "../../src/packet/serialize.ts";
import type { HostconfOptions, Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { EthernetBuilder } from "../../src/wire/ethernet.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv6Builder, Ipv6View } from "../../src/wire/ipv6.ts";
import { NdpOptionType, NeighborSolicitationView, RouterAdvertisementBuilder } from "../../src/wire/ndp.ts";
import { addHost, mode, pattern, ping, testBothModes } from "./helpers.ts";

const MAC_A = "02:00:00:00:00:0a";
const MAC_B = "02:00:00:00:00:0b";

/** a and b on one link; a with `hostconf` options; every frame a sends is kept. */
function pair(hostconf: HostconfOptions, seed = 2) {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: [MAC_A], addrs: [[]], options: { hostconf } });
  const b = addHost(net, "b", { macs: [MAC_B], addrs: [[]] });
  const link = net.link(["a", 1], ["b", 1], { latency: 1 });
  const fromA: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "tx" && r.host === "a") fromA.push(r);
  });
  return { net, a, b, link, fromA };
}

/** ICMPv6 type of a frame (after any extension headers), or -1. */
function icmpType(r: TapRecord): number {
  if (r.bytes[12] !== 0x86 || r.bytes[13] !== 0xdd) return -1;
  const v = Ipv6View.parse(r.bytes, 14, r.bytes.length - 14);
  return v instanceof Ipv6View && v.proto === IpProto.Icmpv6 ? r.bytes[v.upperOff] : -1;
}

function addrEvents(evs: StackEvent[], addr: string): string[] {
  const out: string[] = [];
  for (const e of evs) {
    if (e.type === "address-changed" && typeof e.addr !== "number" && formatV6(e.addr) === addr) out.push(e.state);
    if (e.type === "dad-failed" && formatV6(e.addr) === addr) out.push("dad-failed");
  }
  return out;
}

testBothModes("dadNonce: probes carry an RFC 7527 nonce and our own looped-back probe is no duplicate", () => {
  for (const nonce of [false, true]) {
    const { net, a, fromA } = pair({ dadNonce: nonce });
    net.advance(5000);
    const events = net.bindings("a");
    events.takeEvents();
    fromA.length = 0;
    assert.equal(a.stack.addAddress(1, "2001:db8::7/64"), null);
    net.runUntilIdle(net.now + 1100);
    const probe = fromA.find((r) => icmpType(r) === 135);
    assert.ok(probe, "a DAD probe was sent");
    const ns = NeighborSolicitationView.parse(probe.bytes, 54, probe.bytes.length - 54);
    assert.ok(ns instanceof NeighborSolicitationView);
    const c = ns.options();
    let nonces = 0;
    while (c.next()) if (c.type === NdpOptionType.Nonce) nonces++;
    assert.equal(nonces, nonce ? 1 : 0);
    // A link that loops multicast back (a hub with a reflector) returns the probe to its sender.
    net.inject(["a", 1], probe.bytes.slice());
    net.runUntilIdle(net.now + 3000);
    const want = nonce ? ["tentative", "assigned"] : ["tentative", "removed", "dad-failed"];
    assert.deepEqual(addrEvents(events.takeEvents(), "2001:db8::7"), want, `nonce ${nonce}`);
  }
});

testBothModes("randomSolicitationDelay: the first router solicitation waits below MAX_RTR_SOLICITATION_DELAY", () => {
  const gaps = (hostconf: HostconfOptions, seeds: number[]) =>
    seeds.map((seed) => {
      const { net, fromA } = pair(hostconf, seed);
      let assignedAt = -1;
      net.bindings("a").onEvent = (e) => {
        if (e.type === "address-changed" && e.state === "assigned" && assignedAt < 0) assignedAt = net.now;
      };
      net.advance(15_000);
      const rs = fromA.filter((r) => icmpType(r) === 133);
      assert.equal(rs.length, 3, "RFC 4861 MAX_RTR_SOLICITATIONS");
      assert.ok(assignedAt >= 0);
      return rs[0].time - assignedAt;
    });
  // By default, at once when the link-local address passed DAD.
  assert.deepEqual(gaps({}, [1, 2, 3]), [0, 0, 0]);
  const delayed = gaps({ randomSolicitationDelay: true }, [1, 2, 3, 4]);
  for (const d of delayed) assert.ok(d >= 0 && d < 1000, `delay ${d}`);
  assert.ok(new Set(delayed).size > 1, `delays vary with the seed: ${delayed}`);
});

testBothModes("learnNeighborTimes: RetransTimer from a router advertisement paces neighbour solicitations", () => {
  const spacing = (hostconf: HostconfOptions) => {
    const { net, a, link, fromA } = pair(hostconf);
    net.advance(5000);
    // b is gone from the link: solicitations for it go unanswered.
    link.options.loss = 1;
    const src = Ipv6.parse("fe80::1") as Ipv6Addr;
    const allNodes = Ipv6.parse("ff02::1") as Ipv6Addr;
    const ra = new RouterAdvertisementBuilder(src, allNodes, { routerLifetime: 600, retransTimer: 3000 }, []);
    const f = EMPTY_BODY.wrapIn(ra)
      .wrapIn(new Ipv6Builder(src, allNodes, IpProto.Icmpv6, { hopLimit: 255 }))
      .wrapIn(new EthernetBuilder(parseMac("02:00:00:00:00:99")!, parseMac("33:33:00:00:00:01")!, 0x86dd))
      .serialize({});
    if (f instanceof TooBig) throw new Error("too big");
    net.inject(["a", 1], f.toBytes());
    net.runUntilIdle(net.now + 100);
    fromA.length = 0;
    assert.equal(ping(a.stack, "fe80::ff:fe00:b", 1, 1, pattern(8)), null);
    net.runUntilIdle(net.now + 20_000);
    const ns = fromA.filter((r) => icmpType(r) === 135).map((r) => r.time);
    assert.equal(ns.length, 3, "RFC 4861 MAX_MULTICAST_SOLICIT");
    return [ns[1] - ns[0], ns[2] - ns[1]];
  };
  assert.deepEqual(spacing({}), [1000, 1000], "RFC 4861 RETRANS_TIMER by default");
  assert.deepEqual(spacing({ learnNeighborTimes: true }), [3000, 3000], "RFC 4861 6.3.4: the advertised RetransTimer");
});

testBothModes("iid stable: RFC 7217 link-local addresses, the same for the same secret, none from the MAC", () => {
  const linkLocal = (secret: number) => {
    const { net, a } = pair({ iid: "stable", stableSecret: new Uint8Array(16).fill(secret) });
    net.advance(5000);
    return a.stack.addresses(1).filter((x) => x.startsWith("fe80:"));
  };
  const one = linkLocal(1);
  assert.equal(one.length, 1);
  assert.notEqual(one[0], "fe80::ff:fe00:a/64", "not the modified EUI-64 of 02:00:00:00:00:0a");
  assert.deepEqual(linkLocal(1), one, "stable for the same secret");
  assert.notDeepEqual(linkLocal(2), one);
});

testBothModes("a device going down loses its link-local address; up again, it comes back through DAD", () => {
  const { net, a } = pair({});
  assert.equal(a.stack.addAddress(1, "10.0.0.1/24"), null);
  assert.equal(a.stack.addAddress(1, "2001:db8::a/64"), null);
  net.advance(5000);
  assert.deepEqual(a.stack.addresses(1), ["10.0.0.1/24", "fe80::ff:fe00:a/64", "2001:db8::a/64"]);
  const events = net.bindings("a");
  events.takeEvents();
  assert.equal(a.stack.setDeviceUp(1, false), null);
  assert.deepEqual(addrEvents(events.takeEvents(), "fe80::ff:fe00:a"), ["removed"]);
  assert.deepEqual(a.stack.addresses(1), ["10.0.0.1/24", "2001:db8::a/64"], "configured addresses stay");
  assert.equal(a.stack.setDeviceUp(1, true), null);
  net.advance(3000);
  assert.deepEqual(addrEvents(events.takeEvents(), "fe80::ff:fe00:a"), ["tentative", "assigned"]);
  assert.deepEqual(a.stack.addresses(1), ["10.0.0.1/24", "2001:db8::a/64", "fe80::ff:fe00:a/64"]);
  assert.equal(ping(a.stack, "fe80::ff:fe00:b", 1, 1, pattern(8)), null);
  net.runUntilIdle(net.now + 2000);
  assert.deepEqual(
    a.replies.map((r) => r.from),
    ["fe80::ff:fe00:b"],
  );
});

testBothModes("an address still under DAD when its device goes down is probed again when it comes back", () => {
  const { net, a, fromA } = pair({});
  net.advance(5000);
  const events = net.bindings("a");
  events.takeEvents();
  assert.equal(a.stack.addAddress(1, "2001:db8::7/64"), null);
  assert.equal(a.stack.setDeviceUp(1, false), null);
  net.advance(5000);
  assert.deepEqual(addrEvents(events.takeEvents(), "2001:db8::7"), ["tentative"], "still tentative while down");
  fromA.length = 0;
  assert.equal(a.stack.setDeviceUp(1, true), null);
  net.advance(5000);
  assert.deepEqual(addrEvents(events.takeEvents(), "2001:db8::7"), ["assigned"]);
  const probes = fromA.filter((r) => icmpType(r) === 135 && r.bytes[14 + 8] === 0);
  assert.ok(probes.length >= 2, "DAD probes for the link-local address and the configured one");
});

// IPv6 address configuration: duplicate address detection (RFC 4862 5.4), router advertisements
// (RFC 4861 6.3.4) and stateless address autoconfiguration (RFC 4862 5.5).
import assert from "node:assert/strict";
import { Ipv6 } from "../../src/ip/version.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { Icmpv6View } from "../../src/wire/icmpv6.ts";
import { Ipv6View } from "../../src/wire/ipv6.ts";
import { addHost, mode, pattern, ping, settle, testBothModes, toHex } from "./helpers.ts";

testBothModes("DAD: a tentative address becomes assigned after one second; a duplicate is given up", () => {
  const net = new FakeNetwork<Stack>({ seed: 4, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: ["02:00:00:00:00:0a"], addrs: [[]] });
  const b = addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["2001:db8::5/64"]] });
  net.link(["a", 1], ["b", 1], { latency: 1 });
  settle(net);
  const tx: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "tx") tx.push(r);
  });
  const events = net.bindings("a");
  events.takeEvents();

  // A fresh address: tentative, one solicitation from ::, assigned 1 s later.
  assert.equal(a.stack.addAddress(1, "2001:db8::7/64"), null);
  assert.equal(a.stack.ip.isLocal(Ipv6, v6("2001:db8::7")), false, "tentative addresses are not ours yet");
  net.runUntilIdle(net.now + 3000);
  const icmpType = (r: TapRecord): number => {
    const v = Ipv6View.parse(r.bytes, 14, r.bytes.length - 14) as Ipv6View;
    return r.bytes[14 + (v.upperOff - 14)];
  };
  const fromA = tx.filter((r) => r.host === "a");
  // RFC 4862 5.4.2: the solicited-node group is joined with MLD (an MLDv2 report from the link-local
  // address, RFC 3810 5.2.13; the new address is still tentative) before the solicitation.
  const report = fromA.findIndex((r) => icmpType(r) === 143);
  const nsAt = fromA.findIndex((r) => icmpType(r) === 135);
  assert.ok(report >= 0 && nsAt > report, `MLD report at ${report}, solicitation at ${nsAt}`);
  const rip = Ipv6View.parse(fromA[report].bytes, 14, fromA[report].bytes.length - 14) as Ipv6View;
  assert.equal(toHex(rip.src), "fe80000000000000000000fffe00000a");
  assert.ok(toHex(fromA[report].bytes).includes("ff0200000000000000000001ff000007"), "the record names the group");
  const ns = fromA[nsAt];
  const ip = Ipv6View.parse(ns.bytes, 14, ns.bytes.length - 14) as Ipv6View;
  assert.equal(toHex(ip.src), "00000000000000000000000000000000", "RFC 4862 5.4.2: from the unspecified address");
  assert.equal(toHex(ip.dst), "ff0200000000000000000001ff000007");
  assert.equal(ip.hopLimit, 255);
  const m = Icmpv6View.parse(ns.bytes, ip.upperOff, ip.upperLen, ip.src, ip.dst) as Icmpv6View;
  assert.equal(m.type, 135);
  assert.equal(m.len, 24, "no source link-layer address option");
  assert.deepEqual(
    events.takeEvents().map((e) => (e.type === "address-changed" ? e.state : e.type)),
    ["tentative", "assigned"],
  );
  assert.equal(a.stack.ip.isLocal(Ipv6, v6("2001:db8::7")), true);

  // b already has 2001:db8::5: it defends it, and a gives it up.
  assert.equal(a.stack.addAddress(1, "2001:db8::5/64"), null);
  net.runUntilIdle(net.now + 3000);
  const evs = events.takeEvents();
  assert.deepEqual(
    evs.map((e) => e.type),
    ["address-changed", "address-changed", "dad-failed"],
  );
  assert.equal(a.stack.addresses(1).includes("2001:db8::5/64"), false);
  assert.equal(a.stack.counters.get("ndp.dad.failed"), 1);
  assert.equal(b.stack.addresses(1).includes("2001:db8::5/64"), true);
});

testBothModes("SLAAC: a router advertisement gives a host an address, a default route and the link MTU", () => {
  const net = new FakeNetwork<Stack>({ seed: 8, lendFrames: mode.lend });
  const r = addHost(net, "r", {
    macs: ["02:00:00:00:01:01"],
    addrs: [["2001:db8:1::1/64"]],
    options: { forwarding: { v4: false, v6: true } },
  });
  const h = addHost(net, "h", { macs: ["02:00:00:00:01:02"], addrs: [[]] });
  net.link(["r", 1], ["h", 1], { latency: 1 });
  net.advance(1500); // both link-local addresses are through DAD
  assert.equal(r.stack.advertiseRouter(1, { prefixes: ["2001:db8:1::/64"], mtu: 1400 }), null);
  settle(net);
  // RFC 4862 5.5.3: prefix + modified EUI-64 of 02:00:00:00:01:02.
  assert.deepEqual(h.stack.addresses(1), ["fe80::ff:fe00:102/64", "2001:db8:1::ff:fe00:102/64"]);
  assert.equal(h.stack.counters.get("ndp.slaac.address"), 1);
  assert.equal(h.stack.deviceInfo(1)?.mtu, 1400);
  const dflt = h.stack.routes(6).find((x) => x.subnet === "::/0");
  assert.deepEqual(dflt, { subnet: "::/0", gateway: "fe80::ff:fe00:101", device: 1, metric: 100 });
  // The new address works: ping the router's global address.
  assert.equal(ping(h.stack, "2001:db8:1::1", 4, 1, pattern(30)), null);
  net.runUntilIdle(net.now + 5000);
  assert.deepEqual(
    h.replies.map((x) => x.from),
    ["2001:db8:1::1"],
  );
  // Off-link destinations go to the router (which has no route: unreachable, but it was asked).
  assert.equal(ping(h.stack, "2001:db8:99::1", 4, 2, pattern(30)), null);
  net.runUntilIdle(net.now + 5000);
  assert.deepEqual(
    h.errors.map((e) => e.code),
    ["ENETUNREACH"],
  );
});

function v6(t: string) {
  return Ipv6.parse(t)!;
}

// Lifetimes learned from router advertisements: the default router (RFC 4861 6.3.4), on-link
// prefixes, and SLAAC addresses (RFC 4862 5.5.3 e, the two-hour rule; 5.5.4 deprecation and
// removal); and the random delay before the first DAD probe (RFC 4862 5.4.2).
import assert from "node:assert/strict";
import type { StackEvent } from "../../src/context.ts";
import { formatV6, type Ipv6Addr, parseMac } from "../../src/ip/addr.ts";
import { Ipv6 } from "../../src/ip/version.ts";
import { EMPTY_BODY, TooBig } from "../../src/packet/serialize.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { EthernetBuilder } from "../../src/wire/ethernet.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv6Builder } from "../../src/wire/ipv6.ts";
import { PrefixInfoOption, RouterAdvertisementBuilder } from "../../src/wire/ndp.ts";
import { addHost, mode, pattern, ping, testBothModes } from "./helpers.ts";

const SLAAC = "2001:db8:1::ff:fe00:102";

function setup(seed: number) {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const r = addHost(net, "r", {
    macs: ["02:00:00:00:01:01"],
    addrs: [["2001:db8:1::1/64"]],
    options: { forwarding: { v4: false, v6: true } },
  });
  const h = addHost(net, "h", { macs: ["02:00:00:00:01:02"], addrs: [[]] });
  net.link(["r", 1], ["h", 1], { latency: 1 });
  const ras: TapRecord[] = [];
  net.tap((x) => {
    // Router advertisements h received (ICMPv6 type 134 after a 40-byte header).
    if (x.dir === "rx" && x.host === "h" && x.bytes[12] === 0x86 && x.bytes[14 + 40] === 134) ras.push(x);
  });
  net.advance(3000); // both link-local addresses are through DAD (random delay < 1 s, then 1 s)
  return { net, r, h, ras };
}

function addrEvents(evs: StackEvent[], addr: string): string[] {
  const out: string[] = [];
  for (const e of evs) {
    if (e.type === "address-changed" && typeof e.addr !== "number" && formatV6(e.addr) === addr) out.push(e.state);
  }
  return out;
}

testBothModes(
  "short lifetimes: the address is deprecated, the default router expires, then the address and prefix go",
  () => {
    const { net, r, h, ras } = setup(11);
    const events = net.bindings("h");
    events.takeEvents();
    assert.equal(
      r.stack.advertiseRouter(1, {
        prefixes: ["2001:db8:1::/64"],
        routerLifetime: 40,
        validLifetime: 60,
        preferredLifetime: 20,
      }),
      null,
    );
    // h stops soliciting once advertised to; the last advertisement it received starts the clocks.
    net.advance(10_000);
    assert.ok(ras.length >= 1);
    const t = ras[ras.length - 1].time;
    assert.ok(h.stack.addresses(1).includes(`${SLAAC}/64`));
    assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["tentative", "assigned"]);
    assert.ok(h.stack.routes(6).some((x) => x.subnet === "::/0"));
    assert.ok(h.stack.routes(6).some((x) => x.subnet === "2001:db8:1::/64"));

    // Preferred lifetime (20 s) ends: deprecated (RFC 4862 5.5.4), still ours and still usable.
    net.advance(t + 19_900 - net.now);
    assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), []);
    net.advance(200);
    assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["deprecated"]);
    assert.equal(h.stack.counters.get("ndp.slaac.deprecated"), 1);
    assert.ok(h.stack.ip.isLocal(Ipv6, Ipv6.parse(SLAAC) as Ipv6Addr), "a deprecated address is still ours");
    // With no other global address, a deprecated one is still the source (RFC 6724 rule 3 only orders).
    assert.equal(formatV6(h.stack.ip.selectSource(Ipv6, Ipv6.parse("2001:db8:1::1") as Ipv6Addr)!), SLAAC);
    assert.equal(ping(h.stack, "2001:db8:1::1", 9, 1, pattern(20)), null);
    net.runUntilIdle(net.now + 2000);
    assert.deepEqual(
      h.replies.map((x) => x.from),
      ["2001:db8:1::1"],
    );

    // Router lifetime (40 s) ends: the default route goes (RFC 4861 6.3.4); the prefix route stays.
    net.advance(t + 39_900 - net.now);
    assert.ok(h.stack.routes(6).some((x) => x.subnet === "::/0"));
    net.advance(200);
    assert.equal(
      h.stack.routes(6).some((x) => x.subnet === "::/0"),
      false,
    );
    assert.equal(h.stack.counters.get("ndp.router.expired"), 1);
    assert.ok(h.stack.routes(6).some((x) => x.subnet === "2001:db8:1::/64"));
    assert.equal(h.stack.ip.selectSource(Ipv6, Ipv6.parse("2001:db8:99::1") as Ipv6Addr), null, "no route off-link");

    // Valid lifetime (60 s) ends: the address and the on-link prefix are removed.
    net.advance(t + 60_100 - net.now);
    assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["removed"]);
    assert.equal(h.stack.addresses(1).includes(`${SLAAC}/64`), false);
    assert.equal(
      h.stack.routes(6).some((x) => x.subnet === "2001:db8:1::/64"),
      false,
    );
    assert.equal(h.stack.counters.get("ndp.slaac.expired"), 1);
    assert.equal(h.stack.counters.get("ndp.prefix.expired"), 1);
    // Only the link-local address is left.
    assert.deepEqual(h.stack.addresses(1), ["fe80::ff:fe00:102/64"]);
  },
);

testBothModes("a renewed preferred lifetime makes a deprecated address preferred again", () => {
  const { net, r, h } = setup(12);
  const events = net.bindings("h");
  // A second global address; the destination shares more bits with the SLAAC one (RFC 6724 rule 8).
  assert.equal(h.stack.addAddress(1, "2001:db8:1::99/64"), null);
  const dst = Ipv6.parse("2001:db8:1::ff:fe00:1") as Ipv6Addr;
  const source = () => formatV6(h.stack.ip.selectSource(Ipv6, dst)!);
  r.stack.advertiseRouter(1, { prefixes: ["2001:db8:1::/64"], validLifetime: 600, preferredLifetime: 5 });
  net.advance(3000);
  assert.equal(source(), SLAAC);
  net.advance(17_000);
  assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["tentative", "assigned", "deprecated"]);
  // RFC 6724 rule 3: a deprecated address is avoided when another will do.
  assert.equal(source(), "2001:db8:1::99");
  r.stack.advertiseRouter(1, { prefixes: ["2001:db8:1::/64"], validLifetime: 600, preferredLifetime: 300 });
  net.advance(1000);
  assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["assigned"]);
  assert.equal(source(), SLAAC);
});

testBothModes("the two-hour rule: an advertised short valid lifetime cannot cut an address below two hours", () => {
  const { net, r, h } = setup(13);
  const events = net.bindings("h");
  const H = 3600;
  r.stack.advertiseRouter(1, { prefixes: ["2001:db8:1::/64"], validLifetime: 5 * H, preferredLifetime: 5 * H });
  net.advance(10_000);
  assert.ok(h.stack.addresses(1).includes(`${SLAAC}/64`));
  events.takeEvents();
  // RFC 4862 5.5.3 e 3: 5 h remain, 60 s advertised: the valid lifetime becomes two hours.
  r.stack.advertiseRouter(1, { prefixes: ["2001:db8:1::/64"], validLifetime: 60, preferredLifetime: 30 });
  net.advance(1000);
  const t = net.now;
  // e 2: with two hours or less left, a shorter advertised lifetime is ignored.
  r.stack.advertiseRouter(1, { prefixes: ["2001:db8:1::/64"], validLifetime: 60, preferredLifetime: 30 });
  net.advance(120_000);
  assert.ok(h.stack.addresses(1).includes(`${SLAAC}/64`), "not removed after the advertised 60 s");
  assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["deprecated"], "preferred lifetimes are taken as sent");
  net.advance(t + 2 * H * 1000 - 2000 - net.now);
  assert.ok(h.stack.addresses(1).includes(`${SLAAC}/64`));
  net.advance(2000);
  assert.equal(h.stack.addresses(1).includes(`${SLAAC}/64`), false, "removed after two hours");
  assert.deepEqual(addrEvents(events.takeEvents(), SLAAC), ["removed"]);
});

testBothModes(
  "DAD: the first solicitation waits a random delay below MAX_RTR_SOLICITATION_DELAY (RFC 4862 5.4.2)",
  () => {
    const delays: number[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
      const a = addHost(net, "a", { macs: ["02:00:00:00:00:0a"], addrs: [[]] });
      addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [[]] });
      net.link(["a", 1], ["b", 1], { latency: 1 });
      net.advance(10_000);
      const ns: TapRecord[] = [];
      net.tap((x) => {
        if (x.dir === "tx" && x.host === "a" && x.bytes[14 + 40] === 135) ns.push(x);
      });
      const events = net.bindings("a");
      events.takeEvents();
      const t0 = net.now;
      assert.equal(a.stack.addAddress(1, "2001:db8::7/64"), null);
      assert.equal(ns.length, 0, "nothing sent synchronously");
      net.advance(3000);
      assert.equal(ns.length, 1);
      const d = ns[0].time - t0;
      assert.ok(d >= 0 && d < 1000, `delay ${d}`);
      delays.push(d);
      // Assigned RetransTimer (1 s) after the solicitation.
      assert.deepEqual(addrEvents(events.takeEvents(), "2001:db8::7"), ["tentative", "assigned"]);
    }
    assert.ok(new Set(delays).size > 1, `delays vary with the seed: ${delays}`);
  },
);

testBothModes("dadMaxDelayMs 0: the first solicitation leaves at once", () => {
  const net = new FakeNetwork<Stack>({ seed: 1, lendFrames: mode.lend });
  const a = addHost(net, "a", {
    macs: ["02:00:00:00:00:0a"],
    addrs: [[]],
    options: { limits: { dadMaxDelayMs: 0 } },
  });
  addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [[]] });
  net.link(["a", 1], ["b", 1], { latency: 1 });
  net.advance(10_000);
  let n = 0;
  net.tap((x) => {
    if (x.dir === "tx" && x.host === "a" && x.bytes[14 + 40] === 135) n++;
  });
  assert.equal(a.stack.addAddress(1, "2001:db8::7/64"), null);
  assert.equal(n, 1);
});

testBothModes("the default router and prefix lists are bounded (limits.maxRouters, limits.maxPrefixes)", () => {
  const net = new FakeNetwork<Stack>({ seed: 21, lendFrames: mode.lend });
  const h = addHost(net, "h", {
    macs: ["02:00:00:00:01:02"],
    addrs: [[]],
    options: { limits: { maxRouters: 3, maxPrefixes: 4 } },
  });
  net.advance(3000);
  const allNodes = Ipv6.parse("ff02::1") as Ipv6Addr;
  for (let i = 1; i <= 6; i++) {
    const src = Ipv6.parse(`fe80::${i}`) as Ipv6Addr;
    const prefix = Ipv6.parse(`2001:db8:${i}::`) as Ipv6Addr;
    const ra = new RouterAdvertisementBuilder(src, allNodes, { routerLifetime: 600 }, [
      new PrefixInfoOption(64, true, false, 3600, 1800, prefix),
    ]);
    const f = EMPTY_BODY.wrapIn(ra)
      .wrapIn(new Ipv6Builder(src, allNodes, IpProto.Icmpv6, { hopLimit: 255 }))
      .wrapIn(new EthernetBuilder(parseMac(`02:00:00:00:02:0${i}`)!, parseMac("33:33:00:00:00:01")!, 0x86dd))
      .serialize({});
    if (f instanceof TooBig) throw new Error("too big");
    net.inject(["h", 1], f.toBytes());
  }
  net.runUntilIdle(net.now + 1000);
  const routes = h.stack.routes(6);
  assert.deepEqual(
    routes.filter((x) => x.subnet === "::/0").map((x) => x.gateway),
    ["fe80::1", "fe80::2", "fe80::3"],
  );
  assert.deepEqual(
    routes.filter((x) => x.subnet.startsWith("2001:db8:")).map((x) => x.subnet),
    ["2001:db8:1::/64", "2001:db8:2::/64", "2001:db8:3::/64", "2001:db8:4::/64"],
  );
  // The routers time out at the end of their lifetime (600 s).
  net.advance(601_000);
  assert.equal(
    h.stack.routes(6).some((x) => x.subnet === "::/0"),
    false,
  );
  assert.equal(h.stack.counters.get("ndp.router.expired"), 3);
});

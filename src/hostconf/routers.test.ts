import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv6Addr, parseMac, parseV6 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import { Icmpv6View } from "../wire/icmpv6.ts";
import {
  LinkAddrOption,
  MtuOption,
  NdpOptionType,
  type NdpOptionWriter,
  PrefixInfoOption,
  RouterAdvertisementBuilder,
  type RouterAdvertisementFields,
  RouterAdvertisementView,
  RouterSolicitationView,
} from "../wire/ndp.ts";
import { FakeHostconfContext, serializeMessage } from "./fake-context.ts";
import { Hostconf, type HostconfConfig } from "./hostconf.ts";
import { DEFAULT_ROUTER_DISCOVERY_CONFIG } from "./routers.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const MAC = parseMac("12:34:56:78:9a:bc") as Uint8Array;
const LL = "fe80::1034:56ff:fe78:9abc";
const R1 = v6("fe80::1");
const R2 = v6("fe80::2");
const ALL_NODES = v6("ff02::1");
const ALL_ROUTERS = v6("ff02::2");

// Router solicitations (tshark: checksums correct): from :: without options, and from the
// link-local address with the source link-layer address option 12:34:56:78:9a:bc.
// biome-ignore format: packet bytes
const RS_UNSPEC = new Uint8Array([0x85, 0x00, 0x7b, 0xb8, 0x00, 0x00, 0x00, 0x00]);
// biome-ignore format: packet bytes
const RS_LL = new Uint8Array([
  0x85, 0x00, 0x78, 0x5c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
]);

function setup(config: Partial<HostconfConfig> = {}) {
  const ctx = new FakeHostconfContext();
  const h = new Hostconf(ctx, config);
  ctx.onTimer = (id) => assert.ok(h.handleTimer(id), `timer ${id.kind} owned`);
  return { ctx, h };
}

function ra(fields: Partial<RouterAdvertisementFields>, options: NdpOptionWriter[], src = R1): RouterAdvertisementView {
  const b = serializeMessage(new RouterAdvertisementBuilder(src, ALL_NODES, fields, options));
  assert.ok(Icmpv6View.parse(b, 0, b.length, src, ALL_NODES) instanceof Icmpv6View);
  const v = RouterAdvertisementView.parse(b, 0, b.length);
  if (v instanceof ParseError) assert.fail(String(v));
  return v;
}

const pio = (prefix: string, len: number, valid: number, preferred: number, onLink = true, auto = true) =>
  new PrefixInfoOption(len, onLink, auto, valid, preferred, v6(prefix));

test("routers: solicitations on device up: delay, 3 at 4 s, from :: then from the link-local address", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  ctx.advance(20000);
  const rs = ctx.icmpv6.filter((s) => s.dst === "ff02::2");
  assert.deepEqual(
    rs.map((s) => [s.at, s.src, s.hopLimit]),
    [
      [500, "::", 255],
      [4500, LL, 255],
      [8500, LL, 255],
    ],
  );
  assert.deepEqual(rs[0].bytes, RS_UNSPEC);
  assert.deepEqual(rs[1].bytes, RS_LL);
  for (const s of rs) {
    assert.ok(Icmpv6View.parse(s.bytes, 0, s.bytes.length, v6(s.src), ALL_ROUTERS) instanceof Icmpv6View);
    const v = RouterSolicitationView.parse(s.bytes, 0, s.bytes.length);
    assert.ok(v instanceof RouterSolicitationView);
    assert.ok(v.validForSource(s.src === "::"));
  }
  assert.equal(h.routers.solicitationsSent(1), 3);
});

test("routers: an RA gives a default route, an on-link prefix, a SLAAC address, MTU, hop limit, timers", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 9000);
  ctx.advance(2000);
  const msg = ra({ curHopLimit: 60, routerLifetime: 1800, reachableTime: 20000, retransTimer: 1500 }, [
    new LinkAddrOption(NdpOptionType.SourceLinkAddr, parseMac("02:00:00:00:00:01") as Uint8Array),
    new MtuOption(1492),
    pio("2001:db8:1::", 64, 86400, 14400),
  ]);
  assert.equal(h.onRouterAdvertisement(1, R1, 255, msg), "ok");
  assert.deepEqual([...ctx.routes].sort(), ["1 2001:db8:1::/64 on-link", "1 ::/0 via fe80::1"]);
  assert.equal(ctx.mtu.get(1), 1492);
  assert.equal(ctx.hopLimit.get(1), 60);
  // ReachableTime randomized in [0.5, 1.5) * 20000 (random half-way: 1.0); RetransTimer as sent.
  assert.deepEqual(ctx.neighborTimes.get(1), { reachableTime: 20000, retransTimer: 1500 });
  assert.deepEqual(ctx.addresses(1), [`${LL}/64 assigned`, "2001:db8:1:0:1034:56ff:fe78:9abc/64 tentative"]);
  // DAD of the SLAAC address uses the learned RetransTimer (1500 ms) after the 500 ms delay.
  ctx.advance(1999);
  assert.equal(ctx.addresses(1)[1], "2001:db8:1:0:1034:56ff:fe78:9abc/64 tentative");
  ctx.advance(1);
  assert.equal(ctx.addresses(1)[1], "2001:db8:1:0:1034:56ff:fe78:9abc/64 assigned");
  // RFC 4861 6.3.7: no more solicitations after an RA with a non-zero router lifetime.
  ctx.advance(20000);
  assert.equal(ctx.icmpv6.filter((s) => s.dst === "ff02::2").length, 1);
  assert.deepEqual(
    ctx.eventLog().filter((e) => e.includes("2001:db8")),
    [
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc tentative",
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc assigned",
    ],
  );
  // Same IID, same solicited-node group as the link-local address: MLD counts a second reference
  // and sends no new report.
  assert.deepEqual(h.mld.groups(1).length, 1);
  assert.ok(!ctx.icmpv6.some((s) => s.dst === "ff02::16" && s.at === 2000));
});

test("routers: router, prefix and address lifetimes expire", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  ctx.advance(2000);
  h.onRouterAdvertisement(1, R1, 255, ra({ routerLifetime: 30 }, [pio("2001:db8:1::", 64, 120, 60)]));
  ctx.advance(29999);
  assert.ok(ctx.routes.has("1 ::/0 via fe80::1"));
  ctx.advance(1);
  assert.ok(!ctx.routes.has("1 ::/0 via fe80::1"), "router expired");
  assert.equal(h.routers.routers(1).length, 0);
  ctx.advance(30000);
  // Preferred lifetime (60 s) over: deprecated.
  assert.equal(ctx.addresses(1)[1], "2001:db8:1:0:1034:56ff:fe78:9abc/64 deprecated");
  assert.ok(ctx.eventLog().includes("address-changed 2001:db8:1:0:1034:56ff:fe78:9abc deprecated"));
  ctx.advance(60000);
  // Valid lifetime (120 s) over: on-link route and address gone.
  assert.deepEqual([...ctx.routes], []);
  assert.deepEqual(ctx.addresses(1), [`${LL}/64 assigned`]);
  assert.equal(ctx.eventLog().at(-1), "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc removed");
  assert.equal(ctx.queue.size, 0, "no timer left");
  assert.equal(h.timers.size, 3, "only MLD's (interface timer, one group's two)");
});

test("routers: a router lifetime of 0 removes the router; a valid lifetime of 0 the prefix", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  h.onRouterAdvertisement(1, R1, 255, ra({ routerLifetime: 600 }, [pio("2001:db8:1::", 64, 600, 600, true, false)]));
  assert.equal(ctx.routes.size, 2);
  h.onRouterAdvertisement(1, R1, 255, ra({ routerLifetime: 0 }, [pio("2001:db8:1::", 64, 0, 0, true, false)]));
  assert.equal(ctx.routes.size, 0);
  assert.equal(h.slaac.addresses(1).length, 0, "A flag clear: no SLAAC");
  // An infinite prefix lifetime has no timer.
  h.onRouterAdvertisement(1, R1, 255, ra({}, [pio("2001:db8:2::", 64, 0xffffffff, 0xffffffff, true, false)]));
  assert.equal(h.routers.prefixes(1)[0].expires, Infinity);
  ctx.advance(1e9);
  assert.ok(ctx.routes.has("1 2001:db8:2::/64 on-link"));
});

test("routers: invalid RAs are ignored (RFC 4861 6.1.2)", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  const msg = () =>
    ra({ curHopLimit: 7, routerLifetime: 1800 }, [new MtuOption(1400), pio("2001:db8:1::", 64, 600, 600)]);
  assert.equal(h.onRouterAdvertisement(1, R1, 254, msg()), "bad-hop-limit");
  assert.equal(h.onRouterAdvertisement(1, R1, 64, msg()), "bad-hop-limit");
  assert.equal(h.onRouterAdvertisement(1, v6("2001:db8::1"), 255, msg()), "bad-source");
  assert.equal(h.onRouterAdvertisement(1, v6("::"), 255, msg()), "bad-source");
  assert.equal(h.onRouterAdvertisement(7, R1, 255, msg()), "unknown-device");
  assert.equal(ctx.routes.size, 0);
  assert.equal(ctx.mtu.size, 0);
  assert.equal(ctx.hopLimit.size, 0);
  assert.equal(h.slaac.addresses(1).length, 0);
});

test("routers: MTU option only within [1280, link maximum]; link-local and odd prefixes", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  h.onRouterAdvertisement(1, R1, 255, ra({}, [new MtuOption(1279)]));
  h.onRouterAdvertisement(1, R1, 255, ra({}, [new MtuOption(1501)]));
  assert.equal(ctx.mtu.size, 0);
  h.onRouterAdvertisement(1, R1, 255, ra({}, [new MtuOption(1280)]));
  assert.equal(ctx.mtu.get(1), 1280);
  // A link-local prefix is ignored; a /48 is on-link but forms no SLAAC address (RFC 4862 5.5.3 d).
  h.onRouterAdvertisement(1, R1, 255, ra({}, [pio("fe80::", 64, 600, 600), pio("2001:db8:ffff:1234::", 48, 600, 600)]));
  assert.deepEqual([...ctx.routes], ["1 2001:db8:ffff::/48 on-link"]);
  assert.equal(h.slaac.addresses(1).length, 0);
  // Preferred above valid: no address (RFC 4862 5.5.3 c).
  h.onRouterAdvertisement(1, R1, 255, ra({}, [pio("2001:db8:5::", 64, 600, 700, false)]));
  assert.equal(h.slaac.addresses(1).length, 0);
});

test("routers: the router and prefix lists are bounded", () => {
  const { ctx, h } = setup({ routers: { ...DEFAULT_ROUTER_DISCOVERY_CONFIG, maxRouters: 2, maxPrefixes: 2 } });
  h.deviceUp(1, MAC, 1500);
  for (let i = 1; i <= 4; i++) {
    const opts = [pio(`2001:db8:${i}::`, 64, 600, 600, true, false)];
    assert.equal(
      h.onRouterAdvertisement(1, v6(`fe80::${i}`), 255, ra({ routerLifetime: 600 }, opts, v6(`fe80::${i}`))),
      "ok",
    );
  }
  assert.deepEqual(
    h.routers.routers(1).map((r) => r.addr[15]),
    [1, 2],
  );
  assert.equal(h.routers.prefixes(1).length, 2);
  assert.deepEqual([...ctx.routes].sort(), [
    "1 2001:db8:1::/64 on-link",
    "1 2001:db8:2::/64 on-link",
    "1 ::/0 via fe80::1",
    "1 ::/0 via fe80::2",
  ]);
  // A known router is refreshed even when the list is full; when one expires, room is made.
  ctx.advance(500_000);
  h.onRouterAdvertisement(1, R2, 255, ra({ routerLifetime: 600 }, [], R2));
  ctx.advance(100_000);
  assert.deepEqual(
    h.routers.routers(1).map((r) => r.addr[15]),
    [2],
  );
  h.onRouterAdvertisement(1, v6("fe80::3"), 255, ra({ routerLifetime: 600 }, [], v6("fe80::3")));
  assert.equal(h.routers.routers(1).length, 2);
});

test("routers: device down removes learned routes and stops every timer", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  ctx.advance(3000);
  h.onRouterAdvertisement(1, R1, 255, ra({ routerLifetime: 600 }, [pio("2001:db8:1::", 64, 600, 300)]));
  h.joinGroup6(1, v6("ff05::1:3"));
  h.deviceDown(1);
  assert.deepEqual([...ctx.routes], []);
  assert.deepEqual(ctx.addresses(1), []);
  assert.equal(ctx.queue.size, 0);
  const sent = ctx.icmpv6.length;
  ctx.advance(1e7);
  assert.equal(ctx.icmpv6.length, sent);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6, v4 } from "./addr.ts";
import { nextHop, type Route, RoutingTable } from "./route.ts";
import { type IpVersion, Ipv4, Ipv6, Subnet } from "./version.ts";

const a4 = (s: string) => parseV4(s)!;
const a6 = (s: string) => parseV6(s)!;
const net4 = (s: string, n: number) => Subnet.of(Ipv4, a4(s), n);
const net6 = (s: string, n: number) => Subnet.of(Ipv6, a6(s), n);

function added<A, D>(r: Route<A, D> | string): Route<A, D> {
  if (typeof r === "string") assert.fail(`route refused: ${r}`);
  return r;
}

test("IPv4: longest prefix wins, default route catches the rest", () => {
  const t = new RoutingTable<Ipv4Addr, string>(Ipv4);
  const def = added(t.add({ subnet: net4("0.0.0.0", 0), device: "eth0", gateway: a4("192.168.1.1") }));
  const lan = added(t.add({ subnet: net4("192.168.1.0", 24), device: "eth0" }));
  const ten = added(t.add({ subnet: net4("10.0.0.0", 8), device: "eth1", gateway: a4("192.168.1.2") }));
  const ten1 = added(t.add({ subnet: net4("10.1.0.0", 16), device: "eth2" }));
  const host = added(t.add({ subnet: net4("10.1.2.3", 32), device: "tun0" }));
  assert.equal(t.size, 5);
  assert.equal(t.lookup(a4("8.8.8.8")), def);
  assert.equal(t.lookup(a4("192.168.1.77")), lan);
  assert.equal(t.lookup(a4("192.168.2.77")), def);
  assert.equal(t.lookup(a4("10.200.0.1")), ten);
  assert.equal(t.lookup(a4("10.1.200.1")), ten1);
  assert.equal(t.lookup(a4("10.1.2.3")), host);
  assert.equal(t.lookup(a4("10.1.2.4")), ten1);
  // On-link routes: the destination itself is the next hop; gateway routes: the gateway.
  assert.equal(nextHop(lan, a4("192.168.1.77")), a4("192.168.1.77"));
  assert.equal(nextHop(ten, a4("10.200.0.1")), a4("192.168.1.2"));
  assert.equal(lan.gateway, null);
  // Without a default route, unmatched destinations have no route.
  assert.equal(t.remove(net4("0.0.0.0", 0)), 1);
  assert.equal(t.lookup(a4("8.8.8.8")), null);
  assert.equal(t.lookup(a4("10.1.2.3")), host);
});

test("metric breaks ties between routes of one prefix; equal metrics keep insertion order", () => {
  const t = new RoutingTable<Ipv4Addr, string>(Ipv4);
  const wifi = added(t.add({ subnet: net4("0.0.0.0", 0), device: "wlan0", gateway: a4("10.0.0.1"), metric: 600 }));
  assert.equal(t.lookup(a4("1.1.1.1")), wifi);
  const wired = added(t.add({ subnet: net4("0.0.0.0", 0), device: "eth0", gateway: a4("10.0.1.1"), metric: 100 }));
  assert.equal(t.lookup(a4("1.1.1.1")), wired);
  const wired2 = added(t.add({ subnet: net4("0.0.0.0", 0), device: "eth1", gateway: a4("10.0.2.1"), metric: 100 }));
  assert.equal(t.lookup(a4("1.1.1.1")), wired);
  // A longer prefix beats a lower metric.
  const worse = added(t.add({ subnet: net4("1.0.0.0", 8), device: "eth9", metric: 10_000 }));
  assert.equal(t.lookup(a4("1.1.1.1")), worse);
  assert.equal(t.lookupOnDevice(a4("1.1.1.1"), "eth1"), wired2);
  assert.equal(t.lookupOnDevice(a4("1.1.1.1"), "wlan0"), wifi);
  assert.equal(t.lookupOnDevice(a4("1.1.1.1"), "lo"), null);
  const down = new Set(["eth0", "eth9"]);
  const up = (r: Route<Ipv4Addr, string>) => !down.has(r.device);
  assert.equal(t.lookupWhere(a4("1.1.1.1"), up), wired2);
  assert.deepEqual(
    t.list().map((r) => `${r.subnet} ${r.device} ${r.metric}`),
    ["1.0.0.0/8 eth9 10000", "0.0.0.0/0 eth0 100", "0.0.0.0/0 eth1 100", "0.0.0.0/0 wlan0 600"],
  );
  assert.equal(t.removeDevice("eth0"), 1);
  assert.equal(t.remove(net4("1.0.0.0", 8)), 1);
  assert.equal(t.lookup(a4("1.1.1.1")), wired2);
});

test("add refuses duplicates, bad gateways, the other version and bad metrics", () => {
  const t = new RoutingTable<Ipv4Addr, number>(Ipv4);
  added(t.add({ subnet: net4("10.0.0.0", 8), device: 1, gateway: a4("192.168.0.1") }));
  assert.equal(t.add({ subnet: net4("10.0.0.0", 8), device: 1, gateway: a4("192.168.0.1"), metric: 5 }), "exists");
  added(t.add({ subnet: net4("10.0.0.0", 8), device: 1, gateway: a4("192.168.0.2") }));
  added(t.add({ subnet: net4("10.0.0.0", 8), device: 1 }));
  assert.equal(t.add({ subnet: net4("10.0.0.0", 8), device: 1, gateway: null }), "exists");
  added(t.add({ subnet: net4("10.0.0.0", 8), device: 2 }));
  assert.equal(t.add({ subnet: net4("0.0.0.0", 0), device: 1, gateway: a4("0.0.0.0") }), "bad-gateway");
  assert.equal(t.add({ subnet: net4("0.0.0.0", 0), device: 1, gateway: a4("224.0.0.1") }), "bad-gateway");
  assert.equal(t.add({ subnet: net4("0.0.0.0", 0), device: 1, gateway: a4("255.255.255.255") }), "bad-gateway");
  assert.equal(t.add({ subnet: net4("0.0.0.0", 0), device: 1, metric: -1 }), "bad-metric");
  assert.equal(t.add({ subnet: net4("0.0.0.0", 0), device: 1, metric: 1.5 }), "bad-metric");
  const wrong = net6("::", 0) as unknown as Subnet<Ipv4Addr>;
  assert.equal(t.add({ subnet: wrong, device: 1 }), "wrong-version");
  assert.equal(t.size, 4);
  // remove by device and gateway.
  assert.equal(t.remove(net4("10.0.0.0", 8), 1, null), 1);
  assert.equal(t.remove(net4("10.0.0.0", 8), 1, a4("192.168.0.2")), 1);
  assert.equal(t.remove(net4("10.0.0.0", 8), 3), 0);
  assert.equal(t.remove(net4("10.0.0.0", 8)), 2);
  assert.equal(t.size, 0);
  assert.equal(t.lookup(a4("10.0.0.1")), null);
});

test("IPv6: link-local, ULA, default; gateway addresses are copied", () => {
  const t = new RoutingTable<Ipv6Addr, string>(Ipv6);
  const gw = a6("fe80::1");
  const def = added(t.add({ subnet: net6("::", 0), device: "eth0", gateway: gw }));
  gw[15] = 99; // the caller's buffer changes; the route keeps its own copy
  const ll = added(t.add({ subnet: net6("fe80::", 64), device: "eth0" }));
  const ula = added(t.add({ subnet: net6("fd00:1::", 48), device: "eth1" }));
  const h = added(t.add({ subnet: net6("fd00:1::42", 128), device: "eth2" }));
  assert.equal(Ipv6.format(nextHop(def, a6("2001:db8::1"))), "fe80::1");
  assert.equal(t.lookup(a6("2001:db8::1")), def);
  assert.equal(t.lookup(a6("fe80::abcd")), ll);
  assert.equal(t.lookup(a6("fd00:1:0:5::1")), ula);
  assert.equal(t.lookup(a6("fd00:1::42")), h);
  assert.equal(t.lookup(a6("fd00:1::43")), ula);
  assert.equal(t.lookup(a6("fd00:2::1")), def);
  assert.equal(t.lookupOnDevice(a6("fd00:1::42"), "eth1"), ula);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.lookup(a6("fe80::abcd")), null);
});

// ---- model-based property test ----

interface Op {
  kind: "add" | "remove";
  net: number;
  len: number;
  device: number;
  metric: number;
}

/** The brute-force model: scan every route; longest prefix, then lowest metric, then oldest. */
function modelLookup<A>(routes: Route<A, number>[], dst: A): Route<A, number> | null {
  let best: Route<A, number> | null = null;
  for (const r of routes) {
    if (!r.subnet.contains(dst)) continue;
    if (
      best === null ||
      r.subnet.prefixLen > best.subnet.prefixLen ||
      (r.subnet.prefixLen === best.subnet.prefixLen && r.metric < best.metric)
    ) {
      best = r;
    }
  }
  return best;
}

function checkAgainstModel<A>(I: IpVersion<A>, toAddr: (x: number) => A, ops: Op[], probes: number[]) {
  const t = new RoutingTable<A, number>(I);
  let model: Route<A, number>[] = [];
  for (const op of ops) {
    const subnet = Subnet.of(I, toAddr(op.net), op.len);
    if (op.kind === "add") {
      const r = t.add({ subnet, device: op.device, metric: op.metric });
      const dup = model.some((m) => m.subnet.equals(subnet) && m.device === op.device);
      if (dup) assert.equal(r, "exists");
      else model.push(added(r));
    } else {
      const n = t.remove(subnet, op.device);
      const before = model.length;
      model = model.filter((m) => !(m.subnet.equals(subnet) && m.device === op.device));
      assert.equal(n, before - model.length);
    }
    assert.equal(t.size, model.length);
  }
  for (const p of probes) {
    const dst = toAddr(p);
    assert.equal(t.lookup(dst), modelLookup(model, dst));
    for (const dev of [0, 1, 2]) {
      assert.equal(
        t.lookupOnDevice(dst, dev),
        modelLookup(
          model.filter((m) => m.device === dev),
          dst,
        ),
      );
    }
  }
}

// Addresses drawn from a few clustered values so that prefixes nest and collide often.
const clustered = fc.oneof(
  fc.constantFrom(0, 0x0a000000, 0x0a010000, 0x0a010200, 0xc0a80100, 0xffffffff, 0x80000000),
  fc.nat({ max: 0xffffffff }),
  fc.tuple(fc.constantFrom(0x0a000000, 0xc0a80000), fc.nat({ max: 0xffff })).map(([h, l]) => (h | l) >>> 0),
);
const opArb = fc.record({
  kind: fc.constantFrom<"add" | "remove">("add", "add", "add", "remove"),
  net: clustered,
  len: fc.oneof(fc.constantFrom(0, 8, 16, 24, 32), fc.integer({ min: 0, max: 32 })),
  device: fc.integer({ min: 0, max: 2 }),
  metric: fc.constantFrom(0, 10, 100),
});

test("IPv4 lookup equals a brute-force longest-prefix model (property)", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 40 }),
      fc.array(clustered, { minLength: 1, maxLength: 20 }),
      (ops, probes) => checkAgainstModel(Ipv4, v4, ops, probes),
    ),
  );
});

/** Spread a 32-bit number over an IPv6 address (bits 0-15 and 112-127 + a middle word) so long prefixes matter. */
function toV6(x: number): Ipv6Addr {
  const a = new Uint8Array(16) as Ipv6Addr;
  a[0] = x >>> 24;
  a[1] = (x >>> 16) & 0xff;
  a[7] = (x >>> 8) & 0xff;
  a[15] = x & 0xff;
  return a;
}

test("IPv6 lookup equals a brute-force longest-prefix model (property)", () => {
  const op6 = opArb.map((o) => ({ ...o, len: o.len === 32 ? 128 : o.len > 24 ? 56 + o.len : o.len }));
  fc.assert(
    fc.property(fc.array(op6, { maxLength: 40 }), fc.array(clustered, { minLength: 1, maxLength: 20 }), (ops, probes) =>
      checkAgainstModel(Ipv6, toV6, ops, probes),
    ),
  );
});

/** Nodes in the table's private trie (reached through `any`: this checks the compression). */
function countNodes(t: RoutingTable<Ipv4Addr, number> | RoutingTable<Ipv6Addr, number>): number {
  // biome-ignore lint/suspicious/noExplicitAny: reaching into the private trie for this check
  const walk = (n: any): number => (n === null ? 0 : 1 + walk(n.zero) + walk(n.one));
  // biome-ignore lint/suspicious/noExplicitAny: as above
  return walk((t as any).root);
}

test("the trie stays compressed: nodes only at routes and branch points, pruned on removal", () => {
  const t = new RoutingTable<Ipv4Addr, number>(Ipv4);
  for (let i = 0; i < 256; i++) added(t.add({ subnet: Subnet.of(Ipv4, v4(0x0a000000 + i * 256), 24), device: i }));
  const keep = added(t.add({ subnet: net4("10.0.0.0", 8), device: 999 }));
  // 257 route nodes + 255 branch nodes (a full binary tree over 256 leaves) + the root.
  assert.equal(countNodes(t), 257 + 255 + 1);
  assert.equal(t.lookup(a4("10.0.7.1"))!.device, 7);
  assert.equal(
    t.removeWhere((r) => r.device !== 999),
    256,
  );
  assert.equal(t.lookup(a4("10.0.7.1")), keep);
  assert.equal(countNodes(t), 2);
  t.remove(net4("10.0.0.0", 8));
  assert.equal(countNodes(t), 1);
  // IPv6 host routes: a few nodes, not 128 per route.
  const t6 = new RoutingTable<Ipv6Addr, number>(Ipv6);
  added(t6.add({ subnet: net6("2001:db8::1", 128), device: 1 }));
  added(t6.add({ subnet: net6("2001:db8::2", 128), device: 2 }));
  assert.equal(countNodes(t6), 4);
  assert.equal(t6.lookup(a6("2001:db8::2"))!.device, 2);
  assert.equal(t6.lookup(a6("2001:db8::3")), null);
  assert.equal(t6.remove(net6("2001:db8::1", 128)), 1);
  assert.equal(countNodes(t6), 2);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv6Addr, parseV6 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import { Icmpv6View } from "../wire/icmpv6.ts";
import {
  NdpOptionType,
  NeighborAdvertisementBuilder,
  NeighborAdvertisementView,
  NeighborSolicitationBuilder,
  NeighborSolicitationView,
  RawNdpOption,
} from "../wire/ndp.ts";
import { Dad, type DadConfig, DEFAULT_DAD_CONFIG } from "./dad.ts";
import { FakeHostconfContext, serializeMessage } from "./fake-context.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const LL = v6("fe80::1034:56ff:fe78:9abc");
const UNSPEC = v6("::");
const SOL = v6("ff02::1:ff78:9abc");

// The DAD probe for fe80::1034:56ff:fe78:9abc: :: -> ff02::1:ff78:9abc, nonce 11:22:33:44:55:66
// (RFC 7527). tshark: "Checksum: 0x38b4 [correct]", "Nonce: 112233445566".
// biome-ignore format: packet bytes
const DAD_NS = new Uint8Array([
  0x87, 0x00, 0x38, 0xb4, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x10, 0x34, 0x56, 0xff, 0xfe, 0x78, 0x9a, 0xbc, 0x0e, 0x01, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
]);

function setup(config: Partial<DadConfig> = {}, retrans = 1000) {
  const ctx = new FakeHostconfContext();
  const dad = new Dad(ctx, { ...DEFAULT_DAD_CONFIG, ...config }, () => retrans);
  const results: string[] = [];
  dad.onResult = (_d, _a, ok, origin) => results.push(`${ok ? "ok" : "failed"} ${origin}`);
  ctx.onTimer = (id) => {
    if (id.kind === "dad") dad.handleTimer(id);
  };
  return { ctx, dad, results };
}

function ns(src: Uint8Array, target: Uint8Array, nonce?: Uint8Array): NeighborSolicitationView {
  const options = nonce === undefined ? [] : [new RawNdpOption(NdpOptionType.Nonce, nonce)];
  const b = serializeMessage(new NeighborSolicitationBuilder(src, SOL, target, options));
  const v = NeighborSolicitationView.parse(b, 0, b.length);
  if (v instanceof ParseError) assert.fail(String(v));
  return v;
}

function na(target: Uint8Array): NeighborAdvertisementView {
  const b = serializeMessage(
    new NeighborAdvertisementBuilder(v6("fe80::99"), v6("ff02::1"), target, { override: true }),
  );
  const v = NeighborAdvertisementView.parse(b, 0, b.length);
  if (v instanceof ParseError) assert.fail(String(v));
  return v;
}

test("dad: tentative, one NS from :: after the random delay (exact bytes), then assigned", () => {
  const { ctx, dad, results } = setup();
  // Nonce words first, then the initial delay: 0x40000000 of 2^32 of 1000 ms = 250 ms.
  ctx.randoms = [0x44332211, 0x77665544, 0x40000000];
  dad.start(0, LL, 64, "link-local");
  assert.deepEqual(ctx.addresses(0), ["fe80::1034:56ff:fe78:9abc/64 tentative"]);
  assert.deepEqual(ctx.eventLog(), ["address-changed fe80::1034:56ff:fe78:9abc tentative"]);
  assert.ok(dad.isTentative(0, LL));
  ctx.advance(249);
  assert.equal(ctx.icmpv6.length, 0, "RFC 4862 5.4.2: random delay first");
  ctx.advance(1);
  assert.equal(ctx.icmpv6.length, 1);
  const s = ctx.icmpv6[0];
  assert.deepEqual([s.src, s.dst, s.hopLimit, s.routerAlert, s.at], ["::", "ff02::1:ff78:9abc", 255, false, 250]);
  assert.deepEqual(s.bytes, DAD_NS);
  // The wire parsers accept it: checksum with the pseudo-header, NS fields.
  assert.ok(Icmpv6View.parse(s.bytes, 0, s.bytes.length, UNSPEC, SOL) instanceof Icmpv6View);
  const parsed = NeighborSolicitationView.parse(s.bytes, 0, s.bytes.length);
  assert.ok(parsed instanceof NeighborSolicitationView);
  assert.equal(parsed.sourceLinkAddr, null, "RFC 4861 7.2.2: no SLLA option from ::");
  // RetransTimer after the last NS: assigned.
  ctx.advance(999);
  assert.deepEqual(ctx.addresses(0), ["fe80::1034:56ff:fe78:9abc/64 tentative"]);
  ctx.advance(1);
  assert.deepEqual(ctx.addresses(0), ["fe80::1034:56ff:fe78:9abc/64 assigned"]);
  assert.deepEqual(ctx.eventLog().slice(1), ["address-changed fe80::1034:56ff:fe78:9abc assigned"]);
  assert.deepEqual(results, ["ok link-local"]);
  assert.equal(dad.isTentative(0, LL), false);
  assert.equal(ctx.queue.size, 0);
});

test("dad: DupAddrDetectTransmits solicitations, RetransTimer apart (learned value)", () => {
  const { ctx, dad } = setup({ transmits: 3, maxInitialDelay: 0 }, 2500);
  dad.start(0, LL, 64, "manual");
  ctx.advance(20000);
  assert.deepEqual(
    ctx.icmpv6.map((s) => s.at),
    [0, 2500, 5000],
  );
  assert.equal(ctx.events.at(-1)?.type, "address-changed");
  assert.deepEqual(ctx.addresses(0), ["fe80::1034:56ff:fe78:9abc/64 assigned"]);
  // Assigned at 7500: 2500 after the third.
  assert.equal(ctx.eventLog().length, 2);
});

test("dad: an NS for the tentative address from :: is a duplicate (RFC 4862 5.4.3)", () => {
  const { ctx, dad, results } = setup();
  dad.start(0, LL, 64, "link-local");
  ctx.advance(600);
  assert.equal(dad.onNeighborSolicitation(0, UNSPEC, ns(UNSPEC, LL, Uint8Array.of(9, 9, 9, 9, 9, 9))), "duplicate");
  assert.deepEqual(ctx.addresses(0), []);
  // Removed, then the failure: the order the Stack reports them in (test/scenarios/ndp.test.ts).
  assert.deepEqual(ctx.eventLog(), [
    "address-changed fe80::1034:56ff:fe78:9abc tentative",
    "address-changed fe80::1034:56ff:fe78:9abc removed",
    "dad-failed fe80::1034:56ff:fe78:9abc",
  ]);
  assert.deepEqual(results, ["failed link-local"]);
  ctx.advance(5000);
  assert.equal(ctx.icmpv6.length, 1, "no more probes");
  assert.equal(ctx.queue.size, 0);
});

test("dad: an NA for the tentative address is a duplicate (RFC 4862 5.4.4)", () => {
  const { ctx, dad, results } = setup();
  dad.start(0, LL, 64, "slaac");
  assert.equal(dad.onNeighborAdvertisement(0, na(v6("fe80::1"))), "not-tentative");
  assert.equal(dad.onNeighborAdvertisement(1, na(LL)), "not-tentative", "another device");
  assert.equal(dad.onNeighborAdvertisement(0, na(LL)), "duplicate");
  assert.deepEqual(results, ["failed slaac"]);
  assert.deepEqual(ctx.addresses(0), []);
});

test("dad: an NS from a unicast source is dropped; our own looped-back NS is ignored (RFC 7527)", () => {
  const { ctx, dad, results } = setup();
  ctx.randoms = [0x44332211, 0x77665544];
  dad.start(0, LL, 64, "link-local");
  ctx.advance(500);
  assert.equal(dad.onNeighborSolicitation(0, v6("fe80::5"), ns(v6("fe80::5"), LL)), "tentative");
  const own = NeighborSolicitationView.parse(ctx.icmpv6[0].bytes, 0, ctx.icmpv6[0].bytes.length);
  assert.ok(own instanceof NeighborSolicitationView);
  assert.equal(dad.onNeighborSolicitation(0, UNSPEC, own), "looped");
  assert.equal(dad.onNeighborSolicitation(0, UNSPEC, ns(UNSPEC, v6("fe80::77"))), "not-tentative");
  ctx.advance(1000);
  assert.deepEqual(results, ["ok link-local"]);
  assert.deepEqual(ctx.addresses(0), ["fe80::1034:56ff:fe78:9abc/64 assigned"]);
  // Once assigned, the address is no longer tentative.
  assert.equal(dad.onNeighborSolicitation(0, UNSPEC, ns(UNSPEC, LL)), "not-tentative");
});

test("dad: without a nonce a solicitation from :: always means a duplicate", () => {
  const { ctx, dad } = setup({ nonce: false });
  dad.start(0, LL, 64, "link-local");
  ctx.advance(500);
  assert.equal(ctx.icmpv6[0].bytes.length, 24, "no nonce option");
  const own = NeighborSolicitationView.parse(ctx.icmpv6[0].bytes, 0, 24);
  assert.ok(own instanceof NeighborSolicitationView);
  assert.equal(dad.onNeighborSolicitation(0, UNSPEC, own), "duplicate");
});

test("dad: transmits 0 assigns at once; cancel stops DAD silently", () => {
  const a = setup({ transmits: 0 });
  a.dad.start(0, LL, 64, "manual");
  assert.deepEqual(a.ctx.addresses(0), ["fe80::1034:56ff:fe78:9abc/64 assigned"]);
  assert.deepEqual(a.results, ["ok manual"]);
  assert.equal(a.ctx.queue.size, 0);
  const b = setup();
  b.dad.start(0, LL, 64, "manual");
  b.dad.start(0, LL, 64, "manual");
  assert.equal(b.dad.size, 1, "a second start is a no-op");
  assert.ok(b.dad.cancel(0, LL));
  b.ctx.advance(10000);
  assert.equal(b.ctx.icmpv6.length, 0);
  assert.deepEqual(b.results, []);
  assert.equal(b.ctx.queue.size, 0);
});

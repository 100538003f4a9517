import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv6Addr, parseMac, parseV6 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import {
  NeighborAdvertisementBuilder,
  NeighborAdvertisementView,
  PrefixInfoOption,
  RouterAdvertisementBuilder,
  RouterAdvertisementView,
} from "../wire/ndp.ts";
import { FakeHostconfContext, serializeMessage } from "./fake-context.ts";
import { Hostconf, type HostconfConfig } from "./hostconf.ts";
import { TWO_HOURS_MS } from "./slaac.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const MAC = parseMac("12:34:56:78:9a:bc") as Uint8Array;
const R1 = v6("fe80::1");
const H = 3600;

function setup(config: Partial<HostconfConfig> = {}) {
  const ctx = new FakeHostconfContext();
  const h = new Hostconf(ctx, config);
  ctx.onTimer = (id) => h.handleTimer(id);
  h.deviceUp(1, MAC, 1500);
  ctx.advance(2000);
  return { ctx, h };
}

function advertise(h: Hostconf, prefix: string, valid: number, preferred: number): void {
  const b = serializeMessage(
    new RouterAdvertisementBuilder(R1, v6("ff02::1"), {}, [
      new PrefixInfoOption(64, false, true, valid, preferred, v6(prefix)),
    ]),
  );
  const v = RouterAdvertisementView.parse(b, 0, b.length);
  if (v instanceof ParseError) assert.fail(String(v));
  assert.equal(h.onRouterAdvertisement(1, R1, 255, v), "ok");
}

/** Remaining valid lifetime of the one SLAAC address, in seconds. */
function remaining(ctx: FakeHostconfContext, h: Hostconf): number {
  return (h.slaac.addresses(1)[0].validUntil - ctx.now()) / 1000;
}

test("slaac: the two-hour rule (RFC 4862 5.5.3 e)", () => {
  const { ctx, h } = setup();
  advertise(h, "2001:db8:1::", 10 * H, 10 * H);
  assert.equal(remaining(ctx, h), 10 * H);
  // 1. Longer than two hours: taken, even when shorter than what remains.
  advertise(h, "2001:db8:1::", 3 * H, 3 * H);
  assert.equal(remaining(ctx, h), 3 * H);
  // 3. Two hours or less advertised, more than two hours remaining: reset to two hours.
  advertise(h, "2001:db8:1::", 60, 30);
  assert.equal(remaining(ctx, h), 2 * H);
  // 2. Two hours or less remain: a shorter advertised lifetime is ignored...
  ctx.advance(H * 1000);
  advertise(h, "2001:db8:1::", 60, 30);
  assert.equal(remaining(ctx, h), H);
  // ... but one longer than the remaining lifetime is taken.
  advertise(h, "2001:db8:1::", 5400, 30);
  assert.equal(remaining(ctx, h), 5400);
  // A valid lifetime of 0 does not kill the address either (rule 2): a forged RA cannot.
  advertise(h, "2001:db8:1::", 0, 0);
  assert.equal(remaining(ctx, h), 5400);
  assert.equal(h.slaac.addresses(1)[0].state, "deprecated", "preferred lifetime 0: deprecated");
  assert.equal(TWO_HOURS_MS, 7200_000);
});

test("slaac: deprecation, renewal of the preferred lifetime, removal", () => {
  const { ctx, h } = setup();
  advertise(h, "2001:db8:1::", 600, 100);
  ctx.advance(100_000);
  assert.equal(h.slaac.addresses(1)[0].state, "deprecated");
  assert.equal(ctx.addresses(1)[1], "2001:db8:1:0:1034:56ff:fe78:9abc/64 deprecated");
  // RFC 4862 5.5.4: renewed preferred lifetime: preferred again.
  advertise(h, "2001:db8:1::", 600, 100);
  assert.equal(ctx.addresses(1)[1], "2001:db8:1:0:1034:56ff:fe78:9abc/64 assigned");
  ctx.advance(600_000);
  assert.equal(h.slaac.addresses(1).length, 0);
  assert.equal(ctx.addresses(1).length, 1);
  assert.deepEqual(
    ctx.eventLog().filter((e) => e.includes("2001:db8")),
    [
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc tentative",
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc assigned",
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc deprecated",
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc assigned",
      // Renewed for 100 s more, then deprecated again; the valid lifetime (renewed to 600 s) ends.
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc deprecated",
      "address-changed 2001:db8:1:0:1034:56ff:fe78:9abc removed",
    ],
  );
});

test("slaac: an address with preferred lifetime 0 is deprecated once DAD passes; infinite lifetimes", () => {
  const { ctx, h } = setup();
  advertise(h, "2001:db8:1::", 600, 0);
  assert.equal(h.slaac.addresses(1)[0].state, "tentative");
  ctx.advance(1500);
  assert.equal(h.slaac.addresses(1)[0].state, "deprecated");
  advertise(h, "2001:db8:2::", 0xffffffff, 0xffffffff);
  ctx.advance(1e10);
  const a = h.slaac.addresses(1).find((x) => x.prefix[5] === 2);
  assert.equal(a?.state, "assigned");
  assert.equal(a?.validUntil, Infinity);
});

test("slaac: the number of addresses per device is bounded", () => {
  const { h } = setup({ slaac: { maxAddresses: 2 } });
  for (let i = 1; i <= 5; i++) advertise(h, `2001:db8:${i}::`, 600, 600);
  assert.equal(h.slaac.addresses(1).length, 2);
});

test("slaac: DAD failure removes the address; stable IIDs retry with the next DAD counter (RFC 7217 6)", () => {
  for (const mode of ["eui64", "stable"] as const) {
    const { ctx, h } = setup({ iid: mode, stableSecret: new Uint8Array(16).fill(7) });
    advertise(h, "2001:db8:1::", 600, 600);
    const first = h.slaac.addresses(1)[0].addr;
    const b = serializeMessage(
      new NeighborAdvertisementBuilder(v6("fe80::99"), v6("ff02::1"), first, { override: true }),
    );
    const na = NeighborAdvertisementView.parse(b, 0, b.length);
    if (na instanceof ParseError) assert.fail(String(na));
    assert.equal(h.onNeighborAdvertisement(1, na), "duplicate");
    assert.ok(ctx.eventLog().some((e) => e.startsWith("dad-failed 2001:db8:1:")));
    const now = h.slaac.addresses(1);
    if (mode === "eui64") {
      assert.equal(now.length, 0, "EUI-64: no other address to try");
    } else {
      assert.equal(now.length, 1);
      assert.equal(now[0].dadCounter, 1);
      assert.notDeepEqual(now[0].addr, first);
      ctx.advance(2000);
      assert.equal(h.slaac.addresses(1)[0].state, "assigned");
    }
  }
});

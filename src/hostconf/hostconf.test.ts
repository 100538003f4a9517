import assert from "node:assert/strict";
import { test } from "node:test";
import { formatV6, type Ipv4Addr, type Ipv6Addr, parseMac, parseV4, parseV6 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import { Icmpv6Type } from "../wire/icmpv6.ts";
import { IgmpBuilder, IgmpType, IgmpView } from "../wire/igmp.ts";
import { MldBuilder, MldView } from "../wire/mld.ts";
import { NeighborSolicitationBuilder, NeighborSolicitationView } from "../wire/ndp.ts";
import { FakeHostconfContext, serializeMessage } from "./fake-context.ts";
import { Hostconf, type HostconfConfig } from "./hostconf.ts";
import { isLinkLocal } from "./iid.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const MAC = parseMac("12:34:56:78:9a:bc") as Uint8Array;

function setup(config: Partial<HostconfConfig> = {}) {
  const ctx = new FakeHostconfContext();
  const h = new Hostconf(ctx, config);
  ctx.onTimer = (id) => assert.ok(h.handleTimer(id));
  return { ctx, h };
}

test("hostconf: device up with stable IIDs; a duplicate link-local address is regenerated", () => {
  const { ctx, h } = setup({ iid: "stable", stableSecret: new Uint8Array(16).fill(1) });
  h.deviceUp(1, MAC, 1500);
  const first = h.linkLocal(1) as Ipv6Addr;
  assert.ok(isLinkLocal(first));
  assert.notEqual(formatV6(first), "fe80::1034:56ff:fe78:9abc", "not EUI-64");
  // Another node probes the same address: RFC 4862 5.4.3 duplicate; RFC 7217 6: next counter.
  const b = serializeMessage(new NeighborSolicitationBuilder(v6("::"), v6("ff02::1:ff00:1"), first));
  const ns = NeighborSolicitationView.parse(b, 0, b.length);
  if (ns instanceof ParseError) assert.fail(String(ns));
  assert.equal(h.onNeighborSolicitation(1, v6("::"), ns), "duplicate");
  const second = h.linkLocal(1) as Ipv6Addr;
  assert.ok(second !== null && isLinkLocal(second));
  assert.notDeepEqual(second, first);
  ctx.advance(3000);
  assert.deepEqual(ctx.addresses(1), [`${formatV6(second)}/64 assigned`]);
  assert.deepEqual(ctx.eventLog().slice(0, 3), [
    `address-changed ${formatV6(first)} tentative`,
    `address-changed ${formatV6(first)} removed`,
    `dad-failed ${formatV6(first)}`,
  ]);
});

test("hostconf: a manual address goes through DAD; a device without a MAC gets no link-local address", () => {
  const { ctx, h } = setup();
  h.deviceUp(0, null, 65536);
  assert.equal(h.linkLocal(0), null);
  h.addAddress(0, v6("2001:db8::5"), 64);
  assert.deepEqual(ctx.addresses(0), ["2001:db8::5/64 tentative"]);
  ctx.advance(2000);
  assert.deepEqual(ctx.addresses(0), ["2001:db8::5/64 assigned"]);
  assert.deepEqual(
    h.mld.groups(0).map((g) => formatV6(g)),
    ["ff02::1:ff00:5"],
  );
  h.removeAddress(0, v6("2001:db8::5"));
  assert.deepEqual(h.mld.groups(0), []);
});

test("hostconf: MLD and IGMP messages are dispatched; foreign timers are not taken", () => {
  const { ctx, h } = setup();
  h.deviceUp(1, MAC, 1500);
  h.joinGroup4(1, parseV4("224.1.2.3") as Ipv4Addr);
  h.joinGroup6(1, v6("ff05::1:3"));
  ctx.advance(20_000);
  const n6 = ctx.icmpv6.length;
  const n4 = ctx.igmp.length;
  const qb = serializeMessage(new MldBuilder(v6("fe80::1"), v6("ff02::1"), Icmpv6Type.MldQuery, 1000, v6("::")));
  const q = MldView.parse(qb, 0, qb.length);
  if (q instanceof ParseError) assert.fail(String(q));
  assert.equal(h.onMld(1, v6("fe80::1"), 1, q), "ok");
  const ib = serializeMessage(new IgmpBuilder(IgmpType.MembershipQuery, 10, parseV4("0.0.0.0") as Ipv4Addr));
  const iq = IgmpView.parse(ib, 0, ib.length);
  if (iq instanceof ParseError) assert.fail(String(iq));
  assert.equal(h.onIgmp(1, iq), "ok");
  ctx.advance(1000);
  assert.equal(ctx.igmp.length, n4 + 1);
  // MLDv1 mode now: one v1 report per reportable group (solicited-node and ff05::1:3).
  assert.equal(ctx.icmpv6.length, n6 + 2);
  assert.equal(h.handleTimer({ kind: "tcp", socket: 3 }), false);
  assert.equal(h.handleTimer({ kind: "lifetime", device: 1, key: 99999 }), false);
});

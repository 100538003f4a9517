import assert from "node:assert/strict";
import { test } from "node:test";
import { formatV6, type Ipv6Addr, parseV6 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import { Icmpv6Type, Icmpv6View } from "../wire/icmpv6.ts";
import {
  ALL_MLDV2_ROUTERS,
  MldBuilder,
  MldRecordType,
  MldView,
  Mldv2QueryBuilder,
  Mldv2ReportView,
  parseMld,
} from "../wire/mld.ts";
import { TimerRegistry } from "./context.ts";
import { FakeHostconfContext, serializeMessage } from "./fake-context.ts";
import { Mld, mldReportable } from "./mld.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const LL = v6("fe80::1034:56ff:fe78:9abc");
const SOL = v6("ff02::1:ff78:9abc");
const G = v6("ff05::1:3");
const ROUTER = v6("fe80::1");

// MLDv2 report from fe80::1034:56ff:fe78:9abc: CHANGE_TO_EXCLUDE ff02::1:ff78:9abc (tshark: checksum correct).
// biome-ignore format: packet bytes
const REPORT_JOIN = new Uint8Array([
  0x8f, 0x00, 0xd5, 0x6b, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x78, 0x9a, 0xbc,
]);

function setup() {
  const ctx = new FakeHostconfContext();
  const timers = new TimerRegistry();
  const mld = new Mld(ctx, timers);
  ctx.onTimer = (id) => assert.ok("key" in id && timers.fire(id.key));
  // An assigned link-local address: reports come from it.
  ctx.addAddress(0, LL, 64, "assigned", "link-local");
  return { ctx, mld, timers };
}

/** The records of every report sent, as "time type group [sources]" lines. */
function reports(ctx: FakeHostconfContext): string[] {
  const out: string[] = [];
  for (const s of ctx.icmpv6) {
    assert.equal(s.hopLimit, 1);
    assert.ok(s.routerAlert, "RFC 3810 5: Router Alert");
    assert.ok(Icmpv6View.parse(s.bytes, 0, s.bytes.length, v6(s.src), v6(s.dst)) instanceof Icmpv6View);
    const m = parseMld(s.bytes, 0, s.bytes.length);
    if (m instanceof ParseError) assert.fail(String(m));
    if (m instanceof Mldv2ReportView) {
      const c = m.records();
      while (c.next()) {
        const src: string[] = [];
        for (let i = 0; i < c.numSources; i++) src.push(formatV6(c.source(i)));
        out.push(
          `${s.at} v2 ${c.recordType} ${formatV6(c.group)}${src.length > 0 ? ` [${src.join(" ")}]` : ""} > ${s.dst}`,
        );
      }
    } else out.push(`${s.at} v1 ${m.type} ${formatV6(m.group)} > ${s.dst}`);
  }
  return out;
}

function query(b: MldBuilder | Mldv2QueryBuilder): MldView {
  const bytes = serializeMessage(b);
  const v = MldView.parse(bytes, 0, bytes.length);
  if (v instanceof ParseError) assert.fail(String(v));
  return v;
}

const v2Query = (group: Ipv6Addr, maxResp: number, sources: Ipv6Addr[] = []) =>
  query(new Mldv2QueryBuilder(ROUTER, v6("ff02::1"), maxResp, group, false, 2, 125, sources));

test("mld: join sends CHANGE_TO_EXCLUDE (exact bytes) and repeats it (robustness 2)", () => {
  const { ctx, mld } = setup();
  mld.join(0, SOL);
  assert.deepEqual(ctx.icmpv6[0].bytes, REPORT_JOIN);
  assert.equal(ctx.icmpv6[0].dst, "ff02::16");
  ctx.advance(10_000);
  assert.deepEqual(reports(ctx), [`0 v2 4 ff02::1:ff78:9abc > ff02::16`, `500 v2 4 ff02::1:ff78:9abc > ff02::16`]);
  // A second join is only a reference; one leave keeps the membership.
  mld.join(0, SOL);
  mld.leave(0, SOL);
  assert.equal(ctx.icmpv6.length, 2);
  assert.deepEqual(
    mld.groups(0).map((g) => formatV6(g)),
    ["ff02::1:ff78:9abc"],
  );
});

test("mld: leave sends CHANGE_TO_INCLUDE twice; ff02::1 and interface-local groups are never reported", () => {
  const { ctx, mld } = setup();
  mld.join(0, v6("ff02::1"));
  mld.join(0, v6("ff01::5"));
  assert.equal(ctx.icmpv6.length, 0);
  assert.ok(!mldReportable(v6("ff02::1")) && !mldReportable(v6("ff00::1")) && mldReportable(v6("ff02::2")));
  mld.join(0, G);
  ctx.advance(5000);
  ctx.icmpv6.length = 0;
  mld.leave(0, G);
  ctx.advance(5000);
  assert.deepEqual(reports(ctx), [`5000 v2 3 ff05::1:3 > ff02::16`, `5500 v2 3 ff05::1:3 > ff02::16`]);
  assert.deepEqual(mld.groups(0).length, 2);
  assert.equal(ctx.queue.size, 0);
});

test("mld: reports before the link-local address is valid come from :: (RFC 3810 5.2.13)", () => {
  const ctx = new FakeHostconfContext();
  const mld = new Mld(ctx, new TimerRegistry());
  mld.join(0, SOL);
  assert.equal(ctx.icmpv6[0].src, "::");
});

test("mld: a general query is answered with IS_EXCLUDE for every group after a random delay", () => {
  const { ctx, mld } = setup();
  mld.join(0, SOL);
  mld.join(0, G);
  ctx.advance(5000);
  ctx.icmpv6.length = 0;
  ctx.randoms = [0x40000000];
  assert.equal(mld.onQuery(0, ROUTER, 1, v2Query(v6("::"), 10000)), "ok");
  ctx.advance(2499);
  assert.equal(ctx.icmpv6.length, 0);
  ctx.advance(1);
  assert.deepEqual(reports(ctx), [`7500 v2 2 ff02::1:ff78:9abc > ff02::16`, `7500 v2 2 ff05::1:3 > ff02::16`]);
  assert.equal(ctx.icmpv6.length, 1, "one report with both records");
});

test("mld: group and group-and-source queries (RFC 3810 6.2, 6.3)", () => {
  const { ctx, mld } = setup();
  mld.join(0, SOL);
  mld.join(0, G);
  ctx.advance(5000);
  ctx.icmpv6.length = 0;
  mld.onQuery(0, ROUTER, 1, v2Query(G, 1000));
  mld.onQuery(0, ROUTER, 1, v2Query(v6("ff05::99"), 1000));
  ctx.advance(1000);
  assert.deepEqual(reports(ctx), [`5500 v2 2 ff05::1:3 > ff02::16`]);
  ctx.icmpv6.length = 0;
  mld.onQuery(0, ROUTER, 1, v2Query(G, 1000, [v6("2001:db8::1")]));
  mld.onQuery(0, ROUTER, 1, v2Query(G, 1000, [v6("2001:db8::2")]));
  ctx.advance(1000);
  assert.deepEqual(reports(ctx), [`6500 v2 1 ff05::1:3 [2001:db8::1 2001:db8::2] > ff02::16`]);
});

test("mld: invalid queries are ignored", () => {
  const { ctx, mld } = setup();
  mld.join(0, G);
  ctx.advance(5000);
  ctx.icmpv6.length = 0;
  assert.equal(mld.onQuery(0, v6("2001:db8::1"), 1, v2Query(v6("::"), 1000)), "bad-source");
  assert.equal(mld.onQuery(0, ROUTER, 255, v2Query(v6("::"), 1000)), "bad-hop-limit");
  ctx.advance(5000);
  assert.equal(ctx.icmpv6.length, 0);
});

test("mld: an MLDv1 query switches to MLDv1: v1 reports, suppression, done", () => {
  const { ctx, mld } = setup();
  mld.join(0, G);
  mld.join(0, v6("ff05::2"));
  ctx.advance(5000);
  ctx.icmpv6.length = 0;
  mld.onQuery(0, ROUTER, 1, query(new MldBuilder(ROUTER, v6("ff02::1"), Icmpv6Type.MldQuery, 1000, v6("::"))));
  assert.ok(mld.isV1Mode(0));
  // Another listener reports ff05::2 first: ours is suppressed (RFC 2710 4).
  mld.onReport(0, v6("ff05::2"));
  ctx.advance(1000);
  assert.deepEqual(reports(ctx), [`5500 v1 131 ff05::1:3 > ff05::1:3`]);
  ctx.icmpv6.length = 0;
  mld.leave(0, G);
  assert.deepEqual(reports(ctx), [`6000 v1 132 ff05::1:3 > ff02::2`]);
  // After the Older Version Querier Present Timeout (260 s), back to MLDv2.
  ctx.advance(260_000);
  assert.ok(!mld.isV1Mode(0));
  ctx.icmpv6.length = 0;
  mld.join(0, G);
  assert.equal(reports(ctx)[0], `266000 v2 ${MldRecordType.ChangeToExclude} ff05::1:3 > ff02::16`);
  assert.equal(formatV6(ALL_MLDV2_ROUTERS), "ff02::16");
});

test("mld: a host configured for MLDv1 only speaks MLDv1 (RFC 2710): reports to the group, done on leave", () => {
  const ctx = new FakeHostconfContext();
  const timers = new TimerRegistry();
  const mld = new Mld(ctx, timers, undefined, undefined, 1);
  ctx.onTimer = (id) => assert.ok("key" in id && timers.fire(id.key));
  ctx.addAddress(0, LL, 64, "assigned", "link-local");
  assert.ok(mld.isV1Mode(0));
  mld.join(0, G);
  ctx.advance(20_000);
  // RFC 2710 7.10: the repeat within the 10 s Unsolicited Report Interval.
  assert.deepEqual(reports(ctx), [`0 v1 131 ff05::1:3 > ff05::1:3`, `5000 v1 131 ff05::1:3 > ff05::1:3`]);
  ctx.icmpv6.length = 0;
  // An MLDv2 query is answered as MLDv1 (per-group timer, v1 report).
  mld.onQuery(0, ROUTER, 1, v2Query(v6("::"), 1000));
  ctx.advance(1000);
  assert.deepEqual(reports(ctx), [`20500 v1 131 ff05::1:3 > ff05::1:3`]);
  ctx.icmpv6.length = 0;
  mld.leave(0, G);
  assert.deepEqual(reports(ctx), [`21000 v1 132 ff05::1:3 > ff02::2`]);
  assert.equal(ctx.queue.size, 0);
});

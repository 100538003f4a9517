import assert from "node:assert/strict";
import { test } from "node:test";
import { formatV4, type Ipv4Addr, parseV4 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import { IgmpBuilder, IgmpType, IgmpView, Igmpv3QueryBuilder, Igmpv3ReportView } from "../wire/igmp.ts";
import { TimerRegistry } from "./context.ts";
import { FakeHostconfContext, serializeMessage } from "./fake-context.ts";
import { Igmp } from "./igmp.ts";

const v4 = (s: string) => parseV4(s) as Ipv4Addr;
const G = v4("224.1.2.3");
const G2 = v4("239.0.0.7");

// IGMPv2 membership report and leave for 224.1.2.3 (tshark: checksums correct).
// biome-ignore format: packet bytes
const REPORT = new Uint8Array([0x16, 0x00, 0x07, 0xfb, 0xe0, 0x01, 0x02, 0x03]);
// biome-ignore format: packet bytes
const LEAVE = new Uint8Array([0x17, 0x00, 0x06, 0xfb, 0xe0, 0x01, 0x02, 0x03]);

function setup() {
  const ctx = new FakeHostconfContext();
  const timers = new TimerRegistry();
  const igmp = new Igmp(ctx, timers);
  ctx.onTimer = (id) => assert.ok("key" in id && timers.fire(id.key));
  return { ctx, igmp };
}

function sent(ctx: FakeHostconfContext): string[] {
  return ctx.igmp.map((s) => {
    const v = IgmpView.parse(s.bytes, 0, s.bytes.length);
    if (v instanceof ParseError) assert.fail(String(v));
    return `${s.at} 0x${v.type.toString(16)} ${v.group === G ? "G" : v.group === G2 ? "G2" : v.group} > ${s.dst}`;
  });
}

function query(maxResp: number, group = v4("0.0.0.0")): IgmpView {
  const b = serializeMessage(new IgmpBuilder(IgmpType.MembershipQuery, maxResp, group));
  const v = IgmpView.parse(b, 0, b.length);
  if (v instanceof ParseError) assert.fail(String(v));
  return v;
}

test("igmp: join sends a v2 report (exact bytes), repeated within the unsolicited report interval", () => {
  const { ctx, igmp } = setup();
  igmp.join(0, G);
  assert.deepEqual(ctx.igmp[0].bytes, REPORT);
  ctx.advance(20_000);
  assert.deepEqual(sent(ctx), ["0 0x16 G > 224.1.2.3", "5000 0x16 G > 224.1.2.3"]);
  // 224.0.0.1 is never reported (RFC 2236 6).
  igmp.join(0, v4("224.0.0.1"));
  igmp.leave(0, v4("224.0.0.1"));
  assert.equal(ctx.igmp.length, 2);
});

test("igmp: leave sends a Leave Group to 224.0.0.2 when we reported last (exact bytes)", () => {
  const { ctx, igmp } = setup();
  igmp.join(0, G);
  igmp.join(0, G);
  igmp.leave(0, G);
  assert.equal(ctx.igmp.length, 1, "still one reference");
  igmp.leave(0, G);
  assert.equal(ctx.igmp[1].dst, "224.0.0.2");
  assert.deepEqual(ctx.igmp[1].bytes, LEAVE);
  assert.equal(ctx.queue.size, 0);
  assert.deepEqual(igmp.groups(0), []);
});

test("igmp: queries are answered after a random delay; another member's report suppresses ours", () => {
  const { ctx, igmp } = setup();
  igmp.join(0, G);
  igmp.join(0, G2);
  ctx.advance(20_000);
  ctx.igmp.length = 0;
  ctx.randoms = [0x40000000];
  // General query, Max Resp Time 10 s: one timer per group at 2.5 s.
  assert.equal(igmp.onQuery(0, query(100)), "ok");
  igmp.onReport(0, G2);
  ctx.advance(10_000);
  assert.deepEqual(sent(ctx), ["22500 0x16 G > 224.1.2.3"]);
  // G2 was reported by someone else: leaving sends no Leave Group.
  igmp.leave(0, G2);
  assert.equal(ctx.igmp.length, 1);
  // A group-specific query for another group starts nothing; an IGMPv3 query is answered as v2.
  ctx.igmp.length = 0;
  igmp.onQuery(0, query(10, v4("239.9.9.9")));
  const b = serializeMessage(new Igmpv3QueryBuilder(10, G, false, 2, 125));
  const v3 = IgmpView.parse(b, 0, b.length);
  if (v3 instanceof ParseError) assert.fail(String(v3));
  igmp.onQuery(0, v3);
  ctx.advance(1000);
  assert.deepEqual(sent(ctx), ["30500 0x16 G > 224.1.2.3"]);
});

test("igmp: a query with Max Resp Time 0 means an IGMPv1 router: v1 reports, no leave (RFC 2236 4)", () => {
  const { ctx, igmp } = setup();
  igmp.join(0, G);
  ctx.advance(20_000);
  ctx.igmp.length = 0;
  igmp.onQuery(0, query(0));
  ctx.advance(10_000);
  assert.deepEqual(sent(ctx), ["25000 0x12 G > 224.1.2.3"]);
  igmp.leave(0, G);
  assert.equal(ctx.igmp.length, 1, "no Leave Group to an IGMPv1 router");
  // 400 s later the IGMPv1 router is forgotten: v2 again.
  ctx.advance(400_000);
  igmp.join(0, G);
  assert.equal(sent(ctx)[1], "430000 0x16 G > 224.1.2.3");
});

/** IGMPv3 reports sent, as "time type group [sources] > dst" lines per record. */
function v3Sent(ctx: FakeHostconfContext): string[] {
  const out: string[] = [];
  for (const s of ctx.igmp) {
    const v = Igmpv3ReportView.parse(s.bytes, 0, s.bytes.length);
    if (v instanceof ParseError) {
      const w = IgmpView.parse(s.bytes, 0, s.bytes.length) as IgmpView;
      out.push(`${s.at} 0x${w.type.toString(16)} ${formatV4(w.group)} > ${s.dst}`);
      continue;
    }
    for (const r of v.records()) {
      const src = (r.sources ?? []).map((a) => formatV4(a));
      out.push(`${s.at} v3 ${r.type} ${formatV4(r.group)}${src.length > 0 ? ` [${src.join(" ")}]` : ""} > ${s.dst}`);
    }
  }
  return out;
}

function setupV3() {
  const ctx = new FakeHostconfContext();
  const timers = new TimerRegistry();
  const igmp = new Igmp(ctx, timers, undefined, undefined, 3);
  ctx.onTimer = (id) => assert.ok("key" in id && timers.fire(id.key));
  return { ctx, igmp };
}

test("igmpv3: join and leave send state-change reports to 224.0.0.22, twice each (RFC 3376 5.1)", () => {
  const { ctx, igmp } = setupV3();
  igmp.join(0, G);
  // The exact bytes scapy writes for CHANGE_TO_EXCLUDE {} 224.1.2.3 (src/wire/igmp.test.ts).
  assert.deepEqual(ctx.igmp[0].bytes, new Uint8Array([0x22, 0, 0xf7, 0xf9, 0, 0, 0, 1, 4, 0, 0, 0, 0xe0, 1, 2, 3]));
  ctx.advance(5000);
  // RFC 3376 8.11: Unsolicited Report Interval 1 s (the repeat at half of it here).
  assert.deepEqual(v3Sent(ctx), ["0 v3 4 224.1.2.3 > 224.0.0.22", "500 v3 4 224.1.2.3 > 224.0.0.22"]);
  ctx.igmp.length = 0;
  igmp.leave(0, G);
  assert.deepEqual(igmp.groups(0), []);
  ctx.advance(5000);
  assert.deepEqual(v3Sent(ctx), ["5000 v3 3 224.1.2.3 > 224.0.0.22", "5500 v3 3 224.1.2.3 > 224.0.0.22"]);
  assert.equal(ctx.queue.size, 0);
});

test("igmpv3: queries: general (one report, every group), group, group-and-source (RFC 3376 5.2)", () => {
  const { ctx, igmp } = setupV3();
  igmp.join(0, G);
  igmp.join(0, G2);
  ctx.advance(5000);
  ctx.igmp.length = 0;
  const v3q = (group: Ipv4Addr, code: number, sources: Ipv4Addr[] = []) => {
    const b = serializeMessage(new Igmpv3QueryBuilder(code, group, false, 2, 125, sources));
    return IgmpView.parse(b, 0, b.length) as IgmpView;
  };
  ctx.randoms = [0x40000000];
  assert.equal(igmp.onQuery(0, v3q(v4("0.0.0.0"), 100)), "ok");
  ctx.advance(10_000);
  assert.deepEqual(v3Sent(ctx), ["7500 v3 2 224.1.2.3 > 224.0.0.22", "7500 v3 2 239.0.0.7 > 224.0.0.22"]);
  assert.equal(ctx.igmp.length, 1, "one report holds both records");
  ctx.igmp.length = 0;
  igmp.onQuery(0, v3q(G2, 10));
  igmp.onQuery(0, v3q(G, 10, [v4("10.0.0.9")]));
  ctx.advance(2000);
  assert.deepEqual(v3Sent(ctx), ["15500 v3 2 239.0.0.7 > 224.0.0.22", "15500 v3 1 224.1.2.3 [10.0.0.9] > 224.0.0.22"]);
});

test("igmpv3: an IGMPv2 querier means IGMPv2 for 260 s, an IGMPv1 one IGMPv1 (RFC 3376 7.2.1, 8.12)", () => {
  const { ctx, igmp } = setupV3();
  igmp.join(0, G);
  ctx.advance(5000);
  ctx.igmp.length = 0;
  igmp.onQuery(0, query(100));
  igmp.join(0, G2);
  ctx.advance(10_000);
  // The answer and the new join in IGMPv2 (the join's repeat within the 10 s IGMPv2 interval).
  assert.deepEqual(sent(ctx), ["5000 0x16 G2 > 239.0.0.7", "10000 0x16 G > 224.1.2.3", "10000 0x16 G2 > 239.0.0.7"]);
  ctx.igmp.length = 0;
  igmp.leave(0, G2);
  assert.deepEqual(sent(ctx), ["15000 0x17 G2 > 224.0.0.2"]);
  // An IGMPv1 query: IGMPv1 reports, no leave.
  ctx.igmp.length = 0;
  igmp.onQuery(0, query(0));
  ctx.advance(10_000);
  assert.deepEqual(sent(ctx), ["20000 0x12 G > 224.1.2.3"]);
  igmp.leave(0, G);
  assert.equal(ctx.igmp.length, 1);
  // Both older queriers gone after the Older Version Querier Present Timeout: IGMPv3 again.
  ctx.advance(260_000);
  ctx.igmp.length = 0;
  igmp.join(0, G);
  assert.deepEqual(v3Sent(ctx), ["285000 v3 4 224.1.2.3 > 224.0.0.22"]);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv4Addr, parseV4 } from "../ip/addr.ts";
import { ParseError } from "../wire/errors.ts";
import { IgmpBuilder, IgmpType, IgmpView, Igmpv3QueryBuilder } from "../wire/igmp.ts";
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

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatV4, type Ipv4Addr, parseV4, v4 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { EMPTY_BODY, type PacketBuilder, TooBig } from "../packet/serialize.ts";
import { checksum } from "./checksum.ts";
import { ParseError } from "./errors.ts";
import {
  builderFromRepr,
  describe,
  IgmpBuilder,
  IgmpType,
  IgmpView,
  Igmpv3QueryBuilder,
  Igmpv3RecordType,
  Igmpv3ReportBuilder,
  Igmpv3ReportView,
  igmpv3Code,
  toRepr,
} from "./igmp.ts";

// Checksums verified by tshark 4 ("[Checksum Status: Good]"); the general query is also netstack3's
// packet-formats testdata (igmp_router_queries::v2::QUERY).
// biome-ignore format: packet bytes
const REPORT = new Uint8Array([0x16, 0x00, 0x07, 0xfb, 0xe0, 0x01, 0x02, 0x03]);
// biome-ignore format: packet bytes
const LEAVE = new Uint8Array([0x17, 0x00, 0x06, 0xfb, 0xe0, 0x01, 0x02, 0x03]);
// biome-ignore format: packet bytes
const QUERY = new Uint8Array([0x11, 0x64, 0xee, 0x9b, 0x00, 0x00, 0x00, 0x00]);
// IGMPv3 group-and-source-specific query: 224.1.2.3, max resp code 100, QRV 2, QQIC 125, source 10.0.0.9.
// biome-ignore format: packet bytes
const QUERY_V3 = new Uint8Array([
  0x11, 0x64, 0x00, 0x10, 0xe0, 0x01, 0x02, 0x03, 0x02, 0x7d, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x09,
]);

const G = parseV4("224.1.2.3") as Ipv4Addr;

function build(b: PacketBuilder): Uint8Array {
  const target = new Buf(new Uint8Array(b.headerLen + 8).fill(0xaa));
  const out = EMPTY_BODY.wrapIn(b).serialize({ target });
  if (out instanceof TooBig) assert.fail("too big");
  return out.toBytes();
}

function parsed(bytes: Uint8Array): IgmpView {
  const v = IgmpView.parse(bytes, 0, bytes.length);
  if (v instanceof ParseError) assert.fail(`igmp: ${v}`);
  return v;
}

test("igmp: deconstruct a v2 report, a leave and a general query", () => {
  const r = parsed(REPORT);
  assert.equal(r.type, IgmpType.V2MembershipReport);
  assert.equal(r.maxRespTime, 0);
  assert.equal(r.checksum, 0x07fb);
  assert.equal(formatV4(r.group), "224.1.2.3");
  assert.equal(r.isV3Query, false);
  const l = parsed(LEAVE);
  assert.equal(l.type, IgmpType.LeaveGroup);
  assert.equal(l.group, G);
  const q = parsed(QUERY);
  assert.equal(q.type, IgmpType.MembershipQuery);
  assert.equal(q.maxRespTime, 100);
  assert.equal(q.maxRespDelayMs, 10_000);
  assert.equal(q.group, 0);
  assert.equal(describe(q), "igmp query 0.0.0.0 max-resp=10s");
});

test("igmp: an IGMPv3 query is understood (RFC 3376 7.1)", () => {
  const q = parsed(QUERY_V3);
  assert.equal(q.isV3Query, true);
  assert.equal(q.qrv, 2);
  assert.equal(q.qqic, 125);
  assert.equal(q.sFlag, false);
  assert.equal(q.numSources, 1);
  assert.equal(formatV4(q.source(0)), "10.0.0.9");
  assert.equal(q.maxRespDelayMs, 10_000);
  // RFC 3376 4.1.1: floating-point codes.
  assert.equal(igmpv3Code(127), 127);
  assert.equal(igmpv3Code(0x80), 0x10 << 3);
  assert.equal(igmpv3Code(0xff), 0x1f << 10);
});

test("igmp: an IGMPv1 query (max resp 0) means 10 s (RFC 2236 4)", () => {
  const bytes = build(new IgmpBuilder(IgmpType.MembershipQuery, 0, v4(0)));
  assert.equal(parsed(bytes).maxRespDelayMs, 10_000);
});

test("igmp: construct writes every byte, equal to the fixtures", () => {
  assert.deepEqual(build(new IgmpBuilder(IgmpType.V2MembershipReport, 0, G)), REPORT);
  assert.deepEqual(build(new IgmpBuilder(IgmpType.LeaveGroup, 0, G)), LEAVE);
  assert.deepEqual(build(new IgmpBuilder(IgmpType.MembershipQuery, 100, v4(0))), QUERY);
  const src = parseV4("10.0.0.9") as Ipv4Addr;
  assert.deepEqual(build(new Igmpv3QueryBuilder(100, G, false, 2, 125, [src])), QUERY_V3);
});

test("igmp: repr round trip", () => {
  for (const f of [REPORT, LEAVE, QUERY, QUERY_V3]) {
    const r = toRepr(parsed(f));
    assert.deepEqual(build(builderFromRepr(r)), f);
  }
  assert.deepEqual(toRepr(parsed(QUERY_V3)).sources, ["10.0.0.9"]);
});

test("igmp: malformed messages are errors, never throws", () => {
  for (let n = 0; n < 8; n++) assert.equal(String(IgmpView.parse(REPORT, 0, n)), "igmp: too-short");
  const bad = REPORT.slice();
  bad[3] ^= 1;
  assert.equal(String(IgmpView.parse(bad, 0, 8)), "igmp: bad-checksum");
  // A 9..11-byte query (checksum fixed up) is neither v2 nor v3.
  for (let n = 9; n < 12; n++) {
    const b = new Uint8Array(n);
    b.set(QUERY);
    const v = IgmpView.parse(b, 0, n);
    assert.equal(String(v), "igmp: bad-length");
  }
  // A v3 query claiming more sources than it holds.
  const lie = build(new Igmpv3QueryBuilder(100, G, false, 2, 125, [v4(1)]));
  lie[11] = 2;
  // Recompute the checksum so only the length is wrong.
  lie[2] = 0;
  lie[3] = 0;
  const c = checksum(lie, 0, lie.length);
  lie[2] = c >> 8;
  lie[3] = c & 0xff;
  assert.equal(String(IgmpView.parse(lie, 0, lie.length)), "igmp: bad-length");
  // Out-of-range offsets.
  assert.ok(IgmpView.parse(REPORT, 4, 8) instanceof ParseError);
  assert.ok(IgmpView.parse(REPORT, -1, 8) instanceof ParseError);
});

test("igmp: random reprs round-trip; random bytes never throw", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.nat(), (type, mrt, g) => {
      const t = type === IgmpType.MembershipQuery ? IgmpType.V2MembershipReport : type;
      const bytes = build(new IgmpBuilder(t, mrt, v4(g)));
      const v = parsed(bytes);
      assert.equal(v.type, t);
      assert.equal(v.maxRespTime, mrt);
      assert.equal(v.group, g >>> 0);
      assert.deepEqual(build(builderFromRepr(toRepr(v))), bytes);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      const v = IgmpView.parse(b, 0, b.length);
      if (!(v instanceof ParseError)) {
        toRepr(v);
        describe(v);
      }
    }),
  );
});

// IGMPv3 membership reports (RFC 3376 4.2), bytes as scapy's contrib.igmpv3 writes them:
// CHANGE_TO_EXCLUDE 224.1.2.3; and MODE_IS_EXCLUDE 224.1.2.3 + MODE_IS_INCLUDE 239.0.0.7 {10.0.0.9}.
// biome-ignore format: packet bytes
const REPORT_V3 = new Uint8Array([
  0x22, 0x00, 0xf7, 0xf9, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xe0, 0x01, 0x02, 0x03,
]);
// biome-ignore format: packet bytes
const REPORT_V3_TWO = new Uint8Array([
  0x22, 0x00, 0xff, 0xe6, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0xe0, 0x01, 0x02, 0x03,
  0x01, 0x00, 0x00, 0x01, 0xef, 0x00, 0x00, 0x07, 0x0a, 0x00, 0x00, 0x09,
]);

test("IGMPv3 report: construct (exact bytes), parse the records back", () => {
  const G2 = parseV4("239.0.0.7") as Ipv4Addr;
  const S = parseV4("10.0.0.9") as Ipv4Addr;
  assert.deepEqual(build(new Igmpv3ReportBuilder([{ type: Igmpv3RecordType.ChangeToExclude, group: G }])), REPORT_V3);
  const two = build(
    new Igmpv3ReportBuilder([
      { type: Igmpv3RecordType.ModeIsExclude, group: G },
      { type: Igmpv3RecordType.ModeIsInclude, group: G2, sources: [S] },
    ]),
  );
  assert.deepEqual(two, REPORT_V3_TWO);
  const v = Igmpv3ReportView.parse(two, 0, two.length);
  if (v instanceof ParseError) assert.fail(String(v));
  assert.equal(v.numRecords, 2);
  assert.deepEqual(v.records(), [
    { type: 2, group: G, sources: [] },
    { type: 1, group: G2, sources: [S] },
  ]);
  // The IGMP view takes it too (checksum over the whole message) and names it.
  const iv = IgmpView.parse(two, 0, two.length);
  assert.ok(iv instanceof IgmpView);
  assert.equal(describe(iv), "igmp v3 report records=2");
});

test("IGMPv3 report: truncated records, bad checksums and other types are errors, never throws", () => {
  for (let n = 0; n < REPORT_V3_TWO.length; n++) {
    const r = Igmpv3ReportView.parse(REPORT_V3_TWO.subarray(0, n), 0, n);
    assert.ok(r instanceof ParseError, `length ${n}`);
  }
  const bad = REPORT_V3.slice();
  bad[3] ^= 1;
  assert.equal((Igmpv3ReportView.parse(bad, 0, bad.length) as ParseError).reason, "bad-checksum");
  assert.equal((Igmpv3ReportView.parse(REPORT, 0, REPORT.length) as ParseError).reason, "bad-type");
  // A record count beyond the message: the record does not fit.
  const more = REPORT_V3.slice();
  more[7] = 2;
  const c = checksum(more.fill(0, 2, 4), 0, more.length);
  more[2] = c >> 8;
  more[3] = c & 0xff;
  assert.equal((Igmpv3ReportView.parse(more, 0, more.length) as ParseError).reason, "bad-record");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      Igmpv3ReportView.parse(b, 0, b.length);
    }),
  );
});

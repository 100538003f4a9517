import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatV6, type Ipv6Addr, parseV6 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { EMPTY_BODY, type PacketBuilder, TooBig } from "../packet/serialize.ts";
import { ParseError } from "./errors.ts";
import { Icmpv6Type, Icmpv6View, writeIcmpv6Checksum } from "./icmpv6.ts";
import {
  ALL_MLDV2_ROUTERS,
  builderFromRepr,
  describe,
  MldBuilder,
  MldRecordType,
  MldView,
  Mldv2QueryBuilder,
  Mldv2ReportBuilder,
  Mldv2ReportView,
  mldMaxRespDelay,
  mldQqi,
  parseMld,
  toRepr,
} from "./mld.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const LL = v6("fe80::1034:56ff:fe78:9abc");
const UNSPEC = v6("::");
const ROUTER = v6("fe80::1");
const ALL_NODES = v6("ff02::1");
const SOL = v6("ff02::1:ff78:9abc");
const G = v6("ff05::1:3");

// ICMPv6 messages; every checksum verified by tshark 4 ("[Checksum Status: Good]") in an IPv6
// packet with the addresses named.

// MLDv2 report fe80::1034:56ff:fe78:9abc -> ff02::16: CHANGE_TO_EXCLUDE ff02::1:ff78:9abc (a join).
// biome-ignore format: packet bytes
const REPORT_JOIN = new Uint8Array([
  0x8f, 0x00, 0xd5, 0x6b, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x78, 0x9a, 0xbc,
]);
// MLDv2 report :: -> ff02::16: MODE_IS_EXCLUDE ff02::1:ff78:9abc, MODE_IS_INCLUDE ff05::1:3 {2001:db8::1}.
// biome-ignore format: packet bytes
const REPORT_TWO = new Uint8Array([
  0x8f, 0x00, 0xa8, 0x6b, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x78, 0x9a, 0xbc, 0x01, 0x00, 0x00, 0x01,
  0xff, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03,
  0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
]);
// MLDv1 general query fe80::1 -> ff02::1, max response delay 10000 ms.
// biome-ignore format: packet bytes
const QUERY_V1 = new Uint8Array([
  0x82, 0x00, 0x59, 0x17, 0x27, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);
// MLDv2 general query fe80::1 -> ff02::1, max response code 10000, QRV 2, QQIC 125.
// biome-ignore format: packet bytes
const QUERY_V2 = new Uint8Array([
  0x82, 0x00, 0x56, 0x96, 0x27, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x7d, 0x00, 0x00,
]);
// MLDv1 report fe80::1034:56ff:fe78:9abc -> ff05::1:3, and done -> ff02::2.
// biome-ignore format: packet bytes
const REPORT_V1 = new Uint8Array([
  0x83, 0x00, 0x7f, 0xaf, 0x00, 0x00, 0x00, 0x00, 0xff, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03,
]);
// biome-ignore format: packet bytes
const DONE_V1 = new Uint8Array([
  0x84, 0x00, 0x7e, 0xb4, 0x00, 0x00, 0x00, 0x00, 0xff, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03,
]);

const FIXTURES: [Uint8Array, Uint8Array, Uint8Array][] = [
  [REPORT_JOIN, LL, ALL_MLDV2_ROUTERS],
  [REPORT_TWO, UNSPEC, ALL_MLDV2_ROUTERS],
  [QUERY_V1, ROUTER, ALL_NODES],
  [QUERY_V2, ROUTER, ALL_NODES],
  [REPORT_V1, LL, G],
  [DONE_V1, LL, v6("ff02::2")],
];

function build(b: PacketBuilder): Uint8Array {
  const target = new Buf(new Uint8Array(b.headerLen + 8).fill(0xaa));
  const out = EMPTY_BODY.wrapIn(b).serialize({ target });
  if (out instanceof TooBig) assert.fail("too big");
  return out.toBytes();
}

function parsed(bytes: Uint8Array, src: Uint8Array, dst: Uint8Array): MldView | Mldv2ReportView {
  const icmp = Icmpv6View.parse(bytes, 0, bytes.length, src, dst);
  if (icmp instanceof ParseError) assert.fail(`icmpv6: ${icmp}`);
  const v = parseMld(bytes, 0, bytes.length);
  if (v instanceof ParseError) assert.fail(`mld: ${v}`);
  return v;
}

test("mld: every fixture's checksum verifies with the pseudo-header", () => {
  for (const [b, s, d] of FIXTURES) parsed(b, s, d);
  // The wrong destination breaks it.
  assert.equal(String(Icmpv6View.parse(REPORT_JOIN, 0, REPORT_JOIN.length, LL, ALL_NODES)), "icmpv6: bad-checksum");
});

test("mld: deconstruct version 2 reports", () => {
  const v = parsed(REPORT_TWO, UNSPEC, ALL_MLDV2_ROUTERS);
  assert.ok(v instanceof Mldv2ReportView);
  assert.equal(v.numRecords, 2);
  const c = v.records();
  assert.ok(c.next());
  assert.equal(c.recordType, MldRecordType.ModeIsExclude);
  assert.equal(formatV6(c.group), "ff02::1:ff78:9abc");
  assert.equal(c.numSources, 0);
  assert.ok(c.next());
  assert.equal(c.recordType, MldRecordType.ModeIsInclude);
  assert.equal(formatV6(c.group), "ff05::1:3");
  assert.equal(c.numSources, 1);
  assert.equal(formatV6(c.source(0)), "2001:db8::1");
  assert.equal(c.auxLen, 0);
  assert.equal(c.next(), false);
  assert.equal(describe(v), "mldv2 report 2 record(s)");
});

test("mld: deconstruct MLDv1 and MLDv2 queries, report and done", () => {
  const q1 = parsed(QUERY_V1, ROUTER, ALL_NODES) as MldView;
  assert.equal(q1.type, Icmpv6Type.MldQuery);
  assert.equal(q1.isV2Query, false);
  assert.equal(q1.maxRespDelay, 10000);
  assert.equal(formatV6(q1.group), "::");
  const q2 = parsed(QUERY_V2, ROUTER, ALL_NODES) as MldView;
  assert.equal(q2.isV2Query, true);
  assert.equal(q2.maxRespCode, 10000);
  assert.equal(q2.maxRespDelay, 10000);
  assert.equal(q2.qrv, 2);
  assert.equal(q2.qqic, 125);
  assert.equal(q2.numSources, 0);
  const r = parsed(REPORT_V1, LL, G) as MldView;
  assert.equal(r.type, Icmpv6Type.MldReport);
  assert.equal(formatV6(r.group), "ff05::1:3");
  assert.equal((parsed(DONE_V1, LL, v6("ff02::2")) as MldView).type, Icmpv6Type.MldDone);
  // RFC 3810 5.1.3 / 5.1.9: exponential codes.
  assert.equal(mldMaxRespDelay(32767), 32767);
  assert.equal(mldMaxRespDelay(0x8000), 0x1000 << 3);
  assert.equal(mldMaxRespDelay(0xffff), 0x1fff * 2 ** 10);
  assert.equal(mldQqi(125), 125);
  assert.equal(mldQqi(0x80), 0x10 << 3);
});

test("mld: construct equals the fixtures, every byte written", () => {
  assert.deepEqual(
    build(new Mldv2ReportBuilder(LL, ALL_MLDV2_ROUTERS, [{ type: MldRecordType.ChangeToExclude, group: SOL }])),
    REPORT_JOIN,
  );
  assert.deepEqual(
    build(
      new Mldv2ReportBuilder(UNSPEC, ALL_MLDV2_ROUTERS, [
        { type: MldRecordType.ModeIsExclude, group: SOL },
        { type: MldRecordType.ModeIsInclude, group: G, sources: [v6("2001:db8::1")] },
      ]),
    ),
    REPORT_TWO,
  );
  assert.deepEqual(build(new MldBuilder(ROUTER, ALL_NODES, Icmpv6Type.MldQuery, 10000, UNSPEC)), QUERY_V1);
  assert.deepEqual(build(new Mldv2QueryBuilder(ROUTER, ALL_NODES, 10000, UNSPEC, false, 2, 125)), QUERY_V2);
  assert.deepEqual(build(new MldBuilder(LL, G, Icmpv6Type.MldReport, 0, G)), REPORT_V1);
  assert.deepEqual(build(new MldBuilder(LL, v6("ff02::2"), Icmpv6Type.MldDone, 0, G)), DONE_V1);
});

test("mld: repr round trip, aux data included", () => {
  for (const [b, s, d] of FIXTURES) assert.deepEqual(build(builderFromRepr(toRepr(parsed(b, s, d)), s, d)), b);
  const aux = build(
    new Mldv2ReportBuilder(LL, ALL_MLDV2_ROUTERS, [
      { type: 5, group: G, sources: [LL, SOL], auxData: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
    ]),
  );
  const r = toRepr(parsed(aux, LL, ALL_MLDV2_ROUTERS));
  assert.deepEqual(r.records?.[0], {
    type: 5,
    group: "ff05::1:3",
    sources: ["fe80::1034:56ff:fe78:9abc", "ff02::1:ff78:9abc"],
    auxData: "0102030405060708",
  });
  assert.deepEqual(build(builderFromRepr(r, LL, ALL_MLDV2_ROUTERS)), aux);
});

/** Fix the ICMPv6 checksum of a mangled message so only the MLD layer can object. */
function fixed(b: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  writeIcmpv6Checksum(b, 0, b.length, src, dst);
  return b;
}

test("mld: malformed messages are errors, never throws", () => {
  for (let n = 0; n < 24; n++) assert.ok(MldView.parse(QUERY_V1, 0, n) instanceof ParseError);
  for (let n = 0; n < REPORT_TWO.length; n++) {
    const e = Mldv2ReportView.parse(REPORT_TWO, 0, n);
    assert.ok(e instanceof ParseError, `length ${n}`);
    assert.equal(String(e), n < 8 ? "mld: too-short" : "mld: record-too-long");
  }
  // 25..27-byte queries are neither version (RFC 3810 8.1).
  for (let n = 25; n < 28; n++) {
    const b = new Uint8Array(n);
    b.set(QUERY_V1);
    assert.equal(String(MldView.parse(fixed(b, ROUTER, ALL_NODES), 0, n)), "mld: bad-length");
  }
  // An MLDv2 query claiming a source it does not carry.
  const lie = QUERY_V2.slice();
  lie[27] = 1;
  assert.equal(String(MldView.parse(fixed(lie, ROUTER, ALL_NODES), 0, lie.length)), "mld: bad-length");
  // Not MLD.
  const echo = QUERY_V1.slice();
  echo[0] = Icmpv6Type.EchoRequest;
  assert.equal(String(parseMld(echo, 0, echo.length)), "mld: bad-type");
  assert.equal(String(Mldv2ReportView.parse(QUERY_V1, 0, 24)), "mld: bad-type");
  // A record whose aux data length runs past the end.
  const aux = REPORT_JOIN.slice();
  aux[9] = 1;
  assert.equal(String(Mldv2ReportView.parse(aux, 0, aux.length)), "mld: record-too-long");
});

test("mld: random reports round-trip; random bytes never throw", () => {
  const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const record = fc.record({
    type: fc.integer({ min: 1, max: 6 }),
    group: addr,
    sources: fc.array(addr, { maxLength: 3 }),
    auxData: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(record, { maxLength: 4 }), (records) => {
      const bytes = build(new Mldv2ReportBuilder(LL, ALL_MLDV2_ROUTERS, records));
      const v = parsed(bytes, LL, ALL_MLDV2_ROUTERS) as Mldv2ReportView;
      assert.equal(v.numRecords, records.length);
      assert.deepEqual(build(builderFromRepr(toRepr(v), LL, ALL_MLDV2_ROUTERS)), bytes);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), fc.constantFrom(130, 131, 132, 143), (b, t) => {
      if (b.length > 0) b[0] = t;
      const v = parseMld(b, 0, b.length);
      if (!(v instanceof ParseError)) {
        toRepr(v);
        describe(v);
      }
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import { formatV4, formatV6, type Ipv4Addr, parseV4, parseV6 } from "../ip/addr.ts";
import {
  builderFromRepr,
  DnsBuilder,
  DnsClass,
  DnsFlag,
  DnsRcode,
  type DnsRecordRepr,
  type DnsRepr,
  DnsSection,
  DnsType,
  DnsView,
  dnsRecord,
  encodeName,
  MAX_POINTERS,
  nameEquals,
  readName,
  toRepr,
} from "./dns.ts";
import { isError, ParseError } from "./errors.ts";

const frames = fixtureFrames("dns.pcap");
const msg = (n: number) => frames[n - 1].payload;
/** The DNS message of a TCP segment (after the RFC 1035 4.2.2 length prefix). */
const tcpMsg = (n: number) => {
  const p = msg(n);
  assert.equal((p[0] << 8) | p[1], p.length - 2, "the 2-byte length covers the message");
  return p.subarray(2);
};
/** Every DNS message of the capture: UDP payloads and the two TCP ones. */
const allMessages = () =>
  frames
    .filter((f) => f.payload.length > 0)
    .map((f) => (f.proto === 6 ? f.payload.subarray(2) : f.payload))
    .map((p, i) => ({ p, i }));

function parse(b: Uint8Array): DnsView {
  const v = DnsView.parse(b, 0, b.length);
  if (isError(v)) assert.fail(String(v));
  return v;
}

// dig's query for www.test.example A (frame 1): RD and AD set, an OPT record with a client cookie
// (RFC 7873, option 10). tshark: "Standard query 0x5e7c A www.test.example OPT".
// biome-ignore format: packet bytes
const QUERY = new Uint8Array([
  0x5e, 0x7c, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x77, 0x77, 0x77,
  0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x01,
  0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00,
  0x08, 0xe5, 0xd9, 0xa3, 0x97, 0xae, 0x56, 0x60, 0xea,
]);

test("dns: dig's query (deconstruct, construct byte for byte)", () => {
  assert.deepEqual(msg(1), QUERY);
  const v = parse(QUERY);
  assert.equal(v.id, 0x5e7c);
  assert.equal(v.qr, false);
  assert.equal(v.rd, true);
  assert.equal(v.flags, DnsFlag.RD | DnsFlag.AD);
  assert.deepEqual([v.qdcount, v.ancount, v.nscount, v.arcount], [1, 0, 0, 1]);
  const c = v.records();
  assert.ok(c.next());
  assert.deepEqual([c.section, c.name(), c.type, c.class], [DnsSection.Question, "www.test.example", 1, 1]);
  assert.ok(c.nameIs(encodeName("WWW.Test.Example") as Uint8Array), "RFC 4343: case-insensitive");
  assert.ok(c.next());
  assert.deepEqual([c.section, c.name(), c.type, c.class, c.ttl], [DnsSection.Additional, ".", DnsType.OPT, 1232, 0]);
  assert.deepEqual([...c.rdata()], [0, 10, 0, 8, 0xe5, 0xd9, 0xa3, 0x97, 0xae, 0x56, 0x60, 0xea]);
  assert.equal(c.next(), false);
  const b = new DnsBuilder(
    0x5e7c,
    DnsFlag.RD | DnsFlag.AD,
    [{ name: "www.test.example", type: DnsType.A, class: DnsClass.IN }],
    [],
    [],
    [dnsRecord.opt(1232, 0, Uint8Array.of(0, 10, 0, 8, 0xe5, 0xd9, 0xa3, 0x97, 0xae, 0x56, 0x60, 0xea))],
  );
  assert.deepEqual(b.toBytes(), QUERY);
});

test("dns: dnsmasq's answers: A, AAAA, CNAME chain, NXDOMAIN and NODATA with the SOA", () => {
  const a = parse(msg(2));
  assert.equal(a.id, 0x5e7c);
  assert.ok(a.qr && a.aa && a.rd && !a.tc);
  assert.equal(a.rcode, DnsRcode.NoError);
  const r = toRepr(a);
  assert.deepEqual(r.answers, [{ name: "www.test.example", type: 1, class: 1, ttl: 600, address: "10.0.2.80" }]);
  assert.deepEqual(r.authority, [{ name: "test.example", type: 2, class: 1, ttl: 600, target: "ns.test.example" }]);
  assert.deepEqual(r.additional, [{ name: ".", type: 41, class: 1232, ttl: 0, data: "" }]);
  const aaaa = toRepr(parse(msg(4)));
  assert.equal(aaaa.answers[0].address, "fd00::80");
  const cname = toRepr(parse(msg(6)));
  assert.deepEqual(
    cname.answers.map((x) => [x.name, x.type, x.target ?? x.address]),
    [
      ["alias.test.example", DnsType.CNAME, "www.test.example"],
      ["www.test.example", DnsType.A, "10.0.2.80"],
    ],
  );
  const nx = parse(msg(10));
  assert.equal(nx.rcode, DnsRcode.NXDomain);
  const c = nx.records();
  while (c.next() && c.section !== DnsSection.Authority);
  assert.equal(c.type, DnsType.SOA);
  assert.equal(c.soaMinimum, 600);
  assert.deepEqual(c.soa(), {
    mname: "ns.test.example",
    rname: "hostmaster.test.example",
    serial: c.soa().serial,
    refresh: 1200,
    retry: 180,
    expire: 1209600,
    minimum: 600,
  });
  const nodata = parse(msg(12));
  assert.equal(nodata.rcode, DnsRcode.NoError);
  assert.equal(nodata.ancount, 0);
  assert.equal(toRepr(nodata).authority[0].type, DnsType.SOA);
});

test("dns: a truncated UDP answer (TC) and the whole answer over TCP", () => {
  const udp = parse(msg(14));
  assert.ok(udp.tc);
  assert.equal(udp.ancount, 29);
  assert.ok(msg(14).length <= 512, "RFC 1035 2.3.4: 512 bytes without EDNS0");
  const tcp = parse(tcpMsg(20));
  assert.equal(tcp.tc, false);
  assert.equal(tcp.ancount, 40);
  const addrs = toRepr(tcp)
    .answers.map((x) => x.address as string)
    .sort((x, y) => Number(x.split(".")[3]) - Number(y.split(".")[3]));
  assert.deepEqual(
    addrs,
    Array.from({ length: 40 }, (_, i) => `10.0.3.${i + 1}`),
  );
  // The query went over TCP with its length prefix too.
  assert.equal(parse(tcpMsg(18)).id, tcp.id);
});

test("dns: every message of the capture parses, and its repr rebuilds an equivalent message", () => {
  const all = allMessages();
  assert.equal(all.length, 18);
  for (const { p, i } of all) {
    const r = toRepr(parse(p));
    for (const compress of [true, false]) {
      const again = builderFromRepr(r, compress).toBytes();
      assert.deepEqual(toRepr(parse(again)), r, `message ${i} compress ${compress}`);
      if (!compress) assert.ok(again.length >= p.length);
    }
  }
});

test("dns: compression (RFC 1035 4.1.4) points at earlier names, in owner names and in data", () => {
  const b = new DnsBuilder(
    7,
    DnsFlag.QR | DnsFlag.RD | DnsFlag.RA,
    [{ name: "alias.test.example", type: DnsType.A, class: DnsClass.IN }],
    [dnsRecord.cname("alias.test.example", 60, "www.test.example"), dnsRecord.a("www.test.example", 60, v4("1.2.3.4"))],
    [
      dnsRecord.soa("test.example", 60, {
        mname: "ns.test.example",
        rname: "hostmaster.test.example",
        serial: 1,
        refresh: 2,
        retry: 3,
        expire: 4,
        minimum: 5,
      }),
    ],
  );
  const bytes = b.toBytes();
  // biome-ignore format: packet bytes
  const expected = new Uint8Array([
    0x00, 0x07, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00,
    // question: alias.test.example at 12, test.example at 18, example at 23
    0x05, 0x61, 0x6c, 0x69, 0x61, 0x73, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x00, 0x00, 0x01, 0x00, 0x01,
    // CNAME: owner -> 12; data "www" + pointer to 18 (www.test.example at 48)
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x06, 0x03, 0x77, 0x77, 0x77, 0xc0, 0x12,
    // A: owner -> 48
    0xc0, 0x30, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,
    // SOA: owner -> 18, mname "ns" + -> 18, rname "hostmaster" + -> 18, numbers
    0xc0, 0x12, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x26,
    0x02, 0x6e, 0x73, 0xc0, 0x12,
    0x0a, 0x68, 0x6f, 0x73, 0x74, 0x6d, 0x61, 0x73, 0x74, 0x65, 0x72, 0xc0, 0x12,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x05,
  ]);
  assert.deepEqual(bytes, expected);
  const r = toRepr(parse(bytes));
  assert.equal(r.answers[0].target, "www.test.example");
  assert.equal(r.authority[0].soa?.rname, "hostmaster.test.example");
  // Compression matches exact bytes: names keep their own spelling (RFC 4343 4.1).
  const mixed = new DnsBuilder(1, 0, [
    { name: "A.Example", type: 1, class: 1 },
    { name: "b.Example", type: 1, class: 1 },
    { name: "c.EXAMPLE", type: 1, class: 1 },
  ]).toBytes();
  assert.deepEqual([...mixed.subarray(27, 35)], [0x01, 0x62, 0xc0, 0x0e, 0, 1, 0, 1]);
  assert.equal(toRepr(parse(mixed)).questions[2].name, "c.EXAMPLE");
});

function v4(s: string): Ipv4Addr {
  return parseV4(s) as Ipv4Addr;
}

test("dns: names in text and in wire form (RFC 1035 2.3.4, 5.1 escapes)", () => {
  assert.deepEqual([...(encodeName("a.b") as Uint8Array)], [1, 0x61, 1, 0x62, 0]);
  assert.deepEqual([...(encodeName("a.b.") as Uint8Array)], [1, 0x61, 1, 0x62, 0]);
  assert.deepEqual([...(encodeName(".") as Uint8Array)], [0]);
  assert.deepEqual([...(encodeName("a\\.b") as Uint8Array)], [3, 0x61, 0x2e, 0x62, 0]);
  assert.deepEqual([...(encodeName("\\000\\255") as Uint8Array)], [2, 0, 255, 0]);
  for (const bad of ["a..b", ".a", "a\\", "a\\25", "a\\256", "x".repeat(64), "..", `${"a.".repeat(127)}a`]) {
    assert.equal(encodeName(bad), null, bad);
  }
  assert.notEqual(encodeName("x".repeat(63)), null);
  // 255 bytes in wire form is the largest name: 63+63+63+61 labels and their length bytes, root.
  const longest = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
  assert.equal(encodeName(longest)?.length, 255);
  assert.equal(encodeName(`${longest}d`), null);
  const wire = encodeName("a\\.b.c") as Uint8Array;
  const m = new Uint8Array(12 + wire.length);
  m.set(wire, 12);
  assert.equal(readName(m, 0, 12), "a\\.b.c");
  assert.equal(readName(Uint8Array.of(1, 0x20, 0), 0, 0), "\\032");
  assert.ok(nameEquals(m, 0, 12, encodeName("A\\.B.C") as Uint8Array));
  assert.ok(!nameEquals(m, 0, 12, encodeName("a\\.b") as Uint8Array));
  assert.ok(!nameEquals(m, 0, 12, encodeName("a\\.b.c.d") as Uint8Array));
  assert.throws(() => new DnsBuilder(1, 0, [{ name: "a..b", type: 1, class: 1 }]).toBytes(), { code: "EBADNAME" });
});

/** A message of a header with `qd` questions and the given body bytes. */
function raw(body: number[], qd = 1, an = 0): Uint8Array {
  return Uint8Array.from([0, 1, 0x81, 0x80, 0, qd, 0, an, 0, 0, 0, 0, ...body]);
}

test("dns: hostile names: loops, forward pointers, long chains, bad label types, overlong", () => {
  const err = (b: Uint8Array) => String(DnsView.parse(b, 0, b.length));
  // A pointer to itself; to the header; forward; to the middle of its own name.
  assert.equal(err(raw([0xc0, 12, 0, 1, 0, 1])), "dns: bad-pointer");
  assert.equal(err(raw([1, 0x61, 0xc0, 12, 0, 1, 0, 1])), "dns: bad-pointer");
  assert.equal(err(raw([0xc0, 20, 0, 1, 0, 1, 0, 0, 0])), "dns: bad-pointer");
  // Two names pointing at each other (the second is checked against its own start).
  assert.equal(err(raw([1, 0x61, 0xc0, 18, 0, 1, 0, 1, 1, 0x62, 0xc0, 12, 0, 1, 0, 1], 2)), "dns: bad-pointer");
  // A chain of questions whose names are each one pointer to the previous question's name:
  // question n reaches the root after n pointers. Fine up to MAX_POINTERS, refused after.
  const chain = (n: number) => {
    const parts = [0, 0, 1, 0, 1];
    const offs = [12];
    for (let i = 0; i < n; i++) {
      parts.push(0xc0, offs[i], 0, 1, 0, 1);
      offs.push(17 + 6 * i);
    }
    return raw(parts, n + 1);
  };
  assert.ok(parse(chain(MAX_POINTERS)) instanceof DnsView);
  assert.equal(err(chain(MAX_POINTERS + 1)), "dns: bad-pointer");
  // Label types 0x40 (extended, retired) and 0x80 (reserved).
  assert.equal(err(raw([0x41, 0x61, 0, 0, 1, 0, 1])), "dns: bad-name");
  assert.equal(err(raw([0x81, 0x61, 0, 0, 1, 0, 1])), "dns: bad-name");
  // A name of 256 bytes in wire form (four 63-byte labels and a 1-byte one, with root: 258).
  const long: number[] = [];
  for (let i = 0; i < 4; i++) long.push(63, ...new Array(63).fill(0x61));
  long.push(1, 0x62, 0, 0, 1, 0, 1);
  assert.equal(err(raw(long)), "dns: bad-name");
  // Names built from pointers: a. (65 bytes) at 12, b.a. at 81, c.b.a. (193) at 151, then
  // d.c.b.a. at 221 is 257 bytes.
  const parts: number[] = [63, ...new Array(63).fill(0x61), 0, 0, 1, 0, 1];
  parts.push(63, ...new Array(63).fill(0x62), 0xc0, 12, 0, 1, 0, 1);
  parts.push(63, ...new Array(63).fill(0x63), 0xc0, 81, 0, 1, 0, 1);
  assert.equal(toRepr(parse(raw(parts, 3))).questions[2].name.length, 3 * 64 - 1);
  parts.push(63, ...new Array(63).fill(0x64), 0xc0, 151, 0, 1, 0, 1);
  assert.equal(err(raw(parts, 4)), "dns: bad-name");
});

test("dns: records must fit and known types must have their data shape", () => {
  const q = [0, 0, 1, 0, 1];
  const rr = (type: number, data: number[]) =>
    raw([...q, 0, ...[0, type, 0, 1, 0, 0, 0, 60, 0, data.length], ...data], 1, 1);
  const err = (b: Uint8Array) => String(DnsView.parse(b, 0, b.length));
  assert.ok(DnsView.parse(rr(1, [1, 2, 3, 4]), 0, rr(1, [1, 2, 3, 4]).length) instanceof DnsView);
  assert.equal(err(rr(DnsType.A, [1, 2, 3])), "dns: bad-rdata");
  assert.equal(err(rr(DnsType.AAAA, [1, 2, 3, 4])), "dns: bad-rdata");
  assert.equal(err(rr(DnsType.CNAME, [1, 0x61, 0, 9])), "dns: bad-rdata", "bytes after the name");
  assert.equal(err(rr(DnsType.CNAME, [1, 0x61])), "dns: bad-rdata", "name past the data");
  assert.equal(err(rr(DnsType.CNAME, [0xc0, 200])), "dns: bad-pointer");
  assert.equal(err(rr(DnsType.SOA, [0, 0, ...new Array(19).fill(0)])), "dns: bad-rdata");
  assert.ok(!isError(DnsView.parse(rr(DnsType.SOA, [0, 0, ...new Array(20).fill(0)]), 0, 50)));
  assert.equal(err(rr(DnsType.MX, [0, 1])), "dns: bad-rdata");
  // Unknown types pass through with any data.
  assert.ok(DnsView.parse(rr(99, [1, 2, 3]), 0, rr(99, [1, 2, 3]).length) instanceof DnsView);
  // A record whose data runs past the message; counts larger than the message.
  const cut = rr(1, [1, 2, 3, 4]);
  assert.equal(String(DnsView.parse(cut, 0, cut.length - 1)), "dns: truncated-record");
  assert.equal(err(raw(q, 1, 5)), "dns: bad-name");
  assert.equal(err(raw([], 65535)), "dns: bad-name");
  // Trailing bytes after the last record are ignored.
  const padded = Uint8Array.from([...msg(2), 0, 0, 0]);
  assert.equal(parse(padded).end, msg(2).length);
});

test("dns: every truncation of every captured message is an error, never a throw", () => {
  for (const { p } of allMessages()) {
    for (let n = 0; n < p.length; n++) {
      const r = DnsView.parse(p, 0, n);
      assert.ok(r instanceof ParseError || r instanceof DnsView);
      if (n < 12) assert.equal(String(r), "dns: too-short");
    }
  }
});

const nameArb = fc
  .array(fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/), { minLength: 0, maxLength: 5 })
  .map((labels) => (labels.length === 0 ? "." : labels.join(".")));
const recordArb: fc.Arbitrary<DnsRecordRepr> = fc.oneof(
  fc.record({
    name: nameArb,
    type: fc.constant(1),
    class: fc.constant(1),
    ttl: fc.nat(),
    address: fc.integer({ min: 0, max: 0xffffffff }).map((n) => formatV4(n)),
  }),
  fc.record({
    name: nameArb,
    type: fc.constant(28),
    class: fc.constant(1),
    ttl: fc.nat(),
    address: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatV6(b)),
  }),
  fc.record({ name: nameArb, type: fc.constantFrom(2, 5, 12), class: fc.constant(1), ttl: fc.nat(), target: nameArb }),
  fc.record({
    name: nameArb,
    type: fc.constant(6),
    class: fc.constant(1),
    ttl: fc.nat(),
    soa: fc.record({
      mname: nameArb,
      rname: nameArb,
      serial: fc.nat(),
      refresh: fc.nat(),
      retry: fc.nat(),
      expire: fc.nat(),
      minimum: fc.nat(),
    }),
  }),
  fc.record({
    name: nameArb,
    type: fc.constantFrom(16, 41, 99),
    class: fc.integer({ min: 0, max: 0xffff }),
    ttl: fc.nat(),
    data: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString("hex")),
  }),
);
const reprArb: fc.Arbitrary<DnsRepr> = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  questions: fc.array(fc.record({ name: nameArb, type: fc.integer({ min: 0, max: 0xffff }), class: fc.constant(1) }), {
    maxLength: 3,
  }),
  answers: fc.array(recordArb, { maxLength: 5 }),
  authority: fc.array(recordArb, { maxLength: 3 }),
  additional: fc.array(recordArb, { maxLength: 3 }),
});

/** Names come back without a final dot and in canonical address text. */
function canonical(r0: DnsRepr): DnsRepr {
  // fast-check's records have no prototype; the parser's do.
  const r = JSON.parse(JSON.stringify(r0)) as DnsRepr;
  const rec = (x: DnsRecordRepr): DnsRecordRepr => {
    const y = { ...x };
    if (y.address !== undefined) y.address = y.type === 1 ? y.address : formatV6(parseV6(y.address) as Uint8Array);
    return y;
  };
  return {
    ...r,
    answers: r.answers.map(rec),
    authority: r.authority.map(rec),
    additional: r.additional.map(rec),
  };
}

test("dns: random reprs round-trip, compressed or not (fast-check)", () => {
  fc.assert(
    fc.property(reprArb, fc.boolean(), (r, compress) => {
      const bytes = builderFromRepr(r, compress).toBytes();
      const back = toRepr(parse(bytes));
      assert.deepEqual(back, canonical(r));
      assert.deepEqual(builderFromRepr(back, compress).toBytes(), bytes);
    }),
    { numRuns: 300 },
  );
});

test("dns: random bytes and mutated real messages never throw (fast-check)", () => {
  const real = allMessages().map((m) => m.p);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(real.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      (rnd, which, muts) => {
        const m = real[which].slice();
        for (const [at, val] of muts) m[at % m.length] = val;
        for (const b of [rnd, m]) {
          const v = DnsView.parse(b, 0, b.length);
          if (isError(v)) continue;
          toRepr(v);
          const c = v.records();
          while (c.next()) {
            c.nameIs(Uint8Array.of(0));
            if (c.type === DnsType.SOA && c.section !== 0) c.soaMinimum;
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type MacAddr, parseMac, v4 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { BytesBody, TooBig } from "../packet/serialize.ts";
import { checksum, verify } from "./checksum.ts";
import { ParseError } from "./errors.ts";
import { EthernetBuilder, EtherType } from "./ethernet.ts";
import { IpProto } from "./ipproto.ts";
import {
  builderFromRepr,
  checkOptions,
  decrementTtlInPlace,
  IPV4_HEADER_LEN,
  Ipv4Builder,
  Ipv4ParseError,
  type Ipv4Repr,
  Ipv4View,
  toRepr,
} from "./ipv4.ts";

// A Linux `ping` echo request 10.0.2.15 -> 93.184.216.34: DF, TTL 64, id 0x4f2a, 64 bytes of ICMP.
// biome-ignore format: packet bytes
const PING = new Uint8Array([
  0x45, 0x00, 0x00, 0x54, 0x4f, 0x2a, 0x40, 0x00, 0x40, 0x01, 0xa9, 0x95, 0x0a, 0x00, 0x02, 0x0f,
  0x5d, 0xb8, 0xd8, 0x22, 0x08, 0x00, 0xab, 0x26, 0x1c, 0x46, 0x00, 0x01, 0x5c, 0x1d, 0x6e, 0x66,
  0x00, 0x00, 0x00, 0x00, 0x9a, 0x3b, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
  0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
  0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
  0x34, 0x35, 0x36, 0x37,
]);

// An IGMPv2 membership report for 239.1.2.3: TOS 0xc0 (DSCP CS6), TTL 1, Router Alert option.
// biome-ignore format: packet bytes
const IGMP = new Uint8Array([
  0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xe7, 0x04, 0x0a, 0x00, 0x02, 0x0f,
  0xef, 0x01, 0x02, 0x03, 0x94, 0x04, 0x00, 0x00, 0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03,
]);

const GUEST = v4(0x0a00020f);
const SERVER = v4(0x5db8d822);

function parsed(bytes: Uint8Array, off = 0, len = bytes.length - off): Ipv4View {
  const v = Ipv4View.parse(bytes, off, len);
  assert.ok(v instanceof Ipv4View, `parse failed: ${v}`);
  return v;
}

function failure(bytes: Uint8Array, len = bytes.length): Ipv4ParseError {
  const e = Ipv4View.parse(bytes, 0, len);
  assert.ok(e instanceof Ipv4ParseError, "expected an Ipv4ParseError");
  assert.ok(e instanceof ParseError);
  assert.equal(e.layer, "ipv4");
  return e;
}

function build(b: Ipv4Builder, payload: Uint8Array, target?: Buf): Uint8Array {
  const out = new BytesBody(payload).wrapIn(b).serialize(target === undefined ? undefined : { target });
  assert.ok(out instanceof Buf, "serialize failed");
  return out.toBytes();
}

/** Recompute the header checksum of a mutated header (so the parser reaches later checks). */
function fixChecksum(p: Uint8Array): Uint8Array {
  const hl = (p[0] & 0x0f) * 4;
  p[10] = 0;
  p[11] = 0;
  const c = checksum(p, 0, Math.min(hl, p.length));
  p[10] = c >>> 8;
  p[11] = c & 0xff;
  return p;
}

/** A copy of IGMP with `opts` (4 bytes) as its options, checksum fixed. */
function withOptions(opts: number[]): Uint8Array {
  const p = IGMP.slice();
  p.set(opts, 20);
  return fixChecksum(p);
}

test("deconstruct an echo request", () => {
  const v = parsed(PING);
  assert.equal(v.version, 4);
  assert.equal(v.ihl, 5);
  assert.equal(v.headerLen, 20);
  assert.equal(v.dscp, 0);
  assert.equal(v.ecn, 0);
  assert.equal(v.totalLength, 84);
  assert.equal(v.id, 0x4f2a);
  assert.equal(v.df, true);
  assert.equal(v.mf, false);
  assert.equal(v.fragOffset, 0);
  assert.equal(v.isFragment, false);
  assert.equal(v.ttl, 64);
  assert.equal(v.proto, IpProto.Icmp);
  assert.equal(v.checksum, 0xa995);
  assert.equal(v.src, GUEST);
  assert.equal(v.dst, SERVER);
  assert.equal(v.optionsLen, 0);
  assert.equal(v.options().length, 0);
  assert.equal(v.payloadOff, 20);
  assert.equal(v.payloadLen, 64);
  assert.deepEqual(v.payload(), PING.subarray(20));
});

test("deconstruct a header with the Router Alert option", () => {
  const v = parsed(IGMP);
  assert.equal(v.ihl, 6);
  assert.equal(v.headerLen, 24);
  assert.equal(v.dscp, 48);
  assert.equal(v.ecn, 0);
  assert.equal(v.ttl, 1);
  assert.equal(v.proto, IpProto.Igmp);
  assert.equal(v.optionsOff, 20);
  assert.equal(v.optionsLen, 4);
  assert.deepEqual(Array.from(v.options()), [0x94, 0x04, 0x00, 0x00]);
  assert.equal(v.payloadOff, 24);
  assert.equal(v.payloadLen, 8);
});

test("link-layer padding beyond the total length is not payload", () => {
  const frame = new Uint8Array(14 + 46).fill(0x55);
  frame.set(IGMP, 14);
  const v = parsed(frame, 14, 46);
  assert.equal(v.len, 32);
  assert.equal(v.payloadLen, 8);
  assert.deepEqual(v.payload(), IGMP.subarray(24));
});

test("construct: byte-equal to the fixtures", () => {
  const b = new Ipv4Builder(GUEST, SERVER, IpProto.Icmp);
  b.id = 0x4f2a;
  b.df = true;
  assert.equal(b.headerLen, 20);
  assert.deepEqual(build(b, PING.subarray(20)), PING);

  const g = new Ipv4Builder(GUEST, v4(0xef010203), IpProto.Igmp, 1);
  g.dscp = 48;
  g.df = true;
  g.options = new Uint8Array([0x94, 0x04, 0x00, 0x00]);
  assert.equal(g.headerLen, 24);
  assert.deepEqual(build(g, IGMP.subarray(24)), IGMP);
});

test("repr round trip", () => {
  for (const p of [PING, IGMP]) {
    const r = toRepr(parsed(p));
    assert.deepEqual(build(builderFromRepr(r), parsed(p).payload()), p);
  }
  assert.deepEqual(toRepr(parsed(IGMP)), {
    src: "10.0.2.15",
    dst: "239.1.2.3",
    proto: 2,
    ttl: 1,
    dscp: 48,
    ecn: 0,
    id: 0,
    df: true,
    mf: false,
    fragOffset: 0,
    payloadLen: 8,
    options: [0x94, 4, 0, 0],
  });
});

test("options are padded to a multiple of 4 with End-of-List zeroes", () => {
  const b = new Ipv4Builder(GUEST, SERVER, 253);
  b.options = new Uint8Array([0x01, 0x94, 0x04, 0x00, 0x00]); // NOP, Router Alert
  assert.equal(b.headerLen, 28);
  const p = build(b, new Uint8Array([9, 9]), new Buf(new Uint8Array(64).fill(0xaa)));
  assert.equal(p.length, 30);
  assert.equal(p[0], 0x47);
  assert.deepEqual(Array.from(p.subarray(20, 28)), [0x01, 0x94, 0x04, 0x00, 0x00, 0, 0, 0]);
  assert.ok(verify(p, 0, 28));
  assert.equal(parsed(p).payloadLen, 2);
  b.options = new Uint8Array(41);
  assert.throws(() => b.serialize(new Uint8Array(100), 0, 0), RangeError);
});

test("fragment fields: offset in bytes, MF, and the reserved bit written as zero", () => {
  const b = new Ipv4Builder(GUEST, SERVER, IpProto.Udp, 17);
  b.id = 0xbeef;
  b.mf = true;
  b.fragOffset = 1480;
  b.ecn = 3;
  const p = build(b, new Uint8Array(16));
  assert.deepEqual(Array.from(p.subarray(6, 8)), [0x20, 0xb9]); // MF | 1480/8 = 185
  const v = parsed(p);
  assert.equal(v.mf, true);
  assert.equal(v.df, false);
  assert.equal(v.fragOffset, 1480);
  assert.equal(v.isFragment, true);
  assert.equal(v.ecn, 3);
  assert.equal(v.id, 0xbeef);
  b.mf = false;
  b.fragOffset = 8 * 0x1fff;
  assert.deepEqual(Array.from(build(b, new Uint8Array(8)).subarray(6, 8)), [0x1f, 0xff]);
  assert.equal(parsed(build(b, new Uint8Array(8))).isFragment, true);
  b.fragOffset = 1481;
  assert.throws(() => build(b, new Uint8Array(8)), RangeError);
});

test("maxBodyLen follows the mtu field", () => {
  const b = new Ipv4Builder(GUEST, SERVER, IpProto.Udp);
  assert.equal(b.maxBodyLen, 65535 - 20);
  b.mtu = 1500;
  b.options = new Uint8Array([1, 1, 1, 1]);
  assert.equal(b.maxBodyLen, 1476);
  const r = new BytesBody(new Uint8Array(1477)).wrapIn(b).serialize();
  assert.ok(r instanceof TooBig);
  assert.equal(r.builder, b);
  assert.ok(new BytesBody(new Uint8Array(1476)).wrapIn(b).serialize() instanceof Buf);
});

test("every truncation is a silent-drop error and never throws", () => {
  for (const p of [PING, IGMP]) {
    for (let n = 0; n < p.length; n++) {
      const e = failure(p.slice(0, n));
      assert.equal(e.reason, "too-short", `length ${n}`);
      assert.equal(e.icmp, null);
      // The same with the range given explicitly inside the full buffer.
      assert.equal(Ipv4View.parse(p, 0, n), e);
    }
  }
  assert.ok(Ipv4View.parse(PING, 1, 84) instanceof Ipv4ParseError);
  assert.ok(Ipv4View.parse(PING, -1, 20) instanceof Ipv4ParseError);
});

test("bad checksum: any flipped header bit is a silent drop", () => {
  for (let i = 0; i < 24; i++) {
    const p = IGMP.slice();
    p[i] ^= 0x10;
    const e = failure(p);
    // Flipping bits of version/ihl/length is caught by earlier checks; all are silent.
    assert.equal(e.icmp, null, `byte ${i}`);
    if (i >= 4) assert.equal(e.reason, "bad-checksum", `byte ${i}`);
  }
  // The payload is not covered by the header checksum.
  const p = PING.slice();
  p[40] ^= 0xff;
  assert.ok(Ipv4View.parse(p, 0, p.length) instanceof Ipv4View);
});

test("bad version, header length and total length", () => {
  const ver6 = fixChecksum(Object.assign(PING.slice(), { 0: 0x65 }));
  assert.equal(failure(ver6).reason, "bad-version");
  for (const ihl of [0, 1, 4]) {
    const p = PING.slice();
    p[0] = 0x40 | ihl;
    const e = failure(p);
    assert.equal(e.reason, "bad-header-length");
    assert.equal(e.icmp, null);
  }
  // IHL 15 (60 bytes) in a 40-byte packet.
  const long = PING.slice(0, 40);
  long[0] = 0x4f;
  assert.equal(failure(long).reason, "too-short");
  // Total length below the header length.
  const small = PING.slice();
  small[2] = 0;
  small[3] = 19;
  assert.equal(failure(fixChecksum(small)).reason, "bad-length");
  // Total length beyond the bytes received.
  const big = PING.slice();
  big[3] = 85;
  assert.equal(failure(fixChecksum(big)).reason, "too-short");
  // Total length below what was received is fine (the rest is padding).
  const shorter = PING.slice();
  shorter[3] = 40;
  assert.equal(parsed(fixChecksum(shorter)).payloadLen, 20);
});

test("malformed options are parameter problems pointing at the option", () => {
  const cases: [number[], number][] = [
    [[0x94, 0x01, 0x00, 0x00], 20], // length 1 < 2
    [[0x94, 0x00, 0x00, 0x00], 20], // length 0
    [[0x94, 0x05, 0x00, 0x00], 20], // length past the header
    [[0x01, 0x07, 0xff, 0x00], 21], // NOP, then Record Route of length 255
    [[0x01, 0x01, 0x01, 0x44], 23], // NOPs, then Timestamp with no length byte
  ];
  for (const [opts, pointer] of cases) {
    const e = failure(withOptions(opts));
    assert.equal(e.reason, "bad-option");
    assert.deepEqual(e.icmp, { type: 12, code: 0, pointer }, `options ${opts}`);
  }
  // Well-formed: EOL ends the list (garbage after it is padding); NOPs; a 2-byte option.
  for (const opts of [
    [0x00, 0xff, 0x01, 0x07],
    [0x01, 0x01, 0x01, 0x01],
    [0x01, 0x01, 0x88, 0x02],
    [0x44, 0x04, 0x05, 0x00],
  ]) {
    assert.ok(Ipv4View.parse(withOptions(opts), 0, 32) instanceof Ipv4View, `options ${opts}`);
  }
  assert.equal(checkOptions(new Uint8Array([1, 1, 0x83, 3, 0, 0]), 0, 6), -1, "LSRR of length 3, then EOL");
  assert.equal(checkOptions(new Uint8Array([1, 1, 0x83, 3, 0, 0x07]), 0, 6), 5, "an option in the last byte");
  assert.equal(checkOptions(new Uint8Array([9, 0x83, 3, 0]), 1, 3), -1, "walked from an offset");
});

test("parseFrom re-points one view and leaves it alone on error", () => {
  const v = parsed(PING);
  assert.equal(v.parseFrom(IGMP, 0, IGMP.length), null);
  assert.equal(v.proto, IpProto.Igmp);
  assert.ok(v.parseFrom(PING, 0, 10) instanceof Ipv4ParseError);
  assert.equal(v.proto, IpProto.Igmp);
});

test("decrementTtlInPlace matches a full checksum recomputation", () => {
  const p = PING.slice();
  assert.equal(decrementTtlInPlace(p, 0), 63);
  assert.equal(p[8], 63);
  const q = PING.slice();
  q[8] = 63;
  assert.deepEqual(p, fixChecksum(q));
  assert.equal(parsed(p).ttl, 63);

  const one = IGMP.slice();
  assert.equal(decrementTtlInPlace(one, 0), 0);
  assert.ok(verify(one, 0, 24));
  const zero = one.slice();
  assert.equal(decrementTtlInPlace(zero, 0), 0);
  assert.deepEqual(zero, one, "TTL 0 is left unchanged");

  // At an offset inside a frame.
  const frame = new Uint8Array(14 + PING.length);
  frame.set(PING, 14);
  assert.equal(decrementTtlInPlace(frame, 14), 63);
  assert.deepEqual(frame.subarray(14), p);
});

test("property: decrementTtlInPlace equals recomputation for any valid header", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (h) => {
      h[0] = 0x45;
      h[8] = h[8] === 0 ? 1 : h[8];
      fixChecksum(h);
      const expected = h.slice();
      expected[8] = h[8] - 1;
      fixChecksum(expected);
      assert.equal(decrementTtlInPlace(h, 0), expected[8]);
      assert.deepEqual(h, expected);
    }),
  );
});

test("no leak: Ethernet + IPv4 (odd options) into a buffer full of 0xAA", () => {
  const mac = parseMac("52:54:00:12:34:56") as MacAddr;
  const ip = new Ipv4Builder(GUEST, SERVER, IpProto.Udp);
  ip.options = new Uint8Array([0x01, 0x01, 0x01]);
  const target = new Buf(new Uint8Array(128).fill(0xaa));
  const out = new BytesBody(new Uint8Array([1, 2, 3]))
    .wrapIn(ip)
    .wrapIn(new EthernetBuilder(mac, mac, EtherType.Ipv4))
    .serialize({ target });
  assert.ok(out instanceof Buf);
  const bytes = out.toBytes();
  assert.equal(bytes.length, 60);
  assert.ok(!bytes.includes(0xaa));
  const v = parsed(bytes, 14, 46);
  assert.equal(v.headerLen, 24);
  assert.deepEqual(Array.from(v.payload()), [1, 2, 3]);
});

const ipText = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((q) => q.join("."));
/** Well-formed option bytes: NOPs and TLVs, up to 40 bytes with padding. */
const optionsArb = fc
  .array(
    fc.oneof(
      fc.constant([1]),
      fc
        .tuple(fc.integer({ min: 2, max: 255 }), fc.uint8Array({ maxLength: 6 }))
        .map(([t, d]) => [t, d.length + 2, ...d]),
    ),
    { maxLength: 5 },
  )
  .map((os) => os.flat())
  .filter((o) => o.length <= 40)
  .map((o) => {
    while (o.length % 4 !== 0) o.push(0);
    return o;
  });

const reprArb: fc.Arbitrary<Ipv4Repr> = fc
  .record({
    src: ipText,
    dst: ipText,
    proto: fc.nat(255),
    ttl: fc.nat(255),
    dscp: fc.nat(63),
    ecn: fc.nat(3),
    id: fc.nat(0xffff),
    df: fc.boolean(),
    mf: fc.boolean(),
    fragOffset: fc.nat(0x1fff).map((x) => x * 8),
    payloadLen: fc.nat(64),
    options: optionsArb,
  })
  .map((r) => {
    const out: Ipv4Repr = { ...r };
    if (r.options.length === 0) delete out.options;
    return out;
  });

test("property: random reprs round-trip through builder and parser", () => {
  fc.assert(
    fc.property(reprArb, (r) => {
      const payload = new Uint8Array(r.payloadLen).fill(0x5a);
      const bytes = build(builderFromRepr(r), payload);
      const v = parsed(bytes);
      assert.deepEqual(toRepr(v), r);
      assert.deepEqual(v.payload(), payload);
    }),
  );
});

test("property: random and mutated bytes never throw; parsed views stay in bounds", () => {
  const check = (bytes: Uint8Array) => {
    const v = Ipv4View.parse(bytes, 0, bytes.length);
    if (v instanceof ParseError) {
      assert.ok(v instanceof Ipv4ParseError);
      if (v.icmp !== null) assert.ok(v.icmp.pointer >= IPV4_HEADER_LEN && v.icmp.pointer < 60);
      return;
    }
    assert.ok(v.payloadOff + v.payloadLen <= bytes.length);
    assert.ok(v.payloadLen >= 0 && v.headerLen >= 20);
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), check));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(IGMP.length - 1), fc.nat(255)), { maxLength: 4 }),
      fc.boolean(),
      (muts, fix) => {
        const p = IGMP.slice();
        for (const [i, x] of muts) p[i] = x;
        check(fix ? fixChecksum(p) : p);
      },
    ),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseV4, parseV6 } from "../ip/addr.ts";
import { BytesBody } from "../packet/serialize.ts";
import { pseudoSum } from "./checksum.ts";
import { isError, type ParseError } from "./errors.ts";
import { builderFromRepr, SKIP_CHECKSUM, toRepr, UdpBuilder, type UdpRepr, UdpView } from "./udp.ts";

// Datagrams sent by Linux 6.x over a TAP in a network namespace: "netstack udp\n" from
// 10.9.0.1:5300 and [2001:db8::1]:5353 to port 9999 of the peer (10.9.0.2 / 2001:db8::2).
const SRC4 = parseV4("10.9.0.1")!;
const DST4 = parseV4("10.9.0.2")!;
const SRC6 = parseV6("2001:db8::1")!;
const DST6 = parseV6("2001:db8::2")!;

// biome-ignore format: packet bytes
const UDP_V4 = new Uint8Array([
  0x14, 0xb4, 0x27, 0x0f, 0x00, 0x15, 0x66, 0x61, 0x6e, 0x65, 0x74, 0x73,
  0x74, 0x61, 0x63, 0x6b, 0x20, 0x75, 0x64, 0x70, 0x0a,
]);
// biome-ignore format: packet bytes
const UDP_V6 = new Uint8Array([
  0x14, 0xe9, 0x27, 0x0f, 0x00, 0x15, 0x1e, 0xcc, 0x6e, 0x65, 0x74, 0x73,
  0x74, 0x61, 0x63, 0x6b, 0x20, 0x75, 0x64, 0x70, 0x0a,
]);
const PAYLOAD = new TextEncoder().encode("netstack udp\n");

const p4 = (len: number): number => pseudoSum(SRC4, DST4, 17, len);
const p6 = (len: number): number => pseudoSum(SRC6, DST6, 17, len);

function parseOk(bytes: Uint8Array, pseudo: number, version: 4 | 6, len = bytes.length): UdpView {
  const v = UdpView.parse(bytes, 0, len, pseudo, version);
  if (isError(v)) assert.fail(`parse failed: ${v}`);
  return v;
}

function parseErr(bytes: Uint8Array, pseudo: number, version: 4 | 6, len = bytes.length): string {
  const v = UdpView.parse(bytes, 0, len, pseudo, version);
  assert.ok(isError(v), "expected a parse error");
  return (v as ParseError).reason;
}

function emit(u: UdpBuilder, payload: Uint8Array, fill = 0): Uint8Array {
  const out = new Uint8Array(8 + payload.length).fill(fill);
  out.set(payload, 8);
  u.serialize(out, 0, payload.length);
  return out;
}

test("deconstruct Linux datagrams over IPv4 and IPv6", () => {
  const v = parseOk(UDP_V4, p4(21), 4);
  assert.equal(v.srcPort, 5300);
  assert.equal(v.dstPort, 9999);
  assert.equal(v.length, 21);
  assert.equal(v.checksum, 0x6661);
  assert.equal(v.payloadOff, 8);
  assert.equal(v.payloadLen, 13);
  assert.deepEqual(v.payload(), PAYLOAD);
  const w = parseOk(UDP_V6, p6(21), 6);
  assert.equal(w.srcPort, 5353);
  assert.equal(w.checksum, 0x1ecc);
  assert.deepEqual(w.payload(), PAYLOAD);
});

test("construct: builder output equals the Linux bytes, directly and nested", () => {
  assert.deepEqual(emit(new UdpBuilder(SRC4, DST4, 5300, 9999), PAYLOAD), UDP_V4);
  assert.deepEqual(emit(new UdpBuilder(SRC6, DST6, 5353, 9999), PAYLOAD), UDP_V6);
  const buf = new BytesBody(PAYLOAD).wrapIn(new UdpBuilder(SRC6, DST6, 5353, 9999)).serialize({ prefix: 40 });
  assert.ok(!(buf instanceof Error) && "body" in buf);
  assert.equal(buf.start, 40);
  assert.deepEqual(buf.body(), UDP_V6);
});

test("repr round trip", () => {
  const r = toRepr(parseOk(UDP_V4, p4(21), 4));
  assert.deepEqual(r, { srcPort: 5300, dstPort: 9999, length: 21 });
  assert.deepEqual(emit(builderFromRepr(r, SRC4, DST4), PAYLOAD), UDP_V4);
  const r6 = toRepr(parseOk(UDP_V6, p6(21), 6));
  assert.deepEqual(emit(builderFromRepr(r6, SRC6, DST6), PAYLOAD), UDP_V6);
});

test("checksum 0 is 'none' on IPv4 and an error on IPv6", () => {
  const none = UDP_V4.slice();
  none[6] = 0;
  none[7] = 0;
  const v = parseOk(none, p4(21), 4);
  const r = toRepr(v);
  assert.deepEqual(r, { srcPort: 5300, dstPort: 9999, length: 21, noChecksum: true });
  assert.deepEqual(emit(builderFromRepr(r, SRC4, DST4), PAYLOAD, 0xaa), none);
  const none6 = UDP_V6.slice();
  none6[6] = 0;
  none6[7] = 0;
  assert.equal(parseErr(none6, p6(21), 6), "zero-checksum");
});

test("a computed checksum of zero is sent as 0xffff and verifies", () => {
  // With a two-byte payload equal to the checksum of the datagram with a zero payload, the sum
  // becomes all ones, so the computed checksum is zero.
  const u = new UdpBuilder(SRC4, DST4, 1000, 2000);
  const zero = emit(u, new Uint8Array(2));
  const payload = zero.slice(6, 8);
  const out = emit(u, payload);
  assert.deepEqual(Array.from(out.subarray(6, 8)), [0xff, 0xff]);
  parseOk(out, p4(out.length), 4);
  const u6 = new UdpBuilder(SRC6, DST6, 1000, 2000);
  const out6 = emit(u6, emit(u6, new Uint8Array(2)).slice(6, 8));
  assert.deepEqual(Array.from(out6.subarray(6, 8)), [0xff, 0xff]);
  parseOk(out6, p6(out6.length), 6);
});

test("pseudo-headers: each version verified, a wrong address or version rejected", () => {
  assert.equal(parseErr(UDP_V4, p6(21), 6), "bad-checksum");
  assert.equal(parseErr(UDP_V6, p4(21), 4), "bad-checksum");
  assert.equal(parseErr(UDP_V4, pseudoSum(SRC4, (DST4 + 1) >>> 0, 17, 21), 4), "bad-checksum");
  assert.equal(parseErr(UDP_V4, pseudoSum(SRC4, DST4, 6, 21), 4), "bad-checksum");
  for (let i = 0; i < UDP_V6.length; i++) {
    if (i === 4 || i === 5) continue; // the length field: see the length tests
    const bad = UDP_V6.slice();
    bad[i] ^= 0x04;
    assert.equal(parseErr(bad, p6(21), 6), "bad-checksum", `byte ${i}`);
  }
  const bad = UDP_V4.slice();
  bad[10] ^= 1;
  assert.ok(!isError(UdpView.parse(bad, 0, 21, SKIP_CHECKSUM, 4)));
});

test("trailing bytes beyond the UDP length are ignored (the pseudo-header length is corrected)", () => {
  for (const [seg, pseudo, version] of [
    [UDP_V4, p4, 4],
    [UDP_V6, p6, 6],
  ] as const) {
    const padded = new Uint8Array(46).fill(0x5a);
    padded.set(seg);
    const v = parseOk(padded, pseudo(46), version);
    assert.equal(v.len, 21);
    assert.equal(v.length, 21);
    assert.deepEqual(v.payload(), PAYLOAD);
  }
});

test("malformed: every truncation, length below 8 or beyond the data", () => {
  for (let n = 0; n < 8; n++) assert.equal(parseErr(UDP_V4.subarray(0, n), p4(n), 4), "too-short");
  for (let n = 8; n < 21; n++) assert.equal(parseErr(UDP_V4.subarray(0, n), p4(n), 4), "bad-length");
  for (let l = 0; l < 8; l++) {
    const bad = UDP_V4.slice();
    bad[5] = l;
    assert.equal(parseErr(bad, SKIP_CHECKSUM, 4), "bad-length");
  }
  const long = UDP_V4.slice();
  long[5] = 22;
  assert.equal(parseErr(long, SKIP_CHECKSUM, 4), "bad-length");
  assert.ok(isError(UdpView.parse(UDP_V4, 15, 8, SKIP_CHECKSUM, 4)), "range outside the array");
});

test("no leak: every header byte is written", () => {
  for (const u of [
    new UdpBuilder(SRC4, DST4, 1, 2),
    new UdpBuilder(SRC6, DST6, 3, 4),
    new UdpBuilder(SRC4, DST4, 5, 6, true),
  ]) {
    const a = emit(u, PAYLOAD, 0xaa);
    assert.deepEqual(a, emit(u, PAYLOAD, 0x55));
    assert.ok(!a.includes(0xaa));
  }
});

test("property: random reprs round-trip over both versions", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 0xffff }),
      fc.nat({ max: 0xffff }),
      fc.uint8Array({ maxLength: 100 }),
      fc.boolean(),
      fc.boolean(),
      (srcPort, dstPort, payload, v6, noChecksum) => {
        const none = noChecksum && !v6;
        const repr: UdpRepr = { srcPort, dstPort, length: 8 + payload.length };
        if (none) repr.noChecksum = true;
        const [src, dst] = v6 ? [SRC6, DST6] : [SRC4, DST4];
        const bytes = emit(builderFromRepr(repr, src, dst), payload);
        const v = UdpView.parse(bytes, 0, bytes.length, pseudoSum(src, dst, 17, bytes.length), v6 ? 6 : 4);
        if (isError(v)) throw new Error(`parse failed: ${v}`);
        assert.deepEqual(toRepr(v), repr);
        assert.deepEqual(v.payload(), payload);
      },
    ),
  );
});

test("property: random bytes never throw; a parsed view stays in bounds", () => {
  const v = new UdpView();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(6), fc.nat(50), fc.boolean(), (bytes, off, len, v6) => {
      for (const pseudo of [SKIP_CHECKSUM, p4(len)]) {
        if (v.parseFrom(bytes, off, len, pseudo, v6 ? 6 : 4) === null) {
          assert.ok(v.off + v.len <= bytes.length && v.len >= 8);
          assert.equal(v.payload().length, v.payloadLen);
        }
      }
    }),
  );
});

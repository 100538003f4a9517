import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { readCapture } from "../capture/pcapng.ts";
import { type Ipv6Addr, parseV6 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { BytesBody, TooBig } from "../packet/serialize.ts";
import type { ParseError } from "./errors.ts";
import {
  builderFromRepr,
  describe,
  ICMPV6_ERROR_MAX_QUOTE,
  type Icmpv6Builder,
  Icmpv6EchoBuilder,
  Icmpv6ErrorBuilder,
  type Icmpv6Repr,
  Icmpv6Type,
  Icmpv6View,
  icmpv6IsError,
  icmpv6PseudoSum,
  icmpv6QuoteLen,
  toRepr,
} from "./icmpv6.ts";

// From test/fixtures/ping6.pcap (Linux `ping -6`, frame 1): the ICMPv6 echo request from fd77::1
// to fd77::2, id 17401, seq 1, 56 bytes of data (a timestamp, then 0x10..0x37).
// biome-ignore format: packet bytes
const ECHO_REQUEST = new Uint8Array([
  0x80, 0x00, 0x03, 0x93, 0x43, 0xf9, 0x00, 0x01, 0xe0, 0xe3, 0x05, 0x6b, 0x00, 0x00, 0x00, 0x00,
  0x92, 0xe3, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
  0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
]);

const A1 = parseV6("fd77::1") as Ipv6Addr;
const A2 = parseV6("fd77::2") as Ipv6Addr;

/** The fixture's 40-byte IPv6 header from fd77::1 to fd77::2 (flow label 0xaa918, hop limit 64). */
// biome-ignore format: packet bytes
const IP_HEADER = new Uint8Array([
  0x60, 0x0a, 0xa9, 0x18, 0x00, 0x40, 0x3a, 0x40, 0xfd, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
]);

function view(b: Uint8Array, src: Uint8Array = A1, dst: Uint8Array = A2): Icmpv6View {
  const v = Icmpv6View.parse(b, 0, b.length, src, dst);
  if (!(v instanceof Icmpv6View)) assert.fail(`parse failed: ${v}`);
  return v;
}

function err(b: Uint8Array, len = b.length, src: Uint8Array = A1, dst: Uint8Array = A2): ParseError {
  const v = Icmpv6View.parse(b, 0, len, src, dst);
  if (v instanceof Icmpv6View) assert.fail("expected a parse error");
  return v;
}

/** Serialize `body` inside `builder` into a fresh buffer pre-filled with 0xAA (to catch unwritten bytes). */
function build(builder: Icmpv6Builder, body: Uint8Array): Uint8Array {
  const target = new Buf(new Uint8Array(builder.headerLen + body.length + 32).fill(0xaa));
  const out = new BytesBody(body).wrapIn(builder).serialize({ target });
  if (out instanceof TooBig) assert.fail("too big");
  return out.toBytes();
}

test("the inline bytes are the ones in test/fixtures/ping6.pcap", () => {
  const cap = readCapture(new Uint8Array(readFileSync(new URL("../../test/fixtures/ping6.pcap", import.meta.url))));
  const frame = cap.records[0].data;
  assert.deepEqual(frame.subarray(14, 54), IP_HEADER);
  assert.deepEqual(frame.subarray(54), ECHO_REQUEST);
});

test("deconstruct the echo request", () => {
  const v = view(ECHO_REQUEST);
  assert.equal(v.type, Icmpv6Type.EchoRequest);
  assert.equal(v.code, 0);
  assert.equal(v.checksum, 0x0393);
  assert.equal(v.id, 17401);
  assert.equal(v.seq, 1);
  assert.equal(v.rest, 0x43f90001);
  assert.equal(v.isError, false);
  assert.equal(v.payloadOff, 8);
  assert.equal(v.payloadLen, 56);
  assert.deepEqual(v.data(), ECHO_REQUEST.subarray(8));
  assert.equal(describe(v, A1, A2), "fd77::1 > fd77::2: echo request id=17401 seq=1 len=56");
});

test("parse with a precomputed pseudo-header sum, and at an offset inside the packet", () => {
  const v = Icmpv6View.parseWithSum(ECHO_REQUEST, 0, ECHO_REQUEST.length, icmpv6PseudoSum(A1, A2, 64));
  assert.ok(v instanceof Icmpv6View);
  const packet = new Uint8Array([...IP_HEADER, ...ECHO_REQUEST]);
  const w = Icmpv6View.parse(packet, 40, 64, packet.subarray(8, 24), packet.subarray(24, 40));
  assert.ok(w instanceof Icmpv6View);
  assert.equal(w.off, 40);
  assert.equal(w.seq, 1);
});

test("construct the echo request byte for byte", () => {
  const b = build(new Icmpv6EchoBuilder(A1, A2, Icmpv6Type.EchoRequest, 17401, 1), ECHO_REQUEST.subarray(8));
  assert.deepEqual(b, ECHO_REQUEST);
});

test("construct the echo reply Linux sent back (fixture frame 2)", () => {
  const b = build(new Icmpv6EchoBuilder(A2, A1, Icmpv6Type.EchoReply, 17401, 1), ECHO_REQUEST.subarray(8));
  const cap = readCapture(new Uint8Array(readFileSync(new URL("../../test/fixtures/ping6.pcap", import.meta.url))));
  assert.deepEqual(b, cap.records[1].data.subarray(54));
});

test("repr round trip of the echo request", () => {
  const r = toRepr(view(ECHO_REQUEST));
  assert.deepEqual(r, { type: 128, code: 0, rest: 0x43f90001, id: 17401, seq: 1, payloadLen: 56 });
  assert.deepEqual(build(builderFromRepr(r, A1, A2), ECHO_REQUEST.subarray(8)), ECHO_REQUEST);
});

test("error messages: construct, deconstruct, quote, repr round trip", () => {
  const quote = new Uint8Array([...IP_HEADER, ...ECHO_REQUEST]);
  const cases: [Icmpv6Builder, Partial<Icmpv6Repr>, string][] = [
    [new Icmpv6ErrorBuilder(A2, A1, Icmpv6Type.PacketTooBig, 0, 1280), { mtu: 1280 }, "packet too big mtu=1280"],
    [
      new Icmpv6ErrorBuilder(A2, A1, Icmpv6Type.ParamProblem, 1, 6),
      { pointer: 6 },
      "parameter problem code=1 pointer=6",
    ],
    [new Icmpv6ErrorBuilder(A2, A1, Icmpv6Type.DestUnreachable, 4), {}, "icmp6 type=1 code=4"],
    [new Icmpv6ErrorBuilder(A2, A1, Icmpv6Type.TimeExceeded, 0), {}, "icmp6 type=3 code=0"],
  ];
  for (const [builder, extra, text] of cases) {
    const b = build(builder, quote);
    assert.equal(b.length, 8 + quote.length);
    assert.equal(b[0], builder.type);
    assert.equal(b[1], builder.code);
    const v = view(b, A2, A1);
    assert.equal(v.isError, true);
    assert.equal(icmpv6IsError(v.type), true);
    assert.deepEqual(v.quoted(), quote);
    assert.equal(describe(v), text);
    const r = toRepr(v);
    assert.deepEqual(r, {
      type: builder.type,
      code: builder.code,
      rest: builder.rest,
      payloadLen: quote.length,
      ...extra,
    });
    assert.deepEqual(build(builderFromRepr(r, A2, A1), quote), b);
  }
});

test("RFC 4443 2.4 (c): errors quote at most what fits in 1280 bytes", () => {
  assert.equal(ICMPV6_ERROR_MAX_QUOTE, 1232);
  assert.equal(icmpv6QuoteLen(100), 100);
  assert.equal(icmpv6QuoteLen(5000), 1232);
  assert.equal(icmpv6QuoteLen(5000, 48), 1224);
  const tooBig = new BytesBody(new Uint8Array(1233))
    .wrapIn(new Icmpv6ErrorBuilder(A2, A1, Icmpv6Type.PacketTooBig, 0, 1280))
    .serialize();
  assert.ok(tooBig instanceof TooBig);
  assert.equal(tooBig.maxBodyLen, 1232);
  const fits = new BytesBody(new Uint8Array(1232))
    .wrapIn(new Icmpv6ErrorBuilder(A2, A1, Icmpv6Type.PacketTooBig, 0, 1280))
    .serialize();
  assert.ok(fits instanceof Buf);
  assert.equal(fits.length, 1240);
});

test("every truncation is rejected: too short below 8 bytes, a bad checksum above", () => {
  for (let len = 0; len < ECHO_REQUEST.length; len++) {
    const e = err(ECHO_REQUEST, len);
    assert.equal(e.layer, "icmpv6");
    assert.equal(e.reason, len < 8 ? "too-short" : "bad-checksum", `length ${len}`);
  }
  // Out-of-range offsets and lengths are short, not exceptions.
  assert.equal(String(Icmpv6View.parse(ECHO_REQUEST, 60, 8, A1, A2)), "icmpv6: too-short");
  assert.equal(String(Icmpv6View.parse(ECHO_REQUEST, -1, 8, A1, A2)), "icmpv6: too-short");
});

test("a flipped bit anywhere, or other addresses in the pseudo-header, is a bad checksum", () => {
  for (let i = 0; i < ECHO_REQUEST.length; i++) {
    const b = ECHO_REQUEST.slice();
    b[i] ^= 0x01;
    assert.equal(String(err(b)), "icmpv6: bad-checksum", `byte ${i}`);
  }
  assert.equal(String(err(ECHO_REQUEST, ECHO_REQUEST.length, A2, A1.slice().fill(0))), "icmpv6: bad-checksum");
  assert.equal(
    String(err(ECHO_REQUEST, ECHO_REQUEST.length, A1, parseV6("fd77::3") as Ipv6Addr)),
    "icmpv6: bad-checksum",
  );
});

test("property: random echo messages round-trip through builder, parser and repr", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(Icmpv6Type.EchoRequest, Icmpv6Type.EchoReply),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 200 }),
      (type, id, seq, data) => {
        const b = build(new Icmpv6EchoBuilder(A1, A2, type, id, seq), data);
        const v = view(b);
        assert.equal(v.type, type);
        assert.equal(v.id, id);
        assert.equal(v.seq, seq);
        assert.deepEqual(v.data(), data);
        assert.deepEqual(build(builderFromRepr(toRepr(v), A1, A2), data), b);
      },
    ),
  );
});

test("property: random errors round-trip", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 127 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ maxLength: 100 }),
      (type, code, rest, quote) => {
        const b = build(new Icmpv6ErrorBuilder(A1, A2, type, code, rest), quote);
        const v = view(b);
        assert.equal(v.isError, true);
        assert.equal(v.rest, rest);
        assert.deepEqual(v.quoted(), quote);
        assert.deepEqual(build(builderFromRepr(toRepr(v), A1, A2), quote), b);
      },
    ),
  );
});

test("property: random bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(90), (bytes, len) => {
      const v = Icmpv6View.parse(bytes, 0, Math.min(len, bytes.length), A1, A2);
      if (v instanceof Icmpv6View) {
        toRepr(v);
        describe(v);
      }
    }),
  );
});

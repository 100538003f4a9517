import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type MacAddr, parseMac, v4, v4At } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { BytesBody } from "../packet/serialize.ts";
import { checksum, verify } from "./checksum.ts";
import { ParseError } from "./errors.ts";
import { EthernetBuilder, EtherType } from "./ethernet.ts";
import {
  builderFromRepr,
  ICMPV4_HEADER_LEN,
  Icmpv4EchoBuilder,
  Icmpv4ErrorBuilder,
  Icmpv4ParamProblemCode,
  Icmpv4RedirectCode,
  type Icmpv4Repr,
  Icmpv4TimeExceededCode,
  Icmpv4Type,
  Icmpv4UnreachableCode,
  Icmpv4View,
  icmpv4QuoteLen,
  isIcmpv4Error,
  toRepr,
} from "./icmpv4.ts";
import { IpProto } from "./ipproto.ts";
import { Ipv4Builder, Ipv4View } from "./ipv4.ts";

// The ICMP part of a Linux `ping` echo request: id 0x1c46, seq 1, 56 bytes of data.
// biome-ignore format: packet bytes
const ECHO_REQUEST = new Uint8Array([
  0x08, 0x00, 0xab, 0x26, 0x1c, 0x46, 0x00, 0x01, 0x5c, 0x1d, 0x6e, 0x66, 0x00, 0x00, 0x00, 0x00,
  0x9a, 0x3b, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
  0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
]);

// 10.0.2.2 -> 10.0.2.15: fragmentation needed, next-hop MTU 1280, quoting the IP header and the
// first 8 bytes of a UDP datagram 10.0.2.15:40000 -> 93.184.216.34:53.
// biome-ignore format: packet bytes
const FRAG_NEEDED = new Uint8Array([
  0x45, 0x00, 0x00, 0x38, 0x01, 0x01, 0x00, 0x00, 0xff, 0x01, 0xa2, 0xb3, 0x0a, 0x00, 0x02, 0x02,
  0x0a, 0x00, 0x02, 0x0f, 0x03, 0x04, 0x5b, 0x5e, 0x00, 0x00, 0x05, 0x00, 0x45, 0x00, 0x00, 0x3c,
  0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x93, 0x0a, 0x00, 0x02, 0x0f, 0x5d, 0xb8, 0xd8, 0x22,
  0x9c, 0x40, 0x00, 0x35, 0x00, 0x28, 0x00, 0x00,
]);

// TTL exceeded in transit, quoting the whole 60-byte datagram.
// biome-ignore format: packet bytes
const TIME_EXCEEDED = new Uint8Array([
  0x45, 0x00, 0x00, 0x58, 0x01, 0x02, 0x00, 0x00, 0xff, 0x01, 0xa2, 0x92, 0x0a, 0x00, 0x02, 0x02,
  0x0a, 0x00, 0x02, 0x0f, 0x0b, 0x00, 0xc1, 0x5b, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x3c,
  0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x93, 0x0a, 0x00, 0x02, 0x0f, 0x5d, 0xb8, 0xd8, 0x22,
  0x9c, 0x40, 0x00, 0x35, 0x00, 0x28, 0x00, 0x00, 0x00, 0x07, 0x0e, 0x15, 0x1c, 0x23, 0x2a, 0x31,
  0x38, 0x3f, 0x46, 0x4d, 0x54, 0x5b, 0x62, 0x69, 0x70, 0x77, 0x7e, 0x85, 0x8c, 0x93, 0x9a, 0xa1,
  0xa8, 0xaf, 0xb6, 0xbd, 0xc4, 0xcb, 0xd2, 0xd9,
]);

// Parameter problem, pointer 20.
// biome-ignore format: packet bytes
const PARAM_PROBLEM = new Uint8Array([
  0x45, 0x00, 0x00, 0x38, 0x01, 0x03, 0x00, 0x00, 0xff, 0x01, 0xa2, 0xb1, 0x0a, 0x00, 0x02, 0x02,
  0x0a, 0x00, 0x02, 0x0f, 0x0c, 0x00, 0x43, 0x62, 0x14, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x3c,
  0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x93, 0x0a, 0x00, 0x02, 0x0f, 0x5d, 0xb8, 0xd8, 0x22,
  0x9c, 0x40, 0x00, 0x35, 0x00, 0x28, 0x00, 0x00,
]);

// Redirect for the host, to gateway 10.0.2.1.
// biome-ignore format: packet bytes
const REDIRECT = new Uint8Array([
  0x45, 0x00, 0x00, 0x38, 0x01, 0x04, 0x00, 0x00, 0xff, 0x01, 0xa2, 0xb0, 0x0a, 0x00, 0x02, 0x02,
  0x0a, 0x00, 0x02, 0x0f, 0x05, 0x01, 0x52, 0x60, 0x0a, 0x00, 0x02, 0x01, 0x45, 0x00, 0x00, 0x3c,
  0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x93, 0x0a, 0x00, 0x02, 0x0f, 0x5d, 0xb8, 0xd8, 0x22,
  0x9c, 0x40, 0x00, 0x35, 0x00, 0x28, 0x00, 0x00,
]);

const GW = v4(0x0a000202);
const GUEST = v4(0x0a00020f);

function parsed(bytes: Uint8Array, off = 0, len = bytes.length - off): Icmpv4View {
  const v = Icmpv4View.parse(bytes, off, len);
  assert.ok(v instanceof Icmpv4View, `parse failed: ${v}`);
  return v;
}

/** The ICMP message inside one of the IPv4 fixtures. */
function icmpOf(ip: Uint8Array): Icmpv4View {
  const v = Ipv4View.parse(ip, 0, ip.length);
  assert.ok(v instanceof Ipv4View);
  assert.equal(v.proto, IpProto.Icmp);
  return parsed(ip, v.payloadOff, v.payloadLen);
}

function build(b: Icmpv4EchoBuilder | Icmpv4ErrorBuilder, body: Uint8Array, target?: Buf): Uint8Array {
  const out = new BytesBody(body).wrapIn(b).serialize(target === undefined ? undefined : { target });
  assert.ok(out instanceof Buf);
  return out.toBytes();
}

/** The error fixtures' IPv4 header: 10.0.2.2 -> 10.0.2.15, TTL 255, the given id. */
function errorIp(id: number): Ipv4Builder {
  const b = new Ipv4Builder(GW, GUEST, IpProto.Icmp, 255);
  b.id = id;
  return b;
}

test("deconstruct an echo request", () => {
  const v = parsed(ECHO_REQUEST);
  assert.equal(v.type, Icmpv4Type.EchoRequest);
  assert.equal(v.code, 0);
  assert.equal(v.checksum, 0xab26);
  assert.equal(v.id, 0x1c46);
  assert.equal(v.seq, 1);
  assert.equal(v.rest, 0x1c460001);
  assert.equal(v.isError, false);
  assert.equal(v.dataOff, 8);
  assert.equal(v.dataLen, 56);
  assert.deepEqual(v.data(), ECHO_REQUEST.subarray(8));
  assert.equal(v.quoteLen, 0);
  assert.equal(v.nextHopMtu, 0);
  assert.equal(v.pointer, -1);
});

test("deconstruct fragmentation needed (RFC 1191) and its quote", () => {
  const v = icmpOf(FRAG_NEEDED);
  assert.equal(v.type, Icmpv4Type.DestUnreachable);
  assert.equal(v.code, Icmpv4UnreachableCode.FragNeeded);
  assert.equal(v.nextHopMtu, 1280);
  assert.equal(v.isError, true);
  assert.equal(v.quoteOff, 28);
  assert.equal(v.quoteLen, 28);
  const q = v.quote();
  assert.equal(q[0], 0x45);
  assert.equal(q[9], IpProto.Udp);
  assert.equal(v4At(q, 12), GUEST);
  assert.equal(v4At(q, 16), v4(0x5db8d822));
  assert.equal((q[20] << 8) | q[21], 40000);
  assert.equal((q[22] << 8) | q[23], 53);
  // Another unreachable code carries no MTU even if the bytes are there.
  const port = FRAG_NEEDED.slice(20);
  port[1] = Icmpv4UnreachableCode.Port;
  port[2] = 0x5b;
  port[3] = 0x5f; // checksum adjusted for the code change (the sum is one less)
  assert.equal(parsed(port).nextHopMtu, 0);
});

test("deconstruct time exceeded, parameter problem and redirect", () => {
  const te = icmpOf(TIME_EXCEEDED);
  assert.equal(te.type, Icmpv4Type.TimeExceeded);
  assert.equal(te.code, Icmpv4TimeExceededCode.Ttl);
  assert.equal(te.quoteLen, 60);
  const quoted = Ipv4View.parse(te.bytes, te.quoteOff, te.quoteLen);
  assert.ok(quoted instanceof Ipv4View, "the full quote is a whole datagram");
  assert.equal(quoted.totalLength, 60);

  const pp = icmpOf(PARAM_PROBLEM);
  assert.equal(pp.type, Icmpv4Type.ParamProblem);
  assert.equal(pp.code, Icmpv4ParamProblemCode.Pointer);
  assert.equal(pp.pointer, 20);
  assert.equal(pp.quoteLen, 28);

  const rd = icmpOf(REDIRECT);
  assert.equal(rd.type, Icmpv4Type.Redirect);
  assert.equal(rd.code, Icmpv4RedirectCode.Host);
  assert.equal(rd.gateway, v4(0x0a000201));
  assert.equal(rd.quoteLen, 28);
});

test("construct echo request and reply", () => {
  assert.deepEqual(
    build(new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, 0x1c46, 1), ECHO_REQUEST.subarray(8)),
    ECHO_REQUEST,
  );
  const reply = build(new Icmpv4EchoBuilder(Icmpv4Type.EchoReply, 0x1c46, 1), ECHO_REQUEST.subarray(8));
  // RFC 1624: changing the type word 0x0800 -> 0x0000 adds 0x0800 to the checksum.
  assert.equal((reply[2] << 8) | reply[3], 0xab26 + 0x0800);
  assert.deepEqual(reply.subarray(4), ECHO_REQUEST.subarray(4));
  assert.equal(parsed(reply).type, Icmpv4Type.EchoReply);
});

test("construct the error fixtures byte for byte, inside IPv4", () => {
  const quote28 = FRAG_NEEDED.subarray(28);
  const cases: [Icmpv4ErrorBuilder, Uint8Array, Uint8Array, number][] = [
    [Icmpv4ErrorBuilder.destUnreachable(Icmpv4UnreachableCode.FragNeeded, 1280), quote28, FRAG_NEEDED, 0x0101],
    [Icmpv4ErrorBuilder.timeExceeded(Icmpv4TimeExceededCode.Ttl), TIME_EXCEEDED.subarray(28), TIME_EXCEEDED, 0x0102],
    [Icmpv4ErrorBuilder.paramProblem(20), quote28, PARAM_PROBLEM, 0x0103],
    [Icmpv4ErrorBuilder.redirect(Icmpv4RedirectCode.Host, v4(0x0a000201)), quote28, REDIRECT, 0x0104],
  ];
  for (const [b, quote, fixture, id] of cases) {
    assert.deepEqual(build(b, quote), fixture.subarray(20));
    const out = new BytesBody(quote).wrapIn(b).wrapIn(errorIp(id)).serialize();
    assert.ok(out instanceof Buf);
    assert.deepEqual(out.toBytes(), fixture);
  }
});

test("repr round trip of every fixture", () => {
  const messages = [ECHO_REQUEST, ...[FRAG_NEEDED, TIME_EXCEEDED, PARAM_PROBLEM, REDIRECT].map((p) => p.subarray(20))];
  for (const m of messages) {
    const v = parsed(m);
    const r = toRepr(v);
    assert.deepEqual(build(builderFromRepr(r), v.data()), m);
  }
  assert.deepEqual(toRepr(parsed(ECHO_REQUEST)), {
    type: 8,
    code: 0,
    rest: 0x1c460001,
    bodyLen: 56,
    id: 0x1c46,
    seq: 1,
  });
  assert.deepEqual(toRepr(icmpOf(FRAG_NEEDED)), {
    type: 3,
    code: 4,
    rest: 1280,
    bodyLen: 28,
    nextHopMtu: 1280,
    quoteLen: 28,
  });
  assert.deepEqual(toRepr(icmpOf(PARAM_PROBLEM)), {
    type: 12,
    code: 0,
    rest: 0x14000000,
    bodyLen: 28,
    pointer: 20,
    quoteLen: 28,
  });
  assert.equal(toRepr(icmpOf(REDIRECT)).gateway, "10.0.2.1");
  // Hand-written reprs without `rest` use the named fields.
  const quote = FRAG_NEEDED.subarray(28);
  assert.deepEqual(
    build(builderFromRepr({ type: 3, code: 4, nextHopMtu: 1280, bodyLen: 28 }), quote),
    FRAG_NEEDED.subarray(20),
  );
  assert.deepEqual(
    build(builderFromRepr({ type: 12, code: 0, pointer: 20, bodyLen: 28 }), quote),
    PARAM_PROBLEM.subarray(20),
  );
  assert.deepEqual(
    build(builderFromRepr({ type: 5, code: 1, gateway: "10.0.2.1", bodyLen: 28 }), quote),
    REDIRECT.subarray(20),
  );
});

test("RFC 4884: a length attribute that fits limits the quote to the original datagram", () => {
  const quote = new Uint8Array(128).fill(0x45);
  const ext = new Uint8Array([0x20, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01, 0x01]);
  const body = new Uint8Array([...quote, ...ext]);
  const b = new Icmpv4ErrorBuilder(Icmpv4Type.TimeExceeded, 0, 32 << 16);
  const v = parsed(build(b, body));
  assert.equal(v.quoteLen, 128);
  assert.equal(v.dataLen, 136);
  b.rest = 40 << 16; // 160 bytes: does not fit, so the whole body is the quote
  assert.equal(parsed(build(b, body)).quoteLen, 136);
});

test("isIcmpv4Error and icmpv4QuoteLen (RFC 1812 4.3.2.3: at most 576 bytes)", () => {
  assert.deepEqual([0, 3, 4, 5, 8, 9, 11, 12, 13, 200].map(isIcmpv4Error), [
    false,
    true,
    true,
    true,
    false,
    false,
    true,
    true,
    false,
    false,
  ]);
  assert.equal(icmpv4QuoteLen(1500), 548);
  assert.equal(icmpv4QuoteLen(100), 100);
  assert.equal(icmpv4QuoteLen(1500, 24), 544);
  // The largest quote makes an error datagram of exactly 576 bytes.
  const q = icmpv4QuoteLen(65535);
  const out = new BytesBody(new Uint8Array(q))
    .wrapIn(Icmpv4ErrorBuilder.timeExceeded(0))
    .wrapIn(errorIp(1))
    .serialize();
  assert.ok(out instanceof Buf);
  assert.equal(out.length, 576);
});

test("every truncation is an error or a shorter valid message, and never throws", () => {
  for (let n = 0; n < ICMPV4_HEADER_LEN; n++) {
    const e = Icmpv4View.parse(ECHO_REQUEST, 0, n);
    assert.ok(e instanceof ParseError);
    assert.equal(e.toString(), "icmpv4: too-short");
  }
  // The echo data ends in non-zero bytes, so every shorter message fails its checksum.
  for (let n = ICMPV4_HEADER_LEN; n < ECHO_REQUEST.length; n++) {
    const e = Icmpv4View.parse(ECHO_REQUEST.slice(0, n), 0, n);
    assert.ok(e instanceof ParseError, `length ${n}`);
    assert.equal(e.reason, "bad-checksum");
  }
  // ICMP has no length field: cutting trailing zero words keeps the sum, and the view then covers
  // exactly the bytes given.
  for (const p of [FRAG_NEEDED, TIME_EXCEEDED, PARAM_PROBLEM, REDIRECT]) {
    for (let n = 0; n < p.length - 20; n++) {
      const r = Icmpv4View.parse(p, 20, n);
      if (r instanceof Icmpv4View) {
        assert.equal(r.len, n);
        assert.ok(r.quoteOff + r.quoteLen <= 20 + n);
      }
    }
  }
  assert.ok(Icmpv4View.parse(ECHO_REQUEST, 1, 64) instanceof ParseError);
  assert.ok(Icmpv4View.parse(ECHO_REQUEST, -1, 8) instanceof ParseError);
});

test("bad checksum anywhere in the message", () => {
  for (const i of [0, 1, 2, 3, 5, 7, 8, 40, 63]) {
    const p = ECHO_REQUEST.slice();
    p[i] ^= 0x01;
    const e = Icmpv4View.parse(p, 0, p.length);
    assert.ok(e instanceof ParseError, `byte ${i}`);
    assert.equal(e.reason, "bad-checksum");
  }
});

test("no leak: Ethernet + IPv4 + ICMP echo reply and error into buffers full of 0xAA", () => {
  const mac = parseMac("52:55:0a:00:02:02") as MacAddr;
  const icmps: (Icmpv4EchoBuilder | Icmpv4ErrorBuilder)[] = [
    new Icmpv4EchoBuilder(Icmpv4Type.EchoReply, 7, 9),
    Icmpv4ErrorBuilder.destUnreachable(Icmpv4UnreachableCode.Port),
    Icmpv4ErrorBuilder.paramProblem(22),
  ];
  for (const icmp of icmps) {
    const target = new Buf(new Uint8Array(128).fill(0xaa));
    const out = new BytesBody(new Uint8Array([1, 2, 3]))
      .wrapIn(icmp)
      .wrapIn(errorIp(5))
      .wrapIn(new EthernetBuilder(mac, mac, EtherType.Ipv4))
      .serialize({ target });
    assert.ok(out instanceof Buf);
    const bytes = out.toBytes();
    assert.equal(bytes.length, 60);
    assert.ok(!bytes.includes(0xaa));
    assert.ok(verify(bytes, 34, 11));
  }
});

const reprInput = fc.record({
  type: fc.nat(255),
  code: fc.nat(255),
  rest: fc.nat(0xffffffff),
  body: fc.uint8Array({ maxLength: 100 }),
});

test("property: random messages round-trip through builder and parser", () => {
  fc.assert(
    fc.property(reprInput, ({ type, code, rest, body }) => {
      const r: Icmpv4Repr = { type, code, rest, bodyLen: body.length };
      const bytes = build(builderFromRepr(r), body);
      const v = parsed(bytes);
      assert.equal(v.type, type);
      assert.equal(v.code, code);
      assert.equal(v.rest, rest);
      assert.deepEqual(v.data(), body);
      const again = toRepr(v);
      assert.equal(again.rest, rest);
      assert.deepEqual(build(builderFromRepr(again), body), bytes);
      assert.ok(v.quoteLen <= v.dataLen);
    }),
  );
});

test("property: random bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(3), fc.boolean(), (bytes, skip, fix) => {
      const off = Math.min(skip, bytes.length);
      if (fix && bytes.length - off >= 8) {
        // Give the message a valid checksum so the getters are exercised too.
        bytes[off + 2] = 0;
        bytes[off + 3] = 0;
        const c = checksum(bytes, off, bytes.length - off);
        bytes[off + 2] = c >>> 8;
        bytes[off + 3] = c & 0xff;
      }
      const v = Icmpv4View.parse(bytes, off, bytes.length - off);
      if (v instanceof ParseError) return;
      assert.ok(v.quoteOff + v.quoteLen <= bytes.length);
      toRepr(v);
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatV6, type Ipv6Addr, parseV6 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { BytesBody } from "../packet/serialize.ts";
import {
  builderFromRepr,
  decrementHopLimitInPlace,
  Ipv6Builder,
  Ipv6ParseError,
  type Ipv6Repr,
  Ipv6View,
  toRepr,
} from "./ipv6.ts";
import { fragExt, IPV6_MAX_EXT_HEADERS } from "./ipv6-ext.ts";

// Captured from the Linux kernel (veth pair in two network namespaces, tcpdump), Ethernet header removed.

// MLDv2 report sent during DAD: hop-by-hop header with router alert (MLD) and a PadN, ICMPv6 inside.
// biome-ignore format: packet bytes
const MLD_REPORT = new Uint8Array([
  0x60, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00,
  0x8f, 0x00, 0x6f, 0x88, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02,
]);

// `ping -6 -s 8 -p 41 2001:db8::2`: echo request with a flow label.
// biome-ignore format: packet bytes
const ECHO_REQUEST = new Uint8Array([
  0x60, 0x08, 0xf9, 0x0a, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0x00, 0xb5, 0xad, 0x2d, 0x91, 0x00, 0x01,
  0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

// The last fragment of `ping -6 -s 1600`: fragment header (offset 1448, M clear), no upper header.
// biome-ignore format: packet bytes
const LAST_FRAGMENT = new Uint8Array([
  0x60, 0x08, 0xf9, 0x0a, 0x00, 0xa8, 0x2c, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x3a, 0x00, 0x05, 0xa8, 0x05, 0xd7, 0x07, 0x1b,
  0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
  0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
  0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
  0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
  0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
  0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
  0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
  0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
]);

const FIXTURES = { MLD_REPORT, ECHO_REQUEST, LAST_FRAGMENT };

const A1 = parseV6("2001:db8::1") as Ipv6Addr;
const A2 = parseV6("2001:db8::2") as Ipv6Addr;

function view(b: Uint8Array, len = b.length): Ipv6View {
  const v = Ipv6View.parse(b, 0, len);
  if (!(v instanceof Ipv6View)) assert.fail(`parse failed: ${v}`);
  return v;
}

function err(b: Uint8Array, maxExt?: number): Ipv6ParseError {
  const v = Ipv6View.parse(b, 0, b.length, maxExt);
  if (!(v instanceof Ipv6ParseError)) assert.fail("expected an Ipv6ParseError");
  return v;
}

/** An IPv6 packet from A1 to `dst` with the given first Next Header and payload bytes. */
function packet(next: number, payload: number[], dst: Ipv6Addr = A2): Uint8Array {
  const b = new Uint8Array(40 + payload.length);
  b[0] = 0x60;
  b[4] = payload.length >> 8;
  b[5] = payload.length & 0xff;
  b[6] = next;
  b[7] = 64;
  b.set(A1, 8);
  b.set(dst, 24);
  b.set(payload, 40);
  return b;
}

function serialize(builder: Ipv6Builder, body: Uint8Array): Uint8Array {
  const out = new BytesBody(body).wrapIn(builder).serialize();
  if (!(out instanceof Buf)) assert.fail("too big");
  return out.toBytes();
}

test("deconstruct: MLD report with a hop-by-hop router alert", () => {
  const v = view(MLD_REPORT);
  assert.equal(v.version, 6);
  assert.equal(v.trafficClass, 0);
  assert.equal(v.flowLabel, 0);
  assert.equal(v.payloadLength, 36);
  assert.equal(v.nextHeader, 0);
  assert.equal(v.hopLimit, 1);
  assert.equal(formatV6(v.src), "::");
  assert.equal(formatV6(v.dst), "ff02::16");
  assert.equal(v.proto, 58);
  assert.equal(v.upperOff, 48);
  assert.equal(v.upperLen, 28);
  assert.equal(v.extCount, 1);
  assert.equal(v.extLen, 8);
  assert.equal(v.protoPointer, 40);
  assert.equal(v.routerAlert, 0);
  assert.equal(v.hasFrag, false);
  assert.equal(v.fragHeaderOff, -1);
  assert.equal(v.upper()[0], 0x8f);
});

test("deconstruct: echo request with a flow label", () => {
  const v = view(ECHO_REQUEST);
  assert.equal(v.flowLabel, 0x8f90a);
  assert.equal(v.trafficClass, 0);
  assert.equal(v.hopLimit, 64);
  assert.equal(v.proto, 58);
  assert.equal(v.protoPointer, 6);
  assert.equal(v.upperOff, 40);
  assert.equal(v.upperLen, 16);
  assert.equal(v.extCount, 0);
  assert.equal(v.routerAlert, -1);
  assert.equal(formatV6(v.src), "2001:db8::1");
  assert.equal(formatV6(v.dst), "2001:db8::2");
});

test("deconstruct: a non-first fragment ends the chain at its fragment header", () => {
  const v = view(LAST_FRAGMENT);
  assert.equal(v.nextHeader, 44);
  assert.equal(v.hasFrag, true);
  assert.equal(v.fragId, 0x05d7071b);
  assert.equal(v.fragOffset, 1448);
  assert.equal(v.moreFragments, false);
  assert.equal(v.fragHeaderOff, 40);
  assert.equal(v.fragNextFieldOff, 6);
  assert.equal(v.fragmentableOff, 48);
  assert.equal(v.proto, 58);
  assert.equal(v.upperOff, 48);
  assert.equal(v.upperLen, 160);
});

test("parse at an offset inside a larger buffer; link padding beyond payload length is ignored", () => {
  const b = new Uint8Array(14 + ECHO_REQUEST.length + 10).fill(0x55);
  b.set(ECHO_REQUEST, 14);
  const v = Ipv6View.parse(b, 14, ECHO_REQUEST.length + 10);
  assert.ok(v instanceof Ipv6View);
  assert.equal(v.len, 56);
  assert.equal(v.upperOff, 54);
  assert.equal(v.upperLen, 16);
  assert.deepEqual(v.upper(), ECHO_REQUEST.subarray(40));
});

test("construct: builders reproduce the captured bytes", () => {
  const mld = new Ipv6Builder(parseV6("::") as Ipv6Addr, parseV6("ff02::16") as Ipv6Addr, 58, {
    hopLimit: 1,
    exts: [{ type: 0, data: new Uint8Array([0x05, 0x02, 0x00, 0x00, 0x01, 0x00]) }],
  });
  assert.equal(mld.headerLen, 48);
  assert.deepEqual(serialize(mld, MLD_REPORT.subarray(48)), MLD_REPORT);

  const echo = new Ipv6Builder(A1, A2, 58, { flowLabel: 0x8f90a });
  assert.deepEqual(serialize(echo, ECHO_REQUEST.subarray(40)), ECHO_REQUEST);

  const frag = new Ipv6Builder(A1, A2, 58, { flowLabel: 0x8f90a, frag: { id: 0x05d7071b, offset: 1448, more: false } });
  assert.deepEqual(serialize(frag, LAST_FRAGMENT.subarray(48)), LAST_FRAGMENT);
  // The same fragment header given as an extension header.
  const frag2 = new Ipv6Builder(A1, A2, 58, {
    flowLabel: 0x8f90a,
    exts: [fragExt({ id: 0x05d7071b, offset: 1448, more: false })],
  });
  assert.deepEqual(serialize(frag2, LAST_FRAGMENT.subarray(48)), LAST_FRAGMENT);
});

test("repr round trip re-serializes every fixture byte for byte", () => {
  for (const [name, bytes] of Object.entries(FIXTURES)) {
    const v = view(bytes);
    const r = toRepr(v);
    const again = serialize(builderFromRepr(JSON.parse(JSON.stringify(r)) as Ipv6Repr), v.upper());
    assert.deepEqual(again, bytes, name);
  }
  assert.deepEqual(toRepr(view(LAST_FRAGMENT)).frag, { id: 0x05d7071b, offset: 1448, more: false });
  assert.deepEqual(toRepr(view(MLD_REPORT)).exts, [{ type: 0, data: "050200000100" }]);
});

test("builder: traffic class, flow label, options padded with zeros, next headers chained", () => {
  const b = new Ipv6Builder(A1, A2, 17, {
    trafficClass: 0xb8,
    flowLabel: 0xabcde,
    hopLimit: 7,
    exts: [
      { type: 0, data: new Uint8Array([0x05, 0x02, 0x00, 0x00]) },
      { type: 60, data: new Uint8Array([0x01, 0x0a, ...new Array(10).fill(0)]) },
    ],
    frag: { id: 0xdeadbeef, offset: 8, more: true },
  });
  assert.equal(b.headerLen, 40 + 8 + 16 + 8);
  const bytes = serialize(b, new Uint8Array(16).fill(7));
  assert.deepEqual([...bytes.subarray(0, 8)], [0x6b, 0x8a, 0xbc, 0xde, 0x00, 0x30, 0x00, 7]);
  // hop-by-hop: next 60, len 0, router alert, then Pad1 zeros to 8 bytes.
  assert.deepEqual([...bytes.subarray(40, 48)], [60, 0, 5, 2, 0, 0, 0, 0]);
  // destination options: next 44, len 1.
  assert.deepEqual([...bytes.subarray(48, 50)], [44, 1]);
  // fragment: next 17, reserved 0, offset 8 | M, id.
  assert.deepEqual([...bytes.subarray(64, 72)], [17, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef]);
  const v = view(bytes);
  assert.equal(v.trafficClass, 0xb8);
  assert.equal(v.flowLabel, 0xabcde);
  assert.equal(v.routerAlert, 0);
  assert.equal(v.fragOffset, 8);
  assert.equal(v.moreFragments, true);
  assert.equal(v.fragId, 0xdeadbeef);
  assert.equal(v.fragNextFieldOff, 48);
  assert.equal(v.proto, 17);
});

test("builder: maxBodyLen follows the MTU and the 16-bit payload length", () => {
  const b = new Ipv6Builder(A1, A2, 17, { mtu: 1280 });
  assert.equal(b.maxBodyLen, 1240);
  b.frag = { id: 1, offset: 0, more: true };
  assert.equal(b.maxBodyLen, 1232);
  b.mtu = Number.POSITIVE_INFINITY;
  assert.equal(b.maxBodyLen, 0xffff - 8);
  const tooBig = new BytesBody(new Uint8Array(1300)).wrapIn(new Ipv6Builder(A1, A2, 17, { mtu: 1280 })).serialize();
  assert.ok(!(tooBig instanceof Buf));
  assert.equal(tooBig.maxBodyLen, 1240);
});

test("no leak: a builder serialized into a buffer full of 0xAA writes every header byte", () => {
  const b = new Ipv6Builder(A1, A2, 17, {
    exts: [
      { type: 0, data: new Uint8Array([0x01, 0x01, 0x00]) },
      { type: 43, data: new Uint8Array([0x04, 0x00, 0, 0, 0, 0]) },
    ],
    frag: { id: 0x01020304, offset: 0, more: true },
  });
  const target = new Buf(new Uint8Array(200).fill(0xaa), 0, 0);
  const out = new BytesBody(new Uint8Array(24).fill(1)).wrapIn(b).serialize({ target });
  assert.ok(out instanceof Buf);
  const bytes = out.toBytes();
  assert.equal(bytes.length, 40 + 8 + 8 + 8 + 24);
  assert.ok(!bytes.includes(0xaa));
  assert.ok(view(bytes).hasFrag);
});

test("malformed: every truncation is an error, never a throw", () => {
  for (const [name, bytes] of Object.entries(FIXTURES)) {
    for (let n = 0; n < bytes.length; n++) {
      const r = Ipv6View.parse(bytes, 0, n);
      assert.ok(r instanceof Ipv6ParseError, `${name} cut to ${n}`);
      assert.equal(r.reason, n < 40 ? "too-short" : "bad-length");
      assert.equal(r.icmp, null);
    }
  }
  // A range outside the array.
  assert.ok(Ipv6View.parse(ECHO_REQUEST, 10, ECHO_REQUEST.length) instanceof Ipv6ParseError);
});

test("malformed: version, jumbogram", () => {
  const b = ECHO_REQUEST.slice();
  b[0] = 0x40;
  assert.equal(err(b).reason, "bad-version");
  // RFC 2675: payload length 0 with hop-by-hop announces a jumbogram.
  const jumbo = packet(0, [58, 0, 0xc2, 4, 0, 1, 0, 0]);
  jumbo[4] = 0;
  jumbo[5] = 0;
  assert.equal(err(jumbo).reason, "jumbo-unsupported");
  // Payload length 0 without hop-by-hop is just an empty packet.
  const empty = view(packet(59, []));
  assert.equal(empty.proto, 59);
  assert.equal(empty.upperLen, 0);
});

test("extension header chains running past the packet", () => {
  // Hop-by-hop claiming 16 bytes in an 8-byte payload.
  assert.equal(err(packet(0, [59, 1, 1, 4, 0, 0, 0, 0])).reason, "ext-too-short");
  // Destination options header whose length byte is missing.
  assert.equal(err(packet(60, [59])).reason, "ext-too-short");
  // Fragment header cut short.
  assert.equal(err(packet(44, [17, 0, 0, 0])).reason, "ext-too-short");
  // Routing header cut short.
  assert.equal(err(packet(43, [59, 0, 0, 0])).reason, "ext-too-short");
  // A second header that does not fit.
  assert.equal(err(packet(60, [60, 0, 1, 4, 0, 0, 0, 0, 59, 3])).reason, "ext-too-short");
});

test("RFC 8200 4.1: hop-by-hop anywhere but first is parameter problem code 1 at the Next Header field", () => {
  const e = err(packet(60, [0, 0, 1, 4, 0, 0, 0, 0, 59, 0, 1, 4, 0, 0, 0, 0]));
  assert.equal(e.reason, "hop-by-hop-not-first");
  assert.deepEqual(e.icmp, { type: 4, code: 1, pointer: 40, multicastOk: false });
});

test("RFC 5095 / RFC 8200 4.4: routing headers with segments left are refused, with 0 ignored", () => {
  // Type 0, segments left 1: code 0 pointing at the routing type (offset 42).
  const rh0 = [59, 2, 0, 1, 0, 0, 0, 0, ...new Array(16).fill(0)];
  const e = err(packet(43, rh0));
  assert.equal(e.reason, "routing-header-segments-left");
  assert.deepEqual(e.icmp, { type: 4, code: 0, pointer: 42, multicastOk: false });
  // Type 4 (SRH, unsupported), segments left 2, after a destination options header: pointer 50.
  const e2 = err(packet(60, [43, 0, 1, 4, 0, 0, 0, 0, 59, 0, 4, 2, 0, 0, 0, 0]));
  assert.deepEqual(e2.icmp, { type: 4, code: 0, pointer: 50, multicastOk: false });
  // Segments left 0: ignored, the chain goes on.
  const v = view(packet(43, [17, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 8, 0, 0]));
  assert.equal(v.proto, 17);
  assert.equal(v.upperOff, 48);
  assert.equal(v.protoPointer, 40);
});

test("RFC 8200 4.2: unrecognized options act on the two high bits of their type", () => {
  const opts = (t: number) => packet(60, [59, 0, t, 2, 0, 0, 1, 0]);
  assert.equal(view(opts(0x1e)).proto, 59); // 00: skip
  const discard = err(opts(0x5e)); // 01: discard silently
  assert.equal(discard.reason, "unrecognized-option");
  assert.equal(discard.icmp, null);
  assert.deepEqual(err(opts(0x9e)).icmp, { type: 4, code: 2, pointer: 42, multicastOk: true }); // 10
  assert.deepEqual(err(opts(0xde)).icmp, { type: 4, code: 2, pointer: 42, multicastOk: false }); // 11
  // The jumbo payload option in a packet with a payload length is unrecognized here (11).
  assert.equal(err(packet(0, [59, 0, 0xc2, 4, 0, 1, 0, 0])).icmp?.code, 2);
  // Pad1 and PadN are known; an option running past its header is malformed.
  assert.equal(view(packet(60, [59, 0, 0, 0, 0, 0, 1, 0])).proto, 59);
  assert.equal(err(packet(60, [59, 0, 1, 5, 0, 0, 0, 0])).reason, "bad-option-length");
  assert.equal(err(packet(60, [59, 0, 0, 0, 0, 0, 0, 1])).reason, "bad-option-length");
});

test("unknown next header goes up as the protocol with the pointer to its field", () => {
  const v = view(packet(60, [253, 0, 1, 4, 0, 0, 0, 0, 9, 9]));
  assert.equal(v.proto, 253);
  assert.equal(v.protoPointer, 40);
  assert.equal(v.upperOff, 48);
  assert.equal(v.upperLen, 2);
});

test("absurdly long chains stop at the bound", () => {
  const chain = (n: number) => {
    const p: number[] = [];
    for (let i = 0; i < n; i++) p.push(i + 1 < n ? 60 : 59, 0, 1, 4, 0, 0, 0, 0);
    return packet(60, p);
  };
  assert.equal(view(chain(IPV6_MAX_EXT_HEADERS)).extCount, IPV6_MAX_EXT_HEADERS);
  assert.equal(err(chain(IPV6_MAX_EXT_HEADERS + 1)).reason, "too-many-ext-headers");
  assert.equal(err(chain(3), 2).reason, "too-many-ext-headers");
  assert.equal(err(chain(8000)).reason, "too-many-ext-headers");
});

test("fragment header rules (RFC 8200 4.5, RFC 7112)", () => {
  // M set with 12 bytes of data: code 0 pointing at Payload Length.
  const odd = err(packet(44, [17, 0, 0, 1, 0, 0, 0, 1, ...new Array(12).fill(0)]));
  assert.deepEqual(odd.icmp, { type: 4, code: 0, pointer: 4, multicastOk: false });
  // Offset 65528 with 16 bytes: beyond 65535, code 0 pointing at the Fragment Offset (42).
  const far = err(packet(44, [17, 0, 0xff, 0xf8, 0, 0, 0, 1, ...new Array(16).fill(0)]));
  assert.deepEqual(far.icmp, { type: 4, code: 0, pointer: 42, multicastOk: false });
  // A first fragment whose header chain does not fit: code 3, pointer 0.
  const incomplete = err(packet(44, [60, 0, 0, 1, 0, 0, 0, 1, 17, 3, 0, 0, 0, 0, 0, 0]));
  assert.deepEqual(incomplete.icmp, { type: 4, code: 3, pointer: 0, multicastOk: false });
  // A first fragment walks on past its fragment header.
  const first = view(packet(44, [60, 0, 0, 1, 0, 0, 0, 1, 6, 0, 1, 4, 0, 0, 0, 0]));
  assert.equal(first.proto, 6);
  assert.equal(first.upperOff, 56);
  assert.equal(first.fragmentableOff, 48);
  // A later fragment does not: what follows is data.
  const later = view(packet(44, [60, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(later.proto, 60);
  assert.equal(later.upperOff, 48);
  // Two fragment headers.
  assert.equal(err(packet(44, [44, 0, 0, 0, 0, 0, 0, 1, 17, 0, 0, 0, 0, 0, 0, 2])).reason, "duplicate-fragment-header");
  // Atomic fragment (offset 0, M clear) parses.
  assert.equal(view(packet(44, [17, 0, 0, 0, 0, 0, 0, 5, 1, 2])).hasFrag, true);
});

test("decrementHopLimitInPlace", () => {
  const b = ECHO_REQUEST.slice();
  assert.equal(decrementHopLimitInPlace(b, 0), 63);
  assert.equal(view(b).hopLimit, 63);
  assert.deepEqual(b.subarray(8), ECHO_REQUEST.subarray(8));
  b[7] = 1;
  assert.equal(decrementHopLimitInPlace(b, 0), 0);
  assert.equal(b[7], 0);
  assert.equal(decrementHopLimitInPlace(b, 0), 0);
  assert.equal(b[7], 0);
});

test("parseFrom re-points a view without stale chain results", () => {
  const v = view(LAST_FRAGMENT);
  assert.equal(v.parseFrom(ECHO_REQUEST, 0, ECHO_REQUEST.length), null);
  assert.equal(v.hasFrag, false);
  assert.equal(v.fragHeaderOff, -1);
  assert.equal(v.upperOff, 40);
});

const addrArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => a as Ipv6Addr);
const optsData = fc.nat(30).map((n) => {
  // PadN covering the whole header: valid options of any 8-byte-aligned length.
  const len = n * 8 + 6;
  const d = new Uint8Array(len);
  d[0] = 1;
  d[1] = len - 2;
  return d;
});
const extArb = fc.oneof(
  optsData.map((data) => ({ type: 60, data })),
  fc.nat(4).map((n) => {
    const data = new Uint8Array(n * 8 + 6);
    data[0] = 4; // routing type 4, segments left 0: ignored.
    return { type: 43, data };
  }),
);

test("property: random builders round-trip through parse and repr", () => {
  fc.assert(
    fc.property(
      addrArb,
      addrArb,
      fc.constantFrom(6, 17, 58, 59, 200),
      fc.nat(255),
      fc.nat(0xfffff),
      fc.nat(255),
      fc.option(optsData),
      fc.array(extArb, { maxLength: 5 }),
      fc.option(fc.record({ id: fc.nat(0xffffffff), more: fc.boolean() })),
      fc.uint8Array({ maxLength: 64 }),
      (src, dst, proto, tc, flow, hop, hbh, exts, frag, body8) => {
        const all = hbh === null ? exts : [{ type: 0, data: hbh }, ...exts];
        const body = body8.subarray(0, body8.length & ~7);
        const b = new Ipv6Builder(src, dst, proto, {
          trafficClass: tc,
          flowLabel: flow,
          hopLimit: hop,
          exts: all,
          frag: frag === null ? null : { id: frag.id, offset: 0, more: frag.more },
        });
        const bytes = serialize(b, body);
        const v = view(bytes);
        assert.equal(v.proto, proto);
        assert.equal(v.trafficClass, tc);
        assert.equal(v.flowLabel, flow);
        assert.equal(v.hopLimit, hop);
        assert.equal(v.extCount, all.length + (frag === null ? 0 : 1));
        assert.deepEqual(v.upper(), body);
        assert.equal(v.hasFrag, frag !== null);
        if (frag !== null) {
          assert.equal(v.fragId, frag.id);
          assert.equal(v.moreFragments, frag.more);
        }
        assert.deepEqual(serialize(builderFromRepr(toRepr(v)), v.upper()), bytes);
      },
    ),
  );
});

test("property: random and mutated bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      if (b.length > 0) b[0] = 0x60 | (b[0] & 0x0f);
      const r = Ipv6View.parse(b, 0, b.length);
      if (r instanceof Ipv6View) {
        assert.ok(r.upperOff + r.upperLen <= b.length);
        toRepr(r);
      }
    }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...Object.values(FIXTURES)),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
      (fixture, edits) => {
        const b = fixture.slice();
        for (const [i, x] of edits) b[i % b.length] = x;
        const r = Ipv6View.parse(b, 0, b.length);
        if (r instanceof Ipv6View) {
          assert.ok(r.upperOff >= 40 && r.upperOff + r.upperLen <= b.length);
          toRepr(r);
        } else assert.ok(r instanceof Ipv6ParseError);
      },
    ),
  );
});

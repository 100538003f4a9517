import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MAC_BROADCAST, type MacAddr, parseMac } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { BytesBody, TooBig } from "../packet/serialize.ts";
import { ParseError } from "./errors.ts";
import {
  builderFromRepr,
  ETHERNET_HEADER_LEN,
  EthernetBuilder,
  type EthernetRepr,
  EthernetView,
  EtherType,
  toRepr,
} from "./ethernet.ts";

// ARP request 10.0.2.15 (52:54:00:12:34:56) asking for 10.0.2.2, broadcast, padded to 60 bytes.
// biome-ignore format: packet bytes
const ARP_FRAME = new Uint8Array([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00, 0x01,
  0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x0f,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

// IGMPv2 report to 239.1.2.3 in an 802.1Q tag (PCP 5, VID 100), padded to 60 bytes.
// biome-ignore format: packet bytes
const TAGGED_FRAME = new Uint8Array([
  0x01, 0x00, 0x5e, 0x01, 0x02, 0x03, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x81, 0x00, 0xa0, 0x64,
  0x08, 0x00, 0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xe7, 0x04, 0x0a, 0x00,
  0x02, 0x0f, 0xef, 0x01, 0x02, 0x03, 0x94, 0x04, 0x00, 0x00, 0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01,
  0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

const MAC_A = parseMac("52:54:00:12:34:56") as MacAddr;

function parsed(bytes: Uint8Array, off = 0, len = bytes.length - off): EthernetView {
  const v = EthernetView.parse(bytes, off, len);
  assert.ok(v instanceof EthernetView, `parse failed: ${v}`);
  return v;
}

function serialize(body: Uint8Array, b: EthernetBuilder, target?: Buf): Uint8Array {
  const out = new BytesBody(body).wrapIn(b).serialize(target === undefined ? undefined : { target });
  assert.ok(out instanceof Buf);
  return out.toBytes();
}

test("deconstruct an untagged frame", () => {
  const v = parsed(ARP_FRAME);
  assert.deepEqual(v.dst, MAC_BROADCAST);
  assert.deepEqual(v.src, MAC_A);
  assert.equal(v.etherType, EtherType.Arp);
  assert.equal(v.vlan, -1);
  assert.equal(v.tagged, false);
  assert.equal(v.pcp, 0);
  assert.equal(v.dei, false);
  assert.equal(v.headerLen, 14);
  assert.equal(v.payloadOff, 14);
  assert.equal(v.payloadLen, 46);
  assert.deepEqual(v.payload(), ARP_FRAME.subarray(14));
  // Addresses are borrowed from the frame.
  assert.equal(v.src.buffer, ARP_FRAME.buffer);
});

test("deconstruct an 802.1Q-tagged frame", () => {
  const v = parsed(TAGGED_FRAME);
  assert.deepEqual(v.dst, new Uint8Array([0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]));
  assert.equal(v.etherType, EtherType.Ipv4);
  assert.equal(v.tagged, true);
  assert.equal(v.vlan, 100);
  assert.equal(v.pcp, 5);
  assert.equal(v.dei, false);
  assert.equal(v.headerLen, 18);
  assert.equal(v.payloadOff, 18);
  assert.equal(v.payloadLen, 42);
  assert.equal(v.payload()[0], 0x46);
});

test("a frame at an offset inside a larger buffer", () => {
  const big = new Uint8Array(100).fill(0x77);
  big.set(TAGGED_FRAME, 20);
  const v = parsed(big, 20, TAGGED_FRAME.length);
  assert.equal(v.vlan, 100);
  assert.equal(v.payloadOff, 38);
  assert.deepEqual(v.payload(), TAGGED_FRAME.subarray(18));
});

test("construct: header and padding byte-equal to the fixtures", () => {
  const arp = ARP_FRAME.subarray(14, 42);
  assert.deepEqual(serialize(arp, new EthernetBuilder(MAC_A, MAC_BROADCAST, EtherType.Arp)), ARP_FRAME);
  const ip = TAGGED_FRAME.subarray(18, 18 + 32);
  const dst = parseMac("01:00:5e:01:02:03") as MacAddr;
  const b = new EthernetBuilder(MAC_A, dst, EtherType.Ipv4, 100, 1500, 5);
  assert.equal(b.headerLen, 18);
  assert.equal(b.minBodyLen, 42);
  assert.deepEqual(serialize(ip, b), TAGGED_FRAME);
});

test("a body of 46 bytes or more is not padded; the DEI bit is written", () => {
  const body = new Uint8Array(100).map((_, i) => i);
  const out = serialize(body, new EthernetBuilder(MAC_A, MAC_BROADCAST, 0x1234, 4095, 1500, 7, true));
  assert.equal(out.length, 118);
  assert.deepEqual(Array.from(out.subarray(12, 18)), [0x81, 0x00, 0xff, 0xff, 0x12, 0x34]);
  const v = parsed(out);
  assert.equal(v.vlan, 4095);
  assert.equal(v.pcp, 7);
  assert.equal(v.dei, true);
  assert.equal(v.etherType, 0x1234);
  assert.deepEqual(v.payload(), body);
});

test("repr round trip of both fixtures", () => {
  for (const frame of [ARP_FRAME, TAGGED_FRAME]) {
    const v = parsed(frame);
    const r = toRepr(v);
    const out = serialize(v.payload(), builderFromRepr(r));
    assert.deepEqual(out, frame);
    assert.deepEqual(toRepr(parsed(out)), r);
  }
  assert.deepEqual(toRepr(parsed(TAGGED_FRAME)), {
    src: "52:54:00:12:34:56",
    dst: "01:00:5e:01:02:03",
    etherType: 0x0800,
    vlan: 100,
    pcp: 5,
  });
  assert.deepEqual(toRepr(parsed(ARP_FRAME)), {
    src: "52:54:00:12:34:56",
    dst: "ff:ff:ff:ff:ff:ff",
    etherType: 0x0806,
  });
});

test("received padding stays in the payload range", () => {
  const long = new Uint8Array(ARP_FRAME.length + 10);
  long.set(ARP_FRAME);
  const v = parsed(long);
  assert.equal(v.payloadLen, 56);
});

test("every truncation is an error and never throws", () => {
  for (let n = 0; n < ETHERNET_HEADER_LEN; n++) {
    const e = EthernetView.parse(ARP_FRAME, 0, n);
    assert.ok(e instanceof ParseError);
    assert.equal(e.reason, "too-short");
  }
  for (let n = 0; n < 18; n++) {
    const e = EthernetView.parse(TAGGED_FRAME.slice(0, n), 0, n);
    assert.ok(e instanceof ParseError, `tagged length ${n}`);
    assert.equal(e.toString(), "ethernet: too-short");
  }
  assert.ok(EthernetView.parse(TAGGED_FRAME.slice(0, 18), 0, 18) instanceof EthernetView);
  assert.ok(EthernetView.parse(ARP_FRAME.slice(0, 14), 0, 14) instanceof EthernetView);
  // A range reaching past the buffer, and a negative offset.
  assert.ok(EthernetView.parse(ARP_FRAME, 50, 14) instanceof ParseError);
  assert.ok(EthernetView.parse(ARP_FRAME, -1, 20) instanceof ParseError);
});

test("parseFrom re-points a view without allocating a new one and keeps it on error", () => {
  const v = parsed(ARP_FRAME);
  assert.equal(v.parseFrom(TAGGED_FRAME, 0, TAGGED_FRAME.length), null);
  assert.equal(v.vlan, 100);
  assert.ok(v.parseFrom(TAGGED_FRAME, 0, 16) instanceof ParseError);
  assert.equal(v.vlan, 100, "a failed parse leaves the view as it was");
});

test("a body larger than the MTU is TooBig, not thrown", () => {
  const b = new EthernetBuilder(MAC_A, MAC_BROADCAST, EtherType.Ipv4, -1, 1500);
  const r = new BytesBody(new Uint8Array(1501)).wrapIn(b).serialize();
  assert.ok(r instanceof TooBig);
  assert.equal(r.maxBodyLen, 1500);
  assert.equal(r.bodyLen, 1501);
  b.mtu = 9000;
  assert.ok(new BytesBody(new Uint8Array(1501)).wrapIn(b).serialize() instanceof Buf);
});

test("no leak: a reused buffer full of 0xAA yields header, body and zero padding only", () => {
  for (const vlan of [-1, 7]) {
    const target = new Buf(new Uint8Array(128).fill(0xaa));
    const body = new Uint8Array([1, 2, 3]);
    const out = serialize(body, new EthernetBuilder(MAC_A, MAC_BROADCAST, EtherType.Arp, vlan), target);
    assert.equal(out.length, 60);
    assert.ok(!out.includes(0xaa));
    const hl = vlan < 0 ? 14 : 18;
    assert.deepEqual(Array.from(out.subarray(hl, hl + 3)), [1, 2, 3]);
    assert.ok(out.subarray(hl + 3).every((x) => x === 0));
  }
});

const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 });
const reprArb: fc.Arbitrary<{ r: EthernetRepr; body: Uint8Array }> = fc
  .record({
    src: macArb,
    dst: macArb,
    etherType: fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== EtherType.Vlan),
    vlan: fc.integer({ min: -1, max: 4095 }),
    pcp: fc.integer({ min: 0, max: 7 }),
    dei: fc.boolean(),
    body: fc.uint8Array({ minLength: 46, maxLength: 200 }),
  })
  .map(({ src, dst, etherType, vlan, pcp, dei, body }) => {
    const fmt = (m: Uint8Array) => Array.from(m, (x) => x.toString(16).padStart(2, "0")).join(":");
    const r: EthernetRepr = { src: fmt(src), dst: fmt(dst), etherType };
    if (vlan >= 0) {
      r.vlan = vlan;
      if (pcp !== 0) r.pcp = pcp;
      if (dei) r.dei = true;
    }
    return { r, body };
  });

test("property: random reprs round-trip through builder and parser", () => {
  fc.assert(
    fc.property(reprArb, ({ r, body }) => {
      const out = serialize(body, builderFromRepr(r));
      const v = parsed(out);
      assert.deepEqual(toRepr(v), r);
      assert.deepEqual(v.payload(), body);
    }),
  );
});

test("property: random bytes never throw, and a parsed view stays in bounds", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(4), (bytes, skip) => {
      const off = Math.min(skip, bytes.length);
      const v = EthernetView.parse(bytes, off, bytes.length - off);
      if (v instanceof ParseError) return;
      assert.ok(v.payloadOff + v.payloadLen <= bytes.length && v.payloadLen >= 0);
      assert.equal(v.dst.length, 6);
      assert.ok(v.vlan >= -1 && v.vlan < 4096);
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MAC_BROADCAST, MAC_ZERO, type MacAddr, parseMac, parseV4, v4 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { EMPTY_BODY } from "../packet/serialize.ts";
import { ARP_LEN, ArpBuilder, ArpOp, type ArpRepr, ArpView, builderFromRepr, toRepr } from "./arp.ts";
import { ParseError } from "./errors.ts";
import { EthernetBuilder, EtherType } from "./ethernet.ts";

// The ARP packets of a QEMU user-mode exchange: 10.0.2.15 asks for 10.0.2.2, which replies.
// biome-ignore format: packet bytes
const REQUEST = new Uint8Array([
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00,
  0x02, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02,
]);
// biome-ignore format: packet bytes
const REPLY = new Uint8Array([
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00,
  0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x0f,
]);
// The request as an Ethernet frame, padded to 60 bytes.
// biome-ignore format: packet bytes
const REQUEST_FRAME = new Uint8Array([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00, 0x01,
  0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x0f,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

const MAC_GUEST = parseMac("52:54:00:12:34:56") as MacAddr;
const MAC_GW = parseMac("52:55:0a:00:02:02") as MacAddr;
const IP_GUEST = v4(0x0a00020f);
const IP_GW = v4(0x0a000202);

function parsed(bytes: Uint8Array, off = 0, len = bytes.length - off): ArpView {
  const v = ArpView.parse(bytes, off, len);
  assert.ok(v instanceof ArpView, `parse failed: ${v}`);
  return v;
}

function build(b: ArpBuilder, target?: Buf): Uint8Array {
  const out = EMPTY_BODY.wrapIn(b).serialize(target === undefined ? undefined : { target });
  assert.ok(out instanceof Buf);
  return out.toBytes();
}

test("deconstruct a request and a reply", () => {
  const q = parsed(REQUEST);
  assert.equal(q.htype, 1);
  assert.equal(q.ptype, 0x0800);
  assert.equal(q.hlen, 6);
  assert.equal(q.plen, 4);
  assert.equal(q.op, ArpOp.Request);
  assert.deepEqual(q.senderMac, MAC_GUEST);
  assert.equal(q.senderIp, IP_GUEST);
  assert.deepEqual(q.targetMac, MAC_ZERO);
  assert.equal(q.targetIp, IP_GW);
  assert.equal(q.len, ARP_LEN);

  const r = parsed(REPLY);
  assert.equal(r.op, ArpOp.Reply);
  assert.deepEqual(r.senderMac, MAC_GW);
  assert.equal(r.senderIp, IP_GW);
  assert.deepEqual(r.targetMac, MAC_GUEST);
  assert.equal(r.targetIp, IP_GUEST);
});

test("a padded packet inside an Ethernet frame parses; the padding is ignored", () => {
  const v = parsed(REQUEST_FRAME, 14, 46);
  assert.equal(v.len, 28);
  assert.equal(v.targetIp, IP_GW);
  assert.equal(v.senderMac.byteOffset, 22);
});

test("construct: byte-equal to the fixtures, and padded to 60 in Ethernet", () => {
  assert.deepEqual(build(new ArpBuilder(ArpOp.Request, MAC_GUEST, IP_GUEST, MAC_ZERO, IP_GW)), REQUEST);
  assert.deepEqual(build(new ArpBuilder(ArpOp.Reply, MAC_GW, IP_GW, MAC_GUEST, IP_GUEST)), REPLY);
  const frame = EMPTY_BODY.wrapIn(new ArpBuilder(ArpOp.Request, MAC_GUEST, IP_GUEST, MAC_ZERO, IP_GW))
    .wrapIn(new EthernetBuilder(MAC_GUEST, MAC_BROADCAST, EtherType.Arp))
    .serialize();
  assert.ok(frame instanceof Buf);
  assert.deepEqual(frame.toBytes(), REQUEST_FRAME);
});

test("repr round trip", () => {
  const r = toRepr(parsed(REQUEST));
  assert.deepEqual(r, {
    op: 1,
    senderMac: "52:54:00:12:34:56",
    senderIp: "10.0.2.15",
    targetMac: "00:00:00:00:00:00",
    targetIp: "10.0.2.2",
  });
  assert.deepEqual(build(builderFromRepr(r)), REQUEST);
  assert.deepEqual(build(builderFromRepr(toRepr(parsed(REPLY)))), REPLY);
  assert.throws(() => builderFromRepr({ ...r, senderIp: "10.0.2" }), RangeError);
});

test("unknown operations pass through", () => {
  const p = REQUEST.slice();
  p[7] = 9; // RFC 5494 / IANA: 8 and 9 are InARP
  assert.equal(parsed(p).op, 9);
  assert.deepEqual(build(builderFromRepr(toRepr(parsed(p)))), p);
});

test("every truncation is an error and never throws", () => {
  for (let n = 0; n < ARP_LEN; n++) {
    const e = ArpView.parse(REQUEST.slice(0, n), 0, n);
    assert.ok(e instanceof ParseError, `length ${n}`);
    assert.equal(e.toString(), "arp: too-short");
  }
  assert.ok(ArpView.parse(REQUEST, 1, 28) instanceof ParseError);
  assert.ok(ArpView.parse(REQUEST, -2, 28) instanceof ParseError);
});

test("other hardware or protocol types and address sizes are unsupported", () => {
  const cases: [number, number][] = [
    [1, 6], // htype 6 (IEEE 802)
    [3, 0xdd], // ptype 0x08dd
    [4, 8], // hlen 8 (InfiniBand-like)
    [5, 16], // plen 16 (IPv6)
    [0, 1], // htype 0x0101
  ];
  for (const [at, value] of cases) {
    const p = REQUEST.slice();
    p[at] = value;
    const e = ArpView.parse(p, 0, p.length);
    assert.ok(e instanceof ParseError);
    assert.equal(e.reason, "unsupported", `byte ${at} = ${value}`);
  }
});

test("no leak: serializing into a buffer full of 0xAA", () => {
  const target = new Buf(new Uint8Array(96).fill(0xaa));
  const frame = EMPTY_BODY.wrapIn(new ArpBuilder(ArpOp.Reply, MAC_GW, IP_GW, MAC_GUEST, IP_GUEST))
    .wrapIn(new EthernetBuilder(MAC_GW, MAC_GUEST, EtherType.Arp))
    .serialize({ target });
  assert.ok(frame instanceof Buf);
  const bytes = frame.toBytes();
  assert.equal(bytes.length, 60);
  assert.ok(!bytes.includes(0xaa));
  assert.deepEqual(bytes.subarray(14, 42), REPLY);
});

const macText = fc
  .uint8Array({ minLength: 6, maxLength: 6 })
  .map((m) => Array.from(m, (x) => x.toString(16).padStart(2, "0")).join(":"));
const ipText = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((q) => q.join("."));

test("property: random reprs round-trip", () => {
  fc.assert(
    fc.property(
      fc.record({ op: fc.nat(0xffff), senderMac: macText, senderIp: ipText, targetMac: macText, targetIp: ipText }),
      (r: ArpRepr) => {
        const bytes = build(builderFromRepr(r));
        assert.equal(bytes.length, 28);
        assert.deepEqual(toRepr(parsed(bytes)), { ...r });
        assert.equal(parsed(bytes).senderIp, parseV4(r.senderIp));
      },
    ),
  );
});

test("property: random bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, valid) => {
      if (valid && bytes.length >= 8) bytes.set(REQUEST.subarray(0, 6));
      const v = ArpView.parse(bytes, 0, bytes.length);
      if (v instanceof ParseError) return;
      assert.ok(bytes.length >= 28);
      assert.equal(v.targetMac.length, 6);
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Buf } from "../packet/buf.ts";
import { Ipv4Builder, Ipv4View } from "../wire/ipv4.ts";
import { Ipv6Builder, Ipv6View } from "../wire/ipv6.ts";
import { parseV4, parseV6 } from "./addr.ts";
import { fragmentIpv4, fragmentIpv6 } from "./fragment.ts";
import { Reassembler } from "./reassembly.ts";
import { Ipv4, Ipv6 } from "./version.ts";

function packet4(len: number, options = new Uint8Array(0)): Uint8Array {
  const b = new Ipv4Builder(parseV4("10.0.0.1")!, parseV4("10.0.0.2")!, 17);
  b.id = 0x4242;
  b.options = options;
  const out = new Uint8Array(b.headerLen + len);
  for (let i = 0; i < len; i++) out[b.headerLen + i] = i & 0xff;
  b.serialize(out, 0, len);
  return out;
}

test("IPv4: 3000 bytes over a 1500 MTU: offsets in 8-byte units, MF on all but the last, copied options only", () => {
  // Record route (copy flag clear) and a security-like option with the copy flag set (type 130, len 4).
  const opts = Uint8Array.from([7, 7, 4, 0, 0, 0, 0, 130, 4, 1, 2, 0]);
  const p = packet4(3000, opts);
  const frags: Buf[] = [];
  assert.equal(
    fragmentIpv4(p, 0, p.length, 1500, 14, 0, (f) => frags.push(f)),
    3,
  );
  const views = frags.map((f) => {
    assert.equal(f.start, 14);
    const v = Ipv4View.parse(f.bytes, f.start, f.length);
    assert.ok(v instanceof Ipv4View, "every fragment parses (checksum correct)");
    assert.ok(v.len <= 1500);
    return v;
  });
  assert.deepEqual(
    views.map((v) => [v.fragOffset, v.mf, v.id, v.headerLen]),
    [
      [0, true, 0x4242, 32],
      [1464, true, 0x4242, 24],
      [2936, false, 0x4242, 24],
    ],
  );
  assert.deepEqual(Array.from(views[1].options()), [130, 4, 1, 2]);
  const r = new Reassembler(Ipv4);
  let done = null;
  for (const v of views) {
    const res = r.insert(0, {
      src: v.src,
      dst: v.dst,
      id: v.id,
      proto: v.proto,
      offset: v.fragOffset,
      more: v.mf,
      bytes: v.bytes,
      off: v.payloadOff,
      len: v.payloadLen,
      headerLen: v.headerLen,
      header: null,
    });
    if (res.kind === "complete") done = res;
  }
  assert.ok(done);
  assert.deepEqual(done.payload, p.subarray(32));
});

test("IPv6: source fragmentation with a fragment header; reassembles to the original payload", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1300, max: 9000 }), fc.integer({ min: 1280, max: 1500 }), (len, mtu) => {
      const b = new Ipv6Builder(parseV6("2001:db8::1")!, parseV6("2001:db8::2")!, 17);
      const p = new Uint8Array(40 + len);
      for (let i = 0; i < len; i++) p[40 + i] = (i * 13) & 0xff;
      b.serialize(p, 0, len);
      const frags: Buf[] = [];
      const n = fragmentIpv6(p, 0, p.length, mtu, 77, 14, 0, (f) => frags.push(f));
      if (p.length <= mtu) return true;
      assert.equal(n, frags.length);
      const r = new Reassembler(Ipv6);
      let out: Uint8Array | null = null;
      for (const f of frags) {
        assert.ok(f.length <= mtu);
        const v = Ipv6View.parse(f.bytes, f.start, f.length) as Ipv6View;
        assert.ok(v.hasFrag);
        assert.equal(v.fragId, 77);
        const res = r.insert(0, {
          src: v.src,
          dst: v.dst,
          id: v.fragId,
          proto: f.bytes[v.fragHeaderOff],
          offset: v.fragOffset,
          more: v.moreFragments,
          bytes: v.bytes,
          off: v.fragmentableOff,
          len: v.off + v.len - v.fragmentableOff,
          headerLen: 0,
          header: null,
        });
        if (res.kind === "complete") {
          assert.equal(res.proto, 17);
          out = res.payload.slice();
        }
      }
      assert.deepEqual(out, p.subarray(40));
      return true;
    }),
  );
});

test("an MTU too small for 8 bytes of data refuses to fragment", () => {
  const p = packet4(100);
  assert.equal(
    fragmentIpv4(p, 0, p.length, 27, 0, 0, () => assert.fail()),
    0,
  );
});

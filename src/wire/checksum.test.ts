import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checksum, fold, pseudoV4, sumBytes, update16, update32, verify } from "./checksum.ts";

/** The textbook RFC 1071 loop, for comparison. */
function reference(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

test("RFC 1071 section 3 example: sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2", () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(fold(sumBytes(b, 0, 8)), 0xddf2);
  assert.equal(checksum(b, 0, 8), ~0xddf2 & 0xffff);
});

test("a real IPv4 header checksums to its field and verifies", () => {
  // 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7 (Wikipedia's example)
  const h = new Uint8Array([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
  assert.equal(checksum(h, 0, 20), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  assert.ok(verify(h, 0, 20));
  h[15] ^= 1;
  assert.ok(!verify(h, 0, 20));
});

test("matches the textbook loop for any bytes, offset and length (odd included)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(7), (data, skip) => {
      const off = Math.min(skip, data.length);
      assert.equal(checksum(data, off, data.length - off), reference(data, off, data.length - off));
    }),
  );
});

test("pieces can be summed separately (pseudo-header + header + body)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 600 }), fc.nat(), (data, cut) => {
      const split = (cut % (data.length >> 1)) * 2; // an even split point
      const whole = checksum(data, 0, data.length);
      const parts = ~fold(sumBytes(data, split, data.length - split, sumBytes(data, 0, split))) & 0xffff;
      assert.equal(parts, whole);
    }),
  );
});

test("RFC 1624 incremental update equals recomputation", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 64 }), fc.nat(9), fc.nat(0xffff), (data, w, nv) => {
      const b = data.slice(0, data.length & ~1);
      const before = checksum(b, 0, b.length);
      const old = (b[2 * w] << 8) | b[2 * w + 1];
      b[2 * w] = nv >> 8;
      b[2 * w + 1] = nv & 0xff;
      const after = checksum(b, 0, b.length);
      const inc = update16(before, old, nv);
      // 0x0000 and 0xffff are the same value in ones' complement.
      assert.equal(inc === 0xffff ? 0 : inc, after === 0xffff ? 0 : after);
    }),
  );
  const h = new Uint8Array(8);
  h.set([10, 0, 0, 1, 10, 0, 0, 2]);
  const c = checksum(h, 0, 8);
  h.set([192, 168, 1, 1], 0);
  assert.equal(update32(c, 0x0a000001, 0xc0a80101), checksum(h, 0, 8));
});

test("pseudo-header sum covers addresses, protocol and length", () => {
  assert.equal(pseudoV4(0x0a000001, 0x0a000002, 6, 20), 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20);
});

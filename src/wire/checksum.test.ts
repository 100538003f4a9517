import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checksum, fold, pseudoV4, pseudoV4At, sumBytes, update16, update32, verify } from "./checksum.ts";

/** The textbook RFC 1071 loop, for comparison. */
function reference(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) {
    s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
    if (s > 0xffff) s -= 0xffff; // end-around carry at every step
  }
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

test("word path: every store alignment, odd and even offsets, any length, inside a larger store", () => {
  // A store whose length is not a multiple of 4, viewed through a Uint8Array that starts at 1..7.
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 64, maxLength: 2000 }),
      fc.nat(7),
      fc.nat(7),
      fc.nat(5),
      (data, viewStart, skip, storeExtra) => {
        const store = new ArrayBuffer(viewStart + data.length + storeExtra);
        const view = new Uint8Array(store, viewStart, data.length);
        view.set(data);
        const off = Math.min(skip, data.length);
        const len = data.length - off;
        assert.equal(checksum(view, off, len), reference(data, off, len));
      },
    ),
  );
});

test("word path: alternating views of one store and of different stores give each its own sum", () => {
  const store = new ArrayBuffer(3001);
  const a = new Uint8Array(store, 1, 1500);
  const b = new Uint8Array(store, 1501, 1500);
  const c = new Uint8Array(1500);
  for (let i = 0; i < 1500; i++) {
    a[i] = (i * 7 + 1) & 0xff;
    b[i] = (i * 13 + 5) & 0xff;
    c[i] = (i * 29 + 3) & 0xff;
  }
  for (let round = 0; round < 3; round++) {
    assert.equal(checksum(a, 2, 1400), reference(a, 2, 1400));
    assert.equal(checksum(b, 3, 1400), reference(b, 3, 1400));
    assert.equal(checksum(c, 0, 1500), reference(c, 0, 1500));
  }
});

test("word path: a range longer than one 4 MiB chunk of words sums exactly", () => {
  const big = new Uint8Array((1 << 22) + 4099);
  for (let i = 0; i < big.length; i++) big[i] = 0xff - (i & 0x3f);
  assert.equal(checksum(big, 1, big.length - 1), reference(big, 1, big.length - 1));
  // All-0xff data: every word is 0xffff, the largest value at every step.
  big.fill(0xff);
  assert.equal(checksum(big, 0, big.length), reference(big, 0, big.length));
});

test("a valid checksum verifies on the word path, at any offset, and one flipped bit fails", () => {
  const frame = new Uint8Array(1600);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 131 + 7) & 0xff;
  for (const off of [0, 1, 2, 3, 54, 55]) {
    const len = 1200;
    frame[off + 16] = 0;
    frame[off + 17] = 0;
    const c = checksum(frame, off, len);
    frame[off + 16] = c >>> 8;
    frame[off + 17] = c & 0xff;
    assert.ok(verify(frame, off, len), `offset ${off}`);
    frame[off + 700] ^= 0x10;
    assert.ok(!verify(frame, off, len), `offset ${off} corrupted`);
    frame[off + 700] ^= 0x10;
  }
});

test("an all-zero range sums to zero (not 0xffff), so a zero checksum field stays distinguishable", () => {
  const z = new Uint8Array(1000);
  assert.equal(sumBytes(z, 3, 900), 0);
  assert.equal(checksum(z, 3, 900), 0xffff);
});

test("pseudoV4At reads the addresses from an IPv4 header and equals pseudoV4", () => {
  fc.assert(
    fc.property(
      fc.nat(0xffffffff),
      fc.nat(0xffffffff),
      fc.nat(255),
      fc.nat(0xffff),
      fc.nat(9),
      (src, dst, proto, len, at) => {
        const b = new Uint8Array(at + 20).fill(0xee);
        b.set([src >>> 24, (src >>> 16) & 0xff, (src >>> 8) & 0xff, src & 0xff], at + 12);
        b.set([dst >>> 24, (dst >>> 16) & 0xff, (dst >>> 8) & 0xff, dst & 0xff], at + 16);
        assert.equal(pseudoV4At(b, at, proto, len), pseudoV4(src, dst, proto, len));
      },
    ),
  );
  // 192.168.0.1 -> 192.168.0.2, TCP, 30 bytes: c0a8 + 0001 + c0a8 + 0002 + 6 + 30.
  const h = new Uint8Array(20);
  h.set([192, 168, 0, 1, 192, 168, 0, 2], 12);
  assert.equal(pseudoV4At(h, 0, 6, 30), 0xc0a8 + 1 + 0xc0a8 + 2 + 6 + 30);
});

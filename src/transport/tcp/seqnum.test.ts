import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { inWindow, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from "./seqnum.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const dist = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

test("comparisons across the 2^32 wrap", () => {
  assert.equal(seqLt(0xfffffff0, 0x10), true);
  assert.equal(seqGt(0x10, 0xfffffff0), true);
  assert.equal(seqLe(5, 5), true);
  assert.equal(seqGe(5, 5), true);
  assert.equal(seqLt(5, 5), false);
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqAdd(0, -1), 0xffffffff);
  assert.equal(seqSub(0x10, 0xfffffff0), 0x20);
  assert.equal(seqSub(0xfffffff0, 0x10), -0x20);
  assert.equal(seqMax(0xfffffff0, 0x10), 0x10);
  assert.equal(seqMin(0xfffffff0, 0x10), 0xfffffff0);
});

test("inWindow: start inclusive, end exclusive, wraps, empty window holds nothing", () => {
  assert.equal(inWindow(0xfffffffe, 0xfffffffe, 4), true);
  assert.equal(inWindow(1, 0xfffffffe, 4), true);
  assert.equal(inWindow(2, 0xfffffffe, 4), false);
  assert.equal(inWindow(0xfffffffd, 0xfffffffe, 4), false);
  assert.equal(inWindow(7, 7, 0), false);
});

test("property: a + d is after a exactly when d > 0, and seqSub inverts seqAdd", () => {
  fc.assert(
    fc.property(u32, dist, (a, d) => {
      const b = seqAdd(a, d);
      assert.ok(b >= 0 && b <= 0xffffffff);
      assert.equal(seqSub(b, a), d);
      assert.equal(seqGt(b, a), d > 0);
      assert.equal(seqLt(b, a), d < 0);
      assert.equal(seqLe(a, b), d >= 0);
      assert.equal(seqGe(a, b), d <= 0);
      assert.equal(seqMax(a, b), d >= 0 ? b : a);
    }),
  );
});

test("property: inWindow(seq, start, len) iff 0 <= seq - start < len", () => {
  fc.assert(
    fc.property(u32, fc.integer({ min: -1000, max: 3000 }), fc.integer({ min: 0, max: 2000 }), (start, d, len) => {
      assert.equal(inWindow(seqAdd(start, d), start, len), d >= 0 && d < len);
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { Buf } from "./buf.ts";
import { BufPool } from "./pool.ts";

test("takeFront/takeBack move header bytes out of the body without copying", () => {
  const store = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const b = new Buf(store);
  assert.equal(b.takeFront(2), 0);
  assert.equal(b.takeBack(1), 7);
  assert.deepEqual([...b.body()], [3, 4, 5, 6, 7]);
  assert.equal(b.body().buffer, store.buffer);
  assert.equal(b.takeFront(6), -1, "too long: refused");
  assert.equal(b.length, 5, "and nothing changed");
});

test("growFront/growBack reuse the prefix and suffix; out of room is a RangeError", () => {
  const b = Buf.alloc(4, 2, 3);
  b.growFront(4);
  b.growBack(3);
  assert.equal(b.length, 9);
  assert.throws(() => b.growFront(1), RangeError);
  assert.throws(() => b.growBack(1), RangeError);
});

test("ensure keeps the store when it fits and reallocates once, keeping the body, when not", () => {
  const b = Buf.alloc(10, 3, 10);
  b.bytes.set([7, 8, 9], 10);
  const store = b.bytes;
  assert.equal(b.ensure(10, 10), false);
  assert.equal(b.bytes, store);
  assert.equal(b.ensure(20, 2), true);
  assert.notEqual(b.bytes, store);
  assert.equal(b.prefixLen, 20);
  assert.equal(b.suffixLen, 2);
  assert.deepEqual([...b.body()], [7, 8, 9]);
});

test("growBackZero zeroes the padding it adds", () => {
  const b = new Buf(new Uint8Array(8).fill(0xaa), 0, 2);
  b.growBackZero(4);
  assert.deepEqual([...b.body()], [0xaa, 0xaa, 0, 0, 0, 0]);
});

test("BufPool reuses stores up to its bound", () => {
  const p = new BufPool(64, 1);
  const a = p.take(14);
  assert.equal(a.prefixLen, 14);
  p.give(a);
  p.give(Buf.alloc(0, 64));
  assert.equal(p.available, 1);
  const b = p.take();
  assert.equal(b.bytes, a.bytes);
  assert.equal(p.allocations, 1);
});

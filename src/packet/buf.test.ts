import assert from "node:assert/strict";
import { test } from "node:test";
import { Buf, own } from "./buf.ts";
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

test("own: a borrowed buffer's body is copied once with bounded prefix and suffix; an owned one is kept", () => {
  // A lent frame in the middle of a big pool: body [300, 400), 300 bytes before, 600 after.
  const pool = new Uint8Array(1000);
  for (let i = 0; i < pool.length; i++) pool[i] = i & 0xff;
  const b = new Buf(pool, 300, 400);
  assert.equal(b.borrowed, false, "not borrowed by default");
  assert.equal(own(b), b);
  assert.equal(b.bytes, pool, "an owned buffer is not copied");

  b.borrowed = true;
  assert.equal(own(b), b);
  assert.equal(b.borrowed, false);
  assert.notEqual(b.bytes.buffer, pool.buffer, "a copy");
  assert.equal(b.prefixLen, 128, "room for headers kept before the body");
  assert.equal(b.suffixLen, 64, "room for padding kept after it");
  assert.deepEqual([...b.body()], [...pool.subarray(300, 400)]);
  assert.equal(b.bytes[0], 300 - 128, "the prefix bytes are the ones before the body");
  pool.fill(0xee);
  assert.deepEqual(
    [...b.body()],
    Array.from({ length: 100 }, (_, i) => (300 + i) & 0xff),
    "independent of the lent memory",
  );
  const store = b.bytes;
  own(b);
  assert.equal(b.bytes, store, "a second own copies nothing");

  // A small frame: the whole store is kept, offsets unchanged.
  const f = new Buf(new Uint8Array([1, 2, 3, 4, 5, 6]), 2, 4);
  f.borrowed = true;
  own(f);
  assert.deepEqual([f.start, f.end, f.bytes.length], [2, 4, 6]);
  assert.deepEqual([...f.body()], [3, 4]);
});

test("a reallocating ensure or reset leaves a buffer that is no longer borrowed", () => {
  const a = new Buf(new Uint8Array(10), 2, 8);
  a.borrowed = true;
  assert.equal(a.ensure(2, 2), false);
  assert.equal(a.borrowed, true, "same store: still lent");
  assert.equal(a.ensure(20, 0), true);
  assert.equal(a.borrowed, false);
  const r = new Buf(new Uint8Array(10));
  r.borrowed = true;
  assert.equal(r.reset(4, 6), false);
  assert.equal(r.borrowed, true);
  assert.equal(r.reset(4, 100), true);
  assert.equal(r.borrowed, false);
});

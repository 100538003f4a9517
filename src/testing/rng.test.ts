import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Rng } from "./rng.ts";

test("xoshiro128** matches the reference output for state {1, 2, 3, 4}", () => {
  const r = Rng.fromState(1, 2, 3, 4);
  const got = Array.from({ length: 6 }, () => r.uint32());
  assert.deepEqual(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  assert.throws(() => Rng.fromState(0, 0, 0, 0), RangeError);
});

test("the same seed gives the same sequence; different seeds differ", () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 50 }, () => a.uint32());
  const sb = Array.from({ length: 50 }, () => b.uint32());
  const sc = Array.from({ length: 50 }, () => c.uint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  for (const x of sa) assert.ok(Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
});

test("clone continues the same sequence; fork is independent but deterministic", () => {
  const a = new Rng(7);
  a.uint32();
  const b = a.clone();
  assert.deepEqual([a.uint32(), a.uint32()], [b.uint32(), b.uint32()]);
  const f1 = new Rng(7).fork();
  const f2 = new Rng(7).fork();
  assert.equal(f1.uint32(), f2.uint32());
});

test("float is in [0, 1) and int(n) in [0, n), roughly uniform", () => {
  const r = new Rng(1);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 20_000; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
    buckets[r.int(10)]++;
  }
  for (const b of buckets) assert.ok(b > 1800 && b < 2200, `bucket ${b}`);
  assert.equal(r.int(1), 0);
  assert.throws(() => r.int(0), RangeError);
  assert.throws(() => r.int(1.5), RangeError);
});

test("chance(p) hits about p of the time, and draws nothing for 0 and 1", () => {
  const r = new Rng(3);
  let hits = 0;
  for (let i = 0; i < 10_000; i++) if (r.chance(0.3)) hits++;
  assert.ok(hits > 2800 && hits < 3200, `hits ${hits}`);
  const a = new Rng(9);
  const b = new Rng(9);
  assert.equal(a.chance(0), false);
  assert.equal(a.chance(1), true);
  assert.equal(a.uint32(), b.uint32(), "no draw was consumed");
});

test("fill writes every byte from the stream, little-endian per word", () => {
  const bytes = new Rng(5).fill(new Uint8Array(7));
  const r = new Rng(5);
  const w0 = r.uint32();
  const w1 = r.uint32();
  assert.deepEqual(
    [...bytes],
    [w0 & 255, (w0 >>> 8) & 255, (w0 >>> 16) & 255, w0 >>> 24, w1 & 255, (w1 >>> 8) & 255, (w1 >>> 16) & 255],
  );
});

test("property: int(n) is always an integer in range", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 0xffffffff }), (seed, n) => {
      const x = new Rng(seed).int(n);
      return Number.isInteger(x) && x >= 0 && x < n;
    }),
  );
});

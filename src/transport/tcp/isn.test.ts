import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { IsnGenerator, isnClock, writeTuple } from "./isn.ts";
import { seqGt, seqSub } from "./seqnum.ts";

/** A deterministic 32-bit source (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const V6A = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
const V6B = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2]);

test("M ticks every 4 microseconds and wraps modulo 2^32", () => {
  assert.equal(isnClock(0), 0);
  assert.equal(isnClock(1), 250);
  assert.equal(isnClock(0.004), 1);
  assert.equal(isnClock(0.003), 0);
  const wrap = 2 ** 32 / 250; // ms until M wraps
  assert.equal(isnClock(wrap + 1), 250);
});

test("tuples are written in network order: 12 bytes for IPv4, 36 for IPv6", () => {
  const out = new Uint8Array(40);
  assert.equal(writeTuple(out, 0xc0a80001, 80, 0x0a000002, 0xabcd), 12);
  // biome-ignore format: tuple bytes
  assert.deepEqual([...out.subarray(0, 12)], [192, 168, 0, 1, 10, 0, 0, 2, 0, 80, 0xab, 0xcd]);
  assert.equal(writeTuple(out, V6A, 443, V6B, 1), 36);
  assert.deepEqual([...out.subarray(0, 16)], [...V6A]);
  assert.deepEqual([...out.subarray(16, 32)], [...V6B]);
  assert.deepEqual([...out.subarray(32, 36)], [1, 187, 0, 1]);
});

test("for a fixed tuple the ISN advances with the clock: M plus a constant", () => {
  const g = new IsnGenerator(rng(7));
  const a = g.isn(1000, 0x0a000001, 5000, 0x0a000002, 80);
  const b = g.isn(1001, 0x0a000001, 5000, 0x0a000002, 80);
  const c = g.isn(61_000, 0x0a000001, 5000, 0x0a000002, 80);
  assert.equal(seqSub(b, a), 250);
  assert.equal(seqSub(c, a), 250 * 60_000);
  assert.equal(g.isn(1000, 0x0a000001, 5000, 0x0a000002, 80), a, "deterministic for the same key");
});

test("property: ISNs are monotonic in time for a tuple and differ across tuples", () => {
  const g = new IsnGenerator(rng(12345));
  fc.assert(
    fc.property(
      fc.nat(0xffffffff),
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.double({ min: 0, max: 1e9, noNaN: true }),
      fc.double({ min: 0.01, max: 1e6, noNaN: true }),
      (addr, lport, rport, t, dt) => {
        const a = g.isn(t, 0x0a000001, lport, addr, rport);
        const b = g.isn(t + dt, 0x0a000001, lport, addr, rport);
        assert.ok(seqGt(b, a) || dt * 250 < 1, `${a} -> ${b}`);
        const other = g.isn(t, 0x0a000001, lport, addr, (rport + 1) & 0xffff);
        assert.notEqual(other, a);
      },
    ),
  );
});

test("different keys give unrelated ISNs; IPv6 tuples are hashed too", () => {
  const g1 = new IsnGenerator(rng(1));
  const g2 = new IsnGenerator(rng(2));
  assert.notEqual(g1.isn(0, 1, 2, 3, 4), g2.isn(0, 1, 2, 3, 4));
  const x = g1.isn(0, V6A, 1000, V6B, 80);
  const y = g1.isn(0, V6B, 1000, V6A, 80);
  assert.notEqual(x, y, "direction matters");
  assert.equal(g1.isn(4, V6A, 1000, V6B, 80), (x + 1000) >>> 0);
});

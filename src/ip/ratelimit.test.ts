import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KeyedRateLimiter, TokenBucket } from "./ratelimit.ts";

test("a token bucket allows a burst, then the rate", () => {
  const b = new TokenBucket(10, 5, 0); // 10 per second, burst 5
  for (let i = 0; i < 5; i++) assert.ok(b.take(0), `burst ${i}`);
  assert.ok(!b.take(0));
  assert.ok(!b.take(99)); // 0.99 tokens
  assert.ok(b.take(100)); // one token per 100 ms
  assert.ok(!b.take(150));
  assert.ok(b.take(200));
  assert.equal(b.available(200), 0);
  // A long pause refills to the burst, not beyond.
  assert.equal(b.available(60_000), 5);
  for (let i = 0; i < 5; i++) assert.ok(b.take(60_000));
  assert.ok(!b.take(60_000));
});

test("a clock going backwards adds nothing; take(n) takes several tokens", () => {
  const b = new TokenBucket(1, 3, 1000);
  assert.ok(b.take(1000, 3));
  assert.ok(!b.take(500));
  assert.ok(!b.take(1999));
  assert.ok(b.take(2000));
  assert.ok(!b.take(4000, 3)); // two tokens available
  assert.ok(b.take(4000, 2));
  b.reset(4000);
  assert.equal(b.available(4000), 3);
  assert.throws(() => new TokenBucket(-1, 1), RangeError);
});

test("over any interval the bucket passes at most burst + rate * time (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        const b = new TokenBucket(rate, burst, 0);
        let now = 0;
        let passed = 0;
        for (const g of gaps) {
          now += g;
          if (b.take(now)) passed++;
        }
        assert.ok(passed <= burst + (rate * now) / 1000 + 1e-9);
        // Sending at a steady pace slower than the rate is never refused.
        const s = new TokenBucket(rate, burst, 0);
        const step = Math.ceil(1000 / rate);
        for (let t = 0; t < 20 * step; t += step) assert.ok(s.take(t));
      },
    ),
  );
});

test("keyed limiter: one bucket per key, bounded by LRU eviction", () => {
  const k = new KeyedRateLimiter<string>(1, 2, 2);
  assert.ok(k.take("a", 0));
  assert.ok(k.take("a", 0));
  assert.ok(!k.take("a", 0));
  assert.ok(k.take("b", 0)); // other keys have their own bucket
  assert.ok(!k.take("a", 500));
  assert.ok(k.take("a", 1000));
  assert.equal(k.size, 2);
  k.take("c", 1000); // evicts "b", the least recently used
  assert.equal(k.size, 2);
  assert.ok(!k.take("a", 1000)); // "a" kept its (empty) bucket
  assert.ok(k.take("b", 1000));
  assert.ok(k.take("b", 1000)); // "b" came back with a full bucket
  k.clear();
  assert.equal(k.size, 0);
});

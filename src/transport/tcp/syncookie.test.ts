import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MSS_TABLE_V6, SynCookies } from "./syncookie.ts";

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const L = 0xc0a80001;
const R = 0xc0a80002;

test("round trip: the completing ACK recovers the MSS from the table", () => {
  const sc = new SynCookies(rng(99));
  const peerIsn = 0xfffffffe;
  const cases: [number, number][] = [
    [1460, 1460],
    [1452, 1440],
    [1400, 1300],
    [9000, 1460],
    [536, 536],
    [100, 536],
  ];
  for (const [mss, want] of cases) {
    const cookie = sc.encode(5000, L, 80, R, 40000, peerIsn, mss);
    assert.equal(sc.check(5000, L, 80, R, 40000, (peerIsn + 1) >>> 0, (cookie + 1) >>> 0), want, `mss ${mss}`);
  }
});

test("tampered cookies, other tuples and other client ISNs are rejected", () => {
  const sc = new SynCookies(rng(5));
  const cookie = sc.encode(0, L, 80, R, 40000, 1000, 1460);
  assert.equal(sc.check(0, L, 80, R, 40000, 1001, cookie + 1), 1460);
  let accepted = 0;
  for (let bit = 0; bit < 32; bit++) {
    if (sc.check(0, L, 80, R, 40000, 1001, ((cookie ^ (1 << bit)) + 1) >>> 0) !== 0) accepted++;
  }
  // A flipped bit in the low 24 bits can only pass if it lands on another valid MSS index, which
  // needs the hash's low bits to cooperate: with 4 table entries, at most the two lowest bits.
  assert.ok(accepted <= 2, `accepted ${accepted} tampered cookies`);
  assert.equal(sc.check(0, L, 80, R, 40001, 1001, cookie + 1), 0, "other port");
  assert.equal(sc.check(0, L, 80, R + 1, 40000, 1001, cookie + 1), 0, "other address");
  assert.equal(sc.check(0, L, 80, R, 40000, 1001 + 0x10000, cookie + 1), 0, "other client ISN");
  const other = new SynCookies(rng(6));
  assert.equal(other.check(0, L, 80, R, 40000, 1001, cookie + 1), 0, "other secret");
});

test("property: random ACKs are almost never accepted", () => {
  const sc = new SynCookies(rng(77));
  let ok = 0;
  fc.assert(
    fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), (seq, ack) => {
      if (sc.check(120_000, L, 80, R, 40000, seq, ack) !== 0) ok++;
    }),
  );
  // Acceptance needs 22 of 24 hash bits and the 8-bit counter right: about 2^-29 per guess.
  assert.equal(ok, 0);
});

test("cookies expire: valid in their period and the next, rejected after", () => {
  const sc = new SynCookies(rng(3));
  const cookie = sc.encode(60_000, L, 80, R, 40000, 7, 1300);
  assert.equal(sc.check(60_000, L, 80, R, 40000, 8, cookie + 1), 1300);
  assert.equal(sc.check(179_999, L, 80, R, 40000, 8, cookie + 1), 1300, "one tick old");
  assert.equal(sc.check(180_000, L, 80, R, 40000, 8, cookie + 1), 0, "two ticks old");
  assert.equal(sc.check(59_999, L, 80, R, 40000, 8, cookie + 1), 0, "from the future");
  // 256 ticks later the 8-bit counter aliases, but the full counter is in the hash.
  assert.equal(sc.check(60_000 + 256 * 60_000, L, 80, R, 40000, 8, cookie + 1), 0);
  const short = new SynCookies(rng(3), { periodMs: 1000, maxAge: 4 });
  const c2 = short.encode(0, L, 80, R, 40000, 7, 1460);
  assert.equal(short.check(3999, L, 80, R, 40000, 8, c2 + 1), 1460);
  assert.equal(short.check(4000, L, 80, R, 40000, 8, c2 + 1), 0);
});

test("IPv6 tuples and the IPv6 MSS table", () => {
  const a = Uint8Array.from({ length: 16 }, (_, i) => i);
  const b = Uint8Array.from({ length: 16 }, (_, i) => 16 - i);
  const sc = new SynCookies(rng(11), { mssTable: MSS_TABLE_V6 });
  const cookie = sc.encode(0, a, 443, b, 1234, 42, 1440);
  assert.equal(sc.check(0, a, 443, b, 1234, 43, cookie + 1), 1440);
  assert.equal(sc.check(0, b, 443, a, 1234, 43, cookie + 1), 0);
});

test("timestamps carry window scale, SACK and ECN in TSval's low 6 bits", () => {
  const sc = new SynCookies(rng(1));
  const ts = sc.encodeTimestamp(1_000_000, 7, true);
  assert.ok(ts <= 1_000_000 && 1_000_000 - ts < 64, "never ahead of the clock");
  sc.decodeTimestamp(ts);
  assert.deepEqual([sc.wscale, sc.sackOk, sc.ecn], [7, true, false]);
  const none = sc.encodeTimestamp(0x40, -1, false, true);
  assert.equal(none & 0x3f, 0x2f);
  assert.equal(none, 0x2f, "0x40 | 0x2f would be ahead of the clock: one 64-tick step back");
  sc.decodeTimestamp(none);
  assert.deepEqual([sc.wscale, sc.sackOk, sc.ecn], [-1, false, true]);
  sc.decodeTimestamp(0x1e);
  assert.deepEqual([sc.wscale, sc.sackOk, sc.ecn], [14, true, false]);
  assert.equal(sc.encodeTimestamp(5, 3, false), 3);
  assert.equal(sc.encodeTimestamp(1, -1, false, true), 0xffffffef, "stepping back wraps below zero");
});

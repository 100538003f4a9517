import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RecvBuffer } from "./recv-buffer.ts";

const seq = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
const STREAM = seq(4096);

/** Insert stream bytes [at, at + n) given RCV.NXT's stream position `nxt`. */
function put(b: RecvBuffer, nxt: number, at: number, n: number): number {
  return b.insert(at - nxt, STREAM, at, n);
}

test("in-order data advances RCV.NXT and shrinks the window until read", () => {
  const b = new RecvBuffer(100);
  assert.equal(b.insert(0, STREAM, 0, 40), 40);
  assert.equal(b.window(), 60);
  assert.equal(b.insert(0, STREAM, 40, 80), 60, "cut at the window's right edge");
  assert.equal(b.window(), 0);
  assert.equal(b.insert(0, STREAM, 100, 1), 0, "zero window: nothing accepted");
  const out = new Uint8Array(30);
  assert.equal(b.read(out), 30);
  assert.deepEqual(out, STREAM.subarray(0, 30));
  assert.equal(b.window(), 30);
});

test("out-of-order segments are held and released when the hole fills", () => {
  const b = new RecvBuffer(1000);
  assert.equal(put(b, 0, 200, 100), 0);
  assert.equal(put(b, 0, 100, 50), 0);
  assert.equal(b.rangeCount, 2);
  assert.equal(b.outOfOrderBytes, 150);
  assert.equal(b.window(), 1000, "out-of-order bytes do not move the right edge");
  assert.equal(put(b, 0, 150, 50), 0, "fills the hole between the ranges: they merge");
  assert.equal(b.rangeCount, 1);
  assert.equal(put(b, 0, 0, 100), 300, "RCV.NXT jumps over everything held");
  assert.equal(b.rangeCount, 0);
  const out = new Uint8Array(300);
  assert.equal(b.read(out), 300);
  assert.deepEqual(out, STREAM.subarray(0, 300));
});

test("old and partly old segments: the duplicate prefix is skipped", () => {
  const b = new RecvBuffer(1000);
  put(b, 0, 0, 100);
  assert.equal(put(b, 100, 50, 100), 50);
  assert.equal(put(b, 150, 0, 100), 0, "entirely old");
  const out = new Uint8Array(200);
  assert.equal(b.read(out), 150);
  assert.deepEqual(out.subarray(0, 150), STREAM.subarray(0, 150));
});

test("the number of holes is bounded: a segment needing one more range is dropped", () => {
  const b = new RecvBuffer(4000, 3);
  put(b, 0, 100, 10);
  put(b, 0, 200, 10);
  put(b, 0, 300, 10);
  assert.equal(put(b, 0, 400, 10), 0);
  assert.equal(b.rangeCount, 3);
  assert.equal(b.dropped, 1);
  assert.equal(put(b, 0, 110, 10), 0, "extending a range is still accepted");
  assert.equal(b.dropped, 1);
  assert.equal(put(b, 0, 120, 80), 0, "bridging two ranges is accepted");
  assert.equal(b.rangeCount, 2);
  assert.equal(put(b, 0, 0, 100), 210, "in-order data is always accepted");
});

test("SACK blocks: most recently received first, at most maxBlocks, in sequence space", () => {
  const b = new RecvBuffer(10_000);
  const nxt = 0xfffffff0; // RCV.NXT near the wrap
  put(b, 0, 100, 10);
  put(b, 0, 300, 10);
  put(b, 0, 200, 10);
  put(b, 0, 400, 10);
  put(b, 0, 500, 10);
  const out = new Uint32Array(8);
  assert.equal(b.sackBlocks(nxt, out, 3), 3);
  const at = (x: number) => (nxt + x) >>> 0;
  assert.deepEqual([...out.subarray(0, 6)], [at(500), at(510), at(400), at(410), at(200), at(210)]);
  // A segment extending the oldest range makes that range the first block.
  put(b, 0, 110, 5);
  assert.equal(b.sackBlocks(nxt, out, 4), 4);
  assert.deepEqual([...out], [at(100), at(115), at(500), at(510), at(400), at(410), at(200), at(210)]);
});

test("readInto hands out ring views without copying, wrapping in two parts", () => {
  const b = new RecvBuffer(2048);
  put(b, 0, 0, 2000);
  b.consume(1500);
  put(b, 2000, 2000, 1000);
  const parts: number[][] = [];
  assert.equal(
    b.readInto((bytes, off, len) => parts.push([...bytes.subarray(off, off + len)])),
    1500,
  );
  assert.equal(parts.length, 2);
  assert.deepEqual(parts.flat(), [...STREAM.subarray(1500, 3000)]);
});

type Seg = { at: number; n: number } | { read: number };

test("property: reassembly matches a model with overlaps, reads and the window bound", () => {
  const seg = fc.oneof(
    { weight: 4, arbitrary: fc.record({ at: fc.nat(600), n: fc.integer({ min: 1, max: 120 }) }) },
    { weight: 1, arbitrary: fc.record({ read: fc.nat(200) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 400 }), fc.array(seg, { maxLength: 50 }), (cap, segs: Seg[]) => {
      const b = new RecvBuffer(cap, 1000);
      let readPos = 0; // stream position of the first unread byte
      let nxt = 0; // RCV.NXT as a stream position
      const have = new Set<number>(); // out-of-order positions held
      const delivered: number[] = [];
      for (const s of segs) {
        if ("read" in s) {
          const out = new Uint8Array(s.read);
          const k = b.read(out);
          assert.equal(k, Math.min(s.read, nxt - readPos));
          delivered.push(...out.subarray(0, k));
          readPos += k;
          continue;
        }
        const at = nxt + s.at - 100; // some segments start before RCV.NXT
        const right = readPos + cap; // window's right edge
        for (let p = Math.max(at, nxt); p < Math.min(at + s.n, right); p++) have.add(p);
        let want = nxt;
        while (have.has(want)) have.delete(want++);
        const adv = b.insert(at - nxt, STREAM, at, s.n);
        assert.equal(adv, want - nxt);
        nxt = want;
        assert.equal(b.window(), cap - (nxt - readPos));
        assert.equal(b.outOfOrderBytes, have.size);
      }
      const out = new Uint8Array(cap);
      const k = b.read(out);
      delivered.push(...out.subarray(0, k));
      assert.deepEqual(delivered, [...STREAM.subarray(0, nxt)]);
    }),
  );
});

test("property: with a tight range bound, whatever is delivered is still the stream, in order", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.record({ at: fc.nat(500), n: fc.integer({ min: 1, max: 60 }) }), { maxLength: 60 }),
      (max, segs) => {
        const b = new RecvBuffer(600, max);
        let nxt = 0;
        for (const s of segs) {
          nxt += b.insert(s.at - nxt, STREAM, s.at, s.n);
          assert.ok(b.rangeCount <= max);
        }
        // Fill everything in order: the dropped segments are simply retransmitted.
        nxt += b.insert(0, STREAM, nxt, 600 - nxt);
        assert.equal(nxt, 600);
        const out = new Uint8Array(600);
        assert.equal(b.read(out), 600);
        assert.deepEqual(out, STREAM.subarray(0, 600));
      },
    ),
  );
});

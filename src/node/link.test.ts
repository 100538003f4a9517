import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { FrameSlab, memoryLinkPair } from "./link.ts";

/** Collect the batches a link delivers. */
function collect(link: { onFrames(cb: ((f: readonly Uint8Array[]) => void) | null): void }): Uint8Array[][] {
  const batches: Uint8Array[][] = [];
  link.onFrames((frames) => batches.push([...frames]));
  return batches;
}

test("memory link: frames cross in order, in one batch, asynchronously, as copies", async () => {
  const [a, b] = memoryLinkPair();
  const got = collect(b);
  const buf = Uint8Array.of(9, 1, 2, 3, 4, 9);
  a.send(buf, 1, 4);
  a.send(Uint8Array.of(5, 6));
  // Never delivered from inside send.
  assert.equal(got.length, 0);
  buf[1] = 0xff; // the link copied before returning
  await tick();
  assert.deepEqual(got, [[Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5, 6)]]);
  // Received frames are fresh memory: writing one changes nothing else.
  got[0][0][0] = 77;
  assert.equal(buf[1], 0xff);
  assert.deepEqual(a.stats, { txFrames: 2, txBytes: 6, txDropped: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0 });
  assert.deepEqual(b.stats, { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 2, rxBytes: 6, rxDropped: 0 });
  // And the other way.
  const back = collect(a);
  b.send(Uint8Array.of(42));
  await tick();
  assert.deepEqual(back, [[Uint8Array.of(42)]]);
});

test("memory link: pause holds frames up to the queue limit, resume delivers them", async () => {
  const [a, b] = memoryLinkPair({ queueLimit: 3 });
  const got = collect(b);
  b.pause();
  for (let i = 0; i < 5; i++) a.send(Uint8Array.of(i));
  await tick();
  await tick();
  assert.equal(got.length, 0);
  assert.equal(b.queued, 3);
  assert.equal(b.stats.rxDropped, 2);
  b.resume();
  await tick();
  assert.deepEqual(got, [[Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(2)]]);
  assert.equal(b.stats.rxFrames, 3);
});

test("memory link: frames sent before a receiver exists wait for it; a callback may send back", async () => {
  const [a, b] = memoryLinkPair();
  a.send(Uint8Array.of(1));
  await tick();
  const got = collect(a);
  // An echo from inside the callback is delivered in a later turn, not re-entrantly.
  b.onFrames((frames) => {
    for (const f of frames) b.send(f.map((x) => x + 100));
  });
  await tick();
  await tick();
  assert.deepEqual(got, [[Uint8Array.of(101)]]);
});

test("memory link: oversize frames, bad ranges and a closed link", async () => {
  const [a, b] = memoryLinkPair({ maxFrameLen: 4 });
  const got = collect(b);
  a.send(new Uint8Array(5));
  assert.equal(a.stats.txDropped, 1);
  assert.throws(() => a.send(new Uint8Array(4), 2, 3), RangeError);
  let why: Error | null | undefined;
  b.onClose((e) => {
    why = e;
  });
  a.send(Uint8Array.of(1));
  await b.close();
  assert.equal(why, null);
  assert.equal(b.closed, true);
  // The queued frame was dropped by the close; later sends are dropped at the sender.
  assert.equal(b.stats.rxDropped, 1);
  a.send(Uint8Array.of(2));
  assert.equal(a.stats.txDropped, 2);
  await tick();
  assert.equal(got.length, 0);
  await b.close(); // idempotent
});

test("frame slab: frames are cut from shared slabs but never overlap, and never reuse memory", () => {
  const slab = new FrameSlab(64);
  const src = Uint8Array.from({ length: 30 }, (_, i) => i + 1);
  const f1 = slab.copy(src, 0, 30);
  const f2 = slab.copy(src, 5, 20);
  // Same slab (one ArrayBuffer), 8-byte aligned, disjoint.
  assert.equal(f1.buffer, f2.buffer);
  assert.equal(f2.byteOffset, 32);
  assert.deepEqual(f2, src.subarray(5, 25));
  f1.fill(0xee);
  assert.deepEqual(f2, src.subarray(5, 25));
  src.fill(0);
  assert.equal(f1[0], 0xee);
  // A frame that does not fit starts a new slab; one larger than a slab gets its own.
  const f3 = slab.take(16);
  assert.notEqual(f3.buffer, f1.buffer);
  const big = slab.take(100);
  assert.equal(big.length, 100);
  assert.notEqual(big.buffer, f3.buffer);
  // The old slab is not written again: f1 keeps its bytes.
  slab.take(64).fill(1);
  assert.ok(f1.every((x) => x === 0xee));
});

test("memory link: one batch per turn, counted; frames of a batch are independent memory", async () => {
  const [a, b] = memoryLinkPair();
  const got = collect(b);
  const buf = new Uint8Array(1500);
  for (let i = 0; i < 100; i++) {
    buf.fill(i);
    a.send(buf, 0, 1000 + i);
  }
  await tick();
  assert.equal(b.batches, 1);
  assert.equal(got[0].length, 100);
  for (const f of got[0]) f.fill(0);
  got[0][50].fill(7);
  for (let i = 0; i < 100; i++) {
    assert.equal(got[0][i].length, 1000 + i);
    assert.ok(
      got[0][i].every((x) => x === (i === 50 ? 7 : 0)),
      `frame ${i}`,
    );
  }
  a.send(buf, 0, 10);
  await tick();
  assert.equal(b.batches, 2);
});

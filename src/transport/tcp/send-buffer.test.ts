import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BytesBody } from "../../packet/serialize.ts";
import { SendBuffer } from "./send-buffer.ts";

const seq = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

test("write accepts only what fits; ack frees room", () => {
  const b = new SendBuffer(10);
  assert.equal(b.write(seq(6)), 6);
  assert.equal(b.write(seq(6, 6)), 4, "backpressure: only 4 fit");
  assert.equal(b.length, 10);
  assert.equal(b.free, 0);
  assert.equal(b.write(seq(1)), 0);
  assert.equal(b.ack(3), 3);
  assert.equal(b.free, 3);
  const out = new Uint8Array(7);
  assert.equal(b.peek(0, 100, out), 7);
  assert.deepEqual([...out], [3, 4, 5, 6, 7, 8, 9]);
  assert.equal(b.ack(100), 7, "ack is clamped to what is held");
  assert.equal(b.length, 0);
});

test("peek wraps around the end of the ring and does not consume", () => {
  const b = new SendBuffer(8);
  b.setCapacity(8);
  b.write(seq(8));
  b.ack(5);
  b.write(seq(4, 8));
  const out = new Uint8Array(9).fill(0xee);
  assert.equal(b.peek(1, 6, out, 2), 6);
  assert.deepEqual([...out], [0xee, 0xee, 6, 7, 8, 9, 10, 11, 0xee]);
  assert.equal(b.length, 7);
  assert.equal(b.peek(7, 1, out), 0, "nothing past the end");
});

test("a SendSlice writes segment payload straight into an outgoing packet", () => {
  const b = new SendBuffer(4096);
  b.write(seq(3000));
  b.ack(1000);
  const slice = b.slice(500, 1000);
  assert.equal(slice.length, 1000);
  const body = new BytesBody(slice);
  const buf = body.serialize({ prefix: 54 });
  assert.ok(!("kind" in buf));
  if ("kind" in buf) return;
  assert.equal(buf.prefixLen, 54);
  assert.deepEqual([...buf.body()], [...seq(1000, 1500)]);
  // Reuse the same slice for the next segment: no allocation, clamped to what is held.
  assert.equal(b.slice(1500, 1000, slice), slice);
  assert.equal(slice.length, 500);
});

test("the store grows with data and keeps contents across growth and capacity changes", () => {
  const b = new SendBuffer(100_000);
  const data = seq(10_000);
  let written = 0;
  while (written < 9000) written += b.write(data, written, 700);
  assert.equal(written, 9100);
  b.ack(123);
  assert.equal(b.setCapacity(10), 9100 - 123, "capacity cannot drop below the bytes held");
  const out = new Uint8Array(b.length);
  b.peek(0, out.length, out);
  assert.deepEqual(out, data.subarray(123, 9100));
});

type Op = { kind: "write"; n: number } | { kind: "ack"; n: number } | { kind: "peek"; off: number; n: number };

test("property: behaves like an array model under random writes, acks and peeks", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("write" as const), n: fc.nat(70) }),
    fc.record({ kind: fc.constant("ack" as const), n: fc.nat(70) }),
    fc.record({ kind: fc.constant("peek" as const), off: fc.nat(80), n: fc.nat(80) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100 }), fc.array(op, { maxLength: 60 }), (cap, ops: Op[]) => {
      const b = new SendBuffer(cap);
      const model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if (o.kind === "write") {
          const data = seq(o.n, next);
          const k = b.write(data);
          assert.equal(k, Math.min(o.n, cap - model.length));
          for (let i = 0; i < k; i++) model.push(data[i]);
          next += k;
        } else if (o.kind === "ack") {
          assert.equal(b.ack(o.n), Math.min(o.n, model.length));
          model.splice(0, o.n);
        } else {
          const out = new Uint8Array(o.n);
          const k = b.peek(o.off, o.n, out);
          const want = model.slice(o.off, o.off + o.n);
          assert.equal(k, want.length);
          assert.deepEqual([...out.subarray(0, k)], want);
        }
        assert.equal(b.length, model.length);
      }
    }),
  );
});

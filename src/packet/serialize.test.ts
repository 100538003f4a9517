import assert from "node:assert/strict";
import { test } from "node:test";
import { Buf } from "./buf.ts";
import { BufBody, BytesBody, type PacketBuilder, TooBig } from "./serialize.ts";

/** A test layer: header bytes `h`, footer bytes `f`, with limits. */
function layer(h: number[], f: number[], minBodyLen = 0, maxBodyLen = Number.POSITIVE_INFINITY): PacketBuilder {
  return {
    headerLen: h.length,
    footerLen: f.length,
    minBodyLen,
    maxBodyLen,
    serialize(bytes, off, bodyLen) {
      bytes.set(h, off);
      bytes.set(f, off + h.length + bodyLen);
    },
  };
}

test("nested layers are written inner to outer, headers before bodies, footers after", () => {
  const out = new BytesBody(new Uint8Array([9, 9]))
    .wrapIn(layer([1], [2]))
    .wrapIn(layer([3, 3], [4]))
    .serialize();
  assert.ok(out instanceof Buf);
  assert.deepEqual([...out.body()], [3, 3, 1, 9, 9, 2, 4]);
});

test("a short body is padded with zeroes to the layer's minimum, even in a dirty buffer", () => {
  const target = new Buf(new Uint8Array(64).fill(0xaa));
  const out = new BytesBody(new Uint8Array([5]))
    .wrapIn(layer([1], [], 4))
    .wrapIn(layer([7, 7], [8], 10))
    .serialize({
      target,
    });
  assert.ok(out instanceof Buf);
  assert.equal(out.bytes, target.bytes, "reused the target store");
  assert.deepEqual([...out.body()], [7, 7, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
  assert.ok(!out.body().includes(0xaa), "no stale byte reaches the wire");
});

test("a body already in a buffer is wrapped in place when the prefix fits", () => {
  const buf = new Buf(new Uint8Array(16).fill(0xaa), 8, 10);
  buf.bytes.set([5, 6], 8);
  const store = buf.bytes;
  const out = new BufBody(buf).wrapIn(layer([1, 1], [])).wrapIn(layer([2, 2, 2], [3]));
  const r = out.serialize();
  assert.equal(r, buf);
  assert.equal(buf.bytes, store, "no reallocation");
  assert.deepEqual([...buf.body()], [2, 2, 2, 1, 1, 5, 6, 3]);
});

test("a buffer without room is reallocated exactly once, to the needed size", () => {
  const buf = Buf.from(new Uint8Array([5, 6]));
  const r = new BufBody(buf)
    .wrapIn(layer([1, 1], [], 6))
    .wrapIn(layer([2], [3]))
    .serialize({ prefix: 4, suffix: 1 });
  assert.equal(r, buf);
  assert.equal(buf.bytes.length, 4 + 1 + 2 + 6 + 1 + 1);
  assert.equal(buf.prefixLen, 4);
  assert.equal(buf.suffixLen, 1);
  assert.deepEqual([...buf.body()], [2, 1, 1, 5, 6, 0, 0, 0, 0, 3]);
});

test("a body over a layer's maximum is reported as TooBig naming that layer", () => {
  const mtu = layer([1], [], 0, 4);
  const r = new BytesBody(new Uint8Array(4))
    .wrapIn(layer([0, 0], []))
    .wrapIn(mtu)
    .wrapIn(layer([3], []))
    .serialize();
  assert.ok(r instanceof TooBig);
  assert.equal(r.builder, mtu);
  assert.equal(r.bodyLen, 6);
  assert.equal(r.maxBodyLen, 4);
});

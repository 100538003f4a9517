import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DnsTcpFramer, frameDnsMessage } from "./framing.ts";

function collect(f: DnsTcpFramer, chunks: Uint8Array[]): { msgs: number[][]; ok: boolean } {
  const msgs: number[][] = [];
  let ok = true;
  for (const c of chunks) ok = f.push(c, (m) => msgs.push([...m])) && ok;
  return { msgs, ok };
}

test("dns framing: messages split and joined anywhere come out whole (RFC 1035 4.2.2)", () => {
  const a = Uint8Array.of(1, 2, 3);
  const b = new Uint8Array(700).map((_, i) => i & 0xff);
  const stream = Uint8Array.from([...frameDnsMessage(a), ...frameDnsMessage(b), ...frameDnsMessage(a)]);
  assert.deepEqual([...stream.subarray(0, 5)], [0, 3, 1, 2, 3]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 10 }), (cuts) => {
      const points = [...new Set(cuts)].sort((x, y) => x - y);
      const chunks: Uint8Array[] = [];
      let last = 0;
      for (const p of points) {
        chunks.push(stream.subarray(last, p));
        last = p;
      }
      chunks.push(stream.subarray(last));
      const f = new DnsTcpFramer();
      const { msgs, ok } = collect(f, chunks);
      assert.ok(ok);
      assert.deepEqual(msgs, [[...a], [...b], [...a]]);
      assert.equal(f.buffered, 0);
    }),
  );
});

test("dns framing: a zero length or a length over the bound poisons the stream; the buffer stays bounded", () => {
  const zero = new DnsTcpFramer();
  assert.deepEqual(collect(zero, [Uint8Array.of(0, 0, 1, 2)]), { msgs: [], ok: false });
  assert.ok(zero.error);
  assert.equal(
    zero.push(frameDnsMessage(Uint8Array.of(1)), () => assert.fail("nothing after an error")),
    false,
  );
  const small = new DnsTcpFramer(512);
  assert.deepEqual(collect(small, [Uint8Array.of(2, 1)]), { msgs: [], ok: false });
  const f = new DnsTcpFramer(1000);
  const half = frameDnsMessage(new Uint8Array(1000)).subarray(0, 600);
  assert.ok(f.push(half, () => assert.fail("not complete")));
  assert.equal(f.buffered, 600);
  assert.throws(() => frameDnsMessage(new Uint8Array(70000)), RangeError);
});

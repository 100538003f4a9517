import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SipHash } from "./siphash.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

// The reference vectors (vectors.h of the SipHash reference code): key 00..0f, message 00..(n-1),
// output as 8 little-endian bytes.
const VECTORS = [
  "310e0edd47db6f72",
  "fd67dc93c539f874",
  "5a4fa9d909806c0d",
  "2d7efbd796666785",
  "b7877127e09427cf",
  "8da699cd64557618",
  "cee3fe586e46c9cb",
  "37d1018bf50002ab",
  "6224939a79f5f593",
  "b0e4a90bdf82009e",
  "f3b9dd94c5bb5d7a",
  "a7ad6b22462fb3f4",
  "fbe50e86bc8f1e75",
  "903d84c02756ea14",
  "eef27a8e90ca23f7",
  "e545be4961ca29a1",
];

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const MSG = Uint8Array.from({ length: 64 }, (_, i) => i);

test("SipHash-2-4 reference vectors for messages of 0..15 bytes", () => {
  const h = SipHash.fromBytes(KEY);
  const out = new Uint8Array(8);
  VECTORS.forEach((want, n) => {
    h.digestInto(MSG, 0, n, out);
    assert.equal(hex(out), want, `length ${n}`);
  });
});

test("the paper's appendix example: 15-byte message gives a129ca6149be45e5", () => {
  const h = SipHash.fromBytes(KEY);
  const lo = h.hash(MSG, 0, 15);
  assert.equal(h.hi, 0xa129ca61);
  assert.equal(lo, 0x49be45e5);
});

test("hash of a subrange equals hash of a copy; key words match key bytes", () => {
  const words = new SipHash(0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(8), (data, pad) => {
      const big = new Uint8Array(pad + data.length + 3);
      big.set(data, pad);
      const a = words.hash(big, pad, data.length);
      const ahi = words.hi;
      const b = SipHash.fromBytes(KEY).hash(data.slice());
      assert.equal(a, b);
      assert.equal(words.hash(data), a);
      assert.equal(words.hi, ahi);
    }),
  );
});

test("different keys give different hashes", () => {
  const a = new SipHash(1, 2, 3, 4).hash(MSG, 0, 12);
  const b = new SipHash(1, 2, 3, 5).hash(MSG, 0, 12);
  assert.notEqual(a, b);
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { transportChecksumOk, VNET_HDR_LEN } from "../wire/virtio-net.ts";
import { GsoSplitter } from "./gso.ts";

// Frames the kernel sent into a TAP with offloads (test/fixtures/vnet/capture.ts).
const rx = JSON.parse(readFileSync(new URL("../../test/fixtures/vnet/kernel-rx.json", import.meta.url), "utf8")) as {
  frames: { hdr: string; frame: string; gso: number }[];
};

function batch(): { frames: Uint8Array[]; meta: Uint8Array } {
  const meta = new Uint8Array(rx.frames.length * VNET_HDR_LEN);
  const frames = rx.frames.map((f, i) => {
    meta.set(Buffer.from(f.hdr, "base64"), i * VNET_HDR_LEN);
    return new Uint8Array(Buffer.from(f.frame, "base64"));
  });
  return { frames, meta };
}

test("gso fallback: a kernel batch becomes MTU frames with valid checksums, in order", () => {
  const { frames, meta } = batch();
  const sp = new GsoSplitter(14);
  const out = sp.normalize(frames, meta, false);
  let payload = 0;
  for (const f of frames) payload += f.length;
  const supers = rx.frames.filter((f) => f.gso !== 0).length;
  assert.equal(sp.stats.superFrames, supers);
  assert.equal(sp.stats.checksums, rx.frames.length - supers);
  assert.equal(sp.stats.dropped, 0);
  assert.equal(out.length, rx.frames.length - supers + sp.stats.segments);
  for (const f of out) {
    assert.ok(f.length <= 1514, `frame of ${f.length} bytes`);
    assert.ok(transportChecksumOk(f, 14));
  }
  // The first frame (no GSO) is passed through as it was, checksum completed in place.
  assert.equal(out[0], frames[0]);
  // Fresh memory when frames are not lent: a second batch does not overwrite the first's segments.
  const copy = out.map((f) => f.slice());
  sp.normalize(batch().frames, batch().meta, false);
  assert.deepEqual(out, copy);
  assert.ok(payload > 0);
});

test("gso fallback: a bad header drops its frame (counted); the rest of the batch goes on", () => {
  const { frames, meta } = batch();
  meta[2 * VNET_HDR_LEN + 1] = 0x42; // frame 2: an unknown gso_type
  meta[3 * VNET_HDR_LEN + 6] = 0xff; // frame 3: csum_start past the frame
  meta[3 * VNET_HDR_LEN + 7] = 0xff;
  const sp = new GsoSplitter(14);
  const out = sp.normalize(frames, meta, true);
  assert.equal(sp.stats.dropped, 2);
  for (const f of out) assert.ok(transportChecksumOk(f, 14));
  assert.equal(out[0], frames[0]);
  assert.equal(out[1], frames[1]);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NextSegKind, SackScoreboard } from "./sack.ts";

const MSS = 100;

/** A scoreboard after SND.UNA = `una` with the given SACK blocks (offsets from `una`). */
function board(una: number, nxtOff: number, blocks: [number, number][], max?: number): SackScoreboard {
  const sb = new SackScoreboard(max);
  sb.reset(una);
  for (const [l, r] of blocks) sb.update(una, (una + nxtOff) >>> 0, [(una + l) >>> 0, (una + r) >>> 0], 1);
  return sb;
}

test("one growing block: IsLost once more than 2 * SMSS are SACKed above; pipe; NextSeg", () => {
  // Ten 100-byte segments 1000..2000 in flight; the first is lost.
  const sb = new SackScoreboard();
  sb.reset(1000);
  assert.equal(sb.update(1000, 2000, [1100, 1200], 1), 100);
  assert.equal(sb.isLost(1000, MSS), false, "one segment SACKed above: not yet");
  sb.update(1000, 2000, [1100, 1300], 1);
  assert.equal(sb.isLost(1000, MSS), false, "exactly 2 * SMSS: not more than");
  assert.equal(sb.update(1000, 2000, [1100, 1400], 1), 100);
  assert.equal(sb.isLost(1000, MSS), true);
  assert.equal(sb.isLost(1400, MSS), false);
  assert.equal(sb.isSacked(1150), true);
  assert.equal(sb.pipe(2000, 1000, MSS), 600, "the six segments above the block");
  assert.equal(sb.nextSeg(2000, 1000, MSS, true), NextSegKind.Lost);
  assert.deepEqual([sb.segSeq, sb.segLen], [1000, 100]);
  // After retransmitting it (HighRxt = 1099), it counts in the pipe again.
  assert.equal(sb.pipe(2000, 1100, MSS), 700);
  assert.equal(sb.nextSeg(2000, 1100, MSS, true), NextSegKind.New);
  assert.deepEqual([sb.segSeq, sb.segLen], [2000, 100]);
  assert.equal(sb.nextSeg(2000, 1100, MSS, false), NextSegKind.Unsacked, "rule 3");
  assert.deepEqual([sb.segSeq, sb.segLen], [1400, 100]);
  assert.equal(sb.nextSeg(2000, 2000, MSS, false), NextSegKind.None);
});

test("discontiguous blocks: DupThresh ranges above a hole make it lost", () => {
  const sb = board(1000, 1000, [
    [100, 200],
    [300, 400],
    [500, 600],
  ]);
  assert.equal(sb.isLost(1000, MSS), true, "three SACKed ranges above");
  assert.equal(sb.isLost(1200, MSS), false, "two ranges and 200 bytes above");
  assert.equal(sb.lostEnd(MSS), 1100);
  sb.update(1000, 2000, [1700, 1800], 1);
  assert.equal(sb.isLost(1200, MSS), true);
  assert.equal(sb.isLost(1400, MSS), false);
  assert.equal(sb.nextSeg(2000, 1000, MSS, false), NextSegKind.Lost);
  assert.deepEqual([sb.segSeq, sb.segLen], [1000, 100]);
  assert.equal(sb.nextSeg(2000, 1100, MSS, false), NextSegKind.Lost);
  assert.deepEqual([sb.segSeq, sb.segLen], [1200, 100], "the next lost hole, stopping at SACKed data");
  // Not lost: [1400,1500), [1600,1700), [1800,2000); retransmitted: [1000,1100).
  assert.equal(sb.pipe(2000, 1100, MSS), 500);
  assert.equal(sb.sackedBytes, 400);
  assert.equal(sb.sackedAbove(1250), 300);
  assert.equal(sb.sackedAbove(1350), 249, "bytes strictly above 1350 inside a block count too");
});

test("segments from NextSeg are at most SMSS and end where SACKed data begins", () => {
  const sb = board(0, 5000, [
    [250, 300],
    [1000, 1100],
    [2000, 2100],
    [3000, 3100],
  ]);
  assert.equal(sb.nextSeg(5000, 0, 1000, false), NextSegKind.Lost);
  assert.deepEqual([sb.segSeq, sb.segLen], [0, 250]);
  assert.equal(sb.nextSeg(5000, 250, 1000, false), NextSegKind.Lost);
  assert.deepEqual([sb.segSeq, sb.segLen], [300, 700]);
});

test("cumulative ACKs trim and drop ranges; wrap-around of sequence space", () => {
  const una = 0xffffff00;
  const sb = board(una, 0x400, [
    [0x80, 0x180],
    [0x200, 0x300],
  ]);
  assert.equal(sb.sackedBytes, 0x200);
  assert.equal(sb.isSacked(0x10), true, "0xffffff00 + 0x110 wraps to 0x10");
  sb.onAck(0x20);
  assert.equal(sb.sackedBytes, 0x160);
  const r = [0, 0];
  assert.ok(sb.range(0, r));
  assert.deepEqual(r, [0x20, 0x80]);
  sb.onAck(0x300);
  assert.equal(sb.rangeCount, 0);
  assert.equal(sb.sackedBytes, 0);
});

test("invalid blocks are ignored; a block at or below SND.UNA is a D-SACK", () => {
  const sb = new SackScoreboard();
  sb.reset(1000);
  assert.equal(sb.update(1000, 2000, [1500, 2100], 1), 0, "beyond SND.NXT");
  assert.equal(sb.update(1000, 2000, [1500, 1500], 1), 0, "empty");
  assert.equal(sb.update(1000, 2000, [1600, 1500], 1), 0, "reversed");
  assert.equal(sb.sawDsack, false);
  assert.equal(sb.update(1000, 2000, [900, 1000, 1200, 1300], 2), 100);
  assert.equal(sb.sawDsack, true);
  sb.update(1000, 2000, [1200, 1250], 1);
  assert.equal(sb.sawDsack, true, "first block inside a SACKed range");
  assert.equal(sb.update(1000, 2000, [950, 1100], 1), 100, "straddling SND.UNA: trimmed");
});

test("the number of ranges is bounded: the highest ones are forgotten", () => {
  const sb = board(
    0,
    10_000,
    [
      [100, 200],
      [300, 400],
      [500, 600],
    ],
    2,
  );
  assert.equal(sb.rangeCount, 2);
  assert.equal(sb.isSacked(550), false);
  assert.equal(sb.sackedBytes, 200);
  sb.update(0, 10_000, [200, 300], 1);
  assert.equal(sb.rangeCount, 1, "merged");
  assert.equal(sb.sackedBytes, 300);
});

test("property: matches a byte-set model for SACKed bytes, IsLost and pipe", () => {
  const block = fc.tuple(fc.nat(60), fc.integer({ min: 1, max: 15 }));
  fc.assert(
    fc.property(fc.array(block, { maxLength: 8 }), fc.nat(70), fc.nat(0xffffffff), (blocks, rxt, una) => {
      const nxt = 70;
      const mss = 5;
      const sb = new SackScoreboard(100);
      sb.reset(una);
      const sacked = new Set<number>();
      for (const [l, len] of blocks) {
        const r = Math.min(l + len, nxt);
        if (r <= l) continue;
        sb.update(una, (una + nxt) >>> 0, [(una + l) >>> 0, (una + r) >>> 0], 1);
        for (let i = l; i < r; i++) sacked.add(i);
      }
      assert.equal(sb.sackedBytes, sacked.size);
      const rxtEnd = Math.min(rxt, nxt);
      let pipe = 0;
      for (let x = 0; x < nxt; x++) {
        const seq = (una + x) >>> 0;
        assert.equal(sb.isSacked(seq), sacked.has(x));
        if (sacked.has(x)) continue;
        // IsLost by the definition: ranges strictly above x, or bytes above x.
        const above = [...sacked].filter((y) => y > x).sort((a, b) => a - b);
        let ranges = 0;
        for (let i = 0; i < above.length; i++) if (i === 0 || above[i] !== above[i - 1] + 1) ranges++;
        const lost = ranges >= 3 || above.length > 2 * mss;
        assert.equal(sb.isLost(seq, mss), lost, `offset ${x}`);
        if (!lost) pipe++;
        if (x < rxtEnd) pipe++;
      }
      assert.equal(sb.pipe((una + nxt) >>> 0, (una + rxtEnd) >>> 0, mss), pipe);
    }),
  );
});

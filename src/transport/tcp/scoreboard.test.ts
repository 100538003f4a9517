import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type DeliveryListener, Scoreboard, Seg } from "./scoreboard.ts";

const MSS = 100;

/** A board with `n` segments of MSS bytes from `base`, sent at times 0, 1, 2, ... */
function board(n: number, base = 1000): Scoreboard {
  const b = new Scoreboard();
  for (let i = 0; i < n; i++) b.push(base + i * MSS, base + (i + 1) * MSS, i);
  return b;
}

/** Collects what a board reports delivered. */
class Log implements DeliveryListener {
  readonly seen: [number, number, boolean][] = [];
  delivered(xmitTime: number, end: number, _flags: number, sacked: boolean): void {
    this.seen.push([xmitTime, end, sacked]);
  }
}

test("SACK blocks mark whole records, count bytes and report each newly SACKed record once", () => {
  const b = board(10);
  const log = new Log();
  assert.equal(b.sack(1000, 2000, [1300, 1500], 1, log), 200);
  assert.equal(b.sack(1000, 2000, [1300, 1500, 1700, 1800], 2, log), 100, "the repeated block adds nothing");
  assert.deepEqual(log.seen, [
    [3, 1400, true],
    [4, 1500, true],
    [7, 1800, true],
  ]);
  assert.equal(b.sackedBytes, 300);
  assert.equal(b.sackedSegs, 3);
  assert.equal(b.pipe(1000), 700, "RFC 6675 pipe: nothing lost, nothing retransmitted");
  assert.equal(b.flagsOf(3) & Seg.Sacked, Seg.Sacked);
  assert.equal(b.flagsOf(2) & Seg.Sacked, 0);
});

test("a block covering part of a record splits it; blocks outside [SND.UNA, SND.NXT] are ignored", () => {
  const b = board(4);
  b.sack(1000, 1400, [1150, 1250], 1, null);
  assert.equal(b.count, 6);
  assert.deepEqual(
    Array.from({ length: b.count }, (_, i) => [b.seqOf(i), b.endOf(i), b.flagsOf(i) & Seg.Sacked]),
    [
      [1000, 1100, 0],
      [1100, 1150, 0],
      [1150, 1200, Seg.Sacked],
      [1200, 1250, Seg.Sacked],
      [1250, 1300, 0],
      [1300, 1400, 0],
    ],
  );
  assert.equal(b.sack(1000, 1400, [1300, 1500, 500, 600, 1350, 1340], 3, null), 0, "beyond SND.NXT, below, inverted");
  assert.equal(b.sackedBytes, 100);
});

test("D-SACK (RFC 2883 4): a first block below the ACK, or inside the second block, is reported, not marked", () => {
  const b = board(10);
  b.sack(1000, 2000, [1500, 1600], 1, null);
  assert.equal(b.dsack, false);
  b.sack(1000, 2000, [900, 1000, 1500, 1600], 2, null);
  assert.deepEqual([b.dsack, b.dsackLeft, b.dsackRight], [true, 900, 1000]);
  b.sack(1000, 2000, [1520, 1540, 1500, 1600], 2, null);
  assert.deepEqual([b.dsack, b.dsackLeft, b.dsackRight], [true, 1520, 1540]);
  assert.equal(b.sackedBytes, 100, "the D-SACK marked nothing");
  // An ACK overtaken on the path: its blocks are judged against its own acknowledgment number.
  b.ack(1200, null);
  b.sack(1200, 2000, [1100, 1200], 1, null, 1100);
  assert.equal(b.dsack, false, "a SACK of 1100..1200 from an ACK of 1100 is no D-SACK");
  b.sack(1200, 2000, [1050, 1100], 1, null, 1100);
  assert.equal(b.dsack, true);
});

test("cumulative ACKs drop records, trim a partly acknowledged one, and report unSACKed ones", () => {
  const b = board(5);
  const log = new Log();
  b.sack(1000, 1500, [1100, 1200], 1, null);
  assert.equal(b.ack(1250, log), 150, "1000..1100 and 1200..1250 newly delivered; 1100..1200 was SACKed");
  assert.deepEqual(log.seen, [[0, 1100, false]], "only whole records are reported");
  assert.equal(b.count, 3);
  assert.deepEqual([b.seqOf(0), b.endOf(0)], [1250, 1300]);
  assert.equal(b.sackedBytes, 0);
  assert.equal(b.ack(1500, null), 250);
  assert.equal(b.count, 0);
});

test("lost and retransmitted bytes: pipe = flight - SACKed - lost + retransmitted (RFC 6675 SetPipe)", () => {
  const b = board(6);
  b.sack(1000, 1600, [1300, 1600], 1, null);
  assert.ok(b.markLost(0));
  assert.ok(b.markLost(1));
  assert.equal(b.markLost(4), false, "a SACKed record is never lost");
  assert.equal(b.pipe(600), 600 - 300 - 200);
  assert.equal(b.nextLost(0), 0);
  b.retransmitted(0, 50);
  assert.equal(b.pipe(600), 200, "the retransmission is in flight");
  assert.equal(b.nextLost(0), 1);
  assert.equal(b.retransSegs, 1);
  assert.equal(b.timeOf(0), 50);
  // Lost again: its retransmission leaves the pipe, and it is next to send.
  b.markLost(0);
  assert.equal(b.retransSegs, 0);
  assert.equal(b.nextLost(0), 0);
  assert.equal(b.flagsOf(0), Seg.Lost | Seg.EverRetrans);
  b.clearLost();
  assert.equal(b.lostBytes, 0);
  assert.equal(b.nextLost(0), -1);
});

test("RFC 6675 IsLost: DupThresh SACKed runs, or more than 2 * SMSS SACKed bytes, above a hole", () => {
  const b = board(10);
  b.sack(1000, 2000, [1100, 1200], 1, null);
  b.sack(1000, 2000, [1300, 1400], 1, null);
  assert.equal(b.markLost6675(MSS), 0, "two runs, 200 bytes: not yet");
  b.sack(1000, 2000, [1500, 1600], 1, null);
  assert.equal(b.markLost6675(MSS), 100, "three runs above the first hole only");
  b.sack(1000, 2000, [1700, 1800], 1, null);
  assert.equal(b.markLost6675(MSS), 100, "now above the second hole too");
  assert.deepEqual(
    [0, 2, 4, 6, 8].map((i) => b.flagsOf(i) & Seg.Lost),
    [Seg.Lost, Seg.Lost, 0, 0, 0],
    "the hole at 1400 has two runs (200 bytes) above it: not lost",
  );
});

test("RACK detection: records sent before the delivered one and older than RTT + reo_wnd are lost", () => {
  // Records sent at 0..9 ms; the one sent at 6 was delivered; RACK.rtt + reo_wnd = 10 ms.
  const b = board(10);
  b.sack(1000, 2000, [1600, 1700], 1, null);
  // At 14 ms: records sent at <= 4 expired, 5 expires at 15: the timer is 1 ms away.
  assert.equal(b.rackDetect(6, 1700, 10, 14), 1);
  assert.deepEqual(
    Array.from({ length: 10 }, (_, i) => (b.flagsOf(i) & Seg.Lost ? 1 : 0)),
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
  );
  // A retransmission (sent at 20) delivered later makes an earlier lost retransmission lost again.
  b.retransmitted(0, 12);
  b.retransmitted(1, 20);
  b.sack(1000, 2000, [1100, 1200], 1, null);
  assert.equal(b.retransSegs, 1);
  assert.equal(b.rackDetect(20, 1200, 10, 30), 0);
  assert.equal(b.flagsOf(0) & (Seg.Lost | Seg.Retrans), Seg.Lost, "the retransmission at 12 is lost too");
  assert.equal(b.retransSegs, 0);
});

test("a timeout marks everything unSACKed lost (the first record always); a SACKed first record means reneging", () => {
  const b = board(5);
  b.sack(1000, 1500, [1200, 1300], 1, null);
  b.markAllLost(2.5);
  assert.deepEqual(
    Array.from({ length: 5 }, (_, i) => b.flagsOf(i) & (Seg.Lost | Seg.Sacked)),
    [Seg.Lost, Seg.Lost, Seg.Sacked, 0, 0],
    "records sent after 2.5 may still be ACKed",
  );
  const r = board(3);
  r.sack(1000, 1300, [1000, 1100], 1, null);
  r.markAllLost(Number.POSITIVE_INFINITY);
  assert.equal(r.sackedBytes, 0, "the receiver reneged: SACK marks dropped");
  assert.equal(r.lostBytes, 300);
});

test("the arrays grow and compact; invariants hold for random SACKs, ACKs and losses", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ k: fc.constant("send"), n: fc.integer({ min: 1, max: 300 }) }),
          fc.record({ k: fc.constant("sack"), a: fc.nat(4000), b: fc.nat(4000) }),
          fc.record({ k: fc.constant("ack"), a: fc.nat(600) }),
          fc.record({ k: fc.constant("lost"), i: fc.nat(50) }),
          fc.record({ k: fc.constant("rtx"), i: fc.nat(50) }),
        ),
        { maxLength: 200 },
      ),
      (ops) => {
        const b = new Scoreboard();
        let una = 0xfffff000; // wraps around 2^32
        let nxt = una;
        let t = 0;
        for (const op of ops) {
          if (op.k === "send") {
            b.push(nxt, (nxt + op.n) >>> 0, t++);
            nxt = (nxt + op.n) >>> 0;
          } else if (op.k === "sack") {
            const l = (una + Math.min(op.a, op.b)) >>> 0;
            b.sack(una, nxt, [l, (l + Math.abs(op.a - op.b) + 1) >>> 0], 1, null);
          } else if (op.k === "ack") {
            const adv = Math.min(op.a, (nxt - una) >>> 0);
            una = (una + adv) >>> 0;
            b.ack(una, null);
          } else if (b.count > 0) {
            const i = op.i % b.count;
            if (op.k === "lost") b.markLost(i);
            else b.retransmitted(i, t++);
          }
          // Records cover [SND.UNA, SND.NXT) without gaps; the counts match the flags.
          let at = una;
          let sacked = 0;
          let lost = 0;
          let rtx = 0;
          for (let i = 0; i < b.count; i++) {
            assert.equal(b.seqOf(i), at);
            const len = (b.endOf(i) - b.seqOf(i)) >>> 0;
            assert.ok(len > 0);
            const f = b.flagsOf(i);
            if (f & Seg.Sacked) sacked += len;
            if (f & Seg.Lost) lost += len;
            if (f & Seg.Retrans) rtx += len;
            assert.ok(!(f & Seg.Sacked && f & (Seg.Lost | Seg.Retrans)), "SACKed is neither lost nor in flight");
            at = b.endOf(i);
          }
          assert.equal(b.count === 0 ? nxt : at, nxt);
          assert.deepEqual([b.sackedBytes, b.lostBytes, b.retransBytes], [sacked, lost, rtx]);
        }
      },
    ),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { PTO_MIN_MS, Rack } from "./rack.ts";
import { Scoreboard, Seg } from "./scoreboard.ts";

test("RACK.rtt, min_RTT and the most recently sent delivered segment (RFC 8985 6.2 step 2)", () => {
  const r = new Rack();
  r.beginAck(100, -1, 0);
  r.delivered(60, 2000, 0, true);
  r.delivered(50, 1000, 0, false);
  assert.deepEqual([r.xmitTime, r.endSeq, r.rtt, r.minRtt], [60, 2000, 50, 40]);
  assert.ok(r.advanced);
  // A retransmission delivered sooner than min_RTT after it was sent cannot be what was acknowledged.
  r.beginAck(110, -1, 0);
  r.delivered(90, 3000, Seg.EverRetrans, true);
  assert.equal(r.xmitTime, 60, "ambiguous: ignored");
  r.delivered(60, 3100, Seg.EverRetrans, true);
  assert.equal(r.xmitTime, 60);
  assert.equal(r.endSeq, 3100, "same send time, later end: later");
});

test("with timestamps an ACK echoing an older timestamp is not for the retransmission (cumulative ACKs only)", () => {
  const r = new Rack();
  r.beginAck(0, -1, 5000);
  r.delivered(-100, 10, 0, false); // min_RTT 100
  // Our clock: ts 5000 at t = 0, so a retransmission at t = 300 carried 5300; now t = 500.
  r.beginAck(500, 5100, 5500);
  r.delivered(300, 2000, Seg.EverRetrans, false);
  assert.equal(r.rtt, 100, "echo 5100 < 5300: the original was acknowledged");
  r.delivered(300, 2000, Seg.EverRetrans, true);
  assert.equal(r.rtt, 200, "a SACK echoes the last in-order segment's timestamp: only the RTT check applies");
});

test("reordering is seen when a never-retransmitted segment below RACK.fack is delivered", () => {
  const r = new Rack();
  r.beginAck(10, -1, 0);
  r.delivered(1, 2000, 0, true);
  assert.equal(r.reorderingSeen, false);
  r.delivered(2, 1500, Seg.EverRetrans, true);
  assert.equal(r.reorderingSeen, false, "a retransmission below fack proves nothing");
  r.delivered(0, 1000, 0, false);
  assert.equal(r.reorderingSeen, true);
});

test("reo_wnd: zero before reordering in recovery or after DupThresh SACKs; min_RTT/4 steps, D-SACK rounds, persistence", () => {
  const r = new Rack();
  r.beginAck(40, -1, 0);
  r.delivered(0, 1000, 0, false); // min_RTT 40
  assert.equal(r.reoWnd(false, 1, 30), 10);
  assert.equal(r.reoWnd(true, 1, 30), 0);
  assert.equal(r.reoWnd(false, 3, 30), 0);
  r.reorderingSeen = true;
  assert.equal(r.reoWnd(true, 5, 30), 10);
  // A D-SACK widens it by one step per round trip (SND.UNA passing the SND.NXT of the D-SACK).
  r.updateReoWnd(true, 1000, 5000, false);
  assert.equal(r.reoWndMult, 2);
  r.updateReoWnd(true, 4000, 6000, false);
  assert.equal(r.reoWndMult, 2, "same round");
  r.updateReoWnd(true, 5000, 7000, false);
  assert.equal(r.reoWndMult, 3);
  assert.equal(r.reoWnd(false, 0, 100), 30);
  assert.equal(r.reoWnd(false, 0, 25), 25, "capped at SRTT");
  // 16 recoveries without a D-SACK reset it.
  for (let i = 0; i < 15; i++) r.updateReoWnd(false, 8000, 9000, true);
  assert.equal(r.reoWndMult, 3);
  r.updateReoWnd(false, 8000, 9000, true);
  assert.equal(r.reoWndMult, 1);
});

test("detectLoss marks through the scoreboard and returns the reordering timer", () => {
  const b = new Scoreboard();
  for (let i = 0; i < 4; i++) b.push(i * 100, (i + 1) * 100, i * 10);
  const r = new Rack();
  r.beginAck(45, -1, 0);
  b.sack(0, 400, [200, 300], 1, r);
  assert.equal(r.rtt, 25);
  // reo_wnd 5: segment 0 (sent at 0) expired at 30; segment 1 (sent at 10) expires at 40... both by 45.
  assert.equal(r.detectLoss(b, 5, 45), 0);
  assert.equal(b.lostBytes, 200);
  assert.equal(r.advanced, false);
  // Nothing delivered yet: nothing to compare with.
  assert.equal(new Rack().detectLoss(b, 5, 100), 0);
});

test("TLP: PTO = 2 SRTT (+ the delayed ACK for a lone segment), 1 s without a sample; probe outcomes", () => {
  assert.equal(Rack.pto(20, true, 3000, 1448, 200), 40);
  assert.equal(Rack.pto(20, true, 1448, 1448, 200), 240);
  assert.equal(Rack.pto(0.1, true, 3000, 1448, 200), PTO_MIN_MS);
  assert.equal(Rack.pto(0, false, 3000, 1448, 200), 1000);
  const r = new Rack();
  // A retransmitted probe, then an ACK beyond it without D-SACK: a loss was repaired.
  r.probeSent(5000, true);
  assert.equal(r.probeAcked(4000, -1, false), false);
  assert.ok(r.tlpOut);
  assert.equal(r.probeAcked(5000, -1, false), false, "acknowledging exactly the probe: not yet known");
  assert.equal(r.probeAcked(6000, -1, false), true);
  assert.equal(r.tlpOut, false);
  // Both the original and the probe arrived: the D-SACK for the probe says so.
  r.probeSent(5000, true);
  assert.equal(r.probeAcked(5000, 5000, false), false);
  assert.equal(r.tlpOut, false);
  // A probe of new data: nothing to conclude.
  r.probeSent(7000, false);
  assert.equal(r.probeAcked(7000, -1, false), false);
  assert.equal(r.tlpOut, false);
});

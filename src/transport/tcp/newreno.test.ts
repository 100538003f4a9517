import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { rfc5681InitialWindow } from "./congestion.ts";
import { NewReno } from "./newreno.ts";

const MSS = 1000;

test("RFC 5681 3.1 initial window by SMSS, and a configured IW10 (RFC 6928)", () => {
  assert.equal(rfc5681InitialWindow(2500), 5000);
  assert.equal(rfc5681InitialWindow(1460), 4380);
  assert.equal(rfc5681InitialWindow(536), 2144);
  assert.equal(new NewReno({ mss: 1460 }).cwnd, 4380);
  assert.equal(new NewReno({ mss: 1460, initialWindow: 10 }).cwnd, 14_600);
  const cc = new NewReno();
  cc.setMss(MSS);
  assert.equal(cc.cwnd, 4000, "setMss before any ACK recomputes the IW");
  assert.equal(cc.ssthresh, Number.POSITIVE_INFINITY);
});

test("slow start: cwnd += min(acked, L * SMSS) per ACK, doubling per round trip", () => {
  const strict = new NewReno({ mss: MSS, abcLimit: 1 });
  strict.onAck(MSS, 50, 0, 4000);
  assert.equal(strict.cwnd, 5000);
  strict.onAck(2 * MSS, 50, 0, 5000);
  assert.equal(strict.cwnd, 6000, "L = 1: a stretch ACK still grows by one SMSS");
  const abc = new NewReno({ mss: MSS });
  abc.onAck(5 * MSS, 50, 0, 4000);
  assert.equal(abc.cwnd, 6000, "L = 2");
  // One round trip of per-segment ACKs doubles the window.
  const cc = new NewReno({ mss: MSS });
  const w = cc.cwnd;
  for (let i = 0; i < w / MSS; i++) cc.onAck(MSS, 50, 0, w);
  assert.equal(cc.cwnd, 2 * w);
});

test("an application-limited sender does not grow cwnd", () => {
  const cc = new NewReno({ mss: MSS });
  cc.onAck(MSS, 50, 0, 1000);
  assert.equal(cc.cwnd, 4000);
});

test("fast recovery with SACK halves to FlightSize / 2; congestion avoidance adds one SMSS per window", () => {
  const cc = new NewReno({ mss: MSS });
  for (let i = 0; i < 16; i++) cc.onAck(MSS, 50, 0, 20_000);
  assert.equal(cc.cwnd, 20_000);
  cc.enterRecovery(100, 20_000, true);
  assert.equal(cc.ssthresh, 10_000, "RFC 5681 (4): FlightSize / 2");
  assert.equal(cc.cwnd, 10_000, "RFC 6675: cwnd = ssthresh");
  assert.equal(cc.inRecovery, true);
  cc.onAck(MSS, 50, 100, 10_000);
  assert.equal(cc.cwnd, 10_000, "no growth during recovery");
  cc.enterRecovery(110, 10_000, true);
  assert.equal(cc.ssthresh, 10_000, "one reduction per recovery episode");
  cc.exitRecovery(200, 10_000);
  assert.equal(cc.cwnd, 10_000);
  for (let i = 0; i < 9; i++) cc.onAck(MSS, 50, 300, 10_000);
  assert.equal(cc.cwnd, 10_000);
  cc.onAck(MSS, 50, 300, 10_000);
  assert.equal(cc.cwnd, 11_000, "one SMSS after a full window of ACKs");
  for (let i = 0; i < 11; i++) cc.onAck(MSS, 50, 400, 11_000);
  assert.equal(cc.cwnd, 12_000);
});

test("NewReno without SACK: inflation, RFC 6582 partial-ACK deflation, full-ACK exit", () => {
  const cc = new NewReno({ mss: MSS });
  for (let i = 0; i < 16; i++) cc.onAck(MSS, 50, 0, 20_000);
  cc.enterRecovery(0, 20_000, false);
  assert.equal(cc.cwnd, 13_000, "ssthresh + 3 * SMSS");
  cc.onDupAck();
  cc.onDupAck();
  assert.equal(cc.cwnd, 15_000);
  cc.onPartialAck(3000);
  assert.equal(cc.cwnd, 13_000, "deflate by 3000, add back one SMSS");
  cc.onPartialAck(500);
  assert.equal(cc.cwnd, 12_500, "less than one SMSS acknowledged: nothing added back");
  cc.exitRecovery(0, 4000);
  assert.equal(cc.cwnd, 5000, "min(ssthresh, max(FlightSize, SMSS) + SMSS)");
  assert.equal(cc.inRecovery, false);
});

test("retransmission timeout: cwnd = 1 SMSS, ssthresh = FlightSize / 2, held on a repeated timeout", () => {
  const cc = new NewReno({ mss: MSS });
  for (let i = 0; i < 16; i++) cc.onAck(MSS, 50, 0, 20_000);
  cc.onRetransmitTimeout(0, 20_000);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 10_000);
  cc.onRetransmitTimeout(1000, 20_000 - 1000);
  assert.equal(cc.ssthresh, 10_000, "RFC 5681 3.1: ssthresh held for a repeated timeout");
  cc.onAck(MSS, 50, 3000, MSS);
  assert.equal(cc.cwnd, 2 * MSS, "slow start again");
  cc.onRetransmitTimeout(4000, 2000);
  assert.equal(cc.ssthresh, 2 * MSS, "floor of 2 * SMSS");
});

test("idle restart clamps cwnd to the initial window (RFC 5681 4.1)", () => {
  const cc = new NewReno({ mss: MSS });
  for (let i = 0; i < 10; i++) cc.onAck(MSS, 50, 0, 20_000);
  assert.ok(cc.cwnd > 4000);
  cc.onIdleRestart(10_000);
  assert.equal(cc.cwnd, 4000);
});

test("property: cwnd >= 1 SMSS and ssthresh >= 2 SMSS whatever happens", () => {
  const ev = fc.oneof(
    fc.record({ k: fc.constant(0), n: fc.integer({ min: 1, max: 5000 }), f: fc.nat(100_000) }),
    fc.record({ k: fc.integer({ min: 1, max: 5 }), n: fc.nat(5000), f: fc.nat(100_000) }),
  );
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 60 }), (evs) => {
      const cc = new NewReno({ mss: MSS });
      for (const e of evs) {
        if (e.k === 0) cc.onAck(e.n, 50, 0, e.f);
        else if (e.k === 1) cc.enterRecovery(0, e.f, e.n % 2 === 0);
        else if (e.k === 2) cc.onPartialAck(e.n);
        else if (e.k === 3) cc.exitRecovery(0, e.f);
        else if (e.k === 4) cc.onRetransmitTimeout(0, e.f);
        else cc.onDupAck();
        assert.ok(cc.cwnd >= MSS);
        assert.ok(cc.ssthresh >= 2 * MSS);
      }
    }),
  );
});

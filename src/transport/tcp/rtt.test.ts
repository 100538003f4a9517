import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RttEstimator, RttTimer, timestampRtt } from "./rtt.ts";

test("RFC 6298 2.1: 1 s before any sample", () => {
  const r = new RttEstimator();
  assert.equal(r.rto, 1000);
  assert.equal(r.hasSample, false);
});

test("RFC 6298 2.2/2.3: first and later samples, worked by hand", () => {
  const r = new RttEstimator({ minRto: 200 });
  r.sample(100);
  // SRTT = 100, RTTVAR = 50, RTO = 100 + 4 * 50 = 300
  assert.equal(r.srtt, 100);
  assert.equal(r.rttvar, 50);
  assert.equal(r.rto, 300);
  r.sample(200);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
  assert.equal(r.rttvar, 62.5);
  assert.equal(r.srtt, 112.5);
  assert.equal(r.rto, 112.5 + 250);
  r.sample(112.5);
  // RTTVAR = 3/4 * 62.5 = 46.875; SRTT unchanged; RTO = 112.5 + 187.5
  assert.equal(r.rttvar, 46.875);
  assert.equal(r.rto, 300);
});

test("RFC 6298 2.4: the RFC minimum of 1 s and the Linux-like 200 ms", () => {
  const rfc = new RttEstimator();
  rfc.sample(10);
  assert.equal(rfc.rto, 1000);
  const linux = new RttEstimator({ minRto: 200 });
  linux.sample(10);
  assert.equal(linux.rto, 200);
});

test("granularity G bounds the variance term from below", () => {
  const r = new RttEstimator({ minRto: 1, granularity: 10 });
  r.sample(50);
  for (let i = 0; i < 200; i++) r.sample(50);
  // RTTVAR decays towards 0, so RTO -> SRTT + G.
  assert.ok(Math.abs(r.rto - 60) < 1e-6, `rto ${r.rto}`);
});

test("RFC 6298 5.5: backoff doubles up to the maximum; resetBackoff restores the estimate", () => {
  const r = new RttEstimator({ maxRto: 60_000 });
  r.sample(500); // RTO = 500 + 1000 = 1500
  assert.equal(r.rto, 1500);
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    r.backoff();
    seen.push(r.rto);
  }
  assert.deepEqual(seen, [3000, 6000, 12_000, 24_000, 48_000, 60_000, 60_000, 60_000]);
  assert.equal(r.backoffCount, 6, "stops counting once the cap is reached");
  r.resetBackoff();
  assert.equal(r.rto, 1500);
});

test("RFC 7323 appendix G: per-ACK samples move the estimate at the per-RTT rate", () => {
  const a = new RttEstimator({ minRto: 1 });
  const b = new RttEstimator({ minRto: 1 });
  a.sample(100);
  b.sample(100);
  a.sample(200, 4);
  // alpha' = 1/32, beta' = 1/16
  assert.equal(a.srtt, 100 + 100 / 32);
  assert.equal(a.rttvar, 50 * (15 / 16) + 100 / 16);
  b.sample(200);
  assert.ok(b.srtt > a.srtt);
});

test("property: RTO always within [min, max], whatever the samples and backoffs", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.double({ min: 0, max: 200_000, noNaN: true }), fc.constant(-1)), { maxLength: 30 }),
      (xs) => {
        const r = new RttEstimator({ minRto: 200, maxRto: 120_000 });
        for (const x of xs) {
          if (x < 0) r.backoff();
          else r.sample(x);
          assert.ok(r.rto >= 200 && r.rto <= 120_000, `rto ${r.rto}`);
        }
      },
    ),
  );
});

test("Karn: a retransmitted segment yields no sample; one segment timed at a time", () => {
  const t = new RttTimer();
  t.onSend(1000, 0);
  t.onSend(2000, 5); // already timing: ignored
  assert.equal(t.onAck(999, 50), -1, "does not cover the timed segment");
  assert.equal(t.onAck(1000, 80), 80);
  assert.equal(t.active, false);
  t.onSend(3000, 100);
  t.onRetransmit();
  assert.equal(t.onAck(3000, 400), -1);
  // Sequence numbers wrap.
  t.onSend(0x10, 500);
  assert.equal(t.onAck(0xfffffff0, 501), -1);
  assert.equal(t.onAck(0x20, 530), 30);
});

test("RFC 7323 4.1: timestamp samples, clock rates and rejected echoes", () => {
  assert.equal(timestampRtt(1500, 1400), 100);
  assert.equal(timestampRtt(5, 0xfffffffb), 10, "across the wrap");
  assert.equal(timestampRtt(250, 200, 100), 500, "100 Hz clock");
  assert.equal(timestampRtt(100, 0), -1, "no echo");
  assert.equal(timestampRtt(100, 200), -1, "echo from the future");
});

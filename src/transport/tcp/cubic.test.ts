import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Cubic } from "./cubic.ts";

const MSS = 1000;

/** A CUBIC sender that has grown to `segs` segments in slow start and just lost a packet. */
function afterLossAt(segs: number, options = {}): Cubic {
  const cc = new Cubic({ mss: MSS, initialWindow: segs, ...options });
  cc.enterRecovery(0, segs * MSS, true);
  cc.exitRecovery(0, segs * MSS * 0.7);
  return cc;
}

/** Run whole round trips of per-segment ACKs from `from` to `to` ms; returns (t, cwnd) per RTT. */
function run(cc: Cubic, from: number, to: number, rtt: number): [number, number][] {
  const trace: [number, number][] = [];
  for (let now = from; now < to; now += rtt) {
    const segs = Math.floor(cc.cwnd / MSS);
    for (let i = 0; i < segs; i++) cc.onAck(MSS, rtt, now + (i * rtt) / segs, cc.cwnd);
    trace.push([now, cc.cwnd / MSS]);
  }
  return trace;
}

test("RFC 9438 4.6: multiplicative decrease by beta = 0.7; W_max is the window at loss", () => {
  const cc = afterLossAt(100);
  assert.equal(cc.wMax, 100);
  assert.equal(cc.ssthresh, 70_000);
  assert.equal(cc.cwnd, 70_000);
});

test("RFC 9438 (2): K = cbrt((W_max - cwnd_epoch) / C), and W_cubic(K) = W_max", () => {
  const cc = afterLossAt(100);
  cc.onAck(MSS, 100, 1000, 70_000);
  assert.equal(cc.epochStart, 1000);
  assert.ok(Math.abs(cc.k - Math.cbrt(30 / 0.4)) < 1e-9, `K ${cc.k}`);
  assert.ok(Math.abs(cc.wCubic(cc.k) - 100) < 1e-9);
  assert.ok(Math.abs(cc.wCubic(0) - 70) < 1e-9, "the curve starts at cwnd_epoch");
});

test("W_cubic is concave before K and convex after it", () => {
  const cc = afterLossAt(100);
  cc.onAck(MSS, 100, 0, 70_000);
  const k = cc.k;
  const h = 0.25;
  for (let t = h; t < 2 * k; t += h) {
    const second = cc.wCubic(t + h) - 2 * cc.wCubic(t) + cc.wCubic(t - h);
    if (t < k - h) assert.ok(second < 0, `concave at ${t}`);
    if (t > k + h) assert.ok(second > 0, `convex at ${t}`);
  }
});

test("cwnd follows the curve: fast, then a plateau near W_max around K, then probing beyond", () => {
  const cc = afterLossAt(100);
  const rtt = 100;
  const trace = run(cc, 0, 9000, rtt);
  const k = cc.k * 1000;
  const at = (ms: number) => trace[Math.floor(ms / rtt)][1];
  assert.ok(at(1000) - at(0) > at(k) - at(k - 1000), "growth slows as W_max approaches");
  assert.ok(Math.abs(at(k) - 100) < 3, `near W_max at K: ${at(k)}`);
  assert.ok(at(k + 3000) - at(k + 2000) > at(k + 1000) - at(k), "growth speeds up beyond W_max");
  for (let i = 1; i < trace.length; i++) assert.ok(trace[i][1] >= trace[i - 1][1], "never shrinks without loss");
  assert.ok(at(8900) > 100);
});

test("RFC 9438 4.7: fast convergence lowers W_max after a loss below the previous W_max", () => {
  const cc = afterLossAt(100);
  run(cc, 0, 1000, 100);
  const w = cc.cwnd / MSS;
  assert.ok(w < 100);
  cc.enterRecovery(2000, cc.cwnd, true);
  assert.ok(Math.abs(cc.wMax - (w * 1.7) / 2) < 0.01, `W_max ${cc.wMax}`);
  const plain = afterLossAt(100, { fastConvergence: false });
  run(plain, 0, 1000, 100);
  const w2 = plain.cwnd / MSS;
  plain.enterRecovery(2000, plain.cwnd, true);
  assert.ok(Math.abs(plain.wMax - w2) < 0.01);
});

test("RFC 9438 4.3: with a short RTT the Reno-friendly estimate W_est sets cwnd", () => {
  const cc = afterLossAt(10);
  const trace = run(cc, 0, 1000, 1);
  const t = (trace[trace.length - 1][0] - cc.epochStart) / 1000;
  assert.ok(cc.wCubic(t) < cc.wEst, "the cubic curve is below the Reno estimate");
  assert.ok(Math.abs(cc.cwnd / MSS - cc.wEst) < 1, `cwnd ${cc.cwnd / MSS} W_est ${cc.wEst}`);
  assert.ok(cc.cwnd / MSS > 50, "and it grows like Reno, not like the cubic curve");
});

test("RFC 9438 4.8: after a timeout, slow start to ssthresh, then K = 0 and W_max = cwnd", () => {
  const cc = afterLossAt(100);
  run(cc, 0, 1000, 100);
  cc.onRetransmitTimeout(2000, cc.cwnd);
  assert.equal(cc.cwnd, MSS);
  const ssthresh = cc.ssthresh;
  let now = 3000;
  while (cc.cwnd < ssthresh) {
    now += 10;
    cc.onAck(MSS, 100, now, cc.cwnd);
  }
  cc.onAck(MSS, 100, now + 10, cc.cwnd);
  assert.equal(cc.k, 0);
  assert.ok(Math.abs(cc.wMax - cc.cwndEpoch) < 1e-9);
});

test("property: growth per ACK is at most half a segment per segment acknowledged (1.5x per RTT)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 4, max: 300 }),
      fc.array(fc.record({ dt: fc.nat(2000), rtt: fc.integer({ min: 1, max: 500 }) }), { maxLength: 40 }),
      (segs, acks) => {
        const cc = afterLossAt(segs);
        let now = 0;
        for (const a of acks) {
          const before = cc.cwnd;
          now += a.dt;
          cc.onAck(MSS, a.rtt, now, before);
          assert.ok(cc.cwnd >= before);
          assert.ok(cc.cwnd - before <= MSS / 2 + 1 || cc.cwnd / MSS <= cc.wEst + 1);
        }
      },
    ),
  );
});

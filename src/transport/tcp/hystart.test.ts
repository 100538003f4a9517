import assert from "node:assert/strict";
import { test } from "node:test";
import { v4 } from "../../ip/addr.ts";
import { CSS_GROWTH_DIVISOR, CSS_ROUNDS, HyStart, N_RTT_SAMPLE } from "./hystart.ts";
import { bulkTransfer, pattern, TcpTestNet } from "./test-net.ts";

/** Feeds ACKs round by round: each `round` call is one round trip of `n` ACKs with RTT `rtt`. */
class Rounds {
  private ack = 0;
  constructor(readonly h: HyStart) {}
  round(rtt: number, n = 10): void {
    // The round's first ACK reaches the SND.NXT of the round before: a new round begins there.
    const nxt = this.ack + n * 1000 + 1000;
    for (let i = 0; i < n; i++) {
      this.ack += 1000;
      this.h.onAck(this.ack, nxt, rtt);
    }
  }
}

test("RFC 9406: an RTT rise above the threshold enters CSS; CSS_ROUNDS rounds later it is done", () => {
  const h = new HyStart();
  const r = new Rounds(h);
  r.round(20);
  r.round(20);
  r.round(22);
  assert.equal(h.inCss, false, "+2 ms: below the 4 ms minimum threshold (20 / 8 = 2.5, clamped)");
  r.round(27);
  assert.equal(h.inCss, true, "+5 ms over the last round's minimum");
  assert.equal(h.growthDivisor, CSS_GROWTH_DIVISOR);
  for (let i = 0; i < CSS_ROUNDS - 1; i++) r.round(27);
  assert.equal(h.done, false);
  r.round(27);
  assert.equal(h.done, true);
});

test("a lower RTT during CSS means the rise was spurious: back to slow start", () => {
  const h = new HyStart();
  const r = new Rounds(h);
  r.round(10);
  r.round(10);
  r.round(16);
  assert.equal(h.inCss, true);
  r.round(12);
  assert.equal(h.inCss, false);
  assert.equal(h.growthDivisor, 1);
});

test("fewer than N_RTT_SAMPLE samples in a round decide nothing", () => {
  const h = new HyStart();
  const r = new Rounds(h);
  r.round(10);
  r.round(10);
  r.round(50, N_RTT_SAMPLE - 1);
  assert.equal(h.inCss, false);
});

test("HyStart++ leaves slow start before the bottleneck queue overflows (fewer drops, fewer retransmissions)", () => {
  const drops: number[] = [];
  for (const hystart of [true, false]) {
    // 10 Mbit/s, 10 ms RTT, a 50-packet queue: slow start's doubling overflows it.
    const net = new TcpTestNet({ seed: 4, latency: 5, bandwidth: 1250, queueLimit: 50, record: false });
    const a = net.addHost("a", v4(0x0a000001), { hystart });
    const b = net.addHost("b", v4(0x0a000002), { hystart });
    const r = bulkTransfer(net, a, b, pattern(1 << 20, 2));
    assert.equal(r.total, 1 << 20);
    drops.push(net.drops.queue);
  }
  assert.ok(drops[0] < drops[1] / 4, `queue drops with HyStart++ ${drops[0]}, without ${drops[1]}`);
});

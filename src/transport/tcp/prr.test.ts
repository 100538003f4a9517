import assert from "node:assert/strict";
import { test } from "node:test";
import { Prr } from "./prr.ts";

const MSS = 1000;

test("RFC 6937: while the pipe is above ssthresh, send ssthresh / RecoverFS of what is delivered", () => {
  // RecoverFS 20 segments, ssthresh 10 (NewReno): one segment out per two delivered.
  const p = new Prr();
  p.start(20 * MSS);
  const ss = 10 * MSS;
  let pipe = 19 * MSS; // one segment lost
  const sent: number[] = [];
  for (let ack = 0; ack < 10; ack++) {
    pipe -= MSS; // the ACK delivered one segment
    const cwnd = p.onAck(MSS, pipe, ss, MSS, false, false);
    let n = 0;
    while (pipe + MSS <= cwnd) {
      pipe += MSS;
      p.sent(MSS);
      n++;
    }
    sent.push(n);
  }
  // The first ACK may always send (the fast retransmit, Linux's rule); then one segment for every
  // two delivered (in bytes: half a segment per ACK, so a segment every second ACK).
  assert.deepEqual(sent, [1, 0, 0, 1, 0, 1, 0, 1, 0, 1]);
  assert.equal(p.out, 5 * MSS);
  assert.equal(p.delivered, 10 * MSS);
});

test("PRR-SSRB below ssthresh: as slow start at most (one more segment per ACK); PRR-CRB when losses are new", () => {
  const p = new Prr();
  p.start(10 * MSS);
  // The pipe collapsed to 2 segments (many losses), ssthresh 7.
  assert.equal(p.onAck(MSS, 2 * MSS, 7 * MSS, MSS, true, false), 2 * MSS + 2 * MSS, "delivered 1 + 1");
  p.sent(2 * MSS);
  assert.equal(p.onAck(MSS, 3 * MSS, 7 * MSS, MSS, true, true), 3 * MSS + MSS, "new losses: just what was delivered");
  assert.equal(p.onAck(3 * MSS, 6 * MSS, 7 * MSS, MSS, true, false), 7 * MSS, "never beyond ssthresh");
});

test("nothing delivered yet: the first step still lets one segment go", () => {
  const p = new Prr();
  p.start(10 * MSS);
  assert.equal(p.onAck(0, 9 * MSS, 5 * MSS, MSS, false, true), 10 * MSS);
  p.sent(MSS);
  assert.equal(p.onAck(0, 10 * MSS, 5 * MSS, MSS, false, false), 10 * MSS, "then nothing without deliveries");
});

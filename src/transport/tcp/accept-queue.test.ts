import assert from "node:assert/strict";
import { test } from "node:test";
import { v4 } from "../../ip/addr.ts";
import { TcpTestNet } from "./test-net.ts";

const A = v4(0x0a000001);
const B = v4(0x0a000002);

test("listen backlog and SYN queue sized like Linux: 511 queued, a larger SYN queue, no cookies below it", () => {
  const net = new TcpTestNet({ record: false });
  const a = net.addHost("a", A);
  const b = net.addHost("b", B);
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80) as number;
  // 700 connections at once; the application does not accept yet.
  const ids: number[] = [];
  for (let i = 0; i < 700; i++) ids.push(a.tcp.connect(a.I, null, B, 80) as number);
  net.run(net.now + 200);
  assert.equal(b.tcp.pending(lid), 511, "the accept queue holds Node's default backlog");
  assert.equal(b.counters.get("tcp.syncookie.sent"), 0, "no cookies while the SYN queue has room");
  assert.ok(b.counters.get("tcp.accept-overflow") + b.counters.get("tcp.syn-drop.backlog") > 0);
  // The application accepts everything it is given; the rest arrive with the peers' retransmissions.
  let accepted = 0;
  for (let t = 0; t < 30 && accepted < 700; t++) {
    while (b.tcp.accept(lid) !== null) accepted++;
    net.run(net.now + 1000);
  }
  while (b.tcp.accept(lid) !== null) accepted++;
  assert.equal(accepted, 700);
  assert.equal(ids.filter((id) => a.tcp.state(id) === "ESTABLISHED").length, 700);
  assert.equal(b.counters.get("tcp.syncookie.sent"), 0);
});

test("TIME-WAIT is bounded: past maxTimeWait the oldest ends early, counted", () => {
  const net = new TcpTestNet({ record: false });
  const a = net.addHost("a", A, { maxTimeWait: 5 });
  const b = net.addHost("b", B);
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80) as number;
  const ports: number[] = [];
  for (let i = 0; i < 12; i++) {
    const cid = a.tcp.connect(a.I, null, B, 80) as number;
    net.run(net.now + 20);
    ports.push(a.tcp.address(cid)?.port as number);
    const sid = b.tcp.accept(lid) as number;
    a.tcp.close(cid); // the active closer: TIME-WAIT on a
    net.run(net.now + 20);
    b.tcp.close(sid);
    net.run(net.now + 20);
  }
  assert.equal(a.tcp.timeWaitCount, 5);
  assert.equal(a.counters.get("tcp.time-wait-overflow"), 7);
  assert.equal(a.tcp.connectionCount, 5, "only the newest five are held");
  assert.equal(b.tcp.connectionCount, 0);
  // After 2 MSL the rest go as usual.
  net.run(net.now + 61_000);
  assert.equal(a.tcp.timeWaitCount, 0);
  assert.equal(a.tcp.connectionCount, 0);
});

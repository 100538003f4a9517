import assert from "node:assert/strict";
import { test } from "node:test";
import { v4 } from "../../ip/addr.ts";
import { bulkTransfer, pattern, TcpTestNet } from "./test-net.ts";

const A = v4(0x0a000001);
const B = v4(0x0a000002);

function pair(opts: ConstructorParameters<typeof TcpTestNet>[0] = {}) {
  const net = new TcpTestNet(opts);
  const a = net.addHost("a", A);
  const b = net.addHost("b", B);
  return { net, a, b };
}

test("handshake, data both ways, FIN/close on a lossless channel", () => {
  const { net, a, b } = pair();
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80);
  assert.equal(typeof lid, "number");
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  assert.equal(typeof cid, "number");
  net.run(net.now + 100);
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
  assert.deepEqual(a.eventsOf("connected"), [{ type: "connected", socket: cid }]);
  const acc = b.eventsOf("accepted");
  assert.equal(acc.length, 1);
  const sid = b.tcp.accept(lid as number)!;
  assert.equal(sid, acc[0].conn);
  assert.equal(b.tcp.state(sid), "ESTABLISHED");
  assert.equal(b.tcp.remoteAddress(sid)?.port, a.tcp.address(cid)?.port);

  assert.equal(a.tcp.send(cid, new TextEncoder().encode("hello")), 5);
  assert.equal(b.tcp.send(sid, new TextEncoder().encode("world!")), 6);
  net.run(net.now + 100);
  assert.equal(new TextDecoder().decode(b.tcp.recv(sid)!), "hello");
  assert.equal(new TextDecoder().decode(a.tcp.recv(cid)!), "world!");

  assert.equal(a.tcp.close(cid), null);
  net.run(net.now + 100);
  assert.equal(b.tcp.state(sid), "CLOSE-WAIT");
  assert.equal(b.tcp.recv(sid), null, "EOF after the peer's FIN");
  assert.equal(a.tcp.state(cid), null, "closed by the user: released");
  b.tcp.close(sid);
  net.run(net.now + 100);
  assert.equal(b.tcp.state(sid), null);
  assert.ok(b.eventsOf("closed").some((e) => e.socket === sid));
  assert.ok(a.eventsOf("closed").some((e) => e.socket === cid));
  // The active closer holds TIME-WAIT for 2 MSL, then the tuple is free.
  assert.equal(a.tcp.connectionCount, 1);
  net.run(net.now + 61_000);
  assert.equal(a.tcp.connectionCount, 0);
  assert.equal(b.tcp.connectionCount, 0);
});

test("a closed port answers with RST: ECONNREFUSED", () => {
  const { net, a } = pair();
  const cid = a.tcp.connect(a.I, null, B, 81) as number;
  net.run(net.now + 1000);
  assert.deepEqual(a.eventsOf("error"), [{ type: "error", socket: cid, code: "ECONNREFUSED" }]);
  assert.deepEqual(a.eventsOf("closed"), [{ type: "closed", socket: cid }]);
  assert.equal(a.tcp.connectionCount, 0);
});

test("bulk transfer of 1 MB on a lossless channel", () => {
  const { net, a, b } = pair();
  const data = pattern(1 << 20, 7);
  const r = bulkTransfer(net, a, b, data);
  assert.ok(r.eof);
  assert.equal(r.received.length, data.length);
  assert.deepEqual(r.received, data);
});

for (const cc of ["newreno", "cubic"] as const) {
  for (const sack of [true, false]) {
    test(`4 MB under loss, reordering, duplication and corruption arrive intact (${cc}, sack ${sack})`, () => {
      const net = new TcpTestNet({
        seed: 42,
        latency: 5,
        loss: 0.02,
        reorder: 0.05,
        jitter: 8,
        duplicate: 0.01,
        corrupt: 0.01,
      });
      const a = net.addHost("a", A, { congestion: cc, sack });
      const b = net.addHost("b", B, { congestion: cc, sack });
      const data = pattern(4 << 20, 3);
      const r = bulkTransfer(net, a, b, data);
      assert.ok(r.eof, "the server saw the FIN");
      assert.equal(r.received.length, data.length);
      assert.ok(sameBytes(r.received, data), "every byte intact");
      assert.ok(a.counters.get("tcp.retransmit") > 0);
      assert.ok(b.counters.get("tcp.rx.bad-checksum") + a.counters.get("tcp.rx.bad-checksum") > 0);
    });
  }
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

test("info(): initial sequence numbers, SND.MAX, retries and retransmissions of the connection", () => {
  const { net, a, b } = pair();
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80) as number;
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  net.run(net.now + 100);
  const sid = b.tcp.accept(lid) as number;
  let ia = a.tcp.info(cid)!;
  const ib = b.tcp.info(sid)!;
  // Each side's IRS is the other's ISS; SYN and SYN-ACK consumed one sequence number each.
  assert.equal(ia.irs, ib.iss);
  assert.equal(ib.irs, ia.iss);
  assert.equal(ia.sndNxt, (ia.iss + 1) >>> 0);
  assert.equal(ia.sndMax, ia.sndNxt);
  assert.equal(ia.rcvNxt, (ia.irs + 1) >>> 0);
  assert.equal(ia.retransmits, 0);
  assert.equal(ia.retries, 0);
  const heardAt = ia.lastRecvAt;
  assert.ok(heardAt > 0 && heardAt <= net.now);
  // The peer goes silent: 100 bytes are retransmitted by timeouts, which count as retries.
  b.down = true;
  assert.equal(a.tcp.send(cid, new Uint8Array(100)), 100);
  net.run(net.now + 5000);
  ia = a.tcp.info(cid)!;
  assert.ok(ia.retransmits >= 2, `retransmits ${ia.retransmits}`);
  assert.equal(ia.retries, ia.retransmits);
  assert.equal(ia.sndMax, (ia.iss + 101) >>> 0);
  assert.equal(ia.lastRecvAt, heardAt);
  // It comes back: the retransmission is acknowledged, retries reset, the count stays.
  b.down = false;
  net.run(net.now + 20000);
  const after = a.tcp.info(cid)!;
  assert.equal(after.sndUna, after.sndMax);
  assert.equal(after.retries, 0);
  assert.ok(after.retransmits >= ia.retransmits);
  assert.ok(after.lastRecvAt > heardAt);
});

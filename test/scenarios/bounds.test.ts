// Every queue and cache of the IP layer is bounded, the bound configurable, and overflowing it
// counted (issue 3, "Bad input"); plus loopback delivery and UDP through the stack.
import assert from "node:assert/strict";
import { type Ipv4Addr, parseV4 } from "../../src/ip/addr.ts";
import { Ipv4 } from "../../src/ip/version.ts";
import { Buf } from "../../src/packet/buf.ts";
import type { Stack, StackOptions } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { Icmpv4View } from "../../src/wire/icmpv4.ts";
import { Ipv4Builder, Ipv4View } from "../../src/wire/ipv4.ts";
import { addHost, hex, mode, pattern, ping, settle, testBothModes } from "./helpers.ts";

function pair(options: StackOptions = {}, seed = 3) {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: ["02:00:00:00:00:0a"], addrs: [["10.0.0.1/24", "2001:db8::a/64"]], options });
  const b = addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
  net.link(["a", 1], ["b", 1], { latency: 1 });
  settle(net);
  const tx: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "tx") tx.push(r);
  });
  return { net, a, b, tx };
}

/** An Ethernet frame from b to a carrying an IPv4 fragment. */
function fragmentFrame(id: number, offset: number, more: boolean, data: Uint8Array): Uint8Array {
  const ip = new Ipv4Builder(parseV4("10.0.0.2")!, parseV4("10.0.0.1")!, 17);
  ip.id = id;
  ip.mf = more;
  ip.fragOffset = offset;
  const f = new Uint8Array(14 + 20 + data.length);
  f.set(hex("02000000000a 02000000000b 0800"), 0);
  f.set(data, 34);
  ip.serialize(f, 14, data.length);
  return f;
}

testBothModes("packets awaiting resolution: bounded per neighbour, the overflow counted", () => {
  const { net, a } = pair({ limits: { neighborPending: 4 } });
  for (let i = 0; i < 20; i++) assert.equal(ping(a.stack, "10.0.0.99", 1, i, pattern(8)), null);
  assert.equal(a.stack.counters.get("neighbor.pending-dropped"), 16);
  assert.deepEqual(
    a.stack.neighbors(1, 4).map((n) => [n.addr, n.state, n.pending]),
    [["10.0.0.99", "incomplete", 4]],
  );
  net.runUntilIdle(net.now + 60_000);
  // Resolution failed: the four queued packets are dropped with host unreachable (to ourselves).
  assert.equal(a.stack.counters.get("neighbor.pending-dropped"), 20);
  assert.deepEqual(
    a.errors.map((e) => [e.code, e.seq]),
    [16, 17, 18, 19].map((s) => ["EHOSTUNREACH", s]),
  );
  assert.equal(a.stack.neighbors(1, 4).length, 0);
});

testBothModes("the neighbour cache is bounded: the oldest entry is evicted", () => {
  const { a } = pair({ limits: { neighborEntries: 4 } });
  for (let i = 0; i < 10; i++) ping(a.stack, `10.0.0.${100 + i}`, 1, i, pattern(8));
  assert.equal(a.stack.counters.get("neighbor.evicted"), 6);
  assert.deepEqual(
    a.stack.neighbors(1, 4).map((n) => n.addr),
    ["10.0.0.106", "10.0.0.107", "10.0.0.108", "10.0.0.109"],
  );
});

testBothModes("reassembly: the datagram bound, the memory bound and the timeout", () => {
  const { net, a, tx } = pair({ limits: { reassemblyDatagrams: 2, reassemblyBytes: 5000 } });
  for (let id = 1; id <= 5; id++) net.inject(["a", 1], fragmentFrame(id, 0, true, pattern(16)));
  net.runUntilIdle(net.now + 10);
  assert.equal(a.stack.counters.get("ipv4.rx.fragment"), 5);
  assert.equal(a.stack.counters.get("ipv4.reassembly.too-many-datagrams"), 3);
  // A fragment that would take the buffered bytes past 5000 is dropped (the first one fits).
  net.inject(["a", 1], fragmentFrame(1, 16, true, pattern(2400)));
  net.inject(["a", 1], fragmentFrame(2, 16, true, pattern(2400)));
  net.runUntilIdle(net.now + 10);
  assert.equal(a.stack.counters.get("ipv4.reassembly.memory"), 1);
  // RFC 792 / RFC 1122 3.3.2: after the timeout, time exceeded (code 1) for each datagram whose
  // first fragment arrived.
  tx.length = 0;
  net.runUntilIdle(net.now + 61_000);
  assert.equal(a.stack.counters.get("ipv4.reassembly.timeout"), 2);
  const te = tx.filter((r) => r.host === "a" && r.bytes[23] === 1 && r.bytes[34] === 11);
  assert.equal(te.length, 2);
  for (const r of te) {
    const ip = Ipv4View.parse(r.bytes, 14, r.bytes.length - 14) as Ipv4View;
    const m = Icmpv4View.parse(r.bytes, ip.payloadOff, ip.payloadLen) as Icmpv4View;
    assert.deepEqual([m.type, m.code], [11, 1]);
  }
});

testBothModes("ICMP errors are rate limited by a token bucket", () => {
  const { net, a, b, tx } = pair({ limits: { icmpErrorBurst: 3, icmpErrorRate: 1 } });
  const s = b.stack.udp.open(Ipv4);
  assert.equal(typeof s, "number");
  const dst = parseV4("10.0.0.1") as Ipv4Addr;
  for (let i = 0; i < 10; i++) assert.equal(b.stack.udp.sendTo(s as number, pattern(10), dst, 9999), null);
  net.runUntilIdle(net.now + 100);
  const unreach = tx.filter((r) => r.host === "a" && r.bytes[23] === 1 && r.bytes[34] === 3 && r.bytes[35] === 3);
  assert.equal(unreach.length, 3, "port unreachable, three of them");
  assert.equal(a.stack.counters.get("icmpv4.tx.error-rate-limited"), 7);
});

testBothModes("the loopback queue is bounded; loopback pings are answered", () => {
  const { net, a } = pair({ limits: { loopbackQueue: 5 } });
  for (let i = 0; i < 8; i++) ping(a.stack, "127.0.0.1", 2, i, pattern(4));
  assert.equal(a.stack.counters.get("stack.loopback.queue-full"), 3);
  net.runUntilIdle(net.now + 100);
  assert.deepEqual(
    a.replies.map((r) => [r.from, r.seq]),
    [0, 1, 2, 3, 4].map((s) => ["127.0.0.1", s]),
  );
  a.replies.length = 0;
  ping(a.stack, "::1", 3, 1, pattern(4));
  ping(a.stack, "10.0.0.1", 3, 2, pattern(4));
  net.runUntilIdle(net.now + 100);
  assert.deepEqual(
    a.replies.map((r) => [r.from, r.seq]),
    [
      ["::1", 1],
      ["10.0.0.1", 2],
    ],
  );
});

testBothModes("UDP through the stack: datagrams delivered with their source; port unreachable for closed ports", () => {
  const { net, a, b } = pair();
  const rx = a.stack.udp.open(Ipv4) as number;
  assert.equal(a.stack.udp.bind(rx, Ipv4.unspecified, 5000), null);
  const tx = b.stack.udp.open(Ipv4) as number;
  assert.equal(b.stack.udp.bind(tx, Ipv4.unspecified, 6000), null);
  assert.equal(b.stack.udp.sendTo(tx, pattern(300), parseV4("10.0.0.1")!, 5000), null);
  net.runUntilIdle(net.now + 100);
  const d = a.stack.udp.recv(rx);
  assert.ok(d);
  assert.deepEqual(d.data, pattern(300));
  assert.equal(d.address, parseV4("10.0.0.2"));
  assert.equal(d.port, 6000);
  assert.equal(b.stack.udp.connect(tx, parseV4("10.0.0.1")!, 5001), null);
  assert.equal(b.stack.udp.send(tx, pattern(5)), null);
  net.runUntilIdle(net.now + 100);
  const ev = net.bindings("b").events.find((e) => e.type === "error");
  assert.deepEqual(ev, { type: "error", socket: tx, code: "ECONNREFUSED" });
});

testBothModes("a frame for a device that is down, unknown devices and VLAN tags are counted", () => {
  const { a } = pair();
  a.stack.receiveFrame(9, new Buf(new Uint8Array(60)));
  assert.equal(a.stack.counters.get("stack.rx.unknown-device"), 1);
  a.stack.setDeviceUp(1, false);
  a.stack.receiveFrame(1, new Buf(new Uint8Array(60)));
  assert.equal(a.stack.counters.get("stack.rx.device-down"), 1);
  a.stack.setDeviceUp(1, true);
  const tagged = hex("02000000000a 02000000000b 8100 0005 0800").slice();
  const f = new Uint8Array(64);
  f.set(tagged);
  a.stack.receiveFrame(1, new Buf(f));
  assert.equal(a.stack.counters.get("ethernet.rx.vlan-tagged"), 1);
});

// Two hosts on one Ethernet link: ARP (RFC 826) and ICMP echo (RFC 792) bytes on the wire, and
// ICMPv6 echo with neighbour discovery (RFC 4861, RFC 4443).
import assert from "node:assert/strict";
import { parseV4 } from "../../src/ip/addr.ts";
import { Buf } from "../../src/packet/buf.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { EthernetView } from "../../src/wire/ethernet.ts";
import { Icmpv4View } from "../../src/wire/icmpv4.ts";
import { Icmpv6View } from "../../src/wire/icmpv6.ts";
import { Ipv4View } from "../../src/wire/ipv4.ts";
import { Ipv6View } from "../../src/wire/ipv6.ts";
import { addHost, hex, mode, pattern, ping, settle, testBothModes, toHex } from "./helpers.ts";

const MAC_A = "02:00:00:00:00:0a";
const MAC_B = "02:00:00:00:00:0b";

function lan(seed = 1) {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: [MAC_A], addrs: [["10.0.0.1/24", "2001:db8::a/64"]] });
  const b = addHost(net, "b", { macs: [MAC_B], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
  net.link(["a", 1], ["b", 1], { latency: 1 });
  settle(net);
  const tx: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "tx") tx.push(r);
  });
  return { net, a, b, tx };
}

testBothModes("ping over Ethernet: ARP request and reply bytes, echo request and reply", () => {
  const { net, a, b, tx } = lan();
  const payload = pattern(56);
  assert.equal(ping(a.stack, "10.0.0.2", 0x1234, 1, payload), null);
  net.runUntilIdle(net.now + 10_000);

  // RFC 826: the request is broadcast, asks for 10.0.0.2, target hardware address zero; padded to 60.
  // biome-ignore format: packet bytes
  const arpRequest = hex(
    "ffffffffffff 02000000000a 0806" +
    "0001 0800 06 04 0001 02000000000a 0a000001 000000000000 0a000002" +
    "000000000000000000000000000000000000",
  );
  assert.equal(toHex(tx[0].bytes), toHex(arpRequest));
  assert.equal(tx[0].host, "a");
  // The reply is unicast with the fields swapped, built in the request's buffer.
  // biome-ignore format: packet bytes
  const arpReply = hex(
    "02000000000a 02000000000b 0806" +
    "0001 0800 06 04 0002 02000000000b 0a000002 02000000000a 0a000001" +
    "000000000000000000000000000000000000",
  );
  assert.equal(toHex(tx[1].bytes), toHex(arpReply));
  assert.equal(tx[1].host, "b");

  // The queued echo request leaves once the neighbour is resolved.
  const req = EthernetView.parse(tx[2].bytes, 0, tx[2].bytes.length) as EthernetView;
  assert.equal(tx[2].host, "a");
  assert.equal(req.etherType, 0x0800);
  const ip = Ipv4View.parse(tx[2].bytes, 14, tx[2].bytes.length - 14) as Ipv4View;
  assert.ok(ip instanceof Ipv4View);
  assert.equal(ip.src, parseV4("10.0.0.1"));
  assert.equal(ip.dst, parseV4("10.0.0.2"));
  assert.equal(ip.ttl, 64);
  const icmp = Icmpv4View.parse(tx[2].bytes, ip.payloadOff, ip.payloadLen) as Icmpv4View;
  assert.equal(icmp.type, 8);
  assert.deepEqual(icmp.data(), payload);

  // The reply: from b to a, type 0, the same id, sequence and data; checksums verified by parse.
  assert.equal(tx[3].host, "b");
  assert.equal(toHex(tx[3].bytes.subarray(0, 12)), "02000000000a02000000000b");
  const rip = Ipv4View.parse(tx[3].bytes, 14, tx[3].bytes.length - 14) as Ipv4View;
  assert.ok(rip instanceof Ipv4View);
  assert.equal(rip.src, parseV4("10.0.0.2"));
  assert.equal(rip.dst, parseV4("10.0.0.1"));
  const rep = Icmpv4View.parse(tx[3].bytes, rip.payloadOff, rip.payloadLen) as Icmpv4View;
  assert.ok(rep instanceof Icmpv4View);
  assert.equal(rep.type, 0);
  assert.equal(rep.id, 0x1234);
  assert.equal(rep.seq, 1);
  assert.deepEqual(rep.data(), payload);

  assert.equal(a.replies.length, 1);
  assert.deepEqual(a.replies[0], { from: "10.0.0.2", id: 0x1234, seq: 1, payload });
  assert.deepEqual(
    a.stack.neighbors(1, 4).map((n) => [n.addr, n.mac]),
    [["10.0.0.2", MAC_B]],
  );
  // b learned a from the request (RFC 826: the target adds the sender).
  assert.deepEqual(
    b.stack.neighbors(1, 4).map((n) => [n.addr, n.mac]),
    [["10.0.0.1", MAC_A]],
  );
  assert.equal(a.stack.counters.get("stack.internal-error"), 0);
  assert.equal(b.stack.counters.get("icmpv4.tx.echo-reply"), 1);
});

testBothModes("ICMPv6 echo with neighbour solicitation and advertisement", () => {
  const { net, a, b, tx } = lan(2);
  const payload = pattern(32);
  assert.equal(ping(a.stack, "2001:db8::b", 7, 9, payload), null);
  net.runUntilIdle(net.now + 10_000);
  const v6 = tx.filter((r) => r.bytes[12] === 0x86 && r.bytes[13] === 0xdd);
  const parsed = v6.map((r) => {
    const ip = Ipv6View.parse(r.bytes, 14, r.bytes.length - 14) as Ipv6View;
    assert.ok(ip instanceof Ipv6View);
    const m = Icmpv6View.parse(r.bytes, ip.upperOff, ip.upperLen, ip.src, ip.dst) as Icmpv6View;
    assert.ok(m instanceof Icmpv6View, "checksum verifies");
    return { r, ip, m };
  });
  const ns = parsed.find((p) => p.m.type === 135 && p.r.host === "a");
  assert.ok(ns, "a solicits b");
  // RFC 4861 7.2.2: to the solicited-node address ff02::1:ff00:b, on 33:33:ff:00:00:0b, hop limit 255.
  assert.equal(toHex(ns.r.bytes.subarray(0, 6)), "3333ff00000b");
  assert.equal(toHex(ns.ip.dst), "ff0200000000000000000001ff00000b");
  assert.equal(ns.ip.hopLimit, 255);
  const na = parsed.find((p) => p.m.type === 136 && p.r.host === "b");
  assert.ok(na, "b advertises");
  assert.equal(na.ip.hopLimit, 255);
  // Solicited and override flags set (RFC 4861 7.2.4).
  assert.equal(na.m.bytes[na.m.off + 4], 0x60);
  const reply = parsed.find((p) => p.m.type === 129);
  assert.ok(reply);
  assert.equal(reply.m.id, 7);
  assert.equal(reply.m.seq, 9);
  assert.deepEqual(reply.m.data(), payload);
  assert.deepEqual(a.replies, [{ from: "2001:db8::b", id: 7, seq: 9, payload }]);
  assert.equal(a.stack.counters.get("stack.internal-error"), 0);
  assert.equal(b.stack.counters.get("stack.internal-error"), 0);
});

testBothModes("an echo request is answered in the received buffer (same backing store)", () => {
  const { net, b } = lan(3);
  net.runUntilIdle(net.now + 10);
  const sent: Uint8Array[] = [];
  const bind = net.bindings("b");
  const orig = bind.sendFrame.bind(bind);
  bind.sendFrame = (device, frame) => {
    sent.push(frame.bytes);
    orig(device, frame);
  };
  // a's ARP entry in b: teach b a's MAC first with a request from a.
  // biome-ignore format: packet bytes
  const arp = hex(
    "ffffffffffff 02000000000a 0806 0001 0800 06 04 0001 02000000000a 0a000001 000000000000 0a000002" +
    "000000000000000000000000000000000000",
  );
  b.stack.receiveFrame(1, new Buf(arp.slice()));
  sent.length = 0;
  // An echo request from a to b, captured on the wire and fed to b by hand.
  const frames: Uint8Array[] = [];
  net.tap((r) => {
    if (r.dir === "tx" && r.host === "a") frames.push(r.bytes);
  });
  ping(net.host("a"), "10.0.0.2", 1, 1, pattern(20));
  net.runUntilIdle(net.now + 5_000);
  const echo = frames.find((f) => f.length > 34 && f[23] === 1 && f[34] === 8);
  assert.ok(echo);
  const rx = new Buf(echo.slice());
  const store = rx.bytes;
  sent.length = 0;
  b.stack.receiveFrame(1, rx);
  assert.equal(sent.length, 1);
  assert.equal(sent[0], store, "the reply went out in the request's buffer");
});

// TCP segments through a whole Stack's send path, which serializes every locally generated packet
// into one reused buffer: a packet a queue keeps (waiting for ARP resolution, or on the loopback
// queue) must keep its own bytes while later packets are built.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SocketId } from "../../context.ts";
import { type Ipv4Addr, parseMac, v4 } from "../../ip/addr.ts";
import { Ipv4 } from "../../ip/version.ts";
import { Buf } from "../../packet/buf.ts";
import { EMPTY_BODY } from "../../packet/serialize.ts";
import { Stack } from "../../stack.ts";
import { FakeBindings } from "../../testing/fake-bindings.ts";
import { ArpBuilder, ArpOp } from "../../wire/arp.ts";
import { pseudoV4 } from "../../wire/checksum.ts";
import { EthernetBuilder, EthernetView, EtherType } from "../../wire/ethernet.ts";
import { IpProto } from "../../wire/ipproto.ts";
import { Ipv4View } from "../../wire/ipv4.ts";
import { TcpFlags, TcpView } from "../../wire/tcp.ts";

const MAC_A = parseMac("02:00:00:00:00:01")!;
const MAC_B = parseMac("02:00:00:00:00:02")!;
const A = v4(0x0a000001);
const B = v4(0x0a000002);

function host(): { s: Stack; fb: FakeBindings; dev: number } {
  const fb = new FakeBindings({ seed: 3 });
  const s = new Stack(fb);
  const dev = s.addEthernetDevice({ mac: MAC_A, ipv6LinkLocal: false });
  assert.equal(s.addAddress(dev, "10.0.0.1/24"), null);
  fb.takeFrames();
  return { s, fb, dev };
}

/** The TCP segment in an Ethernet frame, checksums verified; null for other frames. */
function tcpOf(frame: Uint8Array): { ip: Ipv4View; tcp: TcpView } | null {
  const eth = new EthernetView();
  if (eth.parseFrom(frame, 0, frame.length) !== null || eth.etherType !== EtherType.Ipv4) return null;
  const ip = new Ipv4View();
  assert.equal(ip.parseFrom(frame, eth.payloadOff, eth.payloadLen), null);
  if (ip.proto !== IpProto.Tcp) return null;
  const tcp = new TcpView();
  assert.equal(
    tcp.parseFrom(frame, ip.payloadOff, ip.payloadLen, pseudoV4(ip.src, ip.dst, IpProto.Tcp, ip.payloadLen)),
    null,
  );
  return { ip, tcp };
}

function arpReply(from: Ipv4Addr, to: Ipv4Addr): Buf {
  const out = EMPTY_BODY.wrapIn(new ArpBuilder(ArpOp.Reply, MAC_B, from, MAC_A, to))
    .wrapIn(new EthernetBuilder(MAC_B, MAC_A, EtherType.Arp))
    .serialize();
  assert.ok(out instanceof Buf);
  return out;
}

test("SYNs queued behind ARP resolution keep their own bytes", () => {
  const { s, fb, dev } = host();
  const ids: SocketId[] = [];
  for (let i = 0; i < 3; i++) ids.push(s.tcp.connect(Ipv4, null, B, 80 + i) as SocketId);
  // Only the ARP request left; the three SYNs wait for the neighbour.
  const before = fb.takeFrames();
  assert.equal(before.length, 1);
  assert.equal(tcpOf(before[0].bytes), null);
  s.receiveFrame(dev, arpReply(B, A));
  const segs = fb.takeFrames().map((f) => tcpOf(f.bytes));
  assert.equal(segs.length, 3);
  for (let i = 0; i < 3; i++) {
    const x = segs[i];
    assert.ok(x !== null);
    assert.equal(x.tcp.flags, TcpFlags.SYN);
    assert.equal(x.tcp.dstPort, 80 + i);
    assert.equal(x.tcp.srcPort, s.tcp.address(ids[i])?.port);
    assert.equal(x.tcp.seq, s.tcp.info(ids[i])?.sndUna);
    assert.equal(x.ip.dst, B);
  }
});

test("segments on the loopback queue keep their own bytes; every connection completes", () => {
  const { s, fb } = host();
  const lid = s.tcp.listen(Ipv4, Ipv4.unspecified, 7000, 16);
  assert.equal(typeof lid, "number");
  const ids: SocketId[] = [];
  // Three SYNs to our own address, queued on the loopback device before it is drained.
  for (let i = 0; i < 3; i++) ids.push(s.tcp.connect(Ipv4, null, A, 7000) as SocketId);
  for (let t = 1; t <= 50; t++) fb.advanceTo(t, s);
  const connected = fb.events.filter((e) => e.type === "connected").map((e) => ("socket" in e ? e.socket : -1));
  assert.deepEqual(connected.sort(), [...ids].sort());
  assert.equal(s.tcp.pending(lid as number), 3);
  for (const id of ids) assert.equal(s.tcp.state(id), "ESTABLISHED");
});

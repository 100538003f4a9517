// The Stack's IPv4/Ethernet fast paths (send4Fast: cached route, source and ARP entry, headers
// written directly; rxFrame/rxIpv4: Ethernet view and martian checks skipped for a known pair).
// Every frame the fast path sends must equal, byte for byte, what the wire builders produce, and
// every change the cache depends on (routes, addresses, devices, neighbour state, MTU) must show
// on the wire at the next packet.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Ipv4Addr, type MacAddr, parseMac, v4 } from "./ip/addr.ts";
import type { IcmpErrorInfo, IpRxInfo } from "./ip/transport-api.ts";
import { Ipv4 } from "./ip/version.ts";
import { Buf } from "./packet/buf.ts";
import { BytesBody, EMPTY_BODY } from "./packet/serialize.ts";
import { Stack } from "./stack.ts";
import { FakeBindings } from "./testing/fake-bindings.ts";
import { ArpBuilder, ArpOp, ArpView } from "./wire/arp.ts";
import { EthernetBuilder, EthernetView, EtherType } from "./wire/ethernet.ts";
import { Ipv4Builder, Ipv4View } from "./wire/ipv4.ts";

const MAC_A = parseMac("02:00:00:00:00:01")!;
const MAC_B = parseMac("02:00:00:00:00:02")!;
const MAC_G = parseMac("02:00:00:00:00:03")!;
const A = v4(0x0a000001);
const B = v4(0x0a000002);
const G = v4(0x0a000003);
/** An experimental protocol number (RFC 3692) for a test transport. */
const PROTO = 253;

interface Host {
  s: Stack;
  fb: FakeBindings;
  dev: number;
  got: { src: number; dst: number; body: number[] }[];
}

function host(): Host {
  const fb = new FakeBindings({ seed: 5 });
  const s = new Stack(fb, { loopback: false });
  const dev = s.addEthernetDevice({ mac: MAC_A, ipv6LinkLocal: false });
  assert.equal(s.addAddress(dev, "10.0.0.1/24"), null);
  const got: Host["got"] = [];
  s.registerTransport(PROTO, {
    receive<X>(info: IpRxInfo<X>, buf: Buf): void {
      got.push({ src: info.src as number, dst: info.dst as number, body: [...buf.body()] });
    },
    receiveIcmpError<X>(_e: IcmpErrorInfo<X>): void {},
  });
  fb.takeFrames();
  return { s, fb, dev, got };
}

function arpReply(mac: MacAddr, from: Ipv4Addr): Buf {
  const out = EMPTY_BODY.wrapIn(new ArpBuilder(ArpOp.Reply, mac, from, MAC_A, A))
    .wrapIn(new EthernetBuilder(mac, MAC_A, EtherType.Arp))
    .serialize();
  assert.ok(out instanceof Buf);
  return out;
}

/** The frame the wire builders make for an IPv4 packet from A. */
function expected(dmac: MacAddr, dst: Ipv4Addr, id: number, payload: Uint8Array, df: boolean, ttl = 64): Uint8Array {
  const ip = new Ipv4Builder(A, dst, PROTO, ttl);
  ip.id = id;
  ip.df = df;
  const out = new BytesBody(payload)
    .wrapIn(ip)
    .wrapIn(new EthernetBuilder(MAC_A, dmac, EtherType.Ipv4))
    .serialize();
  assert.ok(out instanceof Buf);
  return out.toBytes();
}

/** A frame from `smac`/`src` to A carrying `payload` in protocol PROTO. */
function frameTo(smac: MacAddr, dmac: MacAddr, src: Ipv4Addr, dst: Ipv4Addr, payload: number[]): Buf {
  const out = new BytesBody(new Uint8Array(payload))
    .wrapIn(new Ipv4Builder(src, dst, PROTO))
    .wrapIn(new EthernetBuilder(smac, dmac, EtherType.Ipv4))
    .serialize();
  assert.ok(out instanceof Buf);
  return out;
}

function send(h: Host, dst: Ipv4Addr, payload: Uint8Array, df = false, ttl?: number) {
  return h.s.sendIp(Ipv4, { src: null, dst, proto: PROTO, dontFragment: df, ttl }, new BytesBody(payload));
}

/** Resolve B (first packet queued behind ARP, then sent on the reply). Returns that packet's id. */
function resolveB(h: Host): number {
  assert.equal(send(h, B, new Uint8Array([1])), null);
  const req = h.fb.takeFrames();
  assert.equal(req.length, 1);
  const eth = new EthernetView();
  assert.equal(eth.parseFrom(req[0].bytes, 0, req[0].bytes.length), null);
  assert.equal(eth.etherType, EtherType.Arp);
  h.s.receiveFrame(h.dev, arpReply(MAC_B, B));
  const f = h.fb.takeFrames();
  assert.equal(f.length, 1);
  const ip = new Ipv4View();
  assert.equal(ip.parseFrom(f[0].bytes, 14, f[0].bytes.length - 14), null);
  return ip.id;
}

function ipIdOf(frame: Uint8Array): number {
  return (frame[18] << 8) | frame[19];
}

test("fast-path frames equal the wire builders' bytes (padding, DF, TTL, every size)", () => {
  const h = host();
  let id = resolveB(h) + 1;
  const sizes = [0, 1, 5, 25, 26, 27, 100, 1000, 1479, 1480];
  for (const n of sizes) {
    const payload = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
    for (const df of [false, true]) {
      assert.equal(send(h, B, payload, df), null);
      const [f] = h.fb.takeFrames();
      assert.deepEqual(f.bytes, expected(MAC_B, B, id, payload, df), `size ${n} df ${df}`);
      id = (id + 1) & 0xffff;
    }
  }
  assert.equal(send(h, B, new Uint8Array(3), false, 7), null);
  assert.deepEqual(h.fb.takeFrames()[0].bytes, expected(MAC_B, B, id, new Uint8Array(3), false, 7));
});

test("fast-path frames match the builders for random payloads and options", () => {
  const h = host();
  let id = resolveB(h) + 1;
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 1480 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 255 }),
      (payload, df, ttl) => {
        assert.equal(send(h, B, payload, df, ttl), null);
        const [f] = h.fb.takeFrames();
        assert.deepEqual(f.bytes, expected(MAC_B, B, id, payload, df, ttl));
        id = (id + 1) & 0xffff;
      },
    ),
  );
});

test("a route added or removed takes effect at the next packet", () => {
  const h = host();
  resolveB(h);
  assert.equal(send(h, B, new Uint8Array(10)), null);
  assert.deepEqual(h.fb.takeFrames()[0].bytes.subarray(0, 6), MAC_B);
  // A host route through a gateway: the next packet needs the gateway's MAC (an ARP request).
  assert.equal(h.s.addRoute("10.0.0.2/32", { gateway: "10.0.0.3" }), null);
  assert.equal(send(h, B, new Uint8Array(10)), null);
  const q = h.fb.takeFrames();
  assert.equal(q.length, 1);
  const arp = new ArpView();
  assert.equal(arp.parseFrom(q[0].bytes, 14, q[0].bytes.length - 14), null);
  assert.equal(arp.targetIp, G);
  h.s.receiveFrame(h.dev, arpReply(MAC_G, G));
  const queued = h.fb.takeFrames();
  assert.equal(queued.length, 1);
  assert.deepEqual(queued[0].bytes.subarray(0, 6), MAC_G);
  assert.equal(send(h, B, new Uint8Array(10)), null);
  assert.deepEqual(h.fb.takeFrames()[0].bytes.subarray(0, 6), MAC_G);
  assert.equal(h.s.removeRoute("10.0.0.2/32"), 1);
  assert.equal(send(h, B, new Uint8Array(10)), null);
  assert.deepEqual(h.fb.takeFrames()[0].bytes.subarray(0, 6), MAC_B);
});

test("address and device changes take effect at the next packet", () => {
  const h = host();
  resolveB(h);
  assert.equal(h.s.addAddress(h.dev, "10.0.0.9/24"), null);
  assert.equal(h.s.removeAddress(h.dev, "10.0.0.1"), null);
  h.fb.takeFrames();
  assert.equal(send(h, B, new Uint8Array(4)), null);
  const [f] = h.fb.takeFrames();
  const ip = new Ipv4View();
  assert.equal(ip.parseFrom(f.bytes, 14, f.bytes.length - 14), null);
  assert.equal(ip.src, v4(0x0a000009));
  // Down: no route, nothing leaves (the neighbour cache goes with it); up again: ARP first.
  assert.equal(h.s.setDeviceUp(h.dev, false), null);
  assert.equal(send(h, B, new Uint8Array(4)), "ENETUNREACH");
  assert.equal(h.fb.takeFrames().length, 0);
  assert.equal(h.s.setDeviceUp(h.dev, true), null);
  h.fb.takeFrames();
  assert.equal(send(h, B, new Uint8Array(4)), null);
  const after = h.fb.takeFrames();
  assert.equal(after.length, 1);
  assert.equal((after[0].bytes[12] << 8) | after[0].bytes[13], EtherType.Arp);
  assert.equal(h.s.removeAddress(h.dev, "10.0.0.9"), null);
  assert.equal(send(h, B, new Uint8Array(4)), "ENETUNREACH");
});

test("a STALE neighbour goes to DELAY on use, and a failed probe forgets its MAC", () => {
  const h = host();
  resolveB(h);
  assert.equal(send(h, B, new Uint8Array(4)), null);
  h.fb.takeFrames();
  // RFC 4861 7.3.2: REACHABLE becomes STALE after ReachableTime (30 s here).
  h.fb.advance(31_000, h.s);
  assert.equal(h.s.neighbors(h.dev, 4)[0].state, "stale");
  assert.equal(send(h, B, new Uint8Array(4)), null);
  assert.deepEqual(h.fb.takeFrames()[0].bytes.subarray(0, 6), MAC_B);
  assert.equal(h.s.neighbors(h.dev, 4)[0].state, "delay");
  // DELAY -> PROBE (unicast ARP requests) -> deleted after three unanswered probes.
  h.fb.advance(20_000, h.s);
  assert.equal(h.s.neighbors(h.dev, 4).length, 0);
  h.fb.takeFrames();
  assert.equal(send(h, B, new Uint8Array(4)), null);
  const f = h.fb.takeFrames();
  assert.equal(f.length, 1);
  assert.equal((f[0].bytes[12] << 8) | f[0].bytes[13], EtherType.Arp);
});

test("packets over the device MTU still fragment; DF ones are refused", () => {
  const h = host();
  const id = resolveB(h) + 1;
  assert.equal(send(h, B, new Uint8Array(100)), null);
  h.fb.takeFrames();
  assert.equal(h.s.setMtu(h.dev, 576), null);
  assert.equal(send(h, B, new Uint8Array(1000), true), "EMSGSIZE");
  assert.equal(send(h, B, new Uint8Array(1000)), null);
  const frags = h.fb.takeFrames();
  assert.equal(frags.length, 2);
  assert.equal(h.s.counters.get("ipv4.tx.fragmented"), 1);
  for (const f of frags) assert.ok(f.bytes.length <= 576 + 14);
  assert.equal(ipIdOf(frags[0].bytes), id + 1);
  assert.equal(ipIdOf(frags[1].bytes), id + 1);
});

test("receive fast path: delivery, other hosts' frames, martians and removed addresses", () => {
  const h = host();
  h.s.receiveFrame(h.dev, frameTo(MAC_B, MAC_A, B, A, [1, 2, 3]));
  h.s.receiveFrame(h.dev, frameTo(MAC_B, MAC_A, B, A, [4, 5]));
  assert.deepEqual(h.got, [
    { src: B, dst: A, body: [1, 2, 3] },
    { src: B, dst: A, body: [4, 5] },
  ]);
  // Another host's unicast MAC: dropped before IP.
  h.s.receiveFrame(h.dev, frameTo(MAC_B, MAC_G, B, A, [6]));
  assert.equal(h.s.counters.get("ethernet.rx.other-host"), 1);
  // Our own address as the source (RFC 1812 5.3.7): a martian, even right after a good pair.
  h.s.receiveFrame(h.dev, frameTo(MAC_B, MAC_A, A, A, [7]));
  assert.equal(h.s.counters.get("ipv4.rx.martian"), 1);
  // A broadcast-MAC frame to our address is still delivered (the general path).
  h.s.receiveFrame(h.dev, frameTo(MAC_B, parseMac("ff:ff:ff:ff:ff:ff")!, B, A, [8]));
  assert.equal(h.got.length, 3);
  // A bad header checksum is caught on the fast path too.
  const bad = frameTo(MAC_B, MAC_A, B, A, [9]);
  bad.bytes[bad.start + 14 + 10] ^= 0xff;
  h.s.receiveFrame(h.dev, bad);
  assert.equal(h.got.length, 3);
  assert.equal(h.s.counters.get("ipv4.rx.bad-checksum"), 1);
  // The address goes away: the cached pair must not deliver to it any more.
  assert.equal(h.s.removeAddress(h.dev, "10.0.0.1"), null);
  h.s.receiveFrame(h.dev, frameTo(MAC_B, MAC_A, B, A, [10]));
  assert.equal(h.got.length, 3);
  assert.equal(h.s.counters.get("ipv4.rx.delivered"), 3);
});

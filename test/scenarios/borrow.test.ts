// Lent receive buffers (`Link.lendFrames`, `Buf.borrowed`): each scenario runs twice with the same
// seed, once with frames the stack may keep and once with frames only lent to it (FakeNetwork's
// `lendFrames`: borrowed Bufs over one reused slab, every byte overwritten with 0xEE as soon as
// `receiveFrame` returns). What is delivered and every frame on the wire must be the same both
// times: the core copies (`own`) whatever it keeps past an entry point (reassembly, socket queues,
// packets waiting for ARP / NDP, the loopback queue, ICMP quotes, TCP out-of-order data, MLD sources).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { DeviceId, EntryPoints, IpAddr } from "../../src/context.ts";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, parseMac } from "../../src/ip/addr.ts";
import { type IpVersion, Ipv4, Ipv6 } from "../../src/ip/version.ts";
import { Buf } from "../../src/packet/buf.ts";
import { BytesBody, type PacketBuilder, TooBig } from "../../src/packet/serialize.ts";
import type { Stack } from "../../src/stack.ts";
import type { FakeBindings } from "../../src/testing/fake-bindings.ts";
import { FakeNetwork, type LinkOptions, POISON } from "../../src/testing/fake-network.ts";
import { ArpBuilder, ArpOp, ArpView } from "../../src/wire/arp.ts";
import { decodeRecord } from "../../src/wire/decode.ts";
import { EthernetBuilder, EthernetView } from "../../src/wire/ethernet.ts";
import { Icmpv4EchoBuilder, Icmpv4Type, Icmpv4View } from "../../src/wire/icmpv4.ts";
import { Icmpv6EchoBuilder, Icmpv6Type, Icmpv6View } from "../../src/wire/icmpv6.ts";
import { IgmpBuilder, IgmpType, ROUTER_ALERT_V4 } from "../../src/wire/igmp.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4Builder, Ipv4View } from "../../src/wire/ipv4.ts";
import { Ipv6Builder, Ipv6View } from "../../src/wire/ipv6.ts";
import { Mldv2QueryBuilder } from "../../src/wire/mld.ts";
import {
  LinkAddrOption,
  NdpOptionType,
  NeighborAdvertisementBuilder,
  NeighborSolicitationView,
} from "../../src/wire/ndp.ts";
import { addHost, pattern, routerTopology, settle, toHex } from "./helpers.ts";

const mac = (s: string) => parseMac(s) as MacAddr;
const v4 = (s: string) => Ipv4.parse(s) as Ipv4Addr;
const v6 = (s: string) => Ipv6.parse(s) as Ipv6Addr;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 16);

/** A frame sent on some link, as the taps saw it. */
interface Wire {
  time: number;
  host: string;
  bytes: Uint8Array;
}

/** One run of a scenario: its network, every frame sent, the stacks (for counters) and what it found. */
interface Run<R> {
  net: FakeNetwork<Stack>;
  wire: Wire[];
  stacks: Stack[];
  result: R;
}

function network(seed: number, lend: boolean): { net: FakeNetwork<Stack>; wire: Wire[] } {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: lend });
  const wire: Wire[] = [];
  net.tap((r) => {
    if (r.dir === "tx") wire.push({ time: r.time, host: r.host, bytes: r.bytes });
  });
  return { net, wire };
}

/** A run of POISON bytes that no frame of these scenarios carries legitimately. */
function poisoned(b: Uint8Array): boolean {
  let run = 0;
  for (let i = 0; i < b.length; i++) {
    run = b[i] === POISON ? run + 1 : 0;
    if (run >= 6) return true;
  }
  return false;
}

/** Run `scenario` with owned and with lent frames; both must agree on everything. */
function bothModes<R>(scenario: (lend: boolean) => Run<R>): R {
  const owned = scenario(false);
  const lent = scenario(true);
  assert.equal(owned.net.lent, 0);
  assert.ok(lent.net.lent > 0, "frames were lent");
  for (const s of [...owned.stacks, ...lent.stacks]) assert.equal(s.counters.get("stack.internal-error"), 0);
  assert.deepEqual(lent.result, owned.result, "the same data delivered");
  assert.equal(lent.wire.length, owned.wire.length, "the same number of frames on the wire");
  for (let i = 0; i < owned.wire.length; i++) {
    const o = owned.wire[i];
    const l = lent.wire[i];
    const where = `frame ${i} (t=${o.time}, ${o.host})`;
    assert.equal(`${l.time} ${l.host}`, `${o.time} ${o.host}`, where);
    assert.equal(toHex(l.bytes), toHex(o.bytes), `${where}: the same bytes`);
    assert.ok(!poisoned(l.bytes), `${where}: no lent memory leaked onto the wire`);
    const d = decodeRecord(l.bytes);
    assert.ok(d.ok, `${where} is well-formed: ${d.error}`);
  }
  return lent.result;
}

function frameOf(src: MacAddr, dst: MacAddr, type: number, ...layers: PacketBuilder[]): Uint8Array {
  let s = new BytesBody(new Uint8Array(0)).wrapIn(layers[0]);
  for (const l of layers.slice(1)) s = s.wrapIn(l);
  const f = s.wrapIn(new EthernetBuilder(src, dst, type)).serialize({});
  if (f instanceof TooBig) throw new Error("too big");
  return f.toBytes();
}

function echoRequest4(src: MacAddr, dst: MacAddr, from: Ipv4Addr, to: Ipv4Addr, id: number, seq: number) {
  const f = new BytesBody(pattern(40 + seq))
    .wrapIn(new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, id, seq))
    .wrapIn(new Ipv4Builder(from, to, IpProto.Icmp))
    .wrapIn(new EthernetBuilder(src, dst, 0x0800))
    .serialize({});
  if (f instanceof TooBig) throw new Error("too big");
  return f.toBytes();
}

function echoRequest6(src: MacAddr, dst: MacAddr, from: Ipv6Addr, to: Ipv6Addr, id: number, seq: number) {
  const f = new BytesBody(pattern(40 + seq))
    .wrapIn(new Icmpv6EchoBuilder(from, to, Icmpv6Type.EchoRequest, id, seq))
    .wrapIn(new Ipv6Builder(from, to, IpProto.Icmpv6, { hopLimit: 64 }))
    .wrapIn(new EthernetBuilder(src, dst, 0x86dd))
    .serialize({});
  if (f instanceof TooBig) throw new Error("too big");
  return f.toBytes();
}

/**
 * A host that is no stack: it records what it receives and answers ARP requests and neighbour
 * solicitations for its addresses, ignoring the first `ignore` of each (so a resolution can fail).
 */
class Ghost implements EntryPoints {
  readonly received: Uint8Array[] = [];
  /** ARP requests and neighbour solicitations seen for our addresses. */
  arps = 0;
  solicits = 0;
  constructor(
    readonly bindings: FakeBindings,
    readonly mac: MacAddr,
    readonly ip4: Ipv4Addr,
    readonly ip6: Ipv6Addr,
    readonly ignore: number,
  ) {}

  receiveFrame(device: DeviceId, frame: Buf): void {
    const b = frame.toBytes();
    this.received.push(b);
    const eth = EthernetView.parse(b, 0, b.length);
    if (!(eth instanceof EthernetView)) return;
    if (eth.etherType === 0x0806) {
      const a = ArpView.parse(b, eth.payloadOff, eth.payloadLen);
      if (!(a instanceof ArpView) || a.op !== ArpOp.Request || a.targetIp !== this.ip4) return;
      if (this.arps++ < this.ignore) return;
      const peer = a.senderMac.slice() as MacAddr;
      const reply = new ArpBuilder(ArpOp.Reply, this.mac, this.ip4, peer, a.senderIp);
      this.send(device, frameOf(this.mac, peer, 0x0806, reply));
      return;
    }
    if (eth.etherType !== 0x86dd) return;
    const ip = Ipv6View.parse(b, eth.payloadOff, eth.payloadLen);
    if (!(ip instanceof Ipv6View) || ip.proto !== IpProto.Icmpv6 || b[ip.upperOff] !== 135) return;
    const ns = NeighborSolicitationView.parse(b, ip.upperOff, ip.upperLen);
    if (!(ns instanceof NeighborSolicitationView) || toHex(ns.target) !== toHex(this.ip6)) return;
    if (this.solicits++ < this.ignore) return;
    const to = ip.src.slice() as Ipv6Addr;
    const na = new NeighborAdvertisementBuilder(this.ip6, to, this.ip6, { solicited: true, override: true }, [
      new LinkAddrOption(NdpOptionType.TargetLinkAddr, this.mac),
    ]);
    const ipb = new Ipv6Builder(this.ip6, to, IpProto.Icmpv6, { hopLimit: 255 });
    this.send(device, frameOf(this.mac, eth.src.slice() as MacAddr, 0x86dd, na, ipb));
  }

  handleTimers(): void {}

  private send(device: DeviceId, bytes: Uint8Array): void {
    this.bindings.sendFrame(device, new Buf(bytes));
  }
}

// ---- UDP: datagrams queued and read later; fragmented datagrams reassembled; port unreachable ----

test("lent frames: UDP datagrams (v4, v6, fragmented) queued and read later are intact", () => {
  const sizes = [1, 100, 1472, 3000, 9000];
  bothModes((lend) => {
    const { net, wire } = network(21, lend);
    const a = addHost(net, "a", { macs: ["02:00:00:00:00:0a"], addrs: [["10.0.0.1/24", "2001:db8::a/64"]] });
    const b = addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
    // Jitter reorders fragments: a datagram is reassembled across several entry points.
    net.link(["a", 1], ["b", 1], { latency: 1, jitter: 3 });
    settle(net);
    const result: string[] = [];
    for (const [I, dst] of [
      [Ipv4, "10.0.0.2"],
      [Ipv6, "2001:db8::b"],
    ] as [IpVersion<IpAddr>, string][]) {
      const rx = b.stack.udp.open(I) as number;
      assert.equal(b.stack.udp.bind(rx, I.unspecified, 7000), null);
      const tx = a.stack.udp.open(I) as number;
      const to = I.parse(dst)!;
      for (const n of sizes) assert.equal(a.stack.udp.sendTo(tx, pattern(n), to, 7000), null);
      // And one to a closed port: ICMP port unreachable quoting the datagram.
      assert.equal(a.stack.udp.sendTo(tx, pattern(64), to, 7001), null);
      net.runUntilIdle(net.now + 5000);
      for (let d = b.stack.udp.recv(rx); d !== null; d = b.stack.udp.recv(rx)) {
        assert.equal(toHex(d.data), toHex(pattern(d.data.length)), "payload intact");
        result.push(`${I.format(d.address)} ${d.port} ${d.data.length} ${sha(d.data)}`);
      }
    }
    assert.equal(result.length, 2 * sizes.length, "every datagram arrived");
    const reassembled =
      b.stack.counters.get("ipv4.reassembly.complete") + b.stack.counters.get("ipv6.reassembly.complete");
    assert.ok(reassembled >= 4, "fragmented datagrams were reassembled");
    assert.equal(b.stack.counters.get("icmpv4.tx.error") + b.stack.counters.get("icmpv6.tx.error"), 2);
    return { net, wire, stacks: [a.stack, b.stack], result };
  });
});

// ---- echo replies written into the request and queued behind ARP / NDP ----

test("lent frames: echo replies queued behind ARP and NDP resolution, and the ICMP error when it fails", () => {
  const MAC_B = mac("02:00:00:00:00:0b");
  bothModes((lend) => {
    const { net, wire } = network(22, lend);
    const b = addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
    const g1 = net.addHost(
      "g1",
      (bd) => new Ghost(bd, mac("02:00:00:00:00:71"), v4("10.0.0.7"), v6("2001:db8::7"), 0) as unknown as Stack,
    ) as unknown as Ghost;
    // g2 never answers: the replies to it wait, then resolution fails and each is answered with
    // host / address unreachable (RFC 4861 7.2.2), quoting the queued reply, to its source: b itself.
    const g2 = net.addHost(
      "g2",
      (bd) => new Ghost(bd, mac("02:00:00:00:00:72"), v4("10.0.0.8"), v6("2001:db8::8"), 99) as unknown as Stack,
    ) as unknown as Ghost;
    net.segment({ learning: false, latency: 1 }, ["b", 1], ["g1", 1], ["g2", 1]);
    settle(net);
    g1.received.length = 0;
    for (let seq = 1; seq <= 3; seq++) {
      net.inject(["b", 1], echoRequest4(g1.mac, MAC_B, g1.ip4, v4("10.0.0.2"), 0x71, seq), seq);
      net.inject(["b", 1], echoRequest6(g1.mac, MAC_B, g1.ip6, v6("2001:db8::b"), 0x71, seq), seq);
    }
    net.inject(["b", 1], echoRequest4(g2.mac, MAC_B, g2.ip4, v4("10.0.0.2"), 0x72, 1), 1);
    net.inject(["b", 1], echoRequest6(g2.mac, MAC_B, g2.ip6, v6("2001:db8::b"), 0x72, 2), 1);
    net.runUntilIdle(net.now + 60_000);
    const c = b.stack.counters;
    assert.equal(c.get("neighbor.queued"), 8, "every reply waited for resolution");
    assert.equal(c.get("neighbor.resolution-failed"), 2);
    assert.equal(c.get("icmpv4.tx.error"), 1);
    assert.equal(c.get("icmpv6.tx.error"), 1);
    assert.equal(c.get("icmpv4.rx.error") + c.get("icmpv6.rx.error"), 2, "both errors came back through loopback");
    const result: string[] = [];
    for (const f of g1.received) {
      const eth = EthernetView.parse(f, 0, f.length) as EthernetView;
      // A hub: everyone sees everything; count what was sent to g1.
      if (toHex(eth.dst) !== toHex(g1.mac)) continue;
      if (eth.etherType === 0x0800) {
        const ip = Ipv4View.parse(f, eth.payloadOff, eth.payloadLen);
        assert.ok(ip instanceof Ipv4View, "a valid IPv4 header");
        const m = Icmpv4View.parse(f, ip.payloadOff, ip.payloadLen);
        assert.ok(m instanceof Icmpv4View, "a valid ICMPv4 checksum");
        if (m.type !== Icmpv4Type.EchoReply) continue;
        assert.equal(toHex(m.data()), toHex(pattern(40 + m.seq)), "the echoed data");
        result.push(`reply4 ${m.id} ${m.seq}`);
      } else if (eth.etherType === 0x86dd) {
        const ip = Ipv6View.parse(f, eth.payloadOff, eth.payloadLen);
        assert.ok(ip instanceof Ipv6View, "a valid IPv6 header");
        if (ip.proto !== IpProto.Icmpv6) continue;
        const m = Icmpv6View.parse(f, ip.upperOff, ip.upperLen, ip.src, ip.dst);
        assert.ok(m instanceof Icmpv6View, "a valid ICMPv6 checksum");
        if (m.type !== Icmpv6Type.EchoReply) continue;
        assert.equal(toHex(m.data()), toHex(pattern(40 + m.seq)), "the echoed data");
        result.push(`reply6 ${m.id} ${m.seq}`);
      }
    }
    assert.equal(result.length, 6, `g1 got its six replies: ${result}`);
    return { net, wire, stacks: [b.stack], result };
  });
});

// ---- forwarding through a router whose next hop is not resolved yet ----

function routed(seed: number, lend: boolean, link: LinkOptions = {}) {
  const { net, wire } = network(seed, lend);
  return { net, wire, ...routerTopology(net, link) };
}

function sendEcho(stack: Stack, dst: string, id: number, seq: number, ttl?: number) {
  const data = pattern(100 + seq);
  const to = Ipv4.parse(dst);
  if (to !== null) {
    const body = new BytesBody(data).wrapIn(new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, id, seq));
    return stack.ip.send(Ipv4, { src: null, dst: to, proto: IpProto.Icmp, ttl }, body);
  }
  const t6 = v6(dst);
  const src = stack.ip.selectSource(Ipv6, t6)!;
  const body = new BytesBody(data).wrapIn(new Icmpv6EchoBuilder(src, t6, Icmpv6Type.EchoRequest, id, seq));
  return stack.ip.send(Ipv6, { src, dst: t6, proto: IpProto.Icmpv6, ttl }, body);
}

test("lent frames: packets forwarded to an unresolved next hop, ICMP errors quoting them", () => {
  bothModes((lend) => {
    const { net, wire, a, r, b } = routed(23, lend);
    for (let seq = 1; seq <= 3; seq++) {
      assert.equal(sendEcho(a.stack, "10.0.2.2", 7, seq), null);
      assert.equal(sendEcho(a.stack, "2001:db8:2::2", 7, seq), null);
      // Nobody there: the router's resolution fails, host / address unreachable quotes the packet.
      assert.equal(sendEcho(a.stack, "10.0.2.99", 8, seq), null);
      assert.equal(sendEcho(a.stack, "2001:db8:2::99", 8, seq), null);
      net.runUntilIdle(net.now + 200);
    }
    // TTL 1: time exceeded from the router (a quote of the received packet).
    assert.equal(sendEcho(a.stack, "10.0.2.2", 9, 1, 1), null);
    assert.equal(sendEcho(a.stack, "2001:db8:2::2", 9, 1, 1), null);
    net.runUntilIdle(net.now + 60_000);
    assert.ok(r.stack.counters.get("neighbor.queued") >= 4, "forwarded packets waited for resolution");
    const result = {
      replies: a.replies.map((x) => {
        assert.equal(toHex(x.payload), toHex(pattern(100 + x.seq)), "the echoed data");
        return `${x.from} ${x.id} ${x.seq}`;
      }),
      errors: a.errors.map((e) => `${e.I.format(e.src)} > ${e.I.format(e.dst)} ${e.code} ${e.srcPort} ${e.seq}`),
    };
    assert.equal(result.replies.length, 6);
    assert.ok(result.errors.length >= 4, JSON.stringify(result.errors));
    return { net, wire, stacks: [a.stack, r.stack, b.stack], result };
  });
});

// ---- TCP with loss and reordering (out-of-order data kept across entry points) ----

function tcpTransfer<A>(I: IpVersion<A>, server: string, seed: number, lend: boolean) {
  const { net, wire, a, r, b } = routed(seed, lend, { loss: 0.03, reorder: 0.2, reorderDelay: 8, jitter: 1 });
  const size = 120_000;
  const lst = b.stack.tcp.listen(I, I.unspecified, 5000) as number;
  const c = a.stack.tcp.connect(I, null, I.parse(server)!, 5000) as number;
  const data = pattern(size);
  let sent = 0;
  let srv: number | null = null;
  const got: Uint8Array[] = [];
  let gotLen = 0;
  let eof = false;
  let fin = false;
  const done = net.runUntil(() => {
    if (sent < size) {
      const n = a.stack.tcp.send(c, data, sent, size - sent);
      if (typeof n === "number") sent += n;
    }
    if (srv === null) srv = b.stack.tcp.accept(lst);
    // Half-close once everything is buffered and the connection is up (a CLOSE in SYN-SENT would
    // delete the connection, RFC 9293 3.10.4).
    if (sent === size && srv !== null && !fin) {
      a.stack.tcp.shutdown(c);
      fin = true;
    }
    if (srv !== null && !eof) {
      for (;;) {
        const chunk = b.stack.tcp.recv(srv);
        if (chunk === null) {
          eof = true;
          break;
        }
        if (chunk.length === 0) break;
        got.push(chunk);
        gotLen += chunk.length;
      }
    }
    return eof;
  }, net.now + 600_000);
  assert.ok(done, `transfer finished (received ${gotLen})`);
  const all = new Uint8Array(gotLen);
  let o = 0;
  for (const g of got) {
    all.set(g, o);
    o += g.length;
  }
  assert.equal(toHex(all.subarray(0, 64)), toHex(data.subarray(0, 64)));
  assert.equal(sha(all), sha(data), "every byte intact");
  assert.ok(b.stack.counters.get("tcp.ooo-segment") > 0, "out-of-order data was held");
  return { net, wire, stacks: [a.stack, r.stack, b.stack], result: { len: gotLen, sha: sha(all) } };
}

test("lent frames: TCP over IPv4 with loss and reordering", () => {
  bothModes((lend) => tcpTransfer(Ipv4, "10.0.2.2", 24, lend));
});

test("lent frames: TCP over IPv6 with loss and reordering", () => {
  bothModes((lend) => tcpTransfer(Ipv6, "2001:db8:2::2", 25, lend));
});

// ---- IGMP and MLD queries: the answer is sent later (sources kept from the query) ----

test("lent frames: IGMP and MLDv2 queries are answered after their random delay with the queried sources", () => {
  const MAC_Q = mac("02:00:00:00:00:51");
  bothModes((lend) => {
    const { net, wire } = network(26, lend);
    const b = addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
    const q = net.addHost(
      "q",
      (bd) => new Ghost(bd, MAC_Q, v4("10.0.0.5"), v6("fe80::5"), 0) as unknown as Stack,
    ) as unknown as Ghost;
    net.link(["b", 1], ["q", 1], { latency: 1 });
    settle(net);
    const s4 = b.stack.udp.open(Ipv4) as number;
    const s6 = b.stack.udp.open(Ipv6) as number;
    assert.equal(b.stack.udp.joinGroup(s4, v4("239.1.2.3")), null);
    const group = v6("ff05::1:3");
    assert.equal(b.stack.udp.joinGroup(s6, group), null);
    net.runUntilIdle(net.now + 5000);
    q.received.length = 0;
    // IGMPv2 general query (RFC 2236 2.1: Max Response Time 10 s) and a group-specific one.
    const igmpIp = (dst: Ipv4Addr) => {
      const ip = new Ipv4Builder(q.ip4, dst, IpProto.Igmp, 1);
      ip.options = ROUTER_ALERT_V4;
      return ip;
    };
    net.inject(
      ["b", 1],
      frameOf(
        MAC_Q,
        mac("01:00:5e:00:00:01"),
        0x0800,
        new IgmpBuilder(IgmpType.MembershipQuery, 100, Ipv4.unspecified),
        igmpIp(v4("224.0.0.1")),
      ),
    );
    net.inject(
      ["b", 1],
      frameOf(
        MAC_Q,
        mac("01:00:5e:01:02:03"),
        0x0800,
        new IgmpBuilder(IgmpType.MembershipQuery, 20, v4("239.1.2.3")),
        igmpIp(v4("239.1.2.3")),
      ),
      3,
    );
    // MLDv2 group-and-source-specific query: the two sources are kept until the answer leaves.
    const sources = [v6("2001:db8::51"), v6("2001:db8::52")];
    const mldIp = new Ipv6Builder(q.ip6, group, IpProto.Icmpv6, {
      hopLimit: 1,
      exts: [{ type: IpProto.HopByHop, data: new Uint8Array([5, 2, 0, 0, 1, 0]) }],
    });
    net.inject(
      ["b", 1],
      frameOf(
        MAC_Q,
        mac("33:33:00:01:00:03"),
        0x86dd,
        new Mldv2QueryBuilder(q.ip6, group, 2000, group, false, 2, 125, sources),
        mldIp,
      ),
      5,
    );
    net.runUntilIdle(net.now + 20_000);
    const result = q.received.map((f) => {
      const d = decodeRecord(f);
      assert.ok(d.ok, d.error);
      return toHex(f);
    });
    const mld = q.received.filter((f) => f[12] === 0x86 && toHex(f).includes("20010db8000000000000000000000051"));
    assert.equal(mld.length, 1, "the MLDv2 report lists the queried sources");
    assert.ok(
      q.received.some((f) => f[12] === 0x08 && f[0] === 0x01),
      "an IGMP report",
    );
    return { net, wire, stacks: [b.stack], result };
  });
});

// ---- the loopback queue: an ICMPv6 echo request from one of our own addresses ----

test("lent frames: an echo reply queued on loopback (request from our own address) is intact", () => {
  const MAC_B = mac("02:00:00:00:00:0b");
  bothModes((lend) => {
    const { net, wire } = network(27, lend);
    const b = addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
    const g = net.addHost(
      "g",
      (bd) => new Ghost(bd, mac("02:00:00:00:00:71"), v4("10.0.0.7"), v6("2001:db8::7"), 0) as unknown as Stack,
    ) as unknown as Ghost;
    net.link(["b", 1], ["g", 1], { latency: 1 });
    settle(net);
    const mine = v6("2001:db8::b");
    const seen: string[] = [];
    b.stack.registerEcho({
      receiveEchoReply(info, id, seq, payload) {
        seen.push(`${info.I.format(info.src)} ${id} ${seq} ${toHex(payload)}`);
      },
    });
    // RFC 4862 5.4.4 lets ICMPv6 from our own address in (a duplicate's NDP); the echo reply to it
    // goes through the loopback queue, drained after the entry point returned.
    net.inject(["b", 1], echoRequest6(g.mac, MAC_B, mine, mine, 0x33, 4));
    net.runUntilIdle(net.now + 1000);
    assert.deepEqual(seen, [`2001:db8::b ${0x33} 4 ${toHex(pattern(44))}`]);
    return { net, wire, stacks: [b.stack], result: seen };
  });
});

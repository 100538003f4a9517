import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { DeviceId, ErrorCode, IpAddr, StackEvent } from "../../context.ts";
import { Counters } from "../../counters.ts";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "../../ip/addr.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSendError, IpSender, IpSendOptions } from "../../ip/transport-api.ts";
import { type IpVersion, Ipv4, Ipv6, V4_BROADCAST } from "../../ip/version.ts";
import { Buf } from "../../packet/buf.ts";
import { BytesBody, type Serializer, TooBig } from "../../packet/serialize.ts";
import { pseudoSum } from "../../wire/checksum.ts";
import { isError } from "../../wire/errors.ts";
import { Icmpv4Type, Icmpv4UnreachableCode } from "../../wire/icmpv4.ts";
import { Icmpv6DestUnreachableCode, Icmpv6Type } from "../../wire/icmpv6.ts";
import { UdpBuilder, UdpView } from "../../wire/udp.ts";
import { EPHEMERAL_MAX, EPHEMERAL_MIN, pickEphemeralPort } from "./ports.ts";
import { UdpLayer, type UdpLayerOptions } from "./udp.ts";

const a4 = (s: string): Ipv4Addr => parseV4(s) as Ipv4Addr;
const a6 = (s: string): Ipv6Addr => parseV6(s) as Ipv6Addr;

const L4 = a4("10.9.0.1");
const L4B = a4("10.9.0.3");
const R4 = a4("10.9.0.2");
const L6 = a6("2001:db8::1");
const R6 = a6("2001:db8::2");

// Datagrams sent by Linux 6.x (the fixtures of src/wire/udp.test.ts): "netstack udp\n" from
// 10.9.0.1:5300 and [2001:db8::1]:5353 to port 9999 of 10.9.0.2 / 2001:db8::2.
// biome-ignore format: packet bytes
const LINUX_V4 = new Uint8Array([
  0x14, 0xb4, 0x27, 0x0f, 0x00, 0x15, 0x66, 0x61, 0x6e, 0x65, 0x74, 0x73,
  0x74, 0x61, 0x63, 0x6b, 0x20, 0x75, 0x64, 0x70, 0x0a,
]);
// biome-ignore format: packet bytes
const LINUX_V6 = new Uint8Array([
  0x14, 0xe9, 0x27, 0x0f, 0x00, 0x15, 0x1e, 0xcc, 0x6e, 0x65, 0x74, 0x73,
  0x74, 0x61, 0x63, 0x6b, 0x20, 0x75, 0x64, 0x70, 0x0a,
]);
const PAYLOAD = new TextEncoder().encode("netstack udp\n");

interface Sent {
  I: IpVersion<IpAddr>;
  opts: IpSendOptions<IpAddr>;
  /** The transport segment as serialized (UDP header + payload). */
  bytes: Uint8Array;
}

interface IcmpErrorCall {
  info: IpRxInfo<IpAddr>;
  body: Uint8Array;
  type: number;
  code: number;
}

/** An IpSender that records what the transport sends and answers from fixed tables. */
class FakeIp implements IpSender {
  local: IpAddr[] = [L4, L4B, L6];
  sent: Sent[] = [];
  icmpErrors: IcmpErrorCall[] = [];
  /** What `send` returns. */
  result: IpSendError = null;
  /** Source for any destination of each version (null: no route). */
  source4: Ipv4Addr | null = L4;
  source6: Ipv6Addr | null = L6;

  send<A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer): IpSendError {
    const b = body.serialize({ prefix: I.headerLen });
    if (b instanceof TooBig) return "EMSGSIZE";
    this.sent.push({
      I: I as unknown as IpVersion<IpAddr>,
      opts: opts as unknown as IpSendOptions<IpAddr>,
      bytes: b.toBytes(),
    });
    return this.result;
  }
  maxPayload<A>(I: IpVersion<A>, _dst: A): number {
    return 1500 - I.headerLen;
  }
  selectSource<A>(I: IpVersion<A>, _dst: A): A | null {
    return (I.version === 4 ? this.source4 : this.source6) as A | null;
  }
  isLocal<A>(I: IpVersion<A>, a: A): boolean {
    return this.local.some((l) => typeof l === typeof a && I.equals(l as A, a));
  }
  sendIcmpError<A>(info: IpRxInfo<A>, buf: Buf, type: number, code: number): void {
    this.icmpErrors.push({ info: info as unknown as IpRxInfo<IpAddr>, body: buf.toBytes(), type, code });
  }
}

function setup(extra: Partial<UdpLayerOptions> = {}, randoms: number[] = []) {
  const ip = new FakeIp();
  const events: StackEvent[] = [];
  const counters = new Counters();
  let seed = 12345;
  const random = (): number => {
    const r = randoms.shift();
    if (r !== undefined) return r >>> 0;
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  // The layer draws its reuse-port hash key first.
  const udp = new UdpLayer({ ip, emit: (e) => events.push(e), random, counters, ...extra });
  return { ip, udp, events, counters };
}

function open<A>(udp: UdpLayer, I: IpVersion<A>, options = {}): number {
  const id = udp.open(I, options);
  assert.equal(typeof id, "number");
  return id as number;
}

/** A received datagram: the UDP segment in a Buf with room for the IP header before it. */
function datagram<A>(
  I: IpVersion<A>,
  src: A,
  srcPort: number,
  dst: A,
  dstPort: number,
  payload: Uint8Array,
  noChecksum = false,
): Buf {
  const b = new BytesBody(payload)
    .wrapIn(new UdpBuilder(src as number | Uint8Array, dst as number | Uint8Array, srcPort, dstPort, noChecksum))
    .serialize({ prefix: I.headerLen });
  assert.ok(!(b instanceof TooBig));
  return b as Buf;
}

function rx<A>(I: IpVersion<A>, src: A, dst: A, buf: Buf, multicast = false, device: DeviceId = 1): IpRxInfo<A> {
  return { I, src, dst, device, ttl: 64, multicast, ipOff: buf.start - I.headerLen };
}

/** Deliver `payload` from src:srcPort to dst:dstPort into `udp`. */
function inject<A>(
  udp: UdpLayer,
  I: IpVersion<A>,
  src: A,
  srcPort: number,
  dst: A,
  dstPort: number,
  payload: Uint8Array,
  multicast = false,
  device: DeviceId = 1,
): void {
  const buf = datagram(I, src, srcPort, dst, dstPort, payload);
  udp.receive(rx(I, src, dst, buf, multicast, device), buf);
}

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs);

// ---- bind ----

test("bind: local address, unspecified, errors", () => {
  const { udp } = setup();
  const a = open(udp, Ipv4);
  assert.equal(udp.bind(a, L4, 5300), null);
  assert.deepEqual(udp.address(a), { address: L4, port: 5300, family: "IPv4" });
  // Already bound.
  assert.equal(udp.bind(a, L4, 5301), "EINVAL");
  // Same address and port; the unspecified address overlaps every address.
  const b = open(udp, Ipv4);
  assert.equal(udp.bind(b, L4, 5300), "EADDRINUSE");
  assert.equal(udp.bind(b, Ipv4.unspecified, 5300), "EADDRINUSE");
  // Another local address on the same port does not overlap.
  assert.equal(udp.bind(b, L4B, 5300), null);
  // Not one of ours.
  const c = open(udp, Ipv4);
  assert.equal(udp.bind(c, R4, 5400), "EADDRNOTAVAIL");
  // Wrong family, bad port, unknown socket.
  assert.equal(udp.bind(c, L6, 5400), "EAFNOSUPPORT");
  assert.equal(udp.bind(c, L4, 65536), "EINVAL");
  assert.equal(udp.bind(c, L4, -1), "EINVAL");
  assert.equal(udp.bind(999, L4, 1), "EBADF");
  // The failed binds left `c` unbound: it can still bind.
  assert.equal(udp.bind(c, Ipv4.unspecified, 5400), null);
  assert.deepEqual(udp.address(c), { address: 0, port: 5400, family: "IPv4" });
});

test("bind: a port in IPv4 is free in IPv6 (no dual stack)", () => {
  const { udp } = setup();
  const a = open(udp, Ipv4);
  const b = open(udp, Ipv6);
  assert.equal(udp.bind(a, Ipv4.unspecified, 53), null);
  assert.equal(udp.bind(b, Ipv6.unspecified, 53), null);
  const c = open(udp, Ipv6);
  assert.equal(udp.bind(c, L6, 53), "EADDRINUSE");
});

test("bind: reuseAddr and reusePort share only when both sockets set the same option", () => {
  const { udp } = setup();
  const a = open(udp, Ipv4, { reuseAddr: true });
  const b = open(udp, Ipv4, { reuseAddr: true });
  const c = open(udp, Ipv4);
  const d = open(udp, Ipv4, { reusePort: true });
  assert.equal(udp.bind(a, Ipv4.unspecified, 67), null);
  assert.equal(udp.bind(b, Ipv4.unspecified, 67), null);
  assert.equal(udp.bind(c, Ipv4.unspecified, 67), "EADDRINUSE");
  assert.equal(udp.bind(d, L4, 67), "EADDRINUSE");
});

test("bind: multicast group and limited broadcast addresses are bindable", () => {
  const { udp } = setup();
  const a = open(udp, Ipv4);
  assert.equal(udp.bind(a, a4("239.1.2.3"), 5000), null);
  const b = open(udp, Ipv4);
  assert.equal(udp.bind(b, V4_BROADCAST, 68), null);
});

test("bind port 0: RFC 6056 algorithm 1 from the random source, in 49152..65535", () => {
  // The first random value keys the reuse-port hash; the second picks the port.
  const { udp } = setup({}, [0, 7]);
  const a = open(udp, Ipv4);
  assert.equal(udp.bind(a, Ipv4.unspecified, 0), null);
  assert.equal(udp.address(a)?.port, EPHEMERAL_MIN + 7);
  // A collision walks upwards to the next free port.
  const { udp: u2 } = setup({}, [0, 7, 7]);
  const x = open(u2, Ipv4);
  const y = open(u2, Ipv4);
  assert.equal(u2.bind(x, Ipv4.unspecified, 0), null);
  assert.equal(u2.bind(y, L4, 0), null);
  assert.equal(u2.address(y)?.port, EPHEMERAL_MIN + 8);
  // Wrap-around at the top of the range.
  const { udp: u3 } = setup({}, [0, 16383]);
  const z = open(u3, Ipv4);
  assert.equal(u3.bind(z, Ipv4.unspecified, 0), null);
  assert.equal(u3.address(z)?.port, EPHEMERAL_MAX);
});

test("bind port 0: EADDRINUSE when the ephemeral range is exhausted", () => {
  const { udp } = setup({ limits: { ephemeralMin: 50000, ephemeralMax: 50002 } });
  const ports = new Set<number>();
  for (let i = 0; i < 3; i++) {
    const s = open(udp, Ipv4);
    assert.equal(udp.bind(s, Ipv4.unspecified, 0), null);
    ports.add(udp.address(s)?.port as number);
  }
  assert.deepEqual([...ports].sort(), [50000, 50001, 50002]);
  const s = open(udp, Ipv4);
  assert.equal(udp.bind(s, Ipv4.unspecified, 0), "EADDRINUSE");
  // A specific port is not limited to the range; its conflicts are the usual ones.
  assert.equal(udp.bind(s, Ipv4.unspecified, 50001), "EADDRINUSE");
  assert.equal(udp.bind(s, Ipv4.unspecified, 40000), null);
});

test("pickEphemeralPort: always in range, free, and finds the only free port", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 99 }), (r, free) => {
      const p = pickEphemeralPort(
        () => r,
        (q) => q === 1000 + free,
        1000,
        1099,
      );
      assert.equal(p, 1000 + free);
      const any = pickEphemeralPort(
        () => r,
        () => true,
      );
      assert.ok(any >= EPHEMERAL_MIN && any <= EPHEMERAL_MAX);
      assert.equal(any, EPHEMERAL_MIN + (r % (EPHEMERAL_MAX - EPHEMERAL_MIN + 1)));
    }),
  );
  assert.equal(
    pickEphemeralPort(
      () => 5,
      () => false,
      1,
      10,
    ),
    -1,
  );
});

test("open: EMFILE past maxSockets; ids from allocSocketId", () => {
  let next = 100;
  const { udp } = setup({ limits: { maxSockets: 2 }, allocSocketId: () => next++ });
  assert.equal(udp.open(Ipv4), 100);
  assert.equal(udp.open(Ipv6), 101);
  assert.equal(udp.open(Ipv4), "EMFILE");
});

// ---- send ----

test("sendTo: the bytes Linux sends, IPv4 and IPv6", () => {
  const { ip, udp, counters } = setup();
  const s4 = open(udp, Ipv4);
  assert.equal(udp.bind(s4, L4, 5300), null);
  assert.equal(udp.sendTo(s4, PAYLOAD, R4, 9999), null);
  const s6 = open(udp, Ipv6);
  assert.equal(udp.bind(s6, Ipv6.unspecified, 5353), null);
  assert.equal(udp.sendTo(s6, PAYLOAD, R6, 9999), null);

  assert.equal(ip.sent.length, 2);
  const [p4, p6] = ip.sent;
  assert.equal(p4.I, Ipv4);
  assert.deepEqual(p4.opts, { src: L4, dst: R4, proto: 17, ttl: undefined, device: undefined });
  assert.deepEqual(p4.bytes, LINUX_V4);
  assert.equal(p6.I, Ipv6);
  // The unspecified bind: the source is the IP layer's choice, needed for the checksum.
  assert.deepEqual(p6.opts.src, L6);
  assert.deepEqual(p6.bytes, LINUX_V6);
  // And the checksums verify with the pseudo-header.
  const v = UdpView.parse(p6.bytes, 0, p6.bytes.length, pseudoSum(L6, R6, 17, p6.bytes.length), 6);
  assert.ok(!isError(v));
  assert.equal(counters.get("udp.tx"), 2);
});

test("send: an unbound socket gets an ephemeral port; payload is copied when sent", () => {
  const { ip, udp } = setup({}, [0, 100]);
  const s = open(udp, Ipv4);
  const data = bytes(1, 2, 3, 4, 5);
  assert.equal(udp.sendTo(s, data, R4, 7), null);
  assert.equal(udp.address(s)?.port, EPHEMERAL_MIN + 100);
  data[0] = 99;
  const v = UdpView.parse(ip.sent[0].bytes, 0, 13, pseudoSum(L4, R4, 17, 13), 4) as UdpView;
  assert.ok(!isError(v));
  assert.equal(v.srcPort, EPHEMERAL_MIN + 100);
  assert.equal(v.dstPort, 7);
  assert.deepEqual(v.payload(), bytes(1, 2, 3, 4, 5));
});

test("send: EMSGSIZE above 65507 (IPv4) and 65527 (IPv6) bytes", () => {
  const { ip, udp } = setup();
  const s4 = open(udp, Ipv4);
  const s6 = open(udp, Ipv6);
  assert.equal(udp.sendTo(s4, new Uint8Array(65508), R4, 9), "EMSGSIZE");
  assert.equal(udp.sendTo(s6, new Uint8Array(65528), R6, 9), "EMSGSIZE");
  assert.equal(ip.sent.length, 0);
  assert.equal(udp.sendTo(s4, new Uint8Array(65507), R4, 9), null);
  assert.equal(udp.sendTo(s6, new Uint8Array(65527), R6, 9), null);
  assert.equal(ip.sent[0].bytes.length, 65515);
  assert.equal(ip.sent[1].bytes.length, 65535);
  // IPv6 length field: 65535 exactly.
  assert.equal((ip.sent[1].bytes[4] << 8) | ip.sent[1].bytes[5], 65535);
});

test("send: errors from ip.send and from source selection are returned and counted", () => {
  const { ip, udp, counters } = setup();
  const s = open(udp, Ipv4);
  ip.result = "EHOSTUNREACH";
  assert.equal(udp.sendTo(s, PAYLOAD, R4, 9), "EHOSTUNREACH");
  ip.result = null;
  ip.source4 = null;
  assert.equal(udp.sendTo(s, PAYLOAD, a4("192.0.2.1"), 9), "ENETUNREACH");
  assert.equal(counters.get("udp.tx.error"), 2);
  assert.equal(counters.get("udp.tx"), 0);
});

test("send: argument errors", () => {
  const { ip, udp } = setup();
  const s = open(udp, Ipv4);
  assert.equal(udp.send(s, PAYLOAD), "EDESTADDRREQ");
  assert.equal(udp.sendTo(s, PAYLOAD, R4, 0), "EINVAL");
  assert.equal(udp.sendTo(s, PAYLOAD, Ipv4.unspecified, 9), "EINVAL");
  assert.equal(udp.sendTo(s, PAYLOAD, R6, 9), "EAFNOSUPPORT");
  assert.equal(udp.sendTo(42, PAYLOAD, R4, 9), "EBADF");
  assert.equal(ip.sent.length, 0);
});

test("send: limited broadcast needs the broadcast option (EACCES)", () => {
  const { ip, udp } = setup();
  const s = open(udp, Ipv4);
  assert.equal(udp.sendTo(s, PAYLOAD, V4_BROADCAST, 67), "EACCES");
  assert.equal(udp.connect(s, V4_BROADCAST, 67), "EACCES");
  assert.equal(udp.setOptions(s, { broadcast: true }), null);
  assert.equal(udp.sendTo(s, PAYLOAD, V4_BROADCAST, 67), null);
  assert.equal(ip.sent[0].opts.dst, V4_BROADCAST);
});

test("send: multicast uses the multicast TTL (default 1) and interface; unicast the ttl option", () => {
  const { ip, udp } = setup();
  const s = open(udp, Ipv4, { ttl: 9 });
  const g = a4("239.1.1.1");
  assert.equal(udp.sendTo(s, PAYLOAD, g, 5000), null);
  assert.equal(ip.sent[0].opts.ttl, 1);
  assert.equal(ip.sent[0].opts.device, undefined);
  udp.setOptions(s, { multicastTtl: 4, multicastInterface: 3 });
  assert.equal(udp.sendTo(s, PAYLOAD, g, 5000), null);
  assert.equal(ip.sent[1].opts.ttl, 4);
  assert.equal(ip.sent[1].opts.device, 3);
  assert.equal(udp.sendTo(s, PAYLOAD, R4, 5000), null);
  assert.equal(ip.sent[2].opts.ttl, 9);
  assert.equal(ip.sent[2].opts.device, undefined);
});

test("send: noChecksum writes a zero checksum on IPv4 and is ignored on IPv6", () => {
  const { ip, udp } = setup();
  const s4 = open(udp, Ipv4, { noChecksum: true });
  const s6 = open(udp, Ipv6, { noChecksum: true });
  udp.sendTo(s4, PAYLOAD, R4, 9);
  udp.sendTo(s6, PAYLOAD, R6, 9);
  assert.deepEqual(ip.sent[0].bytes.subarray(6, 8), bytes(0, 0));
  const b6 = ip.sent[1].bytes;
  assert.notDeepEqual(b6.subarray(6, 8), bytes(0, 0));
  assert.ok(!isError(UdpView.parse(b6, 0, b6.length, pseudoSum(L6, R6, 17, b6.length), 6)));
});

test("connect: default destination, fixed local address, send", () => {
  const { ip, udp } = setup({}, [0, 1]);
  const s = open(udp, Ipv4);
  assert.equal(udp.connect(s, R4, 9999), null);
  assert.deepEqual(udp.address(s), { address: L4, port: EPHEMERAL_MIN + 1, family: "IPv4" });
  assert.deepEqual(udp.remoteAddress(s), { address: R4, port: 9999, family: "IPv4" });
  assert.equal(udp.send(s, PAYLOAD), null);
  assert.equal(ip.sent[0].opts.src, L4);
  assert.equal(ip.sent[0].opts.dst, R4);
  const v = UdpView.parse(ip.sent[0].bytes, 0, 21, pseudoSum(L4, R4, 17, 21), 4) as UdpView;
  assert.equal(v.dstPort, 9999);
  assert.equal(udp.connect(s, R4, 0), "EINVAL");
  assert.equal(udp.connect(s, Ipv4.unspecified, 1), "EINVAL");
  assert.equal(udp.connect(s, R6, 1), "EAFNOSUPPORT");
  // No route: no source address.
  const t = open(udp, Ipv6);
  ip.source6 = null;
  assert.equal(udp.connect(t, R6, 1), "ENETUNREACH");
  // Disconnect keeps the port.
  assert.equal(udp.disconnect(s), null);
  assert.equal(udp.remoteAddress(s), null);
  assert.deepEqual(udp.address(s), { address: 0, port: EPHEMERAL_MIN + 1, family: "IPv4" });
  assert.equal(udp.send(s, PAYLOAD), "EDESTADDRREQ");
});

// ---- receive ----

test("receive: queued with its source, readable once per non-empty transition, data copied", () => {
  const { udp, events, counters } = setup();
  const s = open(udp, Ipv4);
  udp.bind(s, Ipv4.unspecified, 9999);
  const buf = datagram(Ipv4, R4, 5300, L4, 9999, PAYLOAD);
  udp.receive(rx(Ipv4, R4, L4, buf), buf);
  assert.deepEqual(events, [{ type: "readable", socket: s }]);
  // The buffer belongs to the stack again: overwriting it must not change what was queued.
  buf.bytes.fill(0xee);
  inject(udp, Ipv4, R4, 5301, L4, 9999, bytes(7));
  assert.equal(events.length, 1);
  assert.deepEqual(udp.queued(s), { datagrams: 2, bytes: PAYLOAD.length + 1 });
  assert.deepEqual(udp.recv(s), { data: PAYLOAD, address: R4, port: 5300, family: "IPv4" });
  assert.deepEqual(udp.recv(s), { data: bytes(7), address: R4, port: 5301, family: "IPv4" });
  assert.equal(udp.recv(s), null);
  inject(udp, Ipv4, R4, 5301, L4, 9999, bytes());
  assert.equal(events.length, 2);
  assert.deepEqual(udp.recv(s)?.data, bytes());
  assert.equal(counters.get("udp.rx.delivered"), 3);
});

test("receive: IPv6 source address is copied out of the packet buffer", () => {
  const { udp } = setup();
  const s = open(udp, Ipv6);
  udp.bind(s, L6, 5353);
  const src = a6("2001:db8::2");
  const buf = datagram(Ipv6, src, 1234, L6, 5353, PAYLOAD);
  // A borrowed source address, as the IP layer hands up: a view into the packet's bytes.
  const store = new Uint8Array(buf.bytes.length + 16);
  store.set(buf.bytes);
  store.set(src, buf.bytes.length);
  const borrowed = store.subarray(buf.bytes.length) as Ipv6Addr;
  buf.bytes = store;
  udp.receive(rx(Ipv6, borrowed, L6, buf), buf);
  store.fill(0);
  assert.deepEqual(udp.recv(s), { data: PAYLOAD, address: a6("2001:db8::2"), port: 1234, family: "IPv6" });
});

test("receive: the Linux datagrams with trailing link padding", () => {
  const { udp, ip } = setup();
  ip.local.push(R4, R6);
  const s = open(udp, Ipv4);
  assert.equal(udp.bind(s, R4, 9999), null);
  const s6 = open(udp, Ipv6);
  assert.equal(udp.bind(s6, Ipv6.unspecified, 9999), null);
  for (const [I, src, dst, pkt, sock] of [
    [Ipv4, L4, R4, LINUX_V4, s],
    [Ipv6, L6, R6, LINUX_V6, s6],
  ] as const) {
    const store = new Uint8Array(I.headerLen + pkt.length + 5);
    store.set(pkt, I.headerLen);
    const b = new Buf(store, I.headerLen, store.length);
    const V = I as IpVersion<IpAddr>;
    udp.receive(rx(V, src as IpAddr, dst as IpAddr, b), b);
    const d = udp.recv(sock);
    assert.deepEqual(d?.data, PAYLOAD);
    assert.equal(d?.port, I.version === 4 ? 5300 : 5353);
  }
});

test("demux: connected 4-tuple before bound address before any", () => {
  const { udp } = setup();
  const any = open(udp, Ipv4, { reuseAddr: true });
  const bound = open(udp, Ipv4, { reuseAddr: true });
  const conn = open(udp, Ipv4, { reuseAddr: true });
  assert.equal(udp.bind(any, Ipv4.unspecified, 5000), null);
  assert.equal(udp.bind(bound, L4, 5000), null);
  assert.equal(udp.bind(conn, L4, 5000), null);
  assert.equal(udp.connect(conn, R4, 7000), null);
  inject(udp, Ipv4, R4, 7000, L4, 5000, bytes(1));
  inject(udp, Ipv4, R4, 7001, L4, 5000, bytes(2));
  inject(udp, Ipv4, R4, 7000, L4B, 5000, bytes(3));
  assert.deepEqual(udp.recv(conn)?.data, bytes(1));
  assert.deepEqual(udp.recv(bound)?.data, bytes(2));
  assert.deepEqual(udp.recv(any)?.data, bytes(3));
  assert.equal(udp.recv(conn), null);
  assert.equal(udp.recv(bound), null);
  assert.equal(udp.recv(any), null);
});

test("connected socket filters by remote address and port; others get port unreachable", () => {
  const { ip, udp, counters } = setup();
  const s = open(udp, Ipv4);
  udp.bind(s, Ipv4.unspecified, 5000);
  udp.connect(s, R4, 53);
  inject(udp, Ipv4, a4("10.9.0.77"), 53, L4, 5000, bytes(1));
  inject(udp, Ipv4, R4, 54, L4, 5000, bytes(2));
  assert.equal(udp.recv(s), null);
  assert.equal(counters.get("udp.rx.no-socket"), 2);
  assert.equal(ip.icmpErrors.length, 2);
  inject(udp, Ipv4, R4, 53, L4, 5000, bytes(3));
  assert.deepEqual(udp.recv(s)?.data, bytes(3));
});

test("reuseAddr group: unicast to the most recently bound; reusePort: hashed by source, stable", () => {
  const { udp } = setup();
  const a = open(udp, Ipv4, { reuseAddr: true });
  const b = open(udp, Ipv4, { reuseAddr: true });
  udp.bind(a, L4, 6000);
  udp.bind(b, L4, 6000);
  inject(udp, Ipv4, R4, 1, L4, 6000, bytes(1));
  assert.equal(udp.recv(a), null);
  assert.deepEqual(udp.recv(b)?.data, bytes(1));

  const p = open(udp, Ipv4, { reusePort: true });
  const q = open(udp, Ipv4, { reusePort: true });
  udp.bind(p, L4, 6001);
  udp.bind(q, L4, 6001);
  const hit = [0, 0];
  for (let port = 1000; port < 1064; port++) {
    inject(udp, Ipv4, R4, port, L4, 6001, bytes(1));
    inject(udp, Ipv4, R4, port, L4, 6001, bytes(2));
    const fromP = udp.queued(p)?.datagrams as number;
    const fromQ = udp.queued(q)?.datagrams as number;
    // Both datagrams of one source went to the same socket.
    assert.ok((fromP === 2 && fromQ === 0) || (fromP === 0 && fromQ === 2));
    hit[fromP === 2 ? 0 : 1]++;
    while (udp.recv(p) !== null || udp.recv(q) !== null);
  }
  assert.ok(hit[0] > 0 && hit[1] > 0, `spread ${hit}`);
});

test("receive queue: bounded in datagrams and in bytes, overflow counted", () => {
  const { udp, counters } = setup({ limits: { recvQueueDatagrams: 2 } });
  const s = open(udp, Ipv4);
  udp.bind(s, Ipv4.unspecified, 1);
  for (let i = 0; i < 5; i++) inject(udp, Ipv4, R4, 9, L4, 1, bytes(i));
  assert.equal(counters.get("udp.rx.queue-full"), 3);
  assert.deepEqual(udp.recv(s)?.data, bytes(0));
  assert.deepEqual(udp.recv(s)?.data, bytes(1));
  assert.equal(udp.recv(s), null);

  // Bytes: 10 per socket. One datagram larger than the bound still fits an empty queue.
  const t = open(udp, Ipv4, { recvQueueBytes: 10, recvQueueDatagrams: 100 });
  udp.bind(t, Ipv4.unspecified, 2);
  inject(udp, Ipv4, R4, 9, L4, 2, new Uint8Array(6));
  inject(udp, Ipv4, R4, 9, L4, 2, new Uint8Array(5)); // 11 > 10: dropped
  inject(udp, Ipv4, R4, 9, L4, 2, new Uint8Array(4)); // 10: kept
  assert.deepEqual(udp.queued(t), { datagrams: 2, bytes: 10 });
  assert.equal(counters.get("udp.rx.queue-full"), 4);
  udp.recv(t);
  udp.recv(t);
  inject(udp, Ipv4, R4, 9, L4, 2, new Uint8Array(50));
  assert.deepEqual(udp.queued(t), { datagrams: 1, bytes: 50 });
});

test("closed port: ICMP port unreachable requested with the datagram, v4 and v6", () => {
  const { ip, udp, counters } = setup();
  inject(udp, Ipv4, R4, 5300, L4, 9999, PAYLOAD);
  inject(udp, Ipv6, R6, 5353, L6, 9999, PAYLOAD);
  assert.equal(ip.icmpErrors.length, 2);
  const [e4, e6] = ip.icmpErrors;
  assert.equal(e4.type, Icmpv4Type.DestUnreachable);
  assert.equal(e4.code, Icmpv4UnreachableCode.Port);
  assert.equal(e4.info.src, R4);
  // The buffer's body is still the whole UDP datagram (the IP layer quotes from `ipOff`).
  assert.equal(e4.body.length, 8 + PAYLOAD.length);
  assert.equal((e4.body[2] << 8) | e4.body[3], 9999);
  assert.equal(e6.type, Icmpv6Type.DestUnreachable);
  assert.equal(e6.code, Icmpv6DestUnreachableCode.PortUnreachable);
  assert.equal(counters.get("udp.rx.no-socket"), 2);
});

test("closed port: no ICMP error for broadcast or multicast", () => {
  const { ip, udp, counters } = setup();
  inject(udp, Ipv4, R4, 5300, V4_BROADCAST, 9999, PAYLOAD, true);
  inject(udp, Ipv4, R4, 5300, a4("224.0.0.251"), 5353, PAYLOAD, true);
  inject(udp, Ipv6, R6, 5300, a6("ff02::fb"), 5353, PAYLOAD, true);
  assert.equal(ip.icmpErrors.length, 0);
  assert.equal(counters.get("udp.rx.no-socket-groupcast"), 3);
});

test("checksums: zero accepted on IPv4, rejected on IPv6; bad checksum dropped; no ICMP", () => {
  const { ip, udp, counters } = setup();
  const s4 = open(udp, Ipv4);
  const s6 = open(udp, Ipv6);
  udp.bind(s4, Ipv4.unspecified, 9);
  udp.bind(s6, Ipv6.unspecified, 9);
  const b4 = datagram(Ipv4, R4, 1, L4, 9, PAYLOAD, true);
  assert.deepEqual(b4.bytes.subarray(b4.start + 6, b4.start + 8), bytes(0, 0));
  udp.receive(rx(Ipv4, R4, L4, b4), b4);
  assert.deepEqual(udp.recv(s4)?.data, PAYLOAD);
  const b6 = datagram(Ipv6, R6, 1, L6, 9, PAYLOAD, true);
  udp.receive(rx(Ipv6, R6, L6, b6), b6);
  assert.equal(udp.recv(s6), null);
  assert.equal(counters.get("udp.rx.zero-checksum"), 1);
  // A flipped payload bit.
  const bad = datagram(Ipv4, R4, 1, L4, 9, PAYLOAD);
  bad.bytes[bad.start + 10] ^= 1;
  udp.receive(rx(Ipv4, R4, L4, bad), bad);
  // Checksum computed for another source address.
  const spoof = datagram(Ipv6, a6("2001:db8::99"), 1, L6, 9, PAYLOAD);
  udp.receive(rx(Ipv6, R6, L6, spoof), spoof);
  assert.equal(udp.recv(s4), null);
  assert.equal(udp.recv(s6), null);
  assert.equal(counters.get("udp.rx.bad-checksum"), 2);
  // Truncated and bad length.
  const short = datagram(Ipv4, R4, 1, L4, 9, PAYLOAD);
  short.end = short.start + 7;
  udp.receive(rx(Ipv4, R4, L4, short), short);
  const long = datagram(Ipv4, R4, 1, L4, 9, PAYLOAD);
  long.end -= 1;
  udp.receive(rx(Ipv4, R4, L4, long), long);
  assert.equal(counters.get("udp.rx.too-short"), 1);
  assert.equal(counters.get("udp.rx.bad-length"), 1);
  assert.equal(ip.icmpErrors.length, 0);
});

test("IPv6 sockets do not receive IPv4 datagrams", () => {
  const { ip, udp } = setup();
  const s = open(udp, Ipv6);
  udp.bind(s, Ipv6.unspecified, 5000);
  inject(udp, Ipv4, R4, 1, L4, 5000, bytes(1));
  assert.equal(udp.recv(s), null);
  assert.equal(ip.icmpErrors.length, 1);
});

test("broadcast: every unconnected socket on the port bound to any or the destination", () => {
  const { udp } = setup();
  const a = open(udp, Ipv4, { reuseAddr: true });
  const b = open(udp, Ipv4, { reuseAddr: true });
  const c = open(udp, Ipv4, { reuseAddr: true });
  const d = open(udp, Ipv4, { reuseAddr: true });
  const e = open(udp, Ipv4, { reuseAddr: true });
  udp.bind(a, Ipv4.unspecified, 67);
  udp.bind(b, Ipv4.unspecified, 67);
  udp.bind(c, L4, 67); // a specific unicast address: no broadcasts
  udp.bind(d, V4_BROADCAST, 67);
  udp.bind(e, Ipv4.unspecified, 67);
  udp.connect(e, R4, 68); // connected: no broadcasts
  inject(udp, Ipv4, R4, 68, V4_BROADCAST, 67, bytes(1), true);
  // Subnet-directed broadcast (the IP layer marks it `multicast`).
  inject(udp, Ipv4, R4, 68, a4("10.9.0.255"), 67, bytes(2), true);
  assert.deepEqual(udp.queued(a), { datagrams: 2, bytes: 2 });
  assert.deepEqual(udp.queued(b), { datagrams: 2, bytes: 2 });
  assert.deepEqual(udp.queued(c), { datagrams: 0, bytes: 0 });
  assert.deepEqual(udp.queued(d), { datagrams: 1, bytes: 1 });
  assert.deepEqual(udp.queued(e), { datagrams: 0, bytes: 0 });
});

test("multicast: delivered to the sockets that joined, on the device or any device", () => {
  const changes: string[] = [];
  const { udp } = setup({
    onMembershipChange: (I, g, dev, joined) => changes.push(`${I.format(g)}@${dev}:${joined}`),
  });
  const g = a4("239.1.2.3");
  const a = open(udp, Ipv4, { reuseAddr: true });
  const b = open(udp, Ipv4, { reuseAddr: true });
  const c = open(udp, Ipv4, { reuseAddr: true });
  udp.bind(a, Ipv4.unspecified, 5000);
  udp.bind(b, g, 5000);
  udp.bind(c, Ipv4.unspecified, 5000);
  assert.equal(udp.joinGroup(a, g), null);
  assert.equal(udp.joinGroup(b, g, 2), null);
  // c did not join.
  inject(udp, Ipv4, R4, 1, g, 5000, bytes(1), true, 1);
  inject(udp, Ipv4, R4, 1, g, 5000, bytes(2), true, 2);
  assert.equal(udp.queued(a)?.datagrams, 2);
  assert.deepEqual(udp.recv(b)?.data, bytes(2));
  assert.equal(udp.recv(b), null);
  assert.equal(udp.queued(c)?.datagrams, 0);
  // Another group on the same port: nobody.
  inject(udp, Ipv4, R4, 1, a4("239.1.2.4"), 5000, bytes(3), true, 1);
  assert.equal(udp.queued(a)?.datagrams, 2);

  assert.deepEqual(
    udp.memberships(Ipv4).sort((x, y) => (x.device ?? -1) - (y.device ?? -1)),
    [
      { group: g, device: null },
      { group: g, device: 2 },
    ],
  );
  assert.deepEqual(udp.memberships(Ipv6), []);
  assert.ok(udp.isMember(Ipv4, g, 7)); // a joined on any device
  assert.equal(udp.joinGroup(a, g), "EADDRINUSE");
  assert.equal(udp.joinGroup(a, R4), "EINVAL");
  assert.equal(udp.joinGroup(a, a6("ff02::1")), "EAFNOSUPPORT");
  assert.equal(udp.leaveGroup(c, g), "EADDRNOTAVAIL");
  // A second member of (g, any): no change reported.
  assert.equal(udp.joinGroup(c, g), null);
  assert.equal(udp.leaveGroup(a, g), null);
  assert.ok(udp.isMember(Ipv4, g, 7));
  assert.equal(udp.close(c), null); // close leaves c's groups
  assert.ok(!udp.isMember(Ipv4, g, 7));
  assert.ok(udp.isMember(Ipv4, g, 2));
  assert.equal(udp.leaveGroup(b, g, 2), null);
  assert.ok(!udp.isMember(Ipv4, g, 2));
  assert.deepEqual(udp.memberships(Ipv4), []);
  assert.deepEqual(changes, ["239.1.2.3@null:true", "239.1.2.3@2:true", "239.1.2.3@null:false", "239.1.2.3@2:false"]);
});

test("multicast: IPv6 group join and receive; join limit ENOBUFS", () => {
  const { udp } = setup({ limits: { maxGroupsPerSocket: 2 } });
  const s = open(udp, Ipv6);
  udp.bind(s, Ipv6.unspecified, 5353);
  const g = a6("ff02::fb");
  assert.equal(udp.joinGroup(s, g, 1), null);
  inject(udp, Ipv6, a6("fe80::2"), 5353, a6("ff02::fb"), 5353, PAYLOAD, true, 1);
  assert.deepEqual(udp.recv(s), { data: PAYLOAD, address: a6("fe80::2"), port: 5353, family: "IPv6" });
  assert.ok(udp.isMember(Ipv6, a6("ff02::fb"), 1));
  assert.ok(!udp.isMember(Ipv6, a6("ff02::fb"), 2));
  assert.equal(udp.joinGroup(s, a6("ff02::1:3")), null);
  assert.equal(udp.joinGroup(s, a6("ff02::1:4")), "ENOBUFS");
});

// ---- ICMP errors ----

function icmpErr<A>(
  I: IpVersion<A>,
  src: A,
  srcPort: number,
  dst: A,
  dstPort: number,
  code: ErrorCode,
): IcmpErrorInfo<A> {
  return { I, src, dst, srcPort, dstPort, code, mtu: 0, seq: 0 };
}

test("ICMP port unreachable -> ECONNREFUSED on the connected socket only", () => {
  const { udp, events, counters } = setup();
  const c = open(udp, Ipv4);
  udp.bind(c, L4, 4000);
  udp.connect(c, R4, 53);
  const u = open(udp, Ipv4);
  udp.bind(u, L4, 4001);
  udp.receiveIcmpError(icmpErr(Ipv4, L4, 4000, R4, 53, "ECONNREFUSED"));
  assert.deepEqual(events, [{ type: "error", socket: c, code: "ECONNREFUSED" }]);
  // The unconnected socket: ignored. Another remote port or local address: no match.
  udp.receiveIcmpError(icmpErr(Ipv4, L4, 4001, R4, 53, "ECONNREFUSED"));
  udp.receiveIcmpError(icmpErr(Ipv4, L4, 4000, R4, 54, "ECONNREFUSED"));
  udp.receiveIcmpError(icmpErr(Ipv4, L4B, 4000, R4, 53, "ECONNREFUSED"));
  assert.equal(events.length, 1);
  assert.equal(counters.get("udp.icmp-error.delivered"), 1);
  assert.equal(counters.get("udp.icmp-error.no-socket"), 3);
  // Packet too big: the IP layer's business.
  udp.receiveIcmpError({ ...icmpErr(Ipv4, L4, 4000, R4, 53, "EMSGSIZE"), mtu: 1280 });
  assert.equal(events.length, 1);
  assert.equal(counters.get("udp.icmp-error.pmtu"), 1);
  // The socket stays usable.
  assert.equal(udp.send(c, PAYLOAD), null);
});

test("ICMPv6 unreachable on a connected IPv6 socket", () => {
  const { udp, events } = setup();
  const c = open(udp, Ipv6);
  udp.connect(c, R6, 443);
  const port = udp.address(c)?.port as number;
  // Addresses as borrowed views into a quoted packet.
  const quote = new Uint8Array(32);
  quote.set(L6, 0);
  quote.set(R6, 16);
  udp.receiveIcmpError(
    icmpErr(Ipv6, quote.subarray(0, 16) as Ipv6Addr, port, quote.subarray(16) as Ipv6Addr, 443, "EHOSTUNREACH"),
  );
  assert.deepEqual(events, [{ type: "error", socket: c, code: "EHOSTUNREACH" }]);
});

// ---- close ----

test("close: emits closed, frees the port, drops the queue; EBADF after", () => {
  const { udp, events, ip } = setup();
  const s = open(udp, Ipv4);
  udp.bind(s, L4, 8000);
  inject(udp, Ipv4, R4, 1, L4, 8000, bytes(1));
  assert.equal(udp.close(s), null);
  assert.deepEqual(events.at(-1), { type: "closed", socket: s });
  assert.equal(udp.recv(s), null);
  assert.equal(udp.close(s), "EBADF");
  assert.equal(udp.sendTo(s, PAYLOAD, R4, 1), "EBADF");
  // Datagrams for the port now get port unreachable, and the port can be bound again.
  inject(udp, Ipv4, R4, 1, L4, 8000, bytes(2));
  assert.equal(ip.icmpErrors.length, 1);
  const t = open(udp, Ipv4);
  assert.equal(udp.bind(t, L4, 8000), null);
});

// ---- properties ----

test("property: what one layer sends, another receives with the same payload and source", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 1, max: 0xffff }),
      fc.integer({ min: 1, max: 0xffff }),
      (v6, payload, srcPort, dstPort) => {
        const A = setup();
        const B = setup();
        const I = (v6 ? Ipv6 : Ipv4) as IpVersion<IpAddr>;
        const [src, dst] = (v6 ? [L6, R6] : [L4, R4]) as [IpAddr, IpAddr];
        B.ip.local = [dst];
        const s = open(A.udp, I);
        assert.equal(A.udp.bind(s, src, srcPort), null);
        const r = open(B.udp, I);
        assert.equal(B.udp.bind(r, I.unspecified, dstPort), null);
        assert.equal(A.udp.sendTo(s, payload, dst, dstPort), null);
        const seg = A.ip.sent[0].bytes;
        const store = new Uint8Array(I.headerLen + seg.length);
        store.set(seg, I.headerLen);
        const buf = new Buf(store, I.headerLen);
        B.udp.receive(rx(I, src, dst, buf), buf);
        assert.deepEqual(B.udp.recv(r), { data: payload, address: src, port: srcPort, family: I.name });
      },
    ),
  );
});

test("property: arbitrary bytes never throw and are either delivered or counted", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), fc.boolean(), (data, v6, multicast) => {
      const { udp, counters } = setup();
      const I = (v6 ? Ipv6 : Ipv4) as IpVersion<IpAddr>;
      const s = open(udp, I);
      udp.bind(s, I.unspecified, 0x0102);
      const store = new Uint8Array(I.headerLen + data.length);
      store.set(data, I.headerLen);
      const buf = new Buf(store, I.headerLen);
      const [src, dst] = (v6 ? [R6, multicast ? a6("ff02::1") : L6] : [R4, multicast ? V4_BROADCAST : L4]) as [
        IpAddr,
        IpAddr,
      ];
      udp.receive(rx(I, src, dst, buf, multicast), buf);
      const snap = counters.snapshot({ prefix: "udp.rx." });
      const outcomes = Object.values(snap).reduce((x, y) => x + y, 0);
      assert.equal(outcomes, 1, JSON.stringify(snap));
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { IpAddr, StackEvent } from "../context.ts";
import { Counters } from "../counters.ts";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "../ip/addr.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSendError, IpSender, IpSendOptions } from "../ip/transport-api.ts";
import { type IpVersion, Ipv4, Ipv6, V4_BROADCAST } from "../ip/version.ts";
import type { Buf } from "../packet/buf.ts";
import { type Serializer, TooBig } from "../packet/serialize.ts";
import { isError } from "../wire/errors.ts";
import { Icmpv4Type, Icmpv4View } from "../wire/icmpv4.ts";
import { Icmpv6Type, Icmpv6View } from "../wire/icmpv6.ts";
import { IcmpEchoSockets, type IcmpEchoSocketsOptions } from "./icmp-echo.ts";

const a4 = (s: string): Ipv4Addr => parseV4(s) as Ipv4Addr;
const a6 = (s: string): Ipv6Addr => parseV6(s) as Ipv6Addr;

// The ICMP part of a Linux `ping` echo request (src/wire/icmpv4.test.ts): id 0x1c46, seq 1, 56 bytes.
// biome-ignore format: packet bytes
const LINUX_ECHO4 = new Uint8Array([
  0x08, 0x00, 0xab, 0x26, 0x1c, 0x46, 0x00, 0x01, 0x5c, 0x1d, 0x6e, 0x66, 0x00, 0x00, 0x00, 0x00,
  0x9a, 0x3b, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
  0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
]);
// The ICMPv6 part of a Linux `ping` fd77::1 -> fd77::2 (test/fixtures/ping6.pcap, frame 1): id 0x43f9, seq 1.
const PING6_SRC = a6("fd77::1");
const PING6_DST = a6("fd77::2");
// biome-ignore format: packet bytes
const LINUX_ECHO6 = new Uint8Array([
  0x80, 0x00, 0x03, 0x93, 0x43, 0xf9, 0x00, 0x01, 0xe0, 0xe3, 0x05, 0x6b, 0x00, 0x00, 0x00, 0x00,
  0x92, 0xe3, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
  0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
]);

const L4 = a4("10.0.2.15");
const R4 = a4("10.0.2.2");
const R4B = a4("10.0.2.3");

interface Sent {
  opts: IpSendOptions<IpAddr>;
  bytes: Uint8Array;
}

class FakeIp implements IpSender {
  sent: Sent[] = [];
  result: IpSendError = null;
  source4: Ipv4Addr | null = L4;
  source6: Ipv6Addr | null = PING6_SRC;
  /** Called after recording a send (a loopback reply delivered from inside `send`). */
  onSend: (() => void) | null = null;

  send<A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer): IpSendError {
    const b = body.serialize({ prefix: I.headerLen });
    if (b instanceof TooBig) return "EMSGSIZE";
    this.sent.push({ opts: opts as unknown as IpSendOptions<IpAddr>, bytes: b.toBytes() });
    this.onSend?.();
    return this.result;
  }
  maxPayload<A>(I: IpVersion<A>, _dst: A): number {
    return 1500 - I.headerLen;
  }
  selectSource<A>(I: IpVersion<A>, _dst: A): A | null {
    return (I.version === 4 ? this.source4 : this.source6) as A | null;
  }
  isLocal<A>(_I: IpVersion<A>, _a: A): boolean {
    return false;
  }
  sendIcmpError<A>(_info: IpRxInfo<A>, _buf: Buf, _type: number, _code: number): void {
    assert.fail("echo sockets never send ICMP errors");
  }
}

function setup(extra: Partial<IcmpEchoSocketsOptions> = {}, randoms: number[] = []) {
  const ip = new FakeIp();
  const events: StackEvent[] = [];
  const counters = new Counters();
  const clock = { t: 1000 };
  let seed = 777;
  const echo = new IcmpEchoSockets({
    ip,
    emit: (e) => events.push(e),
    random: () => {
      const r = randoms.shift();
      if (r !== undefined) return r >>> 0;
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    },
    now: () => clock.t,
    counters,
    ...extra,
  });
  return { ip, echo, events, counters, clock };
}

function open<A>(echo: IcmpEchoSockets, I: IpVersion<A>, options = {}): number {
  const s = echo.open(I, options);
  assert.equal(typeof s, "number");
  return s as number;
}

function rx<A>(I: IpVersion<A>, src: A, dst: A): IpRxInfo<A> {
  return { I, src, dst, device: 1, ttl: 64, multicast: false, ipOff: 0 };
}

const DATA = LINUX_ECHO4.subarray(8);

test("echo request bytes: IPv4, as Linux ping sends them", () => {
  const { ip, echo, counters } = setup();
  const s = open(echo, Ipv4, { id: 0x1c46 });
  assert.equal(echo.identifier(s), 0x1c46);
  assert.equal(echo.send(s, R4, 1, DATA), null);
  assert.equal(ip.sent.length, 1);
  assert.deepEqual(ip.sent[0].bytes, LINUX_ECHO4);
  // The IP layer picks the IPv4 source: the checksum does not depend on it.
  assert.deepEqual(ip.sent[0].opts, { src: null, dst: R4, proto: 1, ttl: undefined, device: undefined });
  assert.equal(echo.outstanding(s), 1);
  assert.equal(counters.get("icmp-echo.tx"), 1);
});

test("echo request bytes: IPv6, checksum over the pseudo-header with the selected source", () => {
  const { ip, echo } = setup();
  const s = open(echo, Ipv6, { id: 0x43f9, ttl: 5, device: 2 });
  assert.equal(echo.send(s, PING6_DST, 1, LINUX_ECHO6.subarray(8)), null);
  assert.deepEqual(ip.sent[0].bytes, LINUX_ECHO6);
  const o = ip.sent[0].opts;
  assert.deepEqual([o.src, o.dst, o.proto, o.ttl, o.device], [PING6_SRC, PING6_DST, 58, 5, 2]);
  const v = Icmpv6View.parse(ip.sent[0].bytes, 0, ip.sent[0].bytes.length, PING6_SRC, PING6_DST);
  assert.ok(!isError(v));
});

test("reply matching: identifier, sequence and source; RTT from now()", () => {
  const { echo, events, counters, clock } = setup();
  const s = open(echo, Ipv4, { id: 7 });
  echo.send(s, R4, 1, DATA);
  clock.t += 5;
  echo.send(s, R4, 2, DATA);
  clock.t += 7.5;
  // Wrong identifier, unknown sequence, wrong source: counted, not reported.
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 8, 1, DATA), false);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 7, 3, DATA), false);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4B, L4), 7, 1, DATA), false);
  assert.deepEqual(events, []);
  assert.equal(counters.get("icmp-echo.rx.no-socket"), 1);
  assert.equal(counters.get("icmp-echo.rx.unmatched-seq"), 1);
  assert.equal(counters.get("icmp-echo.rx.wrong-source"), 1);
  // Out of order replies, each matched to its own request.
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 7, 2, DATA), true);
  clock.t += 1;
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 7, 1, DATA), true);
  assert.deepEqual(events, [
    { type: "icmp-echo-reply", socket: s, from: R4, id: 7, seq: 2, rtt: 7.5 },
    { type: "icmp-echo-reply", socket: s, from: R4, id: 7, seq: 1, rtt: 13.5 },
  ]);
  // A duplicate reply: the request is answered already.
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 7, 1, DATA), false);
  assert.equal(echo.outstanding(s), 0);
  assert.equal(counters.get("icmp-echo.rx.matched"), 2);
  assert.equal(counters.get("icmp-echo.rx.unmatched-seq"), 2);
});

test("reply matching: IPv6, source copied out of the packet; versions kept apart", () => {
  const { echo, events, clock } = setup();
  const s6 = open(echo, Ipv6, { id: 9 });
  const s4 = open(echo, Ipv4, { id: 9 });
  echo.send(s6, PING6_DST, 0, DATA);
  echo.send(s4, R4, 0, DATA);
  clock.t = 1003;
  const pkt = new Uint8Array(32);
  pkt.set(PING6_DST, 0);
  pkt.set(PING6_SRC, 16);
  const from = pkt.subarray(0, 16) as Ipv6Addr;
  assert.equal(echo.receiveEchoReply(rx(Ipv6, from, pkt.subarray(16) as Ipv6Addr), 9, 0, DATA), true);
  pkt.fill(0);
  assert.deepEqual(events, [{ type: "icmp-echo-reply", socket: s6, from: PING6_DST, id: 9, seq: 0, rtt: 3 }]);
  assert.equal(echo.outstanding(s4), 1);
});

test("a reply delivered from inside ip.send (loopback) matches", () => {
  const { ip, echo, events } = setup();
  const s = open(echo, Ipv4, { id: 1 });
  ip.onSend = () => echo.receiveEchoReply(rx(Ipv4, R4, L4), 1, 42, DATA);
  assert.equal(echo.send(s, R4, 42, DATA), null);
  assert.deepEqual(events, [{ type: "icmp-echo-reply", socket: s, from: R4, id: 1, seq: 42, rtt: 0 }]);
});

test("multicast ping: replies from every responder, request stays outstanding", () => {
  const { echo, events } = setup();
  const s = open(echo, Ipv6, { id: 3 });
  const all = a6("ff02::1");
  assert.equal(echo.send(s, all, 1, DATA), null);
  assert.equal(echo.receiveEchoReply(rx(Ipv6, a6("fe80::a"), PING6_SRC), 3, 1, DATA), true);
  assert.equal(echo.receiveEchoReply(rx(Ipv6, a6("fe80::b"), PING6_SRC), 3, 1, DATA), true);
  assert.deepEqual(
    events.map((e) => (e.type === "icmp-echo-reply" ? Ipv6.format(e.from as Ipv6Addr) : e.type)),
    ["fe80::a", "fe80::b"],
  );
  assert.equal(echo.outstanding(s), 1);
});

test("broadcast ping needs the broadcast option; then any source answers", () => {
  const { ip, echo, events } = setup();
  const s = open(echo, Ipv4, { id: 4 });
  assert.equal(echo.send(s, V4_BROADCAST, 1, DATA), "EACCES");
  assert.equal(ip.sent.length, 0);
  const b = open(echo, Ipv4, { id: 5, broadcast: true });
  assert.equal(echo.send(b, V4_BROADCAST, 1, DATA), null);
  // Subnet-directed broadcast: a unicast-looking destination, answered by other hosts.
  assert.equal(echo.send(b, a4("10.0.2.255"), 2, DATA), null);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 5, 1, DATA), true);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4B, L4), 5, 2, DATA), true);
  assert.equal(events.length, 2);
});

test("outstanding requests are bounded: the oldest is forgotten", () => {
  const { echo, events, counters } = setup({ limits: { maxOutstanding: 3 } });
  const s = open(echo, Ipv4, { id: 1 });
  for (let seq = 0; seq < 5; seq++) assert.equal(echo.send(s, R4, seq, DATA), null);
  assert.equal(echo.outstanding(s), 3);
  assert.equal(counters.get("icmp-echo.evicted"), 2);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 1, 0, DATA), false);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 1, 1, DATA), false);
  for (const seq of [2, 3, 4]) assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 1, seq, DATA), true);
  assert.equal(events.length, 3);
  // Re-sending an outstanding sequence number replaces it (no eviction); RTT counts from the new one.
  const { echo: e2, events: ev2, clock, counters: c2 } = setup({ limits: { maxOutstanding: 2 } });
  const t = open(e2, Ipv4, { id: 2 });
  e2.send(t, R4, 1, DATA);
  e2.send(t, R4, 2, DATA);
  clock.t += 10;
  e2.send(t, R4, 1, DATA);
  assert.equal(e2.outstanding(t), 2);
  assert.equal(c2.get("icmp-echo.evicted"), 0);
  clock.t += 1;
  e2.receiveEchoReply(rx(Ipv4, R4, L4), 2, 1, DATA);
  e2.receiveEchoReply(rx(Ipv4, R4, L4), 2, 2, DATA);
  assert.deepEqual(
    ev2.map((e) => (e.type === "icmp-echo-reply" ? [e.seq, e.rtt] : null)),
    [
      [1, 1],
      [2, 11],
    ],
  );
});

test("identifiers: chosen, taken, random, freed on close", () => {
  const { echo, events } = setup({}, [0x12345678]);
  const a = open(echo, Ipv4);
  assert.equal(echo.identifier(a), 0x5678);
  assert.equal(echo.open(Ipv4, { id: 0x5678 }), "EADDRINUSE");
  assert.equal(typeof echo.open(Ipv6, { id: 0x5678 }), "number");
  assert.equal(echo.open(Ipv4, { id: 0x10000 }), "EINVAL");
  assert.equal(echo.open(Ipv4, { id: -1 }), "EINVAL");
  assert.equal(echo.close(a), null);
  assert.deepEqual(events, [{ type: "closed", socket: a }]);
  assert.equal(echo.close(a), "EBADF");
  assert.equal(echo.identifier(a), null);
  assert.equal(typeof echo.open(Ipv4, { id: 0x5678 }), "number");
  // A random identifier skips taken ones.
  const { echo: e2 } = setup({}, [5]);
  open(e2, Ipv4, { id: 5 });
  assert.equal(e2.identifier(open(e2, Ipv4)), 6);
});

test("open: EMFILE past maxSockets; socket ids from allocSocketId", () => {
  let next = 50;
  const { echo } = setup({ limits: { maxSockets: 1 }, allocSocketId: () => next++ });
  assert.equal(echo.open(Ipv4), 50);
  assert.equal(echo.open(Ipv4), "EMFILE");
});

test("send errors: arguments, size, source, ip.send", () => {
  const { ip, echo, counters } = setup();
  const s = open(echo, Ipv4, { id: 1 });
  const s6 = open(echo, Ipv6, { id: 1 });
  assert.equal(echo.send(99, R4, 1, DATA), "EBADF");
  assert.equal(echo.send(s, PING6_DST, 1, DATA), "EAFNOSUPPORT");
  assert.equal(echo.send(s, R4, 65536, DATA), "EINVAL");
  assert.equal(echo.send(s, R4, 1.5, DATA), "EINVAL");
  assert.equal(echo.send(s, Ipv4.unspecified, 1, DATA), "EINVAL");
  assert.equal(echo.send(s, R4, 1, new Uint8Array(65508)), "EMSGSIZE");
  assert.equal(echo.send(s6, PING6_DST, 1, new Uint8Array(65528)), "EMSGSIZE");
  assert.equal(ip.sent.length, 0);
  assert.equal(echo.send(s, R4, 1, new Uint8Array(65507)), null);
  assert.equal(ip.sent[0].bytes.length, 65515);
  ip.source6 = null;
  assert.equal(echo.send(s6, PING6_DST, 1, DATA), "ENETUNREACH");
  ip.result = "EHOSTUNREACH";
  assert.equal(echo.send(s, R4, 2, DATA), "EHOSTUNREACH");
  // The failed request is not remembered.
  assert.equal(echo.outstanding(s), 1);
  assert.equal(counters.get("icmp-echo.tx.error"), 2);
});

function icmpErr<A>(I: IpVersion<A>, src: A, dst: A, id: number, seq: number, code: string): IcmpErrorInfo<A> {
  return { I, src, dst, srcPort: id, dstPort: 0, code, mtu: 0, seq };
}

test("ICMP errors quoting our request: error event, request forgotten", () => {
  const { echo, events, counters } = setup();
  const s = open(echo, Ipv4, { id: 0x1c46 });
  echo.send(s, R4, 1, DATA);
  echo.send(s, R4, 2, DATA);
  echo.receiveIcmpError(icmpErr(Ipv4, L4, R4, 0x1c46, 1, "EHOSTUNREACH"));
  assert.deepEqual(events, [{ type: "error", socket: s, code: "EHOSTUNREACH" }]);
  assert.equal(echo.outstanding(s), 1);
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 0x1c46, 1, DATA), false);
  // Unknown identifier, or the other version: counted only.
  echo.receiveIcmpError(icmpErr(Ipv4, L4, R4, 0x1c47, 2, "EHOSTUNREACH"));
  echo.receiveIcmpError(icmpErr(Ipv6, PING6_SRC, PING6_DST, 0x1c46, 2, "EHOSTUNREACH"));
  assert.equal(events.length, 1);
  assert.equal(counters.get("icmp-echo.icmp-error.no-socket"), 2);
  assert.equal(counters.get("icmp-echo.icmp-error.delivered"), 1);
  // The socket stays usable.
  assert.equal(echo.receiveEchoReply(rx(Ipv4, R4, L4), 0x1c46, 2, DATA), true);
});

test("property: requests of both versions parse back with their id, seq, data and a valid checksum", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 200 }),
      (v6, id, seq, data) => {
        const { ip, echo } = setup();
        const I = (v6 ? Ipv6 : Ipv4) as IpVersion<IpAddr>;
        const s = open(echo, I, { id });
        assert.equal(echo.send(s, v6 ? PING6_DST : R4, seq, data), null);
        const b = ip.sent[0].bytes;
        if (v6) {
          const v = Icmpv6View.parse(b, 0, b.length, PING6_SRC, PING6_DST);
          if (isError(v)) assert.fail(String(v));
          assert.deepEqual([v.type, v.code, v.id, v.seq], [Icmpv6Type.EchoRequest, 0, id, seq]);
          assert.deepEqual(v.data(), data);
        } else {
          const v = Icmpv4View.parse(b, 0, b.length);
          if (isError(v)) assert.fail(String(v));
          assert.deepEqual([v.type, v.code, v.id, v.seq], [Icmpv4Type.EchoRequest, 0, id, seq]);
          assert.deepEqual(b.subarray(v.dataOff, v.dataOff + v.dataLen), data);
        }
      },
    ),
  );
});

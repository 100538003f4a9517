// Issue 6, IPv4/IPv6 header lies: bad IHL, lengths longer or shorter than the frame, bad header
// checksum, unknown versions, garbage options, extension-header chains that run past the packet or
// are absurdly long, hop-by-hop not first, routing header type 0 with segments left. Each attack:
// what the victim sends (and does not), its counters, its bounds, then a legitimate connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IpProto } from "../../src/wire/ipproto.ts";
import { TcpFlags } from "../../src/wire/tcp.ts";
import {
  assertBounded,
  C4,
  C6,
  EtherType,
  echo4,
  echo6,
  eth,
  Ipv4,
  Ipv6,
  ip4,
  ip6,
  type Lab,
  lab,
  legit,
  seg,
  V4,
  V6,
} from "./harness.ts";

const SYN = { flags: TcpFlags.SYN, seq: 5000, sport: 41000 };

function synAcks(L: Lab): number {
  return L.sent.filter((s) => s.tcp !== null && s.tcp.flags === (TcpFlags.SYN | TcpFlags.ACK)).length;
}

/** An IPv4 packet carrying a SYN, then `mutate` applied to the IP header bytes (checksum fixed unless told). */
function lie4(mutate: (p: Uint8Array) => void, fixChecksum = true): Uint8Array {
  const p = ip4(C4, V4, IpProto.Tcp, seg(C4, V4, SYN));
  mutate(p);
  if (fixChecksum) {
    const hl = Math.min((p[0] & 0x0f) * 4, p.length);
    p[10] = 0;
    p[11] = 0;
    let s = 0;
    for (let i = 0; i + 1 < hl; i += 2) s += (p[i] << 8) | p[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    p[10] = c >>> 8;
    p[11] = c & 0xff;
  }
  return eth(EtherType.Ipv4, p);
}

test("IPv4 header lies: each is dropped silently and counted; no SYN-ACK escapes", () => {
  const L = lab();
  const { v } = L;
  const cases: [string, Uint8Array][] = [
    ["bad-header-length", lie4((p) => (p[0] = 0x44))], // IHL 4 (16 bytes)
    ["too-short", lie4((p) => (p[0] = 0x4f))], // IHL 15: 60 bytes of header, more than the packet
    ["too-short", lie4((p) => p.set([0x05, 0xdc], 2))], // total length 1500 > frame
    ["bad-length", lie4((p) => p.set([0, 12], 2))], // total length below the header
    ["bad-checksum", lie4((p) => (p[8] = 1), false)], // TTL changed, checksum not
    ["bad-version", lie4((p) => (p[0] = 0x55))],
    ["bad-version", lie4((p) => (p[0] = 0x65))], // an IPv6 version nibble under EtherType IPv4
  ];
  for (const [, f] of cases) L.inject(f);
  L.run();
  for (const reason of new Set(cases.map(([r]) => r))) {
    const n = cases.filter(([r]) => r === reason).length;
    assert.equal(v.counters.get(`ipv4.rx.${reason}`), n, reason);
  }
  assert.equal(synAcks(L), 0, "no SYN-ACK for a packet with a lying header");
  assert.equal(v.counters.get("tcp.rx"), 0, "nothing reached TCP");
  assert.equal(v.counters.get("icmpv4.tx.error"), 0, "RFC 1122 3.2.1.1/3.2.1.2: silently discarded");
  assertBounded(v);
  legit(L, Ipv4);
});

test("IPv4 total length shorter than the frame: the padding is not part of the packet", () => {
  const L = lab();
  // An echo request whose frame carries 40 bytes of garbage after the datagram.
  const data = Uint8Array.from({ length: 24 }, (_, i) => i + 1);
  const p = ip4(C4, V4, IpProto.Icmp, echo4(1, data));
  const f = eth(EtherType.Ipv4, p);
  const g = new Uint8Array(f.length + 40).fill(0xee);
  g.set(f.subarray(0, 14 + p.length));
  L.inject(g);
  // A SYN whose total length cuts the TCP header to 10 bytes: TCP sees a truncated header.
  L.inject(lie4((q) => q.set([0, 30], 2)));
  L.run();
  const replies = L.sent.filter((s) => s.icmp?.type === 0);
  assert.equal(replies.length, 1);
  const r = replies[0].bytes;
  const total = (r[16] << 8) | r[17];
  assert.equal(total, 20 + 8 + data.length, "the reply carries exactly the datagram's data");
  assert.deepEqual(r.subarray(14 + 28, 14 + total), data);
  assert.equal(L.v.counters.get("tcp.rx.too-short"), 1);
  assert.equal(synAcks(L), 0);
  assertBounded(L.v);
});

test("IPv4 garbage options: parameter problem pointing at the option (rate limited); unknown protocol", () => {
  const L = lab({ limits: { icmpErrorBurst: 5, icmpErrorRate: 1 } });
  // Option type 0x44 (timestamp) with length 0: malformed (RFC 791); pointer 20.
  const bad = ip4(C4, V4, IpProto.Tcp, seg(C4, V4, SYN), { options: Uint8Array.of(0x44, 0, 0, 0) });
  // Option length running past the header: pointer 21 (after a NOP).
  const past = ip4(C4, V4, IpProto.Tcp, seg(C4, V4, SYN), { options: Uint8Array.of(1, 0x07, 30, 0) });
  L.inject(eth(EtherType.Ipv4, bad));
  L.inject(eth(EtherType.Ipv4, past));
  L.run();
  const pp = L.sent.filter((s) => s.icmp?.type === 12);
  assert.deepEqual(
    pp.map((s) => [s.dst, s.icmp!.code, s.bytes[14 + 20 + 4]]),
    [
      ["10.0.0.1", 0, 20],
      ["10.0.0.1", 0, 21],
    ],
  );
  assert.equal(L.v.counters.get("ipv4.rx.bad-option"), 2);
  // A flood of them: ICMP errors stay within the token bucket.
  L.clear();
  for (let i = 0; i < 200; i++) L.inject(eth(EtherType.Ipv4, bad));
  L.run(100);
  assert.ok(L.sent.filter((s) => s.icmp?.type === 12).length <= 5, "rate limited");
  assert.ok(L.v.counters.get("icmpv4.tx.error-rate-limited") >= 195, "counted");
  // RFC 1122 3.2.2.1: an unknown protocol is answered with protocol unreachable.
  L.clear();
  L.net.advance(10_000);
  L.inject(eth(EtherType.Ipv4, ip4(C4, V4, 253, new Uint8Array(30))));
  L.run();
  assert.deepEqual(
    L.sent.filter((s) => s.icmp !== null).map((s) => [s.icmp!.type, s.icmp!.code]),
    [[3, 2]],
  );
  assert.equal(synAcks(L), 0);
  assertBounded(L.v, { icmpErrorBurst: 5 });
  legit(L, Ipv4);
});

/** An IPv6 frame to the victim from the client. */
function v6frame(p: Uint8Array): Uint8Array {
  return eth(EtherType.Ipv6, p);
}

/** A destination options header of `n` 8-byte units (PadN filled). */
function dstOpts(units = 1): { type: number; data: Uint8Array } {
  const data = new Uint8Array(units * 8 - 2);
  data[0] = 1; // PadN
  data[1] = data.length - 2;
  return { type: IpProto.Ipv6Opts, data };
}

test("IPv6 header lies: lengths, versions, chains past the packet or too long: dropped silently", () => {
  const L = lab();
  const { v } = L;
  const syn = seg(C6, V6, SYN);
  const good = ip6(C6, V6, IpProto.Tcp, syn);
  const longer = good.slice();
  longer[5] += 100; // payload length past the frame
  const version = good.slice();
  version[0] = 0x40 | (version[0] & 0x0f);
  // A hop-by-hop header claiming 256 * 8 bytes in a small packet.
  const past = ip6(C6, V6, IpProto.Tcp, syn, { exts: [{ type: IpProto.HopByHop, data: new Uint8Array(6) }] });
  past[41] = 255;
  // 40 destination options headers: beyond the 16 followed.
  const chain = ip6(C6, V6, IpProto.Tcp, syn, { exts: Array.from({ length: 40 }, () => dstOpts()) });
  for (const p of [longer, version, past, chain]) L.inject(v6frame(p));
  L.run();
  assert.equal(v.counters.get("ipv6.rx.bad-length"), 1);
  assert.equal(v.counters.get("ipv6.rx.bad-version"), 1);
  assert.equal(v.counters.get("ipv6.rx.ext-too-short"), 1);
  assert.equal(v.counters.get("ipv6.rx.too-many-ext-headers"), 1);
  assert.equal(v.counters.get("tcp.rx"), 0);
  assert.equal(synAcks(L), 0);
  assert.equal(v.counters.get("icmpv6.tx.error"), 0);
  // Payload length shorter than the frame: the rest is padding; the echo reply carries only the data.
  const data = Uint8Array.from({ length: 16 }, (_, i) => 100 + i);
  const e = ip6(C6, V6, IpProto.Icmpv6, echo6(C6, V6, 1, data));
  const padded = new Uint8Array(e.length + 32).fill(0xaa);
  padded.set(e);
  L.inject(v6frame(padded));
  L.run();
  const replies = L.sent.filter((s) => s.ip === 6 && s.icmp?.type === 129);
  assert.equal(replies.length, 1);
  const r = replies[0].bytes;
  assert.equal((r[18] << 8) | r[19], 8 + data.length);
  assert.deepEqual(r.subarray(14 + 48, 14 + 48 + data.length), data);
  assertBounded(v);
  legit(L, Ipv6);
});

test("IPv6 hop-by-hop not first, routing type 0 with segments left, unknown options: parameter problem", () => {
  const L = lab();
  const { v } = L;
  const syn = seg(C6, V6, SYN);
  // Destination options, then hop-by-hop: code 1 pointing at the Next Header field naming it (40).
  const hbh = ip6(C6, V6, IpProto.Tcp, syn, { exts: [dstOpts(), { type: IpProto.HopByHop, data: new Uint8Array(6) }] });
  // RFC 5095: routing type 0, segments left 2: code 0 pointing at the routing type (42).
  const rh0 = ip6(C6, V6, IpProto.Tcp, syn, {
    exts: [{ type: IpProto.Ipv6Route, data: Uint8Array.of(0, 2, 0, 0, 0, 0) }],
  });
  // An unknown option with action bits 10: code 2 pointing at the option (42).
  const opt = ip6(C6, V6, IpProto.Tcp, syn, {
    exts: [{ type: IpProto.Ipv6Opts, data: Uint8Array.of(0x80, 4, 0, 0, 0, 0) }],
  });
  for (const p of [hbh, rh0, opt]) L.inject(v6frame(p));
  L.run();
  const pp = L.sent.filter((s) => s.ip === 6 && s.icmp?.type === 4);
  const pointer = (b: Uint8Array) => ((b[58] << 24) | (b[59] << 16) | (b[60] << 8) | b[61]) >>> 0;
  assert.deepEqual(
    pp.map((s) => [s.dst, s.icmp!.code, pointer(s.bytes)]),
    [
      ["2001:db8::1", 1, 40],
      ["2001:db8::1", 0, 42],
      ["2001:db8::1", 2, 42],
    ],
  );
  assert.equal(v.counters.get("ipv6.rx.hop-by-hop-not-first"), 1);
  assert.equal(v.counters.get("ipv6.rx.routing-header-segments-left"), 1);
  assert.equal(v.counters.get("tcp.rx"), 0);
  assert.equal(synAcks(L), 0);
  // Routing type 0 with segments left 0 is ignored (RFC 8200 4.4): the SYN is answered.
  L.clear();
  const rh0done = ip6(C6, V6, IpProto.Tcp, syn, {
    exts: [{ type: IpProto.Ipv6Route, data: Uint8Array.of(0, 0, 0, 0, 0, 0) }],
  });
  L.inject(v6frame(rh0done));
  L.run();
  assert.equal(synAcks(L), 1);
  // A flood of them: the answers stay within the ICMPv6 token bucket (burst 50).
  L.clear();
  for (let i = 0; i < 300; i++) L.inject(v6frame(rh0));
  L.run(100);
  assert.ok(L.sent.filter((s) => s.icmp?.type === 4).length <= 50, "rate limited");
  assertBounded(v);
  legit(L, Ipv6);
  legit(L, Ipv4);
});

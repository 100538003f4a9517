// Issue 6, fragment attacks: overlapping fragments (the datagram is dropped; RFC 5722 for IPv6),
// tiny fragments, reassembly beyond 65535 bytes, and floods of incomplete datagrams (memory stays
// bounded, old datagrams expire, and reassembly serves legitimate traffic again afterwards).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ipv4Addr, Ipv6Addr } from "../../src/ip/addr.ts";
import { TcpFlags } from "../../src/wire/tcp.ts";
import { pattern, ping } from "../scenarios/helpers.ts";
import {
  assertBounded,
  C4,
  C6,
  EtherType,
  echo4,
  echo6,
  eth,
  heapUsed,
  IpProto,
  Ipv4,
  Ipv6,
  ip4,
  ip6,
  type Lab,
  lab,
  legit,
  MEMORY_CEILING,
  seg,
  spoof4,
  spoof6,
  V4,
  V6,
} from "./harness.ts";

/** IPv4 fragment frame: `data` is the slice of the datagram's payload at byte `offset`. */
function frag4(id: number, offset: number, more: boolean, data: Uint8Array, src: Ipv4Addr = C4, proto = 1) {
  return eth(EtherType.Ipv4, ip4(src, V4, proto, data, { id, mf: more, fragOffset: offset }));
}

/** IPv6 fragment frame. */
function frag6(id: number, offset: number, more: boolean, data: Uint8Array, src: Ipv6Addr = C6, next = 58) {
  return eth(EtherType.Ipv6, ip6(src, V6, next, data, { frag: { id, offset, more } }));
}

function echoReplies(L: Lab, version: 4 | 6): number {
  return L.sent.filter((s) => s.ip === version && s.icmp?.type === (version === 4 ? 0 : 129)).length;
}

test("overlapping fragments: the whole datagram is dropped (IPv4 as Linux does, IPv6 per RFC 5722)", () => {
  const L = lab();
  const { v } = L;
  const e4 = echo4(1, pattern(64));
  // Two fragments overlapping by 8 bytes, then the rest: no reply.
  L.inject(frag4(10, 0, true, e4.subarray(0, 40)));
  L.inject(frag4(10, 32, false, e4.subarray(32)));
  // RFC 1858 tiny-fragment overlap: offset 8 rewrites the TCP flags of the first fragment's header.
  const syn = seg(C4, V4, { flags: TcpFlags.SYN, seq: 1 });
  const rst = seg(C4, V4, { flags: TcpFlags.RST, seq: 1 });
  L.inject(frag4(11, 0, true, syn.subarray(0, 16), C4, IpProto.Tcp));
  L.inject(frag4(11, 8, false, rst.subarray(8), C4, IpProto.Tcp));
  const e6 = echo6(C6, V6, 1, pattern(64));
  L.inject(frag6(12, 0, true, e6.subarray(0, 40)));
  L.inject(frag6(12, 32, false, e6.subarray(32)));
  L.run();
  assert.equal(v.counters.get("ipv4.reassembly.overlap"), 2);
  assert.equal(v.counters.get("ipv6.reassembly.overlap"), 1);
  assert.equal(echoReplies(L, 4) + echoReplies(L, 6), 0);
  assert.equal(v.counters.get("tcp.rx"), 0);
  assert.equal(v.usage().reassemblyDatagrams, 0, "nothing is kept");
  // The later, well-formed fragments of a dropped datagram start a new one, which times out.
  L.inject(frag6(12, 48, false, e6.subarray(48)));
  L.run(61_000);
  assert.equal(v.usage().reassemblyDatagrams, 0);
  // An exact duplicate is not an overlap: the datagram completes (RFC 8200 4.5).
  L.clear();
  L.inject(frag6(13, 0, true, e6.subarray(0, 32)));
  L.inject(frag6(13, 0, true, e6.subarray(0, 32)));
  L.inject(frag6(13, 32, false, e6.subarray(32)));
  L.run();
  assert.equal(echoReplies(L, 6), 1);
  assertBounded(v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

test("tiny fragments: 8-byte fragments reassemble; an IPv6 first fragment must hold the upper-layer header", () => {
  const L = lab();
  const { v } = L;
  const e4 = echo4(2, pattern(40));
  for (let o = 0; o < e4.length; o += 8) L.inject(frag4(20, o, o + 8 < e4.length, e4.subarray(o, o + 8)));
  L.run();
  assert.equal(echoReplies(L, 4), 1, "a datagram of 8-byte fragments is a datagram");
  // RFC 7112 5: an IPv6 first fragment that does not hold the whole chain through the upper-layer
  // header: parameter problem code 3, and the fragment is dropped.
  L.clear();
  const syn = seg(C6, V6, { flags: TcpFlags.SYN, seq: 9 });
  L.inject(frag6(21, 0, true, syn.subarray(0, 8), C6, IpProto.Tcp));
  L.inject(frag6(21, 8, false, syn.subarray(8), C6, IpProto.Tcp));
  L.run();
  const pp = L.sent.filter((s) => s.ip === 6 && s.icmp?.type === 4);
  assert.deepEqual(
    pp.map((s) => s.icmp!.code),
    [3],
  );
  assert.equal(v.counters.get("tcp.rx"), 0, "the SYN never reached TCP");
  assert.equal(L.sent.filter((s) => s.tcp !== null).length, 0);
  L.run(61_000);
  assertBounded(v);
  legit(L, Ipv6);
});

test("reassembly beyond 65535 bytes: dropped (IPv6: parameter problem at the fragment offset)", () => {
  const L = lab();
  const { v } = L;
  const big = pattern(1024);
  L.inject(frag4(30, 0, true, big));
  L.inject(frag4(30, 65528, false, pattern(16))); // 20 + 65528 + 16 > 65535
  L.inject(frag6(31, 0, true, big));
  L.inject(frag6(31, 65528, false, pattern(16)));
  L.run();
  assert.equal(v.counters.get("ipv4.reassembly.too-big"), 1);
  assert.equal(v.counters.get("ipv6.rx.fragment-beyond-65535"), 1);
  const pp = L.sent.filter((s) => s.ip === 6 && s.icmp?.type === 4);
  assert.equal(pp.length, 1);
  const b = pp[0].bytes;
  assert.equal(pp[0].icmp!.code, 0);
  assert.equal(((b[58] << 24) | (b[59] << 16) | (b[60] << 8) | b[61]) >>> 0, 42, "pointer: the fragment offset");
  assert.equal(echoReplies(L, 4) + echoReplies(L, 6), 0);
  L.run(61_000);
  assertBounded(v);
  legit(L, Ipv4);
});

test("floods of incomplete datagrams: memory and datagram count bounded, old ones expire, reassembly recovers", (t) => {
  const limits = { reassemblyDatagrams: 256, reassemblyBytes: 1 << 20 };
  const L = lab({ limits });
  const { v, net } = L;
  const before = heapUsed();
  const chunk = pattern(1232);
  // 3000 datagrams per version that never complete: first fragments from spoofed sources, and
  // sparse fragments far into the datagram (each asks for a buffer of most of 64 kB).
  for (let i = 0; i < 3000; i++) {
    const sparse = i % 3 === 0;
    L.inject(frag4(i & 0xffff, sparse ? 60000 : 0, true, sparse ? chunk.subarray(0, 8) : chunk, spoof4(i)));
    L.inject(frag6(i, sparse ? 60000 : 0, true, sparse ? chunk.subarray(0, 8) : chunk, spoof6(i)));
    if (i % 500 === 499) {
      net.runUntilIdle(net.now + 10);
      assertBounded(v, limits);
    }
  }
  L.run(100);
  assertBounded(v, limits);
  const u = v.usage();
  assert.ok(u.reassemblyDatagrams > 0 && u.reassemblyBytes <= 1 << 20, JSON.stringify(u));
  assert.ok(v.counters.get("ipv4.reassembly.too-many-datagrams") + v.counters.get("ipv4.reassembly.memory") > 2000);
  assert.ok(v.counters.get("ipv6.reassembly.too-many-datagrams") + v.counters.get("ipv6.reassembly.memory") > 2000);
  const grown = heapUsed() - before;
  t.diagnostic(`heap growth under the flood: ${(grown / 1048576).toFixed(1)} MB`);
  assert.ok(grown < MEMORY_CEILING, `heap grew ${grown} bytes`);
  // During the flood a legitimate fragmented datagram may find no room; after the timeout
  // (RFC 8200 4.5: 60 s) every incomplete datagram is gone and reassembly works again.
  L.run(61_000);
  assert.equal(v.usage().reassemblyDatagrams, 0);
  assert.equal(v.usage().reassemblyBytes, 0);
  assert.ok(v.counters.get("ipv4.reassembly.timeout") > 0);
  // Time exceeded went to the spoofed sources, within the ICMP rate limit (burst 50, 1000/s).
  const te = L.sent.filter((s) => s.icmp?.type === 11 || s.icmp?.type === 3).length;
  assert.ok(te <= 2 * 50 + 10, `time exceeded messages: ${te}`);
  L.clear();
  assert.equal(ping(L.c, "10.0.0.2", 5, 1, pattern(4000)), null);
  assert.equal(ping(L.c, "2001:db8::2", 5, 2, pattern(4000)), null);
  L.run(1000);
  assert.equal(echoReplies(L, 4), 1, "a fragmented IPv4 ping is answered");
  assert.equal(echoReplies(L, 6), 1, "a fragmented IPv6 ping is answered");
  assertBounded(v, limits);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

// Issue 12, item 2: reassemblies from one peer are independent of each other up to the configured
// bounds. The fragments of each echo request are interleaved with those of the others and with
// datagrams that never complete.
for (const version of [4, 6] as const) {
  const frag = (id: number, offset: number, more: boolean, data: Uint8Array) =>
    version === 4 ? frag4(id, offset, more, data) : frag6(id, offset, more, data);
  const echo = (seq: number, data: Uint8Array) => (version === 4 ? echo4(seq, data) : echo6(C6, V6, seq, data));
  const reasm = `ipv${version}.reassembly`;

  test(`IPv${version}: a held incomplete datagram does not block the peer's other datagrams`, () => {
    const L = lab();
    const { v } = L;
    // The case: the first 800-byte fragment of an echo request is held (the rest never
    // comes); an echo request in eight 8-byte fragments with another identification is answered.
    L.inject(frag(100, 0, true, echo(1, pattern(1400)).subarray(0, 800)));
    L.run();
    const e = echo(2, pattern(56));
    for (let o = 0; o < e.length; o += 8) L.inject(frag(101, o, o + 8 < e.length, e.subarray(o, o + 8)));
    L.run();
    assert.equal(echoReplies(L, version), 1);
    // Sparse fragments: 200 datagrams that each hold 8 bytes near the end of a 64 KiB datagram
    // (1600 bytes of data, far below the 4 MiB bound); then three 20000-byte echo requests in
    // 1000-byte fragments, interleaved.
    L.clear();
    for (let i = 0; i < 200; i++) L.inject(frag(1000 + i, 65000, true, pattern(8)));
    const echoes = [echo(3, pattern(20000)), echo(4, pattern(20000)), echo(5, pattern(20000))];
    for (let o = 0; o < echoes[0].length; o += 1000) {
      for (let k = 0; k < echoes.length; k++) {
        const x = echoes[k];
        L.inject(frag(200 + k, o, o + 1000 < x.length, x.subarray(o, o + 1000)));
      }
    }
    L.run();
    assert.equal(echoReplies(L, version), 3, "every echo request is answered");
    assert.equal(v.counters.get(`${reasm}.memory`), 0);
    const u = v.usage();
    assert.equal(u.reassemblyDatagrams, 201, "the incomplete ones are held");
    assert.ok(u.reassemblyBytes < 64 * 1024, `held bytes follow the data: ${u.reassemblyBytes}`);
    L.run(61_000);
    assert.equal(v.usage().reassemblyBytes, 0);
    assertBounded(v);
  });

  test(`IPv${version}: up to the bounds, then counted drops; a datagram that reuses a held identification overlaps it`, () => {
    const limits = { reassemblyDatagrams: 8, reassemblyBytes: 64 * 1024 };
    const L = lab({ limits });
    const { v } = L;
    // Seven held datagrams: the eighth (an echo request in two fragments) still completes.
    for (let i = 0; i < 7; i++) L.inject(frag(300 + i, 0, true, pattern(1000)));
    const e = echo(6, pattern(600));
    L.inject(frag(400, 0, true, e.subarray(0, 304)));
    L.inject(frag(400, 304, false, e.subarray(304)));
    L.run();
    assert.equal(echoReplies(L, version), 1);
    // Eight held: a ninth datagram is over the count bound.
    L.inject(frag(307, 0, true, pattern(1000)));
    L.inject(frag(401, 0, true, e.subarray(0, 304)));
    L.inject(frag(401, 304, false, e.subarray(304)));
    L.run();
    assert.equal(echoReplies(L, version), 1);
    assert.equal(v.counters.get(`${reasm}.too-many-datagrams`), 2);
    // The byte bound: datagrams holding most of it leave no room for a large new one.
    L.run(61_000);
    L.clear();
    for (let i = 0; i < 7; i++) L.inject(frag(500 + i, 0, true, pattern(8800)));
    const big = echo(7, pattern(4000));
    L.inject(frag(600, 0, true, big.subarray(0, 2000)));
    L.inject(frag(600, 2000, false, big.subarray(2000)));
    L.run();
    assert.equal(echoReplies(L, version), 0);
    assert.ok(v.counters.get(`${reasm}.memory`) >= 1);
    assertBounded(v, limits);
    // RFC 791 / RFC 8200 4.5: the identification names the datagram. A datagram that reuses a held
    // one's (scapy sends every packet with IPv4 ID 1 unless told otherwise) is the same datagram
    // to us, as to Linux: its first fragment overlaps the held first fragment and both are dropped.
    L.run(61_000);
    L.clear();
    L.inject(frag(700, 0, true, echo(8, pattern(1400)).subarray(0, 800)));
    const same = echo(9, pattern(56));
    for (let o = 0; o < same.length; o += 8) L.inject(frag(700, o, o + 8 < same.length, same.subarray(o, o + 8)));
    L.run();
    assert.equal(echoReplies(L, version), 0);
    assert.ok(v.counters.get(`${reasm}.overlap`) >= 1);
    if (version === 4) legit(L, Ipv4);
    else legit(L, Ipv6);
  });
}

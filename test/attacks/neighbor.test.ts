// Issue 6, ARP/NDP abuse: floods of requests/solicitations and of unsolicited replies/advertisements
// for many addresses. The neighbour caches stay bounded, the neighbours in use stay, and existing
// entries change only as RFC 826 / RFC 4861 allow (never to a group address, never from a reply
// whose hop limit shows it was forwarded, never without the Override flag).
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, parseV6 } from "../../src/ip/addr.ts";
import { ArpBuilder, ArpOp } from "../../src/wire/arp.ts";
import {
  LinkAddrOption,
  NdpOptionType,
  NeighborAdvertisementBuilder,
  NeighborSolicitationBuilder,
} from "../../src/wire/ndp.ts";
import { TcpFlags } from "../../src/wire/tcp.ts";
import {
  assertBounded,
  build,
  C4,
  C6,
  EtherType,
  eth,
  heapUsed,
  IpProto,
  Ipv4,
  Ipv6,
  ip6,
  type Lab,
  lab,
  legit,
  MEMORY_CEILING,
  tcp4,
  V_MAC,
  V4,
  V6,
} from "./harness.ts";

const BCAST = new Uint8Array(6).fill(0xff) as MacAddr;

function mac(i: number): MacAddr {
  return Uint8Array.of(0x02, 0xbb, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff, 0x01) as MacAddr;
}

function arp(op: number, sha: MacAddr, spa: number, tpa: number, dst: MacAddr = BCAST): Uint8Array {
  const b = new ArpBuilder(
    op,
    sha,
    spa as Ipv4Addr,
    op === ArpOp.Reply ? V_MAC : (new Uint8Array(6) as MacAddr),
    tpa as Ipv4Addr,
  );
  return eth(EtherType.Arp, build(b, new Uint8Array(0)), dst, sha);
}

function entry(L: Lab, version: 4 | 6, addr: string) {
  return L.v.neighbors(1, version).find((n) => n.addr === addr);
}

const ARP_REPLIES = (L: Lab) => L.sent.filter((s) => s.etherType === EtherType.Arp && s.bytes[21] === 2).length;

test("ARP request flood from many spoofed senders: cache bounded, the neighbour in use stays", (t) => {
  const limits = { neighborEntries: 64 };
  const L = lab({ limits });
  legit(L, Ipv4); // the victim now has an entry for the client, in use
  L.net.advance(7000); // DELAY, PROBE (answered): REACHABLE
  assert.equal(entry(L, 4, "10.0.0.1")?.state, "reachable");
  const before = heapUsed();
  L.clear();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const spa = (((10 << 24) | (i + 256)) >>> 0) as number; // 10.0.1.0 onwards: off-subnet senders too
    L.net.inject(["v", 1], arp(ArpOp.Request, mac(i), spa, V4), i * 0.05);
  }
  L.run(2000);
  assert.equal(ARP_REPLIES(L), n, "RFC 826: each request for our address is answered");
  assert.ok(L.v.neighbors(1, 4).length <= 64);
  assert.ok(L.v.counters.get("neighbor.evicted") >= n - 64);
  const e = entry(L, 4, "10.0.0.1");
  assert.ok(e !== undefined && e.mac === "02:00:00:00:00:01", "the client's entry survived the flood");
  const grown = heapUsed() - before;
  t.diagnostic(`heap growth under the flood: ${(grown / 1048576).toFixed(1)} MB`);
  assert.ok(grown < MEMORY_CEILING, "heap");
  assertBounded(L.v, limits);
  // Traffic to the client never needed a new resolution.
  const requests = L.v.counters.get("arp.tx.request");
  legit(L, Ipv4);
  assert.equal(L.v.counters.get("arp.tx.request"), requests);
});

test("unsolicited ARP replies for many addresses: only RFC 826's merge; group MACs and our address refused", () => {
  const limits = { neighborEntries: 64 };
  const L = lab({ limits });
  legit(L, Ipv4);
  const size = L.v.neighbors(1, 4).length;
  // 5000 replies about addresses we have no entry for, not addressed to us: nothing is learned.
  for (let i = 0; i < 5000; i++) L.inject(arp(ArpOp.Reply, mac(i), ((10 << 24) | (i + 256)) >>> 0, C4, V_MAC));
  L.run();
  assert.equal(L.v.neighbors(1, 4).length, size, "RFC 826: no new entry unless we are the target");
  // Claims on the client's address with a broadcast or multicast MAC, and claims on our own address.
  L.inject(arp(ArpOp.Reply, BCAST, C4, V4, V_MAC));
  L.inject(arp(ArpOp.Reply, Uint8Array.of(0x01, 0, 0x5e, 0, 0, 1) as MacAddr, C4, V4, V_MAC));
  L.inject(arp(ArpOp.Reply, mac(1), V4, V4, V_MAC));
  L.inject(arp(ArpOp.Request, mac(2), 0xe0000001, V4)); // a multicast sender address
  L.run();
  assert.equal(entry(L, 4, "10.0.0.1")?.mac, "02:00:00:00:00:01", "group MACs are never believed");
  assert.equal(L.v.counters.get("arp.rx.bad-sender"), 3);
  assert.equal(L.v.counters.get("arp.rx.address-conflict"), 1);
  assert.equal(entry(L, 4, "10.0.0.2"), undefined, "our own address is never a neighbour");
  // 5000 replies addressed to us from many senders: learned STALE, bounded; the client's entry,
  // confirmed, stays.
  legit(L, Ipv4);
  L.net.advance(7000);
  for (let i = 0; i < 5000; i++) L.inject(arp(ArpOp.Reply, mac(i), ((10 << 24) | (i + 256)) >>> 0, V4, V_MAC));
  L.run();
  assert.ok(L.v.neighbors(1, 4).length <= 64);
  assert.equal(entry(L, 4, "10.0.0.1")?.mac, "02:00:00:00:00:01");
  assertBounded(L.v, limits);
  legit(L, Ipv4);
});

function ndpFrame(src: Ipv6Addr, dst: Ipv6Addr, body: Uint8Array, srcMac: MacAddr, hopLimit = 255) {
  return eth(EtherType.Ipv6, ip6(src, dst, IpProto.Icmpv6, body, { hopLimit }), V_MAC, srcMac);
}

function spoofLL(i: number): Ipv6Addr {
  const a = parseV6("2001:db8::1:0:0")!;
  a[12] = (i >>> 8) & 0xff;
  a[13] = i & 0xff;
  a[15] = 7;
  return a;
}

function na(target: Ipv6Addr, tll: MacAddr, flags: { override?: boolean; solicited?: boolean }, hopLimit = 255) {
  const b = new NeighborAdvertisementBuilder(target, V6, target, flags, [
    new LinkAddrOption(NdpOptionType.TargetLinkAddr, tll),
  ]);
  return ndpFrame(target, V6, build(b, new Uint8Array(0)), tll, hopLimit);
}

test("NDP: solicitation floods stay bounded; unsolicited advertisements change nothing RFC 4861 protects", () => {
  const limits = { neighborEntries: 64 };
  const L = lab({ limits });
  legit(L, Ipv6);
  L.net.advance(7000);
  assert.equal(entry(L, 6, "2001:db8::1")?.state, "reachable");
  const before = heapUsed();
  L.clear();
  // 10000 solicitations for our address from spoofed sources, each with a source link-layer option.
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    const src = spoofLL(i);
    const ns = new NeighborSolicitationBuilder(src, V6, V6, [new LinkAddrOption(NdpOptionType.SourceLinkAddr, mac(i))]);
    L.net.inject(["v", 1], ndpFrame(src, V6, build(ns, new Uint8Array(0)), mac(i)), i * 0.1);
  }
  L.run(2000);
  const nas = L.v.counters.get("ndp.tx.neighbor-advertisement");
  // RFC 4861 7.2.4: each is answered (plus, maybe, the client's own unicast probe).
  assert.ok(nas >= n && nas <= n + 2, `advertisements sent: ${nas}`);
  assert.ok(L.v.neighbors(1, 6).length <= 64);
  assert.equal(entry(L, 6, "2001:db8::1")?.mac, "02:00:00:00:00:01", "the client's entry survived");
  // 10000 unsolicited advertisements for targets we hold no entry for: RFC 4861 7.2.5, discarded.
  const size = L.v.neighbors(1, 6).length;
  for (let i = 0; i < n; i++) L.inject(na(spoofLL(100_000 + i), mac(i), { override: true }));
  L.run();
  assert.equal(L.v.counters.get("ndp.rx.unsolicited-na"), n);
  assert.equal(L.v.neighbors(1, 6).length, size);
  assert.ok(heapUsed() - before < MEMORY_CEILING, "heap");
  // Lies about the client's address.
  legit(L, Ipv6);
  L.net.advance(7000);
  assert.equal(entry(L, 6, "2001:db8::1")?.state, "reachable");
  L.inject(na(C6, mac(9), { override: false })); // RFC 4861 7.2.5: without Override, no change
  L.inject(na(C6, mac(9), { override: true }, 64)); // forwarded (hop limit 64): ignored (7.1.2)
  L.inject(na(C6, BCAST, { override: true })); // a group link address: refused
  L.run();
  const e = entry(L, 6, "2001:db8::1");
  assert.equal(e?.mac, "02:00:00:00:00:01", "the MAC was not overwritten");
  assert.equal(e?.state, "stale", "RFC 4861 7.2.5: a REACHABLE entry only goes STALE");
  assert.equal(L.v.counters.get("ndp.rx.bad-hop-limit"), 1);
  assert.equal(L.v.counters.get("ndp.rx.group-link-address"), 1);
  assertBounded(L.v, limits);
  legit(L, Ipv6);
  assert.equal(entry(L, 6, "2001:db8::1")?.mac, "02:00:00:00:00:01");
});

test("neighbour cache: an unresolved-address flood keeps queued packets and entries bounded", () => {
  const limits = { neighborEntries: 32, neighborPending: 4 };
  const L = lab({ limits });
  // SYNs from 250 spoofed on-link sources: each SYN-ACK needs an ARP resolution that never completes.
  for (let i = 0; i < 250; i++) {
    const src = (((10 << 24) | (3 + i)) >>> 0) as Ipv4Addr;
    for (let k = 0; k < 6; k++) L.inject(tcp4({ flags: TcpFlags.SYN, sport: 2000 + k, seq: 1 }, src));
  }
  L.run(100);
  assertBounded(L.v, limits);
  assert.ok(L.v.counters.get("neighbor.evicted") > 0);
  assert.ok(L.v.counters.get("neighbor.pending-dropped") > 0);
  L.run(120_000);
  assertBounded(L.v, limits);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

// Issue 6, TCP attacks: blind in-window RST/SYN/data (RFC 5961), SYN floods from spoofed sources
// (SYN cookies keep the listener serving), LAND packets (no storm), ACK floods, RST floods, and
// connection exhaustion (per-listener and global limits).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ipv4Addr, Ipv6Addr } from "../../src/ip/addr.ts";
import type { IpVersion } from "../../src/ip/version.ts";
import { Rng } from "../../src/testing/rng.ts";
import { TcpFlags } from "../../src/wire/tcp.ts";
import {
  assertBounded,
  C4,
  CLOSED,
  EtherType,
  echo6,
  establish,
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
  PORT,
  pump,
  type SegOpts,
  seg,
  spoof4,
  spoof6,
  tcp4,
  tcp6,
  V4,
  V6,
} from "./harness.ts";

const { SYN, RST, ACK, PSH } = TcpFlags;

function tcpSent(L: Lab) {
  return L.sent.filter((s) => s.tcp !== null).map((s) => s.tcp!);
}

const DATA = Uint8Array.from({ length: 50_000 }, (_, i) => (i * 31 + 7) & 0xff);

test("RFC 5961 blind attacks: in-window RST and SYN get a challenge ACK; bad ACKs deliver nothing", () => {
  const L = lab();
  for (const I of [Ipv4, Ipv6] as IpVersion<unknown>[]) {
    const { cid, sid, cport } = establish(L, I);
    const info = L.v.tcp.info(sid)!;
    const at = (flags: number, seq: number, ack = info.sndNxt, data?: Uint8Array) => {
      const o: SegOpts = { flags, sport: cport, dport: PORT, seq, ack, data };
      return I.version === 4 ? tcp4(o) : tcp6(o);
    };
    const challenged = L.v.counters.get("tcp.challenge-ack");
    L.clear();
    L.inject(at(RST, info.rcvNxt + 1000)); // in the window, not at RCV.NXT
    L.inject(at(RST | ACK, info.rcvNxt + 5000));
    L.inject(at(SYN, info.rcvNxt + 10)); // RFC 5961 4.2: any SYN
    L.inject(at(SYN, info.rcvNxt - 100000)); // even out of the window
    L.run();
    assert.equal(L.v.tcp.state(sid), "ESTABLISHED", `${I.version}: the connection survives`);
    // The in-window ones are challenge ACKs (rate limited); the out-of-window SYN gets RFC 9293's
    // ACK for an unacceptable segment: the same bytes on the wire.
    assert.equal(L.v.counters.get("tcp.challenge-ack") - challenged, 3);
    const acks = tcpSent(L).filter((t) => t.sport === PORT && t.flags === ACK);
    assert.equal(acks.length, 4, "each answered by a challenge ACK");
    for (const t of acks) assert.deepEqual([t.seq, t.ack], [info.sndNxt >>> 0, info.rcvNxt >>> 0]);
    assert.equal(tcpSent(L).filter((t) => t.flags & RST).length, 0, "the real peer never sees a reset");
    // RFC 5961 5.2: data whose ACK acknowledges what was never sent, or is too old, is dropped.
    L.clear();
    const unsent = L.v.counters.get("tcp.ack-unsent");
    L.inject(at(ACK | PSH, info.rcvNxt, info.sndNxt + 100_000, Uint8Array.of(6, 6, 6)));
    L.inject(at(ACK | PSH, info.rcvNxt, info.sndNxt - 0x40000000, Uint8Array.of(6, 6, 6)));
    L.run();
    assert.equal(L.v.tcp.readable(sid), 0, "no injected byte delivered");
    assert.equal(L.v.counters.get("tcp.ack-unsent") - unsent, 2);
    // An out-of-window RST is dropped silently.
    L.clear();
    L.inject(at(RST, info.rcvNxt + 0x40000000));
    L.run();
    assert.equal(tcpSent(L).length, 0);
    // The connection still carries data both ways, intact.
    assert.deepEqual(pump(L, L.c, cid, L.v, sid, DATA), DATA);
    assert.deepEqual(pump(L, L.v, sid, L.c, cid, DATA.subarray(0, 20_000)), DATA.subarray(0, 20_000));
    L.c.tcp.close(cid);
    L.v.tcp.close(sid);
    L.run(5000);
  }
  assertBounded(L.v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

test("RST and ACK floods against an established connection: challenge ACKs rate limited, data intact", () => {
  const L = lab();
  const rng = new Rng(77);
  const { cid, sid, cport } = establish(L, Ipv4);
  const info = L.v.tcp.info(sid)!;
  L.clear();
  // 4000 blind segments over 0.4 s: RSTs and ACKs with random sequence and acknowledgment numbers,
  // plus RSTs in the window that miss RCV.NXT (a better-informed attacker).
  for (let i = 0; i < 4000; i++) {
    const k = i % 4;
    const seq = k === 3 ? (info.rcvNxt + 1 + rng.int(60000)) >>> 0 : rng.uint32();
    const flags = k === 0 || k === 3 ? RST : k === 1 ? RST | ACK : ACK;
    L.net.inject(["v", 1], tcp4({ flags, sport: cport, dport: PORT, seq, ack: rng.uint32() }), i * 0.1);
  }
  L.run(3000);
  assert.equal(L.v.tcp.state(sid), "ESTABLISHED");
  const ch = L.v.counters.get("tcp.challenge-ack");
  // RFC 5961 7: at most the burst (100) plus 1000/s over the 0.4 s flood.
  assert.ok(ch > 0 && ch <= 100 + 400 + 10, `challenge ACKs ${ch}`);
  assert.ok(L.v.counters.get("tcp.challenge-ack-limited") > 0, "the limit was reached");
  // Every answer (challenge ACKs and ACKs for out-of-window segments) comes out of that bucket.
  const out = tcpSent(L);
  assert.ok(out.length <= 100 + 400 + 10, `segments sent ${out.length} for 4000 blind segments`);
  assert.equal(out.filter((t) => t.flags & RST).length, 0);
  assert.equal(L.v.tcp.readable(sid), 0);
  assert.deepEqual(pump(L, L.c, cid, L.v, sid, DATA), DATA);
  assert.deepEqual(pump(L, L.v, sid, L.c, cid, DATA), DATA);
  // RSTs to a closed port are never answered (RFC 9293 3.10.7.1).
  L.clear();
  for (let i = 0; i < 500; i++) L.inject(tcp4({ flags: RST, sport: 1000 + i, dport: CLOSED, seq: rng.uint32() }));
  L.run();
  assert.equal(tcpSent(L).length, 0);
  assertBounded(L.v);
  legit(L, Ipv4);
});

test("ACK flood to a listener: one RST per ACK at most, no connection created, cookies not forged", () => {
  const L = lab({ tcp: { synQueueSize: 4 } });
  const rng = new Rng(5);
  // A few SYNs first so the listener is in cookie mode and checks every ACK against its cookies.
  for (let i = 0; i < 8; i++) L.inject(tcp4({ flags: SYN, sport: 2000 + i, seq: rng.uint32() }, spoof4(i)));
  L.run();
  L.clear();
  for (let i = 0; i < 3000; i++) {
    const src = spoof4(100 + i);
    L.net.inject(
      ["v", 1],
      tcp4({ flags: ACK, sport: 3000 + (i % 1000), seq: rng.uint32(), ack: rng.uint32() }, src),
      i * 0.2,
    );
  }
  L.run(2000);
  const out = tcpSent(L);
  const rsts = out.filter((t) => t.flags === RST);
  assert.equal(rsts.length, 3000, "RFC 9293 3.10.7.2: <SEQ=SEG.ACK><CTL=RST>, one per ACK");
  // Besides: only the SYN queue's SYN-ACK retransmissions.
  assert.ok(out.length - rsts.length <= 4 * 2, `${out.length} segments for 3000 ACKs`);
  assert.equal(L.v.counters.get("tcp.syncookie.ok"), 0, "no forged cookie accepted");
  assert.ok(L.v.counters.get("tcp.syncookie.bad") >= 2990);
  assert.equal(L.v.tcp.pending(L.lst4), 0);
  assert.ok(L.v.tcp.connectionCount <= 4, "only the half-open SYN queue");
  assertBounded(L.v);
  legit(L, Ipv4);
});

function synFlood(L: Lab, v6: boolean, n: number, spacingMs: number): void {
  const rng = new Rng(v6 ? 61 : 41);
  for (let i = 0; i < n; i++) {
    const o: SegOpts = { flags: SYN, sport: 1024 + (i % 60000), seq: rng.uint32(), mss: 1460 };
    const f = v6 ? tcp6(o, spoof6(i)) : tcp4(o, spoof4(i));
    L.net.inject(["v", 1], f, i * spacingMs);
  }
}

test("SYN flood from spoofed sources: SYN cookies keep the listener serving a legitimate client", (t) => {
  const L = lab({ tcp: { synQueueSize: 64 } });
  const { v } = L;
  const before = heapUsed();
  // 20000 SYNs per version over 4 s; the legitimate connections run in the middle of it.
  synFlood(L, false, 20_000, 0.2);
  synFlood(L, true, 20_000, 0.2);
  L.net.advance(500);
  assert.ok(v.counters.get("tcp.syncookie.sent") > 0, "cookies in use");
  assert.ok(v.tcp.connectionCount <= 2 * 64, `half-open connections bounded: ${v.tcp.connectionCount}`);
  legit(L, Ipv4);
  legit(L, Ipv6);
  assert.ok(L.net.pending > 0, "the flood was still running during the legitimate transfers");
  L.run(70_000);
  assert.equal(v.counters.get("tcp.syn-received"), 40_000 + 2);
  // Every SYN got at most its SYN-ACK (plus the SYN queue's retransmissions): no amplification.
  const synAcks = tcpSent(L).filter((t) => t.flags === (SYN | ACK)).length;
  assert.ok(synAcks <= 40_000 + 2 * 64 * 6, `SYN-ACKs ${synAcks}`);
  assert.ok(v.counters.get("tcp.syncookie.sent") > 39_000);
  assert.equal(v.tcp.pending(L.lst4) + v.tcp.pending(L.lst6), 0, "no spoofed connection was ever established");
  const grown = heapUsed() - before;
  t.diagnostic(`heap growth under the flood: ${(grown / 1048576).toFixed(1)} MB`);
  assert.ok(grown < MEMORY_CEILING, `heap grew ${grown} bytes`);
  assertBounded(v);
  // The half-open connections time out (SYN-ACK retries) and the table empties.
  L.run(300_000);
  assert.equal(v.tcp.connectionCount, 0);
  legit(L, Ipv4);
});

test("LAND: a SYN from the victim's own address and port starts no storm", () => {
  const L = lab();
  const { v } = L;
  for (const I of [4, 6] as const) {
    const src = (I === 4 ? V4 : V6) as Ipv4Addr & Ipv6Addr;
    const o: SegOpts = { flags: SYN, sport: PORT, dport: PORT, seq: 1234 };
    L.inject(I === 4 ? tcp4(o, src, src) : tcp6(o, src, src));
    // And the same with the ACK bit (to the listener and to a closed port).
    L.inject(I === 4 ? tcp4({ ...o, flags: ACK, ack: 99 }, src, src) : tcp6({ ...o, flags: ACK, ack: 99 }, src, src));
    L.inject(
      I === 4
        ? tcp4({ ...o, dport: CLOSED, sport: CLOSED }, src, src)
        : tcp6({ ...o, dport: CLOSED, sport: CLOSED }, src, src),
    );
  }
  // An ICMPv6 echo request from our own address (let through for NDP): one reply to ourselves, no loop.
  L.inject(eth(EtherType.Ipv6, ip6(V6, V6, IpProto.Icmpv6, echo6(V6, V6, 1, new Uint8Array(8)))));
  const steps = L.net.runUntilIdle(L.net.now + 200_000);
  assert.ok(steps < 100, `the network went idle after ${steps} steps`);
  assert.equal(tcpSent(L).length, 0, "nothing sent in answer to our own address");
  assert.equal(v.counters.get("tcp.rx"), 0);
  assert.equal(v.counters.get("ipv4.rx.martian") + v.counters.get("ipv6.rx.martian"), 6);
  assert.equal(v.tcp.connectionCount, 0);
  assert.ok(v.counters.get("icmpv6.tx.echo-reply") <= 1, "one echo reply at most");
  assert.equal(L.sent.length, 0, "nothing on the wire");
  assertBounded(v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

test("connection exhaustion: per-listener queues and the global connection limit hold", () => {
  const maxConnections = 40;
  const L = lab({ tcp: { synQueueSize: 8, maxConnections } }, 3, 16);
  const { v, c, net } = L;
  // A second service whose application accepts everything and holds it.
  const other = v.tcp.listen(Ipv4, Ipv4.unspecified, 8080, 16) as number;
  // 200 connections to PORT, whose application never accepts.
  const attack: number[] = [];
  for (let i = 0; i < 200; i++) attack.push(c.tcp.connect(Ipv4, null, V4, PORT) as number);
  L.run(3000);
  assert.equal(v.tcp.pending(L.lst4), 16, "the accept queue stops at the backlog");
  assert.ok(v.tcp.connectionCount <= 16 + 8, `connections ${v.tcp.connectionCount}`);
  assert.ok(v.counters.get("tcp.syn-drop.backlog") > 0);
  // The other listener still serves (its own queues), up to the global limit.
  const held: number[] = [];
  const more: number[] = [];
  for (let i = 0; i < 100; i++) more.push(c.tcp.connect(Ipv4, null, V4, 8080) as number);
  net.runUntil(() => {
    for (let a = v.tcp.accept(other); a !== null; a = v.tcp.accept(other)) held.push(a);
    return false;
  }, net.now + 5000);
  assert.ok(held.length > 0, "the second listener served connections");
  assert.ok(v.tcp.connectionCount <= maxConnections, `global limit: ${v.tcp.connectionCount}`);
  assert.equal(v.tcp.connect(Ipv4, null, C4, 9), "EMFILE", "a local connect past the limit fails");
  assertBounded(v, {}, maxConnections);
  // The attack ends: the attacker's sockets are aborted (RSTs), the victim's table empties.
  for (const s of [...attack, ...more]) c.tcp.abort(s);
  L.run(5000);
  for (const s of held) v.tcp.close(s);
  L.run(5000);
  assert.ok(v.tcp.connectionCount <= 16, `after the attack: ${v.tcp.connectionCount}`);
  legit(L, Ipv4);
  assertBounded(v, {}, maxConnections);
});

test("bad-checksum and malformed SYN floods change no state", () => {
  const L = lab();
  for (let i = 0; i < 2000; i++) {
    const p = seg(spoof4(i), V4, { flags: SYN, seq: i, sport: 5000 + i });
    p[17] ^= 0x01;
    L.inject(eth(EtherType.Ipv4, ip4(spoof4(i), V4, IpProto.Tcp, p)));
  }
  L.run();
  assert.equal(L.v.counters.get("tcp.rx.bad-checksum"), 2000);
  assert.equal(L.v.counters.get("tcp.syn-received"), 0);
  assert.equal(tcpSent(L).length, 0);
  assertBounded(L.v);
  legit(L, Ipv4);
});

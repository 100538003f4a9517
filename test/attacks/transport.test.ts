// Issue 6, transport lies: truncated headers, TCP data offset out of range, UDP length out of range,
// bad checksums (dropped before any state changes), and the invalid flag combinations SYN+FIN,
// NULL and XMAS sent to open and closed ports and to an established connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IpVersion } from "../../src/ip/version.ts";
import { TcpFlags } from "../../src/wire/tcp.ts";
import {
  assertBounded,
  C4,
  C6,
  CLOSED,
  dgram,
  EtherType,
  establish,
  eth,
  fixChecksum,
  IpProto,
  Ipv4,
  Ipv6,
  ip4,
  ip6,
  type Lab,
  lab,
  legit,
  PORT,
  pump,
  type SegOpts,
  seg,
  tcp4,
  tcp6,
  V4,
  V6,
} from "./harness.ts";

const { SYN, FIN, RST, ACK, PSH, URG } = TcpFlags;

function tcpSent(L: Lab) {
  return L.sent.filter((s) => s.tcp !== null).map((s) => s.tcp!);
}

/** A SYN to `dport` whose TCP bytes are edited by `mutate` (checksum recomputed unless told). */
function lie(dport: number, mutate: (p: Uint8Array) => void, fix = true, v6 = false): Uint8Array {
  const src = v6 ? C6 : C4;
  const dst = v6 ? V6 : V4;
  const p = seg(src, dst, { flags: SYN, dport, seq: 7000, sport: 42000, mss: 1460 });
  mutate(p);
  if (fix) fixChecksum(p, src, dst, IpProto.Tcp);
  return v6 ? eth(EtherType.Ipv6, ip6(C6, V6, IpProto.Tcp, p)) : eth(EtherType.Ipv4, ip4(C4, V4, IpProto.Tcp, p));
}

test("TCP lies: truncated header, data offset out of range, bad checksum: no SYN-ACK, no RST, no state", () => {
  const L = lab();
  const { v } = L;
  for (const port of [PORT, CLOSED]) {
    for (const v6 of [false, true]) {
      L.inject(lie(port, (p) => (p[12] = 0x40), true, v6)); // data offset 4 (< 5)
      L.inject(lie(port, (p) => (p[12] = 0xf0), true, v6)); // data offset 15: 60 bytes > 24 in the segment
      L.inject(lie(port, (p) => (p[16] ^= 0xff), false, v6)); // checksum wrong
      L.inject(lie(port, (p) => p.fill(0x41, 20), true, v6)); // option soup (checksum right)
    }
  }
  // A TCP header cut to 12 bytes by the IP length.
  const short = seg(C4, V4, { flags: SYN, seq: 1 }).subarray(0, 12);
  L.inject(eth(EtherType.Ipv4, ip4(C4, V4, IpProto.Tcp, short)));
  L.run();
  assert.deepEqual(tcpSent(L), [], "nothing answered");
  assert.equal(v.counters.get("tcp.rx.bad-data-offset"), 8);
  assert.equal(v.counters.get("tcp.rx.bad-checksum"), 4);
  const opt = v.counters.get("tcp.rx.option-truncated") + v.counters.get("tcp.rx.bad-option-length");
  assert.equal(opt, 4, "malformed options");
  assert.equal(v.counters.get("tcp.rx.too-short"), 1);
  assert.equal(v.counters.get("tcp.syn-received"), 0, "no state changed");
  assert.equal(v.tcp.connectionCount, 0);
  assertBounded(v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

test("UDP lies: length out of range and bad checksums are dropped; a short length truncates the data", () => {
  const L = lab();
  const { v } = L;
  const s4 = v.udp.open(Ipv4) as number;
  assert.equal(v.udp.bind(s4, Ipv4.unspecified, 5353), null);
  const data = Uint8Array.from({ length: 32 }, (_, i) => i);
  const mk = (edit: (p: Uint8Array) => void, fix = true, port = 5353) => {
    const p = dgram(C4, V4, 9999, port, data);
    edit(p);
    if (fix) fixChecksum(p, C4, V4, IpProto.Udp);
    return eth(EtherType.Ipv4, ip4(C4, V4, IpProto.Udp, p));
  };
  L.inject(mk((p) => p.set([0, 200], 4))); // length past the datagram
  L.inject(mk((p) => p.set([0, 4], 4))); // length below the header
  L.inject(mk((p) => (p[10] ^= 1), false)); // data changed, checksum not
  L.inject(mk((p) => p.set([0, 200], 4), true, 7)); // to a closed port: no port unreachable
  const short = dgram(C4, V4, 9999, 5353, new Uint8Array(0)).subarray(0, 6);
  L.inject(eth(EtherType.Ipv4, ip4(C4, V4, IpProto.Udp, short)));
  L.run();
  assert.equal(v.counters.get("udp.rx.bad-length"), 3);
  assert.equal(v.counters.get("udp.rx.bad-checksum"), 1);
  assert.equal(v.counters.get("udp.rx.too-short"), 1);
  assert.equal(v.udp.recv(s4), null, "nothing delivered");
  assert.equal(L.sent.filter((s) => s.icmp !== null).length, 0, "no ICMP error for a malformed datagram");
  // RFC 768: a length shorter than the IP payload: the datagram is the first `length` bytes.
  const cut = dgram(C4, V4, 9999, 5353, data.subarray(0, 10));
  const withTail = new Uint8Array(cut.length + 22).fill(0xcc);
  withTail.set(cut);
  L.inject(eth(EtherType.Ipv4, ip4(C4, V4, IpProto.Udp, withTail)));
  L.run();
  const d = v.udp.recv(s4);
  assert.ok(d !== null, "delivered");
  assert.deepEqual(d.data, data.subarray(0, 10));
  assertBounded(v);
  legit(L, Ipv4);
});

interface FlagCase {
  name: string;
  flags: number;
  /** What RFC 9293 3.10.7.1 answers on a closed port: [flags, seq, ack] (seq/ack relative to ours). */
  closed: [number, number, number] | null;
}

const SEQ = 0x10000000;
const ACKNO = 0x20000000;
const CASES: FlagCase[] = [
  // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN and FIN each count one.
  { name: "SYN+FIN", flags: SYN | FIN, closed: [RST | ACK, 0, SEQ + 2] },
  { name: "NULL", flags: 0, closed: [RST | ACK, 0, SEQ] },
  { name: "XMAS", flags: FIN | PSH | URG, closed: [RST | ACK, 0, SEQ + 1] },
  // With ACK: <SEQ=SEG.ACK><CTL=RST>.
  { name: "XMAS+ACK", flags: FIN | PSH | URG | ACK, closed: [RST, ACKNO, 0] },
  // A RST is never answered.
  { name: "SYN+RST", flags: SYN | RST, closed: null },
];

function flagSeg(I: 4 | 6, flags: number, dport: number, sport: number): Uint8Array {
  const o: SegOpts = { flags, dport, sport, seq: SEQ, ack: flags & ACK ? ACKNO : 0 };
  return I === 4 ? tcp4(o) : tcp6(o);
}

test("invalid flags to a closed port: answered exactly as RFC 9293 3.10.7.1 says", () => {
  const L = lab();
  for (const I of [4, 6] as const) {
    for (const c of CASES) {
      L.clear();
      L.inject(flagSeg(I, c.flags, CLOSED, 43000));
      L.run();
      const out = tcpSent(L);
      if (c.closed === null) {
        assert.deepEqual(out, [], `${c.name} v${I}: silence`);
        continue;
      }
      assert.deepEqual(
        out.map((t) => [t.flags, t.seq, t.ack, t.sport, t.dport, t.len]),
        [[...c.closed, CLOSED, 43000, 0]],
        `${c.name} v${I}`,
      );
    }
  }
  assertBounded(L.v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

test("invalid flags to a listening port: no SYN-ACK, no connection; XMAS+ACK gets a RST (RFC 9293 3.10.7.2)", () => {
  const L = lab();
  for (const I of [4, 6] as const) {
    for (const c of CASES) {
      L.clear();
      L.inject(flagSeg(I, c.flags, PORT, 43001));
      L.run();
      const out = tcpSent(L).map((t) => [t.flags, t.seq, t.ack]);
      // LISTEN: an ACK is answered <SEQ=SEG.ACK><CTL=RST>; a segment with neither SYN nor ACK is
      // dropped; SYN+FIN and SYN+RST are dropped as invalid (Linux does the same).
      const want = c.flags & ACK ? [[RST, ACKNO, 0]] : [];
      assert.deepEqual(out, want, `${c.name} v${I}`);
    }
  }
  assert.equal(L.v.counters.get("tcp.syn-received"), 0);
  assert.equal(L.v.tcp.connectionCount, 0);
  assert.equal(L.v.counters.get("tcp.rx.bad-flags"), 4, "SYN+FIN and SYN+RST, both versions");
  assertBounded(L.v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

test("invalid flags and bad checksums against an established connection: its data stays intact", () => {
  const L = lab();
  for (const I of [Ipv4, Ipv6] as IpVersion<unknown>[]) {
    const { cid, sid, cport } = establish(L, I);
    const info = L.v.tcp.info(sid)!;
    const v4 = I.version === 4;
    const at = (flags: number, data?: Uint8Array, seq = info.rcvNxt, ack = info.sndNxt) => {
      const o: SegOpts = { flags, sport: cport, dport: PORT, seq, ack, data };
      return v4 ? tcp4(o) : tcp6(o);
    };
    L.clear();
    // RFC 9293 3.10.7.4 fifth check: a segment without ACK is dropped, even with data at RCV.NXT.
    L.inject(at(0, Uint8Array.of(1, 2, 3)));
    L.inject(at(FIN | PSH | URG, Uint8Array.of(4, 5, 6)));
    L.inject(at(SYN | FIN));
    // Exactly right but for the checksum: dropped before the connection sees it.
    const bad = at(ACK | FIN, Uint8Array.of(7, 8, 9));
    bad[14 + (v4 ? 20 : 40) + 20] ^= 0x55; // the first data byte
    L.inject(bad);
    L.run();
    assert.equal(L.v.tcp.readable(sid), 0, "nothing delivered");
    assert.equal(L.v.tcp.state(sid), "ESTABLISHED");
    assert.deepEqual(
      tcpSent(L).filter((t) => t.flags & RST),
      [],
      "no RST",
    );
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff);
    assert.deepEqual(pump(L, L.c, cid, L.v, sid, payload), payload);
    assert.deepEqual(pump(L, L.v, sid, L.c, cid, payload), payload);
    L.c.tcp.close(cid);
    L.v.tcp.close(sid);
    L.run(5000);
  }
  assertBounded(L.v);
  legit(L, Ipv4);
  legit(L, Ipv6);
});

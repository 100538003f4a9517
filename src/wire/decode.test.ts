import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { readCapture } from "../capture/pcapng.ts";
import { formatV6, type Ipv4Addr, type Ipv6Addr, type MacAddr, parseMac, parseV4, parseV6 } from "../ip/addr.ts";
import { BytesBody, EMPTY_BODY, type PacketBuilder, type Serializer, TooBig } from "../packet/serialize.ts";
import { checksum } from "./checksum.ts";
import {
  decodeFrame,
  decodeRecord,
  finalDestination,
  parseIpv6ForDecode,
  pretty,
  summarize,
  verifyFrame,
} from "./decode.ts";
import { EthernetBuilder, EtherType } from "./ethernet.ts";
import { Icmpv4EchoBuilder, Icmpv4ErrorBuilder } from "./icmpv4.ts";
import { Icmpv6Builder, writeIcmpv6Checksum } from "./icmpv6.ts";
import { IgmpBuilder, IgmpType, Igmpv3QueryBuilder, ROUTER_ALERT_V4 } from "./igmp.ts";
import { IpProto } from "./ipproto.ts";
import { Ipv4Builder } from "./ipv4.ts";
import { Ipv6Builder, type Ipv6ExtHeader, Ipv6ParseError, Ipv6View } from "./ipv6.ts";
import { MldBuilder, type MldRecord, Mldv2QueryBuilder, Mldv2ReportBuilder } from "./mld.ts";
import { TcpBuilder, TcpFlags } from "./tcp.ts";
import { UdpBuilder } from "./udp.ts";

const FIXTURES = new URL("../../test/fixtures/", import.meta.url);

function fixture(name: string): Uint8Array[] {
  const cap = readCapture(new Uint8Array(readFileSync(new URL(name, FIXTURES))));
  assert.equal(cap.error, null);
  return cap.records.map((r) => r.data);
}

const MAC_A = parseMac("02:00:00:00:00:0a") as MacAddr;
const MAC_B = parseMac("02:00:00:00:00:0b") as MacAddr;
const IP_A = parseV4("192.0.2.1") as Ipv4Addr;
const IP_B = parseV4("192.0.2.2") as Ipv4Addr;
const V6_A = parseV6("2001:db8::a") as Ipv6Addr;
const V6_B = parseV6("2001:db8::b") as Ipv6Addr;

function serialize(s: Serializer): Uint8Array {
  const out = s.serialize();
  if (out instanceof TooBig) assert.fail("too big");
  return out.toBytes();
}

/** An Ethernet frame around `l3` (padded to 60 bytes by the builder). */
function frame(l3: Serializer, etherType: number, vlan = -1): Uint8Array {
  return serialize(l3.wrapIn(new EthernetBuilder(MAC_A, MAC_B, etherType, vlan)));
}

function tcp(src: number | Uint8Array, dst: number | Uint8Array, set: (t: TcpBuilder) => void): TcpBuilder {
  const t = new TcpBuilder(src, dst);
  t.srcPort = 40000;
  t.dstPort = 7;
  t.seq = 1;
  t.window = 64240;
  set(t);
  return t;
}

function ipv4(proto: number, set: (b: Ipv4Builder) => void = () => {}): Ipv4Builder {
  const b = new Ipv4Builder(IP_A, IP_B, proto);
  b.id = 0x1234;
  set(b);
  return b;
}

/** Recompute the IPv4 header checksum of a frame (after editing header bytes). */
function fixIpv4Checksum(f: Uint8Array, off = 14): void {
  f[off + 10] = 0;
  f[off + 11] = 0;
  const c = checksum(f, off, (f[off] & 0x0f) * 4);
  f[off + 10] = c >> 8;
  f[off + 11] = c & 0xff;
}

test("every frame of every fixture parses and re-serializes byte-identical", () => {
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith(".pcap"));
  assert.ok(names.length >= 9);
  let frames = 0;
  for (const name of names) {
    fixture(name).forEach((bytes, i) => {
      const d = decodeFrame(bytes, i + 1);
      assert.equal(d.record.ok, true, `${name} frame ${i + 1}: ${d.record.error}`);
      const v = verifyFrame(bytes, d);
      assert.deepEqual(v, { kind: "same" }, `${name} frame ${i + 1}`);
      frames++;
    });
  }
  assert.equal(frames, 66);
});

test("records of the TCP fixture: SYN, SYN+ACK, data", () => {
  const f = fixture("tcp.pcap");
  assert.deepEqual(decodeRecord(f[0], 1), {
    frame: 1,
    ok: true,
    eth: { src: "62:71:28:ca:55:4a", dst: "12:e0:69:8e:f3:3c", type: 0x0800 },
    ip: {
      version: 4,
      src: "10.77.0.1",
      dst: "10.77.0.2",
      ttl: 64,
      proto: 6,
      id: 42553,
      fragOffset: 0,
      moreFragments: false,
    },
    tcp: {
      srcPort: 40866,
      dstPort: 8080,
      seq: 813479746,
      ack: 0,
      flags: "S",
      window: 64240,
      options: { mss: 1460, wscale: 10, sackPermitted: true, ts: [3185672155, 0] },
    },
  });
  const synAck = decodeRecord(f[1], 2);
  assert.equal(synAck.tcp?.flags, "SA");
  assert.equal(synAck.tcp?.ack, 813479747);
  assert.equal(decodeRecord(f[3], 4).tcp?.flags, "PA");
  assert.deepEqual(decodeRecord(f[3], 4).tcp?.options, { ts: [3185672156, 333002562] });
  // The keys come in the contract's order.
  assert.deepEqual(Object.keys(decodeRecord(f[0], 1)), ["frame", "ok", "eth", "ip", "tcp"]);
  assert.deepEqual(Object.keys(synAck.ip ?? {}), [
    "version",
    "src",
    "dst",
    "ttl",
    "proto",
    "id",
    "fragOffset",
    "moreFragments",
  ]);
});

test("records of ARP, UDP over IPv6, NDP and ICMP", () => {
  assert.deepEqual(decodeRecord(fixture("arp.pcap")[1], 2), {
    frame: 2,
    ok: true,
    eth: { src: "12:e0:69:8e:f3:3c", dst: "62:71:28:ca:55:4a", type: 0x0806 },
    arp: {
      op: 2,
      senderMac: "12:e0:69:8e:f3:3c",
      senderIp: "10.77.0.2",
      targetMac: "62:71:28:ca:55:4a",
      targetIp: "10.77.0.1",
    },
  });
  const udp6 = decodeRecord(fixture("udp.pcap")[4], 5);
  assert.deepEqual(udp6.ip, {
    version: 6,
    src: "fd77::1",
    dst: "fd77::2",
    ttl: 64,
    proto: 17,
    fragOffset: 0,
    moreFragments: false,
  });
  assert.deepEqual(udp6.udp, { srcPort: 36050, dstPort: 9999, length: 22 });
  const na = decodeRecord(fixture("ndp.pcap")[3], 4);
  assert.equal(na.ip?.ttl, 255);
  assert.deepEqual(na.icmp, { version: 6, type: 136, code: 0 });
  assert.deepEqual(decodeRecord(fixture("ping4.pcap")[1], 2).icmp, { version: 4, type: 0, code: 0 });
});

test("fragments: transport layers only in first fragments; IPv6 id and offset from the fragment header", () => {
  const v6 = fixture("ping6-frag.pcap");
  const first = decodeRecord(v6[0], 1);
  assert.deepEqual(first.ip, {
    version: 6,
    src: "fd77::1",
    dst: "fd77::2",
    ttl: 64,
    proto: 58,
    id: 0x74c197ce,
    fragOffset: 0,
    moreFragments: true,
  });
  assert.deepEqual(first.icmp, { version: 6, type: 128, code: 0 });
  const second = decodeRecord(v6[1], 2);
  assert.equal(second.ip?.fragOffset, 1448);
  assert.equal(second.ip?.proto, 58);
  assert.equal(second.icmp, undefined);
  assert.equal(decodeRecord(v6[2], 3).ip?.moreFragments, false);
  const v4 = fixture("ping4-frag.pcap");
  assert.deepEqual(decodeRecord(v4[0], 1).icmp, { version: 4, type: 8, code: 0 });
  assert.equal(decodeRecord(v4[0], 1).ip?.moreFragments, true);
  const last = decodeRecord(v4[2], 3);
  assert.deepEqual(
    [last.ip?.fragOffset, last.ip?.moreFragments, last.ip?.id, last.icmp],
    [2960, false, 17519, undefined],
  );
});

test("tcpdump-style lines", () => {
  const t = fixture("tcp.pcap");
  assert.equal(
    summarize(decodeFrame(t[0], 1)),
    "1 10.77.0.1.40866 > 10.77.0.2.8080: Flags [S], seq 813479746, win 64240, " +
      "options [mss 1460,sackOK,TS val 3185672155 ecr 0,nop,wscale 10], length 0",
  );
  assert.equal(
    summarize(decodeFrame(t[3], 4)),
    "4 10.77.0.1.40866 > 10.77.0.2.8080: Flags [P.], seq 813479747:813479833, ack 247543062, win 63, " +
      "options [nop,nop,TS val 3185672156 ecr 333002562], length 86",
  );
  assert.equal(
    summarize(decodeFrame(fixture("arp.pcap")[0], 1)),
    "1 ARP, Request who-has 10.77.0.2 tell 10.77.0.1, length 28",
  );
  assert.equal(summarize(decodeFrame(fixture("udp.pcap")[0], 1)), "1 10.77.0.1.52622 > 10.77.0.2.9999: UDP, length 14");
  assert.equal(
    summarize(decodeFrame(fixture("ping6.pcap")[0], 1)),
    "1 fd77::1 > fd77::2: ICMP6, echo request, id 17401, seq 1, length 64",
  );
  assert.equal(
    summarize(decodeFrame(fixture("ndp.pcap")[2], 3)),
    "3 fd77::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fd77::2, length 32",
  );
  assert.equal(
    summarize(decodeFrame(fixture("ping6-frag.pcap")[1], 2)),
    "2 fd77::1 > fd77::2: frag (0x74c197ce:1448|1448) ip-proto-58, length 1448",
  );
  assert.equal(
    summarize(decodeFrame(fixture("ping4-frag.pcap")[0], 1)),
    "1 10.77.0.1 > 10.77.0.2: ICMP echo request, id 17411, seq 1, length 1480 (frag 17519:1480@0+)",
  );
});

test("TCP flags: letters F S R P A U E C in the record, tcpdump's F S R P . U E W in the line", () => {
  const f = frame(
    new BytesBody(new Uint8Array(0))
      .wrapIn(
        tcp(IP_A, IP_B, (t) => {
          t.flags = 0xff;
          t.urgent = 3;
        }),
      )
      .wrapIn(ipv4(IpProto.Tcp)),
    EtherType.Ipv4,
  );
  const d = decodeFrame(f, 1);
  assert.equal(d.record.tcp?.flags, "FSRPAUEC");
  assert.match(summarize(d), /Flags \[FSRP\.UEW\], seq 1, ack 0, win 64240, urg 3, length 0$/);
  assert.equal(
    decodeRecord(
      frame(
        new BytesBody(new Uint8Array(0))
          .wrapIn(
            tcp(IP_A, IP_B, (t) => {
              t.flags = TcpFlags.RST | TcpFlags.ACK;
            }),
          )
          .wrapIn(ipv4(IpProto.Tcp)),
        EtherType.Ipv4,
      ),
    ).tcp?.flags,
    "RA",
  );
});

test("crafted: 802.1Q tag, IPv4 options, SACK blocks, padding all decode and verify", () => {
  const sack = frame(
    new BytesBody(new TextEncoder().encode("hello"))
      .wrapIn(
        tcp(IP_A, IP_B, (t) => {
          t.flags = TcpFlags.ACK | TcpFlags.PSH;
          t.ack = 0xfffffff0;
          t.options.setTs(7, 9);
          t.options.addSack(100, 200);
          t.options.addSack(0xfffffff0, 0x10);
        }),
      )
      .wrapIn(ipv4(IpProto.Tcp, (b) => (b.options = new Uint8Array([7, 7, 4, 0, 0, 0, 0])))),
    EtherType.Ipv4,
    42,
  );
  const d = decodeFrame(sack, 1);
  assert.equal(d.record.ok, true, d.record.error);
  assert.deepEqual(d.record.eth, { src: "02:00:00:00:00:0a", dst: "02:00:00:00:00:0b", type: 0x0800, vlan: 42 });
  assert.deepEqual(d.record.tcp?.options, {
    sack: [
      [100, 200],
      [0xfffffff0, 0x10],
    ],
    ts: [7, 9],
  });
  assert.equal(d.record.tcp?.ack, 0xfffffff0);
  assert.deepEqual(verifyFrame(sack), { kind: "same" });
  assert.match(
    summarize(d),
    /^1 vlan 42, 192\.0\.2\.1\.40000 > 192\.0\.2\.2\.7: Flags \[P\.\].*sack 2 \{100:200\}\{4294967280:16\}/,
  );
});

test("crafted: an IPv6 extension-header chain ending in a fragment header; proto after the chain", () => {
  const hop = { type: IpProto.HopByHop, data: new Uint8Array([5, 2, 0, 0, 1, 0]) }; // router alert, PadN
  const route = { type: IpProto.Ipv6Route, data: new Uint8Array([0, 0, 0, 0, 0, 0]) }; // segments left 0
  const opts = { type: IpProto.Ipv6Opts, data: new Uint8Array([1, 4, 0, 0, 0, 0]) };
  const udp = new UdpBuilder(V6_A, V6_B, 5353, 53);
  const ip = new Ipv6Builder(V6_A, V6_B, IpProto.Udp, {
    exts: [hop, route, opts],
    frag: { id: 0xdeadbeef, offset: 0, more: false },
  });
  const bytes = frame(new BytesBody(new Uint8Array(12).fill(0x61)).wrapIn(udp).wrapIn(ip), EtherType.Ipv6);
  const r = decodeRecord(bytes, 1);
  assert.equal(r.ok, true, r.error);
  assert.deepEqual(r.ip, {
    version: 6,
    src: "2001:db8::a",
    dst: "2001:db8::b",
    ttl: 64,
    proto: 17,
    id: 0xdeadbeef,
    fragOffset: 0,
    moreFragments: false,
  });
  assert.deepEqual(r.udp, { srcPort: 5353, dstPort: 53, length: 20 });
  assert.deepEqual(verifyFrame(bytes), { kind: "same" });
});

test("malformed frames: ok false, the error, and the layers before it", () => {
  const good = fixture("tcp.pcap")[0];
  const badTcp = good.slice();
  badTcp[14 + 20 + 16] ^= 0xff;
  const r = decodeRecord(badTcp, 7);
  assert.equal(r.ok, false);
  assert.equal(r.error, "tcp: bad-checksum");
  assert.equal(r.ip?.proto, 6);
  assert.equal(r.tcp, undefined);
  assert.deepEqual(Object.keys(r), ["frame", "ok", "error", "eth", "ip"]);
  assert.deepEqual(verifyFrame(badTcp), { kind: "malformed", error: "tcp: bad-checksum" });
  assert.match(summarize(decodeFrame(badTcp, 7)), /^7 10\.77\.0\.1 > 10\.77\.0\.2: \[tcp: bad-checksum\]$/);

  const badIp = good.slice();
  badIp[14 + 8] = 1; // TTL changed, checksum not updated
  const ri = decodeRecord(badIp);
  assert.deepEqual([ri.ok, ri.error, ri.ip, ri.eth?.type], [false, "ipv4: bad-checksum", undefined, 0x0800]);

  const icmp = fixture("ping4.pcap")[0].slice();
  icmp[14 + 20 + 8] ^= 1;
  assert.equal(decodeRecord(icmp).error, "icmpv4: bad-checksum");
  const icmp6 = fixture("ping6.pcap")[0].slice();
  icmp6[60] ^= 1;
  assert.equal(decodeRecord(icmp6).error, "icmpv6: bad-checksum");
  const udp = fixture("udp.pcap")[0].slice();
  udp[14 + 20 + 5] = 200; // UDP length beyond the IP payload
  assert.equal(decodeRecord(udp).error, "udp: bad-length");
  // A neighbor solicitation with an option of length zero (and a correct checksum): the ICMPv6
  // layer parsed, NDP rejected (RFC 4861 4.6).
  const ndpZero = fixture("ndp.pcap")[2].slice();
  ndpZero[54 + 25] = 0;
  writeIcmpv6Checksum(ndpZero, 54, 32, ndpZero.subarray(22, 38), ndpZero.subarray(38, 54));
  const rn = decodeRecord(ndpZero);
  assert.deepEqual([rn.ok, rn.error, rn.icmp], [false, "ndp: option-length-zero", { version: 6, type: 135, code: 0 }]);
  const arp = fixture("arp.pcap")[0].slice();
  arp[14 + 1] = 6; // hardware type 6 (IEEE 802)
  assert.equal(decodeRecord(arp).error, "arp: unsupported");
  assert.deepEqual(decodeRecord(new Uint8Array(10), 3), { frame: 3, ok: false, error: "ethernet: too-short" });
});

test("every truncation of a frame is reported, never thrown", () => {
  const good = fixture("tcp.pcap")[0];
  for (let len = 0; len < good.length; len++) {
    const r = decodeRecord(good.subarray(0, len));
    assert.equal(r.ok, false, `length ${len}`);
    assert.equal(r.error, len < 14 ? "ethernet: too-short" : "ipv4: too-short", `length ${len}`);
  }
  const v6 = fixture("tcp6.pcap")[0];
  for (let len = 14; len < v6.length; len++) {
    assert.equal(decodeRecord(v6.subarray(0, len)).error, len < 54 ? "ipv6: too-short" : "ipv6: bad-length");
  }
});

test("a first fragment carries a transport layer only when its header is complete", () => {
  const seg = serialize(new BytesBody(new Uint8Array(40)).wrapIn(tcp(IP_A, IP_B, (t) => (t.flags = TcpFlags.SYN))));
  const frag = (n: number) =>
    frame(new BytesBody(seg.subarray(0, n)).wrapIn(ipv4(IpProto.Tcp, (b) => (b.mf = true))), EtherType.Ipv4);
  const short = decodeRecord(frag(16));
  assert.deepEqual([short.ok, short.tcp, short.ip?.moreFragments], [true, undefined, true]);
  // 24 bytes: the whole 20-byte header; the checksum covers later fragments, so it is not checked.
  const whole = decodeRecord(frag(24));
  assert.equal(whole.ok, true);
  assert.equal(whole.tcp?.flags, "S");
  assert.deepEqual(verifyFrame(frag(24)), { kind: "same" });
});

test("link padding and trailing bytes are written back; verify catches what the reprs lose", () => {
  const ping = fixture("ping4.pcap")[0];
  // An ARP frame padded to 60 with zeroes (what a NIC sends) and with garbage.
  const arp = fixture("arp.pcap")[0];
  const padded = new Uint8Array(60);
  padded.set(arp);
  assert.deepEqual(verifyFrame(padded), { kind: "same" });
  padded[59] = 0xee;
  assert.deepEqual(verifyFrame(padded), { kind: "same" });
  // A frame with a 4-byte FCS left on.
  const fcs = new Uint8Array(ping.length + 4);
  fcs.set(ping);
  fcs.set([1, 2, 3, 4], ping.length);
  assert.deepEqual(verifyFrame(fcs), { kind: "same" });
  // UDP whose length is shorter than the IP payload.
  const udp = frame(
    new BytesBody(new Uint8Array(10)).wrapIn(new UdpBuilder(IP_A, IP_B, 1, 2)).wrapIn(ipv4(IpProto.Udp)),
    EtherType.Ipv4,
  );
  const short = udp.slice();
  short[14 + 20 + 5] = 16; // length 16 of 18; the checksum no longer matches: patch it to "none"
  short[14 + 20 + 6] = 0;
  short[14 + 20 + 7] = 0;
  const r = decodeRecord(short);
  assert.deepEqual([r.ok, r.udp?.length], [true, 16]);
  assert.deepEqual(verifyFrame(short), { kind: "same" });
  // The IPv4 reserved flag bit is in no repr: re-serializing loses it, and verify says where.
  const evil = ping.slice();
  evil[14 + 6] |= 0x80;
  fixIpv4Checksum(evil);
  assert.equal(decodeRecord(evil).ok, true);
  const v = verifyFrame(evil);
  assert.equal(v.kind, "differs");
  if (v.kind === "differs") {
    assert.equal(v.at, 14 + 6);
    assert.match(v.message, /^byte 20: re-serialized 0x40, captured 0xc0$/);
  }
});

test("other EtherTypes and ICMP errors quoting packets", () => {
  const lldp = frame(new BytesBody(new Uint8Array([1, 2, 3])), 0x88cc);
  assert.deepEqual(decodeRecord(lldp), {
    frame: 1,
    ok: true,
    eth: { src: "02:00:00:00:00:0a", dst: "02:00:00:00:00:0b", type: 0x88cc },
  });
  assert.deepEqual(verifyFrame(lldp), { kind: "same" });
  assert.equal(summarize(decodeFrame(lldp)), "1 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype 0x88cc, length 60");
  const quoted = fixture("udp.pcap")[0].subarray(14, 14 + 28);
  const unreach = frame(
    new BytesBody(quoted).wrapIn(Icmpv4ErrorBuilder.destUnreachable(3)).wrapIn(ipv4(IpProto.Icmp)),
    EtherType.Ipv4,
  );
  const r = decodeRecord(unreach);
  assert.deepEqual(r.icmp, { version: 4, type: 3, code: 3 });
  assert.equal(r.udp, undefined);
  assert.deepEqual(verifyFrame(unreach), { kind: "same" });
  const echo = frame(
    new BytesBody(new Uint8Array(4)).wrapIn(new Icmpv4EchoBuilder(8, 1, 2)).wrapIn(ipv4(IpProto.Icmp)),
    EtherType.Ipv4,
  );
  assert.equal(summarize(decodeFrame(echo, 9)), "9 192.0.2.1 > 192.0.2.2: ICMP echo request, id 1, seq 2, length 12");
});

test("property: random bytes never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const d = decodeFrame(bytes, 1);
      assert.equal(pretty(bytes), summarize(d));
      JSON.stringify(d.record);
      verifyFrame(bytes, d);
    }),
  );
});

test("property: mutated fixture frames never throw, and well-formed ones mostly verify", () => {
  const frames = ["tcp.pcap", "tcp6.pcap", "ndp.pcap", "ping6-frag.pcap", "udp.pcap", "arp.pcap"].flatMap(fixture);
  fc.assert(
    fc.property(
      fc.nat(frames.length - 1),
      fc.array(fc.tuple(fc.nat(1600), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(1600),
      (i, edits, cut) => {
        const f = frames[i].slice(0, Math.max(cut, 14));
        for (const [at, value] of edits) if (at < f.length) f[at] = value;
        const d = decodeFrame(f, 1);
        summarize(d);
        const v = verifyFrame(f, d);
        assert.ok(v.kind === "same" || v.kind === "differs" || v.kind === "malformed");
      },
    ),
  );
});

// ---- IGMP (RFC 2236, RFC 3376) ----

const GROUP = parseV4("224.1.2.3") as Ipv4Addr;
const ALL_SYSTEMS = parseV4("224.0.0.1") as Ipv4Addr;

/** An IGMP message as a host sends it: TTL 1 and the Router Alert option (RFC 2236 2, RFC 2113). */
function igmpFrame(msg: PacketBuilder, dst: Ipv4Addr = GROUP, set: (b: Ipv4Builder) => void = () => {}): Uint8Array {
  const ip = new Ipv4Builder(IP_A, dst, IpProto.Igmp, 1);
  ip.options = ROUTER_ALERT_V4;
  set(ip);
  return frame(EMPTY_BODY.wrapIn(msg).wrapIn(ip), EtherType.Ipv4);
}

/** Raw IGMP bytes with the checksum filled in (RFC 2236 2.3: over the whole message). */
function igmpRaw(bytes: number[]): Uint8Array {
  const m = Uint8Array.from(bytes);
  const c = checksum(m, 0, m.length);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

function rawIgmpFrame(m: Uint8Array): Uint8Array {
  const ip = new Ipv4Builder(IP_A, GROUP, IpProto.Igmp, 1);
  ip.options = ROUTER_ALERT_V4;
  return frame(new BytesBody(m).wrapIn(ip), EtherType.Ipv4);
}

test("IGMP: tcpdump lines for reports, leaves and queries; the record keeps the contract's shape; verify", () => {
  const report = igmpFrame(new IgmpBuilder(IgmpType.V2MembershipReport, 0, GROUP));
  // 14 Ethernet + 24 IPv4 with router alert + 8 IGMP, padded to 60.
  assert.equal(report.length, 60);
  assert.deepEqual(report.subarray(14 + 20, 14 + 24), ROUTER_ALERT_V4);
  const r = decodeRecord(report, 1);
  assert.deepEqual(r, {
    frame: 1,
    ok: true,
    eth: { src: "02:00:00:00:00:0a", dst: "02:00:00:00:00:0b", type: 0x0800 },
    ip: {
      version: 4,
      src: "192.0.2.1",
      dst: "224.1.2.3",
      ttl: 1,
      proto: 2,
      id: 0,
      fragOffset: 0,
      moreFragments: false,
    },
  });
  const cases: [Uint8Array, string][] = [
    [report, "192.0.2.1 > 224.1.2.3: igmp v2 report 224.1.2.3"],
    [
      igmpFrame(new IgmpBuilder(IgmpType.LeaveGroup, 0, GROUP), parseV4("224.0.0.2") as Ipv4Addr),
      "192.0.2.1 > 224.0.0.2: igmp leave 224.1.2.3",
    ],
    [
      igmpFrame(new IgmpBuilder(IgmpType.V1MembershipReport, 0, GROUP)),
      "192.0.2.1 > 224.1.2.3: igmp v1 report 224.1.2.3",
    ],
    // A general query with the default 10 s, a group-specific one with 1 s, an IGMPv1 query.
    [
      igmpFrame(new IgmpBuilder(IgmpType.MembershipQuery, 100, 0 as Ipv4Addr), ALL_SYSTEMS),
      "192.0.2.1 > 224.0.0.1: igmp query v2",
    ],
    [
      igmpFrame(new IgmpBuilder(IgmpType.MembershipQuery, 10, GROUP)),
      "192.0.2.1 > 224.1.2.3: igmp query v2 [max resp time 10] [gaddr 224.1.2.3]",
    ],
    [
      igmpFrame(new IgmpBuilder(IgmpType.MembershipQuery, 0, 0 as Ipv4Addr), ALL_SYSTEMS),
      "192.0.2.1 > 224.0.0.1: igmp query v1",
    ],
    // IGMPv3 queries: RFC 3376 4.1.1 codes 20 (2 s) and 0xff (31744 tenths: 52m54s), with sources.
    [
      igmpFrame(new Igmpv3QueryBuilder(20, GROUP, false, 2, 125, [IP_A, IP_B])),
      "192.0.2.1 > 224.1.2.3: igmp query v3 [max resp time 2.0s] [gaddr 224.1.2.3, 2 source(s)]",
    ],
    [
      igmpFrame(new Igmpv3QueryBuilder(0xff, 0 as Ipv4Addr, true, 7, 0), ALL_SYSTEMS),
      "192.0.2.1 > 224.0.0.1: igmp query v3 [max resp time 52m54s]",
    ],
    [igmpFrame(new IgmpBuilder(0x13, 0, GROUP)), "192.0.2.1 > 224.1.2.3: igmp-19"],
  ];
  cases.forEach(([f, line], i) => {
    const d = decodeFrame(f, i + 1);
    assert.equal(d.record.ok, true, d.record.error);
    assert.deepEqual(Object.keys(d.record), ["frame", "ok", "eth", "ip"]);
    assert.equal(summarize(d), `${i + 1} ${line}`);
    assert.deepEqual(verifyFrame(f, d), { kind: "same" }, line);
  });
});

test("IGMP: verify rebuilds with the IGMP builders; v3 reports and longer messages are copied", () => {
  // An IGMPv3 query with a Resv bit set (RFC 3376 4.1.5: zero on send): the builder writes it zero.
  const q = igmpFrame(new Igmpv3QueryBuilder(100, GROUP, false, 2, 125));
  const evil = q.slice();
  const flags = 14 + 24 + 8;
  evil[flags] |= 0x80;
  evil[14 + 24 + 2] = 0;
  evil[14 + 24 + 3] = 0;
  const c = checksum(evil, 14 + 24, 12);
  evil[14 + 24 + 2] = c >> 8;
  evil[14 + 24 + 3] = c & 0xff;
  assert.equal(decodeRecord(evil).ok, true);
  const v = verifyFrame(evil);
  assert.equal(v.kind, "differs");
  if (v.kind === "differs") assert.equal(v.at, 14 + 24 + 2);
  // An IGMPv3 report (RFC 3376 4.2): two group records, the second with one source.
  // biome-ignore format: packet bytes
  const v3 = igmpRaw([
    0x22, 0, 0, 0, 0, 0, 0, 2,
    4, 0, 0, 0, 224, 1, 2, 3,
    1, 0, 0, 1, 224, 1, 2, 4, 10, 0, 0, 1,
  ]);
  const f = rawIgmpFrame(v3);
  assert.equal(summarize(decodeFrame(f, 3)), "3 192.0.2.1 > 224.1.2.3: igmp v3 report, 2 group record(s)");
  assert.deepEqual(verifyFrame(f), { kind: "same" });
  // A v1 report with 4 extra bytes: shown with its length, copied as it is.
  const long = rawIgmpFrame(igmpRaw([0x12, 0, 0, 0, 224, 1, 2, 3, 9, 9, 9, 9]));
  assert.equal(pretty(long), "1 192.0.2.1 > 224.1.2.3: igmp v1 report 224.1.2.3 [len 12]");
  assert.deepEqual(verifyFrame(long), { kind: "same" });
});

test("IGMP: malformed messages are errors with the layers before them; fragments are not parsed", () => {
  const bad = igmpFrame(new IgmpBuilder(IgmpType.V2MembershipReport, 0, GROUP));
  bad[14 + 24 + 4] ^= 1; // the group changed, the checksum not
  const d = decodeFrame(bad, 4);
  assert.deepEqual(
    [d.record.ok, d.record.error, d.record.ip?.proto, Object.keys(d.record)],
    [false, "igmp: bad-checksum", 2, ["frame", "ok", "error", "eth", "ip"]],
  );
  assert.equal(summarize(d), "4 192.0.2.1 > 224.1.2.3: [igmp: bad-checksum]");
  assert.deepEqual(verifyFrame(bad), { kind: "malformed", error: "igmp: bad-checksum" });
  // RFC 3376 7.1: a query of 9 to 11 bytes is neither version.
  assert.equal(decodeRecord(rawIgmpFrame(igmpRaw([0x11, 100, 0, 0, 0, 0, 0, 0, 0, 0]))).error, "igmp: bad-length");
  assert.equal(decodeRecord(rawIgmpFrame(igmpRaw([0x16, 0, 0, 0, 224]))).error, "igmp: too-short");
  // A first fragment of an IGMP message: nothing above IP, and no error.
  const frag = igmpFrame(new IgmpBuilder(IgmpType.V2MembershipReport, 0, GROUP), GROUP, (b) => (b.mf = true));
  const rf = decodeFrame(frag);
  assert.deepEqual([rf.record.ok, rf.igmp], [true, undefined]);
  assert.deepEqual(verifyFrame(frag), { kind: "same" });
  // IGMP's protocol number inside IPv6 is nothing we decode.
  const v6 = frame(
    new BytesBody(igmpRaw([0x16, 0, 0, 0, 224, 1, 2, 3])).wrapIn(new Ipv6Builder(V6_A, V6_B, 2)),
    EtherType.Ipv6,
  );
  assert.equal(pretty(v6), "1 2001:db8::a > 2001:db8::b: proto 2, length 8");
});

// ---- MLD (RFC 2710, RFC 3810) ----

const LL = parseV6("fe80::1") as Ipv6Addr;
const MLDV2_ROUTERS = parseV6("ff02::16") as Ipv6Addr;
const ALL_NODES = parseV6("ff02::1") as Ipv6Addr;
const M_GROUP = parseV6("ff02::1:3") as Ipv6Addr;
/** RFC 2711 router alert (value 0, MLD) and PadN: the hop-by-hop header MLD is sent with (RFC 3810 5). */
const HBH_RA: Ipv6ExtHeader = { type: IpProto.HopByHop, data: Uint8Array.from([5, 2, 0, 0, 1, 0]) };

type MldMsg = (src: Ipv6Addr, dst: Ipv6Addr) => PacketBuilder;

function mldFrame(msg: MldMsg, dst: Ipv6Addr, payload = EMPTY_BODY as Serializer): Uint8Array {
  const ip = new Ipv6Builder(LL, dst, IpProto.Icmpv6, { hopLimit: 1, exts: [HBH_RA] });
  return frame(payload.wrapIn(msg(LL, dst)).wrapIn(ip), EtherType.Ipv6);
}

test("MLD: lines name the messages; the record shows the ICMPv6 layer; verify rebuilds with the MLD builders", () => {
  const records: MldRecord[] = [
    { type: 4, group: M_GROUP },
    { type: 1, group: parseV6("ff05::2") as Ipv6Addr, sources: [V6_A, V6_B] },
  ];
  const report = mldFrame((s, d) => new Mldv2ReportBuilder(s, d, records), MLDV2_ROUTERS);
  const r = decodeRecord(report, 1);
  assert.deepEqual(r.ip, {
    version: 6,
    src: "fe80::1",
    dst: "ff02::16",
    ttl: 1,
    proto: 58,
    fragOffset: 0,
    moreFragments: false,
  });
  assert.deepEqual(r.icmp, { version: 6, type: 143, code: 0 });
  assert.deepEqual(Object.keys(r), ["frame", "ok", "eth", "ip", "icmp"]);
  const cases: [Uint8Array, string][] = [
    [report, "fe80::1 > ff02::16: ICMP6, multicast listener report v2, 2 group record(s), length 80"],
    [
      mldFrame((s, d) => new MldBuilder(s, d, 130, 10000, new Uint8Array(16)), ALL_NODES),
      "fe80::1 > ff02::1: ICMP6, multicast listener query max resp delay: 10000 addr: ::, length 24",
    ],
    [
      mldFrame((s, d) => new MldBuilder(s, d, 131, 0, M_GROUP), M_GROUP),
      "fe80::1 > ff02::1:3: ICMP6, multicast listener report max resp delay: 0 addr: ff02::1:3, length 24",
    ],
    [
      mldFrame((s, d) => new MldBuilder(s, d, 132, 0, M_GROUP), parseV6("ff02::2") as Ipv6Addr),
      "fe80::1 > ff02::2: ICMP6, multicast listener done max resp delay: 0 addr: ff02::1:3, length 24",
    ],
    [
      mldFrame((s, d) => new Mldv2QueryBuilder(s, d, 1000, new Uint8Array(16), false, 2, 125), ALL_NODES),
      "fe80::1 > ff02::1: ICMP6, multicast listener query v2 [gaddr ::], length 28",
    ],
    [
      mldFrame((s, d) => new Mldv2QueryBuilder(s, d, 1000, M_GROUP, true, 2, 125, [V6_A]), M_GROUP),
      "fe80::1 > ff02::1:3: ICMP6, multicast listener query v2 [gaddr ff02::1:3, 1 source(s)], length 44",
    ],
    [
      mldFrame((s, d) => new Mldv2ReportBuilder(s, d, []), MLDV2_ROUTERS),
      "fe80::1 > ff02::16: ICMP6, multicast listener report v2, 0 group record(s), length 8",
    ],
  ];
  cases.forEach(([f, line], i) => {
    const d = decodeFrame(f, i + 1);
    assert.equal(d.record.ok, true, d.record.error);
    assert.equal(summarize(d), `${i + 1} ${line}`);
    assert.deepEqual(verifyFrame(f, d), { kind: "same" }, line);
  });
  // A non-zero code in a report (RFC 2710 3.2: zero on send): the MLD builder writes zero.
  const coded = mldFrame((s, d) => new MldBuilder(s, d, 131, 0, M_GROUP), M_GROUP);
  const icmpOff = 14 + 40 + 8;
  coded[icmpOff + 1] = 1;
  writeIcmpv6Checksum(coded, icmpOff, 24, LL, M_GROUP);
  assert.equal(decodeRecord(coded).icmp?.code, 1);
  const v = verifyFrame(coded);
  assert.deepEqual(v.kind === "differs" ? v.at : -1, icmpOff + 1);
  // A report with bytes after its fields is copied (the ICMPv6 builder), and verifies.
  const longer = mldFrame(
    (s, d) => new Icmpv6Builder(s, d, 131, 0, 0),
    M_GROUP,
    new BytesBody(Uint8Array.from([...M_GROUP, 1, 2, 3, 4])),
  );
  assert.equal(
    pretty(longer),
    "1 fe80::1 > ff02::1:3: ICMP6, multicast listener report max resp delay: 0 addr: ff02::1:3, length 28",
  );
  assert.deepEqual(verifyFrame(longer), { kind: "same" });
});

test("MLD: a malformed MLD message is an error after the ICMPv6 layer", () => {
  // RFC 3810 8.1: a 26-byte query is neither MLDv1 nor MLDv2 (the ICMPv6 checksum is right).
  const q26 = mldFrame((s, d) => new Icmpv6Builder(s, d, 130, 0, 1000), ALL_NODES, new BytesBody(new Uint8Array(18)));
  const r = decodeRecord(q26);
  assert.deepEqual([r.ok, r.error, r.icmp], [false, "mld: bad-length", { version: 6, type: 130, code: 0 }]);
  // A version 2 report announcing a record it does not hold.
  const rep = mldFrame((s, d) => new Icmpv6Builder(s, d, 143, 0, 1), MLDV2_ROUTERS, new BytesBody(new Uint8Array(12)));
  assert.equal(decodeRecord(rep).error, "mld: record-too-long");
  assert.deepEqual(verifyFrame(rep), { kind: "malformed", error: "mld: record-too-long" });
  // A report shorter than 24 bytes.
  const short = mldFrame((s, d) => new Icmpv6Builder(s, d, 131, 0, 0), M_GROUP, new BytesBody(new Uint8Array(8)));
  assert.equal(decodeRecord(short).error, "mld: too-short");
});

// ---- IPv6 packets in transit: what the host rejects, a decoder still shows ----

const FINAL = parseV6("2001:db8::99") as Ipv6Addr;

/** A routing header's data (after Next Header and Hdr Ext Len): type, segments left, 4 bytes, addresses. */
function routing(type: number, segLeft: number, addrs: Uint8Array[], third = 0): Ipv6ExtHeader {
  const data = new Uint8Array(6 + 16 * addrs.length);
  data[0] = type;
  data[1] = segLeft;
  data[2] = third;
  for (let i = 0; i < addrs.length; i++) data.set(addrs[i], 6 + 16 * i);
  return { type: IpProto.Ipv6Route, data };
}

/** UDP over IPv6 from V6_A to V6_B with `exts`; the checksum's pseudo-header names `pseudoDst`. */
function udp6(exts: Ipv6ExtHeader[], pseudoDst: Uint8Array = V6_B): Uint8Array {
  return frame(
    new BytesBody(new Uint8Array(6).fill(0x61))
      .wrapIn(new UdpBuilder(V6_A, pseudoDst, 5000, 6000))
      .wrapIn(new Ipv6Builder(V6_A, V6_B, IpProto.Udp, { exts })),
    EtherType.Ipv6,
  );
}

test("IPv6: an SRv6 routing header in transit decodes, with the final destination in the checksum", () => {
  // RFC 8754: Segment List [FINAL, V6_B], Segments Left 1 (V6_B is the active segment), Last Entry 1.
  const srh = routing(4, 1, [FINAL, V6_B], 1);
  const f = udp6([srh], FINAL);
  // The host's view is unchanged: RFC 8200 4.4, an unsupported type with Segments Left > 0.
  const host = Ipv6View.parse(f, 14, f.length - 14);
  assert.ok(host instanceof Ipv6ParseError);
  assert.equal(host.reason, "routing-header-segments-left");
  const d = decodeFrame(f, 1);
  assert.equal(d.record.ok, true, d.record.error);
  assert.deepEqual(d.record.ip, {
    version: 6,
    src: "2001:db8::a",
    dst: "2001:db8::b",
    ttl: 64,
    proto: 17,
    fragOffset: 0,
    moreFragments: false,
  });
  assert.deepEqual(d.record.udp, { srcPort: 5000, dstPort: 6000, length: 14 });
  assert.equal(summarize(d), "1 2001:db8::a.5000 > 2001:db8::b.6000: srcrt (type=4, segleft=1) UDP, length 6");
  assert.deepEqual(verifyFrame(f, d), { kind: "same" });
  // RFC 8200 8.1: in transit the header's destination is not the pseudo-header's.
  assert.equal(decodeRecord(udp6([srh], V6_B)).error, "udp: bad-checksum");
  // At the last segment (Segments Left 0) it is: the host path, as before.
  assert.equal(decodeRecord(udp6([routing(4, 0, [V6_B], 0)], V6_B)).ok, true);
  assert.equal(decodeRecord(udp6([routing(4, 0, [FINAL], 0)], FINAL)).error, "udp: bad-checksum");
});

test("IPv6: the final destination of routing types 0, 2, 3 and 4", () => {
  const at = (exts: Ipv6ExtHeader[]) => {
    const f = udp6(exts, FINAL);
    const v = parseIpv6ForDecode(f, 14, f.length - 14);
    assert.ok(v instanceof Ipv6View, String(v));
    return formatV6(finalDestination(v));
  };
  assert.equal(at([routing(0, 2, [V6_A, FINAL])]), "2001:db8::99"); // RFC 2460: the last address
  assert.equal(at([routing(2, 1, [FINAL])]), "2001:db8::99"); // RFC 6275: the home address
  assert.equal(at([routing(4, 2, [FINAL, V6_A, V6_B], 2)]), "2001:db8::99"); // RFC 8754: Segment List[0]
  assert.equal(at([routing(0, 0, [V6_A])]), "2001:db8::b"); // Segments Left 0: the header's
  assert.equal(at([routing(253, 1, [FINAL])]), "2001:db8::b"); // an unknown type: the header's
  // RFC 6554: CmprI 8, CmprE 8, Pad 0: two 8-byte addresses; the last one's prefix is the header's
  // destination's (2001:db8::), its suffix ::99.
  const rpl = {
    type: IpProto.Ipv6Route,
    data: Uint8Array.from([3, 2, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0x99]),
  };
  assert.equal(at([rpl]), "2001:db8::99");
  const f = udp6([rpl], FINAL);
  assert.deepEqual([decodeRecord(f).ok, verifyFrame(f).kind], [true, "same"]);
});

test("IPv6: options whose type bits say discard decode; the chain's structure is still checked", () => {
  // RFC 8200 4.2: 0x7e (01: discard), 0xde (11: discard and send ICMP unless multicast).
  const dst = { type: IpProto.Ipv6Opts, data: Uint8Array.from([0x7e, 4, 1, 2, 3, 4]) };
  const hop = { type: IpProto.HopByHop, data: Uint8Array.from([0xde, 4, 1, 2, 3, 4]) };
  for (const exts of [[dst], [hop], [hop, routing(4, 1, [FINAL, V6_B], 1), dst]]) {
    const f = udp6(exts, exts.length === 3 ? FINAL : V6_B);
    assert.equal(Ipv6View.parse(f, 14, f.length - 14) instanceof Ipv6ParseError, true);
    const r = decodeRecord(f);
    assert.deepEqual([r.ok, r.error, r.ip?.proto, r.udp?.dstPort], [true, undefined, 17, 6000]);
    assert.deepEqual(verifyFrame(f), { kind: "same" });
  }
  const seg = routing(4, 1, [FINAL, V6_B], 1);
  // An option running past its header.
  assert.equal(
    decodeRecord(udp6([seg, { type: IpProto.Ipv6Opts, data: Uint8Array.from([0x7e, 9, 1, 2, 3, 4]) }], FINAL)).error,
    "ipv6: bad-option-length",
  );
  // Hop-by-hop after another header (RFC 8200 4.1).
  assert.equal(decodeRecord(udp6([seg, hop], FINAL)).error, "ipv6: hop-by-hop-not-first");
  // A chain cut short: the routing header claims more than the payload holds.
  const cut = udp6([seg], FINAL);
  cut[14 + 40 + 1] = 200;
  assert.equal(decodeRecord(cut).error, "ipv6: ext-too-short");
  // A first fragment of a packet in transit: the chain is complete, so UDP shows.
  const fragged = frame(
    new BytesBody(new Uint8Array(16)).wrapIn(
      new Ipv6Builder(V6_A, V6_B, IpProto.Udp, { exts: [seg], frag: { id: 7, offset: 0, more: true } }),
    ),
    EtherType.Ipv6,
  );
  fragged.set([0x13, 0x88, 0x17, 0x70, 0, 100], 14 + 40 + 40 + 8);
  const rf = decodeRecord(fragged);
  assert.deepEqual(
    [rf.ok, rf.ip?.id, rf.ip?.moreFragments, rf.udp],
    [true, 7, true, { srcPort: 5000, dstPort: 6000, length: 100 }],
  );
  assert.equal(
    pretty(fragged),
    "1 2001:db8::a.5000 > 2001:db8::b.6000: srcrt (type=4, segleft=1) frag (0x00000007:0|16) UDP, length 92",
  );
});

// ---- fuzz: the new paths never throw ----

test("property: random IGMP and MLD messages decode, name themselves and re-serialize byte-identical", () => {
  const v4 = fc.integer({ min: 0xe0000000, max: 0xefffffff }).map((n) => n as Ipv4Addr);
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const igmpMsg = fc.oneof(
    fc
      .tuple(fc.constantFrom(0x11, 0x12, 0x16, 0x17, 0x13), fc.integer({ min: 0, max: 255 }), v4)
      .map(([t, m, g]) => new IgmpBuilder(t, m, g) as PacketBuilder),
    fc
      .tuple(
        fc.integer({ min: 0, max: 255 }),
        v4,
        fc.boolean(),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 255 }),
        fc.array(v4, { maxLength: 4 }),
      )
      .map(([m, g, sf, qrv, qqic, src]) => new Igmpv3QueryBuilder(m, g, sf, qrv, qqic, src) as PacketBuilder),
  );
  fc.assert(
    fc.property(igmpMsg, (m) => {
      const f = igmpFrame(m);
      const d = decodeFrame(f);
      assert.equal(d.record.ok, true, d.record.error);
      assert.match(summarize(d), /: igmp/);
      assert.deepEqual(verifyFrame(f, d), { kind: "same" });
    }),
  );
  const record = fc.record({
    type: fc.integer({ min: 1, max: 6 }),
    group: v6,
    sources: fc.array(v6, { maxLength: 3 }),
    auxData: fc.integer({ min: 0, max: 2 }).map((n) => new Uint8Array(4 * n).fill(n)),
  });
  const mldMsg: fc.Arbitrary<MldMsg> = fc.oneof(
    fc.array(record, { maxLength: 4 }).map((rs) => (s: Ipv6Addr, d: Ipv6Addr) => new Mldv2ReportBuilder(s, d, rs)),
    fc.tuple(fc.constantFrom(130, 131, 132), fc.integer({ min: 0, max: 0xffff }), v6).map(
      ([t, m, g]) =>
        (s: Ipv6Addr, d: Ipv6Addr) =>
          new MldBuilder(s, d, t, m, g),
    ),
    fc.tuple(fc.integer({ min: 0, max: 0xffff }), v6, fc.boolean(), fc.array(v6, { maxLength: 3 })).map(
      ([m, g, sf, src]) =>
        (s: Ipv6Addr, d: Ipv6Addr) =>
          new Mldv2QueryBuilder(s, d, m, g, sf, 2, 125, src),
    ),
  );
  fc.assert(
    fc.property(mldMsg, (m) => {
      const f = mldFrame(m, MLDV2_ROUTERS);
      const d = decodeFrame(f);
      assert.equal(d.record.ok, true, d.record.error);
      assert.match(summarize(d), /ICMP6, multicast listener (query|report|done)/);
      assert.deepEqual(verifyFrame(f, d), { kind: "same" });
    }),
  );
});

test("property: mutated IGMP, MLD and in-transit IPv6 frames never throw", () => {
  const seeds = [
    igmpFrame(new IgmpBuilder(IgmpType.V2MembershipReport, 0, GROUP)),
    igmpFrame(new Igmpv3QueryBuilder(20, GROUP, false, 2, 125, [IP_A])),
    rawIgmpFrame(igmpRaw([0x22, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 224, 1, 2, 4, 10, 0, 0, 1, 0, 0, 0, 0])),
    mldFrame((s, d) => new Mldv2ReportBuilder(s, d, [{ type: 1, group: M_GROUP, sources: [V6_A] }]), MLDV2_ROUTERS),
    mldFrame((s, d) => new Mldv2QueryBuilder(s, d, 1000, M_GROUP, true, 2, 125, [V6_A]), M_GROUP),
    udp6(
      [routing(4, 1, [FINAL, V6_B], 1), { type: IpProto.Ipv6Opts, data: Uint8Array.from([0x7e, 4, 1, 2, 3, 4]) }],
      FINAL,
    ),
    udp6([routing(3, 2, [], 0x88)], FINAL),
  ];
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(200),
      (i, edits, cut) => {
        const f = seeds[i].slice(0, Math.max(cut, 14));
        for (const [at, value] of edits) if (at < f.length) f[at] = value;
        const d = decodeFrame(f, 1);
        summarize(d);
        JSON.stringify(d.record);
        const v = verifyFrame(f, d);
        assert.ok(v.kind === "same" || v.kind === "differs" || v.kind === "malformed");
        if (d.ipv6 !== undefined)
          assert.equal(finalDestination(parseIpv6ForDecode(f, 14, f.length - 14) as Ipv6View).length, 16);
      },
    ),
  );
});

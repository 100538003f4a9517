import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { readCapture } from "../capture/pcapng.ts";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, parseMac, parseV4, parseV6 } from "../ip/addr.ts";
import { BytesBody, type Serializer, TooBig } from "../packet/serialize.ts";
import { checksum } from "./checksum.ts";
import { decodeFrame, decodeRecord, pretty, summarize, verifyFrame } from "./decode.ts";
import { EthernetBuilder, EtherType } from "./ethernet.ts";
import { Icmpv4EchoBuilder, Icmpv4ErrorBuilder } from "./icmpv4.ts";
import { writeIcmpv6Checksum } from "./icmpv6.ts";
import { IpProto } from "./ipproto.ts";
import { Ipv4Builder } from "./ipv4.ts";
import { Ipv6Builder } from "./ipv6.ts";
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

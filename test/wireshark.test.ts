// Wireshark agreement (issue 2): `netstack decode --json` must agree with tshark on every field of
// the record contract, for the real-kernel fixtures and for crafted edge cases (802.1Q, IPv4
// options, an IPv6 extension-header chain with a fragment header, TCP with every option and SACK
// blocks, ICMP errors quoting packets, fragments, IGMP and MLD with their router alerts, IPv6
// packets in transit that a host would drop (SRv6 and other routing headers with segments left,
// options whose type says discard), malformed lengths and checksums).
//
// tshark runs with reassembly off (each fragment is judged alone, as our decoder does), checksum
// validation on, and absolute TCP sequence numbers. Skipped, with the reason, without tshark.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { writePcap } from "../src/capture/pcap.ts";
import { readCapture } from "../src/capture/pcapng.ts";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, parseMac, parseV4, parseV6 } from "../src/ip/addr.ts";
import { BytesBody, type PacketBuilder, type Serializer, TooBig } from "../src/packet/serialize.ts";
import { checksum } from "../src/wire/checksum.ts";
import { type DecodeRecord, decodeRecord, verifyFrame } from "../src/wire/decode.ts";
import { EthernetBuilder, EtherType } from "../src/wire/ethernet.ts";
import { Icmpv4EchoBuilder, Icmpv4ErrorBuilder } from "../src/wire/icmpv4.ts";
import { Icmpv6EchoBuilder, Icmpv6ErrorBuilder, Icmpv6Type } from "../src/wire/icmpv6.ts";
import { IgmpBuilder, IgmpType, Igmpv3QueryBuilder, ROUTER_ALERT_V4 } from "../src/wire/igmp.ts";
import { IpProto } from "../src/wire/ipproto.ts";
import { Ipv4Builder } from "../src/wire/ipv4.ts";
import { Ipv6Builder, type Ipv6BuilderInit, type Ipv6ExtHeader } from "../src/wire/ipv6.ts";
import { MldBuilder, Mldv2QueryBuilder, Mldv2ReportBuilder } from "../src/wire/mld.ts";
import { LinkAddrOption, MtuOption, PrefixInfoOption, RouterAdvertisementBuilder } from "../src/wire/ndp.ts";
import { TcpBuilder, TcpFlags } from "../src/wire/tcp.ts";
import { UdpBuilder } from "../src/wire/udp.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const FIXTURES = join(ROOT, "test", "fixtures");

function hasTshark(): boolean {
  try {
    execFileSync("tshark", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const SKIP = hasTshark() ? false : "tshark is not installed (apt-get install tshark); CI installs it";

const dir = mkdtempSync(join(tmpdir(), "netstack-wireshark-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- tshark ----

const FIELDS = [
  "frame.protocols",
  "eth.src",
  "eth.dst",
  "eth.type",
  "vlan.id",
  "vlan.etype",
  "arp.opcode",
  "arp.src.hw_mac",
  "arp.src.proto_ipv4",
  "arp.dst.hw_mac",
  "arp.dst.proto_ipv4",
  "ip.src",
  "ip.dst",
  "ip.ttl",
  "ip.proto",
  "ip.id",
  "ip.frag_offset",
  "ip.flags.mf",
  "ip.checksum.status",
  "ipv6.src",
  "ipv6.dst",
  "ipv6.hlim",
  "ipv6.nxt",
  "ipv6.hopopts.nxt",
  "ipv6.routing.nxt",
  "ipv6.fraghdr.nxt",
  "ipv6.dstopts.nxt",
  "ipv6.fraghdr.ident",
  "ipv6.fraghdr.offset",
  "ipv6.fraghdr.more",
  "tcp.srcport",
  "tcp.dstport",
  "tcp.seq_raw",
  "tcp.ack_raw",
  "tcp.flags",
  "tcp.window_size_value",
  "tcp.option_kind",
  "tcp.options.mss_val",
  "tcp.options.wscale.shift",
  "tcp.options.sack_le",
  "tcp.options.sack_re",
  "tcp.options.timestamp.tsval",
  "tcp.options.timestamp.tsecr",
  "tcp.checksum.status",
  "udp.srcport",
  "udp.dstport",
  "udp.length",
  "udp.checksum.status",
  "icmp.type",
  "icmp.code",
  "icmp.checksum.status",
  "icmpv6.type",
  "icmpv6.code",
  "icmpv6.checksum.status",
  "igmp.checksum.status",
  "_ws.malformed",
  "_ws.expert.message",
  "_ws.expert.severity",
] as const;
type Field = (typeof FIELDS)[number];
/** One frame as tshark sees it: every occurrence of each field, outermost first. */
type Row = Record<Field, string[]>;

const PREFS = [
  "ip.defragment:FALSE",
  "ipv6.defragment:FALSE",
  "ip.check_checksum:TRUE",
  "tcp.check_checksum:TRUE",
  "udp.check_checksum:TRUE",
  "tcp.relative_sequence_numbers:FALSE",
  "tcp.analyze_sequence_numbers:FALSE",
  "tcp.desegment_tcp_streams:FALSE",
];

function tshark(file: string): Promise<Row[]> {
  const args = ["-r", file, "-n", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"];
  for (const p of PREFS) args.push("-o", p);
  for (const f of FIELDS) args.push("-e", f);
  return new Promise((resolve, reject) => {
    execFile("tshark", args, { maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`tshark failed: ${stderr}`));
      const rows = stdout
        .split("\n")
        .filter((l) => l !== "")
        .map((line) => {
          const cols = line.split("\t");
          const row = {} as Row;
          FIELDS.forEach((f, i) => {
            const v = cols[i] ?? "";
            row[f] = v === "" ? [] : v.split("|");
          });
          return row;
        });
      resolve(rows);
    });
  });
}

const EXT_HEADERS = ["ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts"] as const;
/** tshark's TCP flag bits, F S R P A U E C. */
const LETTERS = "FSRPAUEC";

/**
 * The record of the contract built from tshark's fields, for the layers tshark shows at the top
 * level (an ICMP error's quoted packet is dissected inside it and is not a top-level layer).
 */
function wiresharkRecord(row: Row, frame: number): DecodeRecord {
  const protocols = (row["frame.protocols"][0] ?? "").split(":");
  const icmpAt = protocols.findIndex((p) => p === "icmp" || p === "icmpv6");
  const outer = icmpAt < 0 ? protocols : protocols.slice(0, icmpAt + 1);
  const has = (p: string) => outer.includes(p);
  const first = (f: Field) => row[f][0];
  const num = (f: Field) => Number(first(f));
  const r: DecodeRecord = { frame, ok: true };
  r.eth = { src: first("eth.src"), dst: first("eth.dst"), type: num(has("vlan") ? "vlan.etype" : "eth.type") };
  if (has("vlan")) r.eth.vlan = num("vlan.id");
  if (has("arp")) {
    r.arp = {
      op: num("arp.opcode"),
      senderMac: first("arp.src.hw_mac"),
      senderIp: first("arp.src.proto_ipv4"),
      targetMac: first("arp.dst.hw_mac"),
      targetIp: first("arp.dst.proto_ipv4"),
    };
  }
  if (has("ip")) {
    r.ip = {
      version: 4,
      src: first("ip.src"),
      dst: first("ip.dst"),
      ttl: num("ip.ttl"),
      proto: num("ip.proto"),
      id: num("ip.id"),
      // tshark 4.0 shows the offset field in 8-byte units.
      fragOffset: num("ip.frag_offset") * 8,
      moreFragments: first("ip.flags.mf") === "1",
    };
  } else if (has("ipv6")) {
    // The protocol after the chain is the Next Header of the last extension header.
    let proto = num("ipv6.nxt");
    const seen: Record<string, number> = {};
    for (const p of outer) {
      if ((EXT_HEADERS as readonly string[]).includes(p)) {
        const k = seen[p] ?? 0;
        seen[p] = k + 1;
        proto = Number(row[`${p}.nxt` as Field][k]);
      }
    }
    r.ip = {
      version: 6,
      src: first("ipv6.src"),
      dst: first("ipv6.dst"),
      ttl: num("ipv6.hlim"),
      proto,
    } as DecodeRecord["ip"] & {};
    if (has("ipv6.fraghdr")) r.ip.id = num("ipv6.fraghdr.ident");
    r.ip.fragOffset = has("ipv6.fraghdr") ? num("ipv6.fraghdr.offset") * 8 : 0;
    r.ip.moreFragments = has("ipv6.fraghdr") && first("ipv6.fraghdr.more") === "1";
  }
  if (has("tcp")) {
    const bits = num("tcp.flags") & 0xff;
    let flags = "";
    for (let i = 0; i < 8; i++) if (bits & (1 << i)) flags += LETTERS[i];
    const options: NonNullable<DecodeRecord["tcp"]>["options"] = {};
    if (row["tcp.options.mss_val"].length > 0) options.mss = num("tcp.options.mss_val");
    if (row["tcp.options.wscale.shift"].length > 0) options.wscale = num("tcp.options.wscale.shift");
    if (row["tcp.option_kind"].includes("4")) options.sackPermitted = true;
    if (row["tcp.options.sack_le"].length > 0) {
      options.sack = row["tcp.options.sack_le"].map((l, i) => [Number(l), Number(row["tcp.options.sack_re"][i])]);
    }
    if (row["tcp.options.timestamp.tsval"].length > 0) {
      options.ts = [num("tcp.options.timestamp.tsval"), num("tcp.options.timestamp.tsecr")];
    }
    r.tcp = {
      srcPort: num("tcp.srcport"),
      dstPort: num("tcp.dstport"),
      seq: num("tcp.seq_raw"),
      ack: num("tcp.ack_raw"),
      flags,
      window: num("tcp.window_size_value"),
      options,
    };
  }
  if (has("udp")) r.udp = { srcPort: num("udp.srcport"), dstPort: num("udp.dstport"), length: num("udp.length") };
  if (has("icmp")) r.icmp = { version: 4, type: num("icmp.type"), code: num("icmp.code") };
  if (has("icmpv6")) r.icmp = { version: 6, type: num("icmpv6.type"), code: num("icmpv6.code") };
  return r;
}

/** Expert info severities (epan/proto.h PI_WARN, PI_ERROR). */
const PI_WARN = 0x00600000;
const PI_ERROR = 0x00800000;

/**
 * What tshark finds wrong with the layers of the contract: a bad checksum in a top-level layer, a
 * dissector exception, an expert error. (Quoted packets inside ICMP errors are not checked.)
 */
function wiresharkErrors(row: Row): string[] {
  const protocols = (row["frame.protocols"][0] ?? "").split(":");
  const out: string[] = [];
  for (const p of ["ip", "tcp", "udp", "icmp", "icmpv6", "igmp"] as const) {
    if (protocols.includes(p) && row[`${p}.checksum.status` as Field][0] === "0") out.push(`${p} bad checksum`);
  }
  out.push(...row["_ws.malformed"]);
  row["_ws.expert.message"].forEach((m, i) => {
    if (Number(row["_ws.expert.severity"][i]) >= PI_ERROR) out.push(m);
  });
  return out;
}

/** Expert messages of at least warning severity (where tshark explains a malformed frame). */
function wiresharkWarnings(row: Row): string[] {
  return row["_ws.expert.message"].filter((_, i) => Number(row["_ws.expert.severity"][i]) >= PI_WARN);
}

/**
 * Compare our records with tshark's frame by frame. Well-formed frames must agree on every field;
 * for a malformed frame tshark must flag an error too, and the layers we kept must agree.
 */
function assertAgree(ours: DecodeRecord[], rows: Row[], label: string, malformed = new Map<number, RegExp>()): void {
  assert.equal(ours.length, rows.length, `${label}: frame count`);
  ours.forEach((r, i) => {
    const ws = wiresharkRecord(rows[i], r.frame);
    const where = `${label} frame ${r.frame}`;
    const expect = malformed.get(r.frame);
    if (r.ok) {
      assert.equal(expect, undefined, `${where}: expected malformed`);
      assert.deepEqual(wiresharkErrors(rows[i]), [], `${where}: tshark sees errors we do not`);
      assert.deepEqual(r, ws, where);
    } else {
      assert.ok(expect !== undefined, `${where}: unexpected error ${r.error}`);
      const said = [...wiresharkErrors(rows[i]), ...wiresharkWarnings(rows[i])];
      assert.ok(
        said.some((m) => expect.test(m)),
        `${where}: we say "${r.error}", tshark says ${JSON.stringify(said)}, expected ${expect}`,
      );
      for (const layer of ["eth", "arp", "ip", "tcp", "udp", "icmp"] as const) {
        if (r[layer] !== undefined) assert.deepEqual(r[layer], ws[layer], `${where} ${layer} (error ${r.error})`);
      }
    }
  });
}

// ---- crafted edge cases ----

const MAC_A = parseMac("02:00:5e:00:00:01") as MacAddr;
const MAC_B = parseMac("02:00:5e:00:00:02") as MacAddr;
const A = parseV4("198.51.100.1") as Ipv4Addr;
const B = parseV4("198.51.100.2") as Ipv4Addr;
const A6 = parseV6("2001:db8::1") as Ipv6Addr;
const B6 = parseV6("2001:db8:0:1::2") as Ipv6Addr;
const LL6 = parseV6("fe80::1") as Ipv6Addr;

function bytesOf(s: Serializer): Uint8Array {
  const out = s.serialize();
  if (out instanceof TooBig) throw new Error("too big");
  return out.toBytes();
}

function eth(l3: Serializer, type: number, vlan = -1, pcp = 0): Uint8Array {
  return bytesOf(l3.wrapIn(new EthernetBuilder(MAC_A, MAC_B, type, vlan, 1500, pcp)));
}

function body(n: number, from = 0): BytesBody {
  return new BytesBody(new Uint8Array(n).map((_, i) => (from + i) & 0xff));
}

function tcpB(src: number | Uint8Array, dst: number | Uint8Array, set: (t: TcpBuilder) => void): TcpBuilder {
  const t = new TcpBuilder(src, dst);
  t.srcPort = 49152;
  t.dstPort = 39999;
  t.seq = 0x01020304;
  t.window = 502;
  set(t);
  return t;
}

function v4(proto: number, set: (b: Ipv4Builder) => void = () => {}, src = A, dst = B): Ipv4Builder {
  const b = new Ipv4Builder(src, dst, proto);
  b.id = 0x4242;
  set(b);
  return b;
}

function v6(proto: number, init: Ipv6BuilderInit = {}, src = A6, dst = B6): Ipv6Builder {
  return new Ipv6Builder(src, dst, proto, init);
}

function l4in4(inner: Serializer, l4: PacketBuilder, proto: number, set?: (b: Ipv4Builder) => void): Uint8Array {
  return eth(inner.wrapIn(l4).wrapIn(v4(proto, set)), EtherType.Ipv4);
}

function fixIpv4Checksum(f: Uint8Array, off = 14): void {
  f[off + 10] = 0;
  f[off + 11] = 0;
  const c = checksum(f, off, (f[off] & 0x0f) * 4);
  f[off + 10] = c >> 8;
  f[off + 11] = c & 0xff;
}

/**
 * The crafted frames, and for the malformed ones (by 1-based index) what tshark must say about
 * them (an expert message).
 */
function crafted(): { frames: Uint8Array[]; malformed: Map<number, RegExp> } {
  const frames: Uint8Array[] = [];
  const malformed = new Map<number, RegExp>();
  const add = (f: Uint8Array, tsharkSays?: RegExp) => {
    frames.push(f);
    if (tsharkSays !== undefined) malformed.set(frames.length, tsharkSays);
  };

  // 802.1Q: UDP over IPv4 in VLAN 100 (priority 3), and ARP in VLAN 7.
  add(
    eth(
      body(5)
        .wrapIn(new UdpBuilder(A, B, 40001, 40002))
        .wrapIn(v4(IpProto.Udp)),
      EtherType.Ipv4,
      100,
      3,
    ),
  );
  // An IP protocol nobody dissects (253, RFC 3692 experimentation) in the highest VLAN id.
  add(eth(body(6).wrapIn(v4(253)), EtherType.Ipv4, 4095));
  // IPv4 options (NOP, record route with room for two addresses, EOL) carrying TCP.
  const rr = [1, 7, 11, 4, 198, 51, 100, 1, 0, 0, 0, 0, 0];
  add(
    l4in4(
      body(3),
      tcpB(A, B, (t) => (t.flags = TcpFlags.ACK)),
      IpProto.Tcp,
      (b) => (b.options = Uint8Array.from(rr)),
    ),
  );
  // IPv4 router alert option (RFC 2113) and DSCP/ECN bits.
  add(
    l4in4(body(4), new Icmpv4EchoBuilder(8, 77, 1), IpProto.Icmp, (b) => {
      b.options = Uint8Array.from([148, 4, 0, 0]);
      b.dscp = 46;
      b.ecn = 1;
      b.ttl = 1;
    }),
  );
  // TCP: a SYN with every option; SACK blocks with and without timestamps; all flags, urgent.
  add(
    l4in4(
      body(0),
      tcpB(A, B, (t) => {
        t.flags = TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR;
        t.window = 65535;
        t.options.mss = 1460;
        t.options.sackPermitted = true;
        t.options.setTs(0xfffffffe, 0);
        t.options.wscale = 14;
      }),
      IpProto.Tcp,
    ),
  );
  add(
    l4in4(
      body(10),
      tcpB(A, B, (t) => {
        t.flags = TcpFlags.ACK | TcpFlags.PSH;
        t.ack = 0xfffffff0;
        t.options.setTs(1, 2);
        t.options.addSack(0x10000000, 0x10000100);
        t.options.addSack(0x20000000, 0x20000200);
        t.options.addSack(0xffffff00, 0x00000010);
      }),
      IpProto.Tcp,
    ),
  );
  add(
    l4in4(
      body(0),
      tcpB(A, B, (t) => {
        t.flags = TcpFlags.ACK;
        t.ack = 5;
        for (let k = 1; k <= 4; k++) t.options.addSack(k * 1000, k * 1000 + 500);
      }),
      IpProto.Tcp,
    ),
  );
  add(
    l4in4(
      body(1),
      tcpB(A, B, (t) => {
        t.flags = 0xff;
        t.urgent = 1;
        // Another stack's layout: NOP NOP, an unknown option 30 (MPTCP-like) of 4 bytes, MSS, EOL.
        t.rawOptions = Uint8Array.from([1, 1, 30, 4, 0x10, 0x20, 2, 4, 0x05, 0xb4, 0]);
      }),
      IpProto.Tcp,
    ),
  );
  // TCP over IPv6 with an extension-header chain: hop-by-hop (router alert), routing (type 0 with
  // segments left 0), destination options, then an atomic fragment header (RFC 6946).
  const chain: Ipv6BuilderInit = {
    hopLimit: 3,
    flowLabel: 0xbeef,
    exts: [
      { type: IpProto.HopByHop, data: Uint8Array.from([5, 2, 0, 0, 1, 0]) },
      { type: IpProto.Ipv6Route, data: Uint8Array.from([0, 0, 0, 0, 0, 0]) },
      { type: IpProto.Ipv6Opts, data: Uint8Array.from([1, 4, 0, 0, 0, 0]) },
    ],
    frag: { id: 0xcafef00d, offset: 0, more: false },
  };
  add(
    eth(
      body(20)
        .wrapIn(tcpB(A6, B6, (t) => (t.flags = TcpFlags.ACK)))
        .wrapIn(v6(IpProto.Tcp, chain)),
      EtherType.Ipv6,
    ),
  );
  add(
    eth(
      body(8)
        .wrapIn(new UdpBuilder(A6, B6, 1, 2))
        .wrapIn(v6(IpProto.Udp, { exts: chain.exts })),
      EtherType.Ipv6,
    ),
  );
  // IPv6 fragments: a first fragment carrying the TCP header and 28 bytes, then the rest.
  const seg = bytesOf(
    body(60).wrapIn(
      tcpB(A6, B6, (t) => {
        t.flags = TcpFlags.ACK | TcpFlags.PSH;
        t.options.setTs(9, 8);
      }),
    ),
  );
  const f1 = { id: 0x11223344, offset: 0, more: true };
  const f2 = { id: 0x11223344, offset: 64, more: false };
  add(eth(new BytesBody(seg.subarray(0, 64)).wrapIn(v6(IpProto.Tcp, { frag: f1 })), EtherType.Ipv6));
  add(eth(new BytesBody(seg.subarray(64)).wrapIn(v6(IpProto.Tcp, { frag: f2 })), EtherType.Ipv6));
  // IPv4 fragments of a UDP datagram: the first carries the UDP header.
  const dgram = bytesOf(body(100).wrapIn(new UdpBuilder(A, B, 4000, 4001)));
  add(eth(new BytesBody(dgram.subarray(0, 48)).wrapIn(v4(IpProto.Udp, (b) => (b.mf = true))), EtherType.Ipv4));
  add(eth(new BytesBody(dgram.subarray(48)).wrapIn(v4(IpProto.Udp, (b) => (b.fragOffset = 48))), EtherType.Ipv4));
  // UDP without a checksum (IPv4 allows it).
  add(l4in4(body(6), new UdpBuilder(A, B, 40003, 40004, true), IpProto.Udp));
  // ICMP errors quoting packets.
  const udpPacket = bytesOf(
    body(4)
      .wrapIn(new UdpBuilder(A, B, 33434, 33435))
      .wrapIn(v4(IpProto.Udp)),
  );
  add(
    eth(
      new BytesBody(udpPacket).wrapIn(Icmpv4ErrorBuilder.destUnreachable(3)).wrapIn(v4(IpProto.Icmp, () => {}, B, A)),
      EtherType.Ipv4,
    ),
  );
  add(
    eth(
      new BytesBody(udpPacket.subarray(0, 28))
        .wrapIn(Icmpv4ErrorBuilder.timeExceeded(0))
        .wrapIn(v4(IpProto.Icmp, () => {}, B, A)),
      EtherType.Ipv4,
    ),
  );
  const tcpPacket = bytesOf(
    body(0)
      .wrapIn(tcpB(A, B, (t) => (t.flags = TcpFlags.SYN)))
      .wrapIn(v4(IpProto.Tcp, (b) => (b.df = true))),
  );
  add(
    eth(
      new BytesBody(tcpPacket.subarray(0, 28))
        .wrapIn(Icmpv4ErrorBuilder.destUnreachable(4, 1400))
        .wrapIn(v4(IpProto.Icmp, () => {}, B, A)),
      EtherType.Ipv4,
    ),
  );
  add(
    eth(
      new BytesBody(tcpPacket).wrapIn(Icmpv4ErrorBuilder.paramProblem(20)).wrapIn(v4(IpProto.Icmp, () => {}, B, A)),
      EtherType.Ipv4,
    ),
  );
  const udp6Packet = bytesOf(
    body(4)
      .wrapIn(new UdpBuilder(A6, B6, 33434, 33435))
      .wrapIn(v6(IpProto.Udp)),
  );
  add(
    eth(
      new BytesBody(udp6Packet)
        .wrapIn(new Icmpv6ErrorBuilder(B6, A6, Icmpv6Type.DestUnreachable, 4))
        .wrapIn(v6(IpProto.Icmpv6, {}, B6, A6)),
      EtherType.Ipv6,
    ),
  );
  const tcp6Packet = bytesOf(
    body(1100)
      .wrapIn(tcpB(A6, B6, (t) => (t.flags = TcpFlags.ACK)))
      .wrapIn(v6(IpProto.Tcp)),
  );
  add(
    eth(
      new BytesBody(tcp6Packet)
        .wrapIn(new Icmpv6ErrorBuilder(B6, A6, Icmpv6Type.PacketTooBig, 0, 1280))
        .wrapIn(v6(IpProto.Icmpv6, {}, B6, A6)),
      EtherType.Ipv6,
    ),
  );
  add(
    eth(
      new BytesBody(udp6Packet)
        .wrapIn(new Icmpv6ErrorBuilder(B6, A6, Icmpv6Type.ParamProblem, 1, 6))
        .wrapIn(v6(IpProto.Icmpv6, {}, B6, A6)),
      EtherType.Ipv6,
    ),
  );
  add(
    eth(
      new BytesBody(udp6Packet)
        .wrapIn(new Icmpv6ErrorBuilder(B6, A6, Icmpv6Type.TimeExceeded, 0))
        .wrapIn(v6(IpProto.Icmpv6, {}, B6, A6)),
      EtherType.Ipv6,
    ),
  );
  // A router advertisement with link-layer address, MTU and prefix options.
  const allNodes = parseV6("ff02::1") as Ipv6Addr;
  const ra = new RouterAdvertisementBuilder(LL6, allNodes, { curHopLimit: 64, routerLifetime: 1800 }, [
    new LinkAddrOption(1, MAC_A),
    new MtuOption(1500),
    new PrefixInfoOption(64, true, true, 86400, 14400, parseV6("2001:db8:1::") as Ipv6Addr),
  ]);
  add(
    eth(
      new BytesBody(new Uint8Array(0)).wrapIn(ra).wrapIn(v6(IpProto.Icmpv6, { hopLimit: 255 }, LL6, allNodes)),
      EtherType.Ipv6,
    ),
  );

  // IGMP (RFC 2236, RFC 3376) as hosts and queriers send it: TTL 1 and the IPv4 Router Alert.
  const group = parseV4("224.1.2.3") as Ipv4Addr;
  const allSystems = parseV4("224.0.0.1") as Ipv4Addr;
  const igmp = (msg: PacketBuilder, dst: Ipv4Addr) =>
    eth(
      new BytesBody(new Uint8Array(0)).wrapIn(msg).wrapIn(
        v4(
          IpProto.Igmp,
          (b) => {
            b.ttl = 1;
            b.options = ROUTER_ALERT_V4;
          },
          A,
          dst,
        ),
      ),
      EtherType.Ipv4,
    );
  add(igmp(new IgmpBuilder(IgmpType.V2MembershipReport, 0, group), group));
  add(igmp(new IgmpBuilder(IgmpType.LeaveGroup, 0, group), parseV4("224.0.0.2") as Ipv4Addr));
  add(igmp(new IgmpBuilder(IgmpType.MembershipQuery, 100, 0 as Ipv4Addr), allSystems));
  add(igmp(new IgmpBuilder(IgmpType.MembershipQuery, 10, group), group));
  add(igmp(new Igmpv3QueryBuilder(20, group, false, 2, 125, [A, B]), group));
  // MLD (RFC 2710, RFC 3810): link-local source, hop limit 1, hop-by-hop Router Alert (RFC 2711).
  const ll = parseV6("fe80::1") as Ipv6Addr;
  const mldGroup = parseV6("ff02::1:3") as Ipv6Addr;
  const hbhRa: Ipv6ExtHeader = { type: IpProto.HopByHop, data: Uint8Array.from([5, 2, 0, 0, 1, 0]) };
  const mld = (msg: PacketBuilder, dst: Ipv6Addr) =>
    eth(
      new BytesBody(new Uint8Array(0)).wrapIn(msg).wrapIn(v6(IpProto.Icmpv6, { hopLimit: 1, exts: [hbhRa] }, ll, dst)),
      EtherType.Ipv6,
    );
  const routers = parseV6("ff02::16") as Ipv6Addr;
  add(
    mld(
      new Mldv2ReportBuilder(ll, routers, [
        { type: 4, group: mldGroup },
        { type: 1, group: parseV6("ff05::2") as Ipv6Addr, sources: [A6, B6] },
      ]),
      routers,
    ),
  );
  add(mld(new MldBuilder(ll, allNodes, Icmpv6Type.MldQuery, 10000, new Uint8Array(16)), allNodes));
  add(mld(new Mldv2QueryBuilder(ll, mldGroup, 1000, mldGroup, true, 2, 125, [A6]), mldGroup));
  // IPv6 in transit, which a host would drop but a decoder shows (RFC 8200 4.4, 4.2). The
  // transport checksum's pseudo-header names the final destination (RFC 8200 8.1).
  const final = parseV6("2001:db8::99") as Ipv6Addr;
  const rt = (type: number, segLeft: number, addrs: Uint8Array[], third = 0): Ipv6ExtHeader => {
    const data = new Uint8Array(6 + 16 * addrs.length);
    data.set([type, segLeft, third]);
    for (let i = 0; i < addrs.length; i++) data.set(addrs[i], 6 + 16 * i);
    return { type: IpProto.Ipv6Route, data };
  };
  const inTransit = (exts: Ipv6ExtHeader[], l4: PacketBuilder, proto: number, payload = body(6)) =>
    eth(payload.wrapIn(l4).wrapIn(v6(proto, { exts })), EtherType.Ipv6);
  // SRv6 (RFC 8754): Segment List [final, B6], Segments Left 1, Last Entry 1.
  const srh = rt(4, 1, [final, B6], 1);
  add(inTransit([srh], new UdpBuilder(A6, final, 5000, 6000), IpProto.Udp));
  add(
    inTransit(
      [srh],
      tcpB(A6, final, (t) => (t.flags = TcpFlags.SYN)),
      IpProto.Tcp,
      body(0),
    ),
  );
  // Type 0 (deprecated, RFC 5095) with two addresses, type 2 (Mobile IPv6 home address), type 3 (RPL,
  // RFC 6554: CmprI 8, CmprE 8, the last address's prefix is the destination's: 2001:db8:0:1::99).
  add(inTransit([rt(0, 2, [B6, final])], new UdpBuilder(A6, final, 5001, 6001), IpProto.Udp));
  add(inTransit([rt(2, 1, [final])], new Icmpv6EchoBuilder(A6, final, 128, 9, 1), IpProto.Icmpv6));
  const rpl: Ipv6ExtHeader = {
    type: IpProto.Ipv6Route,
    data: Uint8Array.from([3, 2, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0x99]),
  };
  add(inTransit([rpl], new UdpBuilder(A6, parseV6("2001:db8:0:1::99") as Ipv6Addr, 5002, 6002), IpProto.Udp));
  // Unrecognized options whose type bits say discard (01) and discard-and-report (11).
  const discard = { type: IpProto.Ipv6Opts, data: Uint8Array.from([0x7e, 4, 1, 2, 3, 4]) };
  const report = { type: IpProto.HopByHop, data: Uint8Array.from([0xde, 4, 1, 2, 3, 4]) };
  add(
    inTransit(
      [discard],
      tcpB(A6, B6, (t) => (t.flags = TcpFlags.ACK)),
      IpProto.Tcp,
      body(4),
    ),
  );
  add(inTransit([report, srh, discard], new UdpBuilder(A6, final, 5003, 6003), IpProto.Udp));

  // ---- malformed ----
  const good = l4in4(
    body(12),
    tcpB(A, B, (t) => (t.flags = TcpFlags.ACK | TcpFlags.PSH)),
    IpProto.Tcp,
  );
  // A bad TCP checksum.
  const badSum = good.slice();
  badSum[14 + 20 + 17] ^= 0x55;
  add(badSum, /^ip bad checksum$|^tcp bad checksum$/);
  // A bad IPv4 header checksum.
  const badIp = good.slice();
  badIp[14 + 10] ^= 0x01;
  add(badIp, /^ip bad checksum$/);
  // IPv4 total length beyond the frame.
  const longIp = good.slice();
  longIp[14 + 3] += 40;
  fixIpv4Checksum(longIp);
  add(longIp, /^IPv4 total length exceeds packet length/);
  // TCP data offset below 5 words.
  const badOff = good.slice();
  badOff[14 + 20 + 12] = 0x40;
  add(badOff, /^Bogus TCP header length \(16, must be at least 20\)/);
  // UDP length beyond the IP payload.
  const udpGood = l4in4(body(20), new UdpBuilder(A, B, 1000, 2000), IpProto.Udp);
  const longUdp = udpGood.slice();
  longUdp[14 + 20 + 5] += 50;
  add(longUdp, /^Bad length value \d+ > IP payload length/);
  // An ICMP echo with a bad checksum.
  const echo = l4in4(body(8), new Icmpv4EchoBuilder(8, 1, 1), IpProto.Icmp);
  echo[14 + 20 + 2] ^= 0xff;
  add(echo, /^icmp bad checksum$/);
  // IPv6 payload length beyond the frame.
  const v6Long = eth(
    body(8)
      .wrapIn(new UdpBuilder(A6, B6, 1, 2))
      .wrapIn(v6(IpProto.Udp)),
    EtherType.Ipv6,
  );
  v6Long[14 + 5] += 100;
  add(v6Long, /^IPv6 payload length exceeds framing length/);
  // A UDP-over-IPv6 checksum error.
  const v6Sum = eth(
    body(8)
      .wrapIn(new UdpBuilder(A6, B6, 1, 2))
      .wrapIn(v6(IpProto.Udp)),
    EtherType.Ipv6,
  );
  v6Sum[v6Sum.length - 1] ^= 1;
  add(v6Sum, /^udp bad checksum$/);
  // An IGMP report with a bad checksum.
  const badIgmp = igmp(new IgmpBuilder(IgmpType.V2MembershipReport, 0, group), group);
  badIgmp[14 + 24 + 7] ^= 1;
  add(badIgmp, /^igmp bad checksum$/);
  // SRv6 in transit whose UDP checksum was computed over the header's destination, not the final one.
  add(inTransit([srh], new UdpBuilder(A6, B6, 5000, 6000), IpProto.Udp), /^udp bad checksum$/);
  return { frames, malformed };
}

// ---- the tests ----

test("tshark agrees with our records on every fixture frame", { skip: SKIP }, async () => {
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith(".pcap") || n.endsWith(".pcapng"));
  assert.ok(names.length >= 9);
  for (const name of names) {
    const file = join(FIXTURES, name);
    const cap = readCapture(new Uint8Array(readFileSync(file)));
    const ours = cap.records.map((r, i) => decodeRecord(r.data, i + 1));
    assertAgree(ours, await tshark(file), name);
  }
});

test("tshark agrees with `netstack decode --json` on crafted edge cases", { skip: SKIP }, async () => {
  const { frames, malformed } = crafted();
  const file = join(dir, "crafted.pcap");
  const pcap = writePcap(frames.map((data, i) => ({ data, timestampNs: BigInt(i) * 1000n })));
  writeFileSync(file, pcap);
  // To look at the crafted capture in Wireshark: NETSTACK_KEEP_CRAFTED=/some/file.pcap.
  if (process.env.NETSTACK_KEEP_CRAFTED) writeFileSync(process.env.NETSTACK_KEEP_CRAFTED, pcap);
  const bin = join(ROOT, "bin", "netstack.js");
  const [rows, json] = await Promise.all([
    tshark(file),
    new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [bin, "decode", "--json", file], (e, out, err) =>
        e === null ? resolve(out) : reject(new Error(err)),
      ),
    ),
  ]);
  const ours = json
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as DecodeRecord);
  assert.equal(ours.length, frames.length);
  assertAgree(ours, rows, "crafted", malformed);
  // The crafted set does exercise what it claims to.
  assert.ok(ours.some((r) => r.eth?.vlan === 100));
  assert.ok(ours.some((r) => r.tcp?.options.sack?.length === 4));
  assert.ok(ours.some((r) => r.ip?.version === 6 && r.ip.id === 0xcafef00d && r.ip.proto === IpProto.Tcp));
  assert.ok(ours.some((r) => r.icmp?.version === 6 && r.icmp.type === Icmpv6Type.PacketTooBig));
  assert.ok(rows.some((r) => r["frame.protocols"][0].includes(":igmp")));
  assert.ok(ours.some((r) => r.icmp?.version === 6 && r.icmp.type === Icmpv6Type.Mldv2Report && r.ip?.proto === 58));
  assert.equal(rows.filter((r, i) => r["frame.protocols"][0].includes("ipv6.routing") && ours[i].ok).length, 8);
  assert.equal(malformed.size, 10);
  // And every well-formed crafted frame re-serializes byte-identical from its reprs.
  frames.forEach((f, i) => {
    if (!malformed.has(i + 1)) assert.deepEqual(verifyFrame(f), { kind: "same" }, `crafted frame ${i + 1}`);
  });
});

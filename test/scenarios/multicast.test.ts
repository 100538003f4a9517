// Multicast membership for groups joined by UDP sockets: IGMPv2 (RFC 2236) and MLDv2 (RFC 3810)
// reports on join, answers to queries, leave / done messages; checked byte for byte and through
// the wire parsers.
import assert from "node:assert/strict";
import { type Ipv6Addr, parseMac, parseV4 } from "../../src/ip/addr.ts";
import { Ipv4, Ipv6 } from "../../src/ip/version.ts";
import { EMPTY_BODY, type PacketBuilder, TooBig } from "../../src/packet/serialize.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { EthernetBuilder, EthernetView } from "../../src/wire/ethernet.ts";
import { Icmpv6View } from "../../src/wire/icmpv6.ts";
import { IgmpBuilder, IgmpView, Igmpv3ReportView, ROUTER_ALERT_V4 } from "../../src/wire/igmp.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4Builder, Ipv4View } from "../../src/wire/ipv4.ts";
import { Ipv6Builder, Ipv6View } from "../../src/wire/ipv6.ts";
import { MldBuilder, Mldv2QueryBuilder, type Mldv2ReportView, parseMld, toRepr } from "../../src/wire/mld.ts";
import { addHost, hex, mode, settle, testBothModes, toHex } from "./helpers.ts";

const MAC_A = "02:00:00:00:00:0a";
const MAC_Q = "02:00:00:00:00:0b";

function lan(seed = 3) {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: [MAC_A], addrs: [["10.0.0.1/24"]] });
  addHost(net, "q", { macs: [MAC_Q], addrs: [["10.0.0.2/24"]] });
  net.link(["a", 1], ["q", 1], { latency: 1 });
  settle(net);
  const tx: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "tx" && r.host === "a") tx.push(r);
  });
  return { net, a, tx };
}

function frame(dst: string, type: number, inner: PacketBuilder, ip: PacketBuilder): Uint8Array {
  const f = EMPTY_BODY.wrapIn(inner)
    .wrapIn(ip)
    .wrapIn(new EthernetBuilder(parseMac(MAC_Q)!, parseMac(dst)!, type))
    .serialize({});
  if (f instanceof TooBig) throw new Error("too big");
  return f.toBytes();
}

/** The IGMP messages among frames: [time, IPv4 view, IGMP view]. */
function igmpOf(frames: TapRecord[]) {
  const out: { time: number; ip: Ipv4View; igmp: IgmpView; bytes: Uint8Array }[] = [];
  for (const r of frames) {
    const eth = EthernetView.parse(r.bytes, 0, r.bytes.length) as EthernetView;
    if (eth.etherType !== 0x0800) continue;
    const ip = Ipv4View.parse(r.bytes, eth.payloadOff, r.bytes.length - eth.payloadOff);
    assert.ok(ip instanceof Ipv4View, "a valid IPv4 header (checksum included)");
    if (ip.proto !== IpProto.Igmp) continue;
    const igmp = IgmpView.parse(r.bytes, ip.payloadOff, ip.payloadLen);
    assert.ok(igmp instanceof IgmpView, "a valid IGMP message (checksum included)");
    out.push({ time: r.time, ip, igmp, bytes: r.bytes });
  }
  return out;
}

testBothModes("IGMPv2: joining sends two unsolicited reports; a query is answered; leaving sends Leave Group", () => {
  const { net, a, tx } = lan();
  const s = a.stack.udp.open(Ipv4);
  assert.equal(typeof s, "number");
  const id = s as number;
  assert.equal(a.stack.udp.bind(id, Ipv4.unspecified, 5000), null);
  const t0 = net.now;
  assert.equal(a.stack.udp.joinGroup(id, parseV4("239.1.2.3")!), null);
  net.runUntilIdle(net.now + 20_000);

  const reports = igmpOf(tx);
  assert.equal(reports.length, 2, "RFC 2236 3: Robustness Variable (2) unsolicited reports");
  assert.equal(reports[0].time, t0, "the first report leaves at once");
  assert.ok(reports[1].time > t0 && reports[1].time < t0 + 10_000, "the repeat within the Unsolicited Report Interval");
  // RFC 2236 2: to the group, TTL 1, Router Alert (RFC 2113); the group's MAC (RFC 1112 6.4); padded to 60.
  const r = reports[0];
  const id0 = toHex(r.bytes.subarray(18, 20));
  const ck0 = toHex(r.bytes.subarray(24, 26));
  // biome-ignore format: packet bytes
  const want = hex(
    "01005e010203 02000000000a 0800" +
    `4600 0020 ${id0} 0000 01 02 ${ck0} 0a000001 ef010203 94040000` +
    "16 00 f8fa ef010203" +
    "0000000000000000000000000000",
  );
  assert.equal(toHex(r.bytes), toHex(want));
  assert.equal(r.ip.ttl, 1);
  assert.equal(r.igmp.type, 0x16);
  assert.equal(r.igmp.group, parseV4("239.1.2.3"));

  // A general query (Max Resp Time 10 s) from the querier: one report within 10 s.
  tx.length = 0;
  const query = new Ipv4Builder(parseV4("10.0.0.2")!, parseV4("224.0.0.1")!, IpProto.Igmp, 1);
  query.options = ROUTER_ALERT_V4;
  const tq = net.now;
  net.inject(["a", 1], frame("01:00:5e:00:00:01", 0x0800, new IgmpBuilder(0x11, 100, Ipv4.unspecified), query));
  net.runUntilIdle(net.now + 20_000);
  const answers = igmpOf(tx);
  assert.equal(answers.length, 1);
  assert.equal(answers[0].igmp.type, 0x16);
  assert.equal(answers[0].igmp.group, parseV4("239.1.2.3"));
  assert.ok(answers[0].time >= tq && answers[0].time <= tq + 10_000);
  assert.equal(a.stack.counters.get("igmp.rx.query"), 1);

  // Another member's report right after the query suppresses ours (RFC 2236 3).
  tx.length = 0;
  net.inject(["a", 1], frame("01:00:5e:00:00:01", 0x0800, new IgmpBuilder(0x11, 100, Ipv4.unspecified), query));
  const other = new Ipv4Builder(parseV4("10.0.0.2")!, parseV4("239.1.2.3")!, IpProto.Igmp, 1);
  other.options = ROUTER_ALERT_V4;
  net.inject(["a", 1], frame("01:00:5e:01:02:03", 0x0800, new IgmpBuilder(0x16, 0, parseV4("239.1.2.3")!), other));
  net.runUntilIdle(net.now + 20_000);
  assert.equal(igmpOf(tx).length, 0, "suppressed by the other member's report");

  // We were not the last reporter: leaving sends nothing. Join again (we report), then leave.
  assert.equal(a.stack.udp.leaveGroup(id, parseV4("239.1.2.3")!), null);
  assert.equal(igmpOf(tx).length, 0);
  assert.equal(a.stack.udp.joinGroup(id, parseV4("239.1.2.3")!), null);
  net.runUntilIdle(net.now + 20_000);
  tx.length = 0;
  assert.equal(a.stack.udp.leaveGroup(id, parseV4("239.1.2.3")!), null);
  const leave = igmpOf(tx);
  assert.equal(leave.length, 1);
  const l = leave[0];
  const id1 = toHex(l.bytes.subarray(18, 20));
  const ck1 = toHex(l.bytes.subarray(24, 26));
  // biome-ignore format: packet bytes
  const wantLeave = hex(
    "01005e000002 02000000000a 0800" +
    `4600 0020 ${id1} 0000 01 02 ${ck1} 0a000001 e0000002 94040000` +
    "17 00 f7fa ef010203" +
    "0000000000000000000000000000",
  );
  assert.equal(toHex(l.bytes), toHex(wantLeave), "RFC 2236 3: Leave Group to all-routers");
  // Nothing more (a leave is sent once).
  net.runUntilIdle(net.now + 20_000);
  assert.equal(igmpOf(tx).length, 1);
});

/** The MLD messages among frames, checked through Ipv6View (Router Alert) and Icmpv6View (checksum). */
function mldOf(frames: TapRecord[]) {
  const out: { time: number; ip: Ipv6View; bytes: Uint8Array; repr: ReturnType<typeof toRepr> }[] = [];
  for (const r of frames) {
    const eth = EthernetView.parse(r.bytes, 0, r.bytes.length) as EthernetView;
    if (eth.etherType !== 0x86dd) continue;
    const ip = Ipv6View.parse(r.bytes, eth.payloadOff, r.bytes.length - eth.payloadOff);
    assert.ok(ip instanceof Ipv6View);
    if (ip.proto !== IpProto.Icmpv6) continue;
    const m = Icmpv6View.parse(r.bytes, ip.upperOff, ip.upperLen, ip.src, ip.dst);
    assert.ok(m instanceof Icmpv6View, "a valid ICMPv6 checksum over the pseudo-header");
    if (m.type < 130 || (m.type > 132 && m.type !== 143)) continue;
    assert.equal(ip.routerAlert, 0, "RFC 3810 5: a Hop-by-Hop Router Alert, value 0");
    const mv = parseMld(r.bytes, ip.upperOff, ip.upperLen);
    assert.ok(!(mv instanceof Error) && "type" in mv);
    out.push({ time: r.time, ip, bytes: r.bytes, repr: toRepr(mv as Mldv2ReportView) });
  }
  return out;
}

testBothModes(
  "MLDv2: joining sends CHANGE_TO_EXCLUDE reports; a general query is answered; leaving sends CHANGE_TO_INCLUDE",
  () => {
    const { net, a, tx } = lan(5);
    const group = Ipv6.parse("ff05::1:3") as Ipv6Addr;
    const s = a.stack.udp.open(Ipv6) as number;
    assert.equal(a.stack.udp.bind(s, Ipv6.unspecified, 5000), null);
    const t0 = net.now;
    assert.equal(a.stack.udp.joinGroup(s, group), null);
    net.runUntilIdle(net.now + 5000);

    const joins = mldOf(tx);
    assert.equal(joins.length, 2, "RFC 3810 6.1: Robustness Variable state-change reports");
    assert.equal(joins[0].time, t0);
    assert.ok(joins[1].time < t0 + 1000, "the repeat within the Unsolicited Report Interval (1 s)");
    const j = joins[0];
    const ck = toHex(j.bytes.subarray(14 + 48 + 2, 14 + 48 + 4));
    // biome-ignore format: packet bytes
    const want = hex(
    "333300000016 02000000000a 86dd" +
    "60000000 0024 00 01 fe80000000000000 000000fffe00000a" +
    "ff020000000000000000000000000016" +
    "3a00 0502 0000 0100" +
    `8f00 ${ck} 0000 0001` +
    "04 00 0000 ff050000000000000000000000010003",
  );
    assert.equal(toHex(j.bytes), toHex(want));
    assert.deepEqual(j.repr, {
      type: 143,
      records: [{ type: 4, group: "ff05::1:3", sources: [] }],
    });
    assert.equal(joins[1].repr.records?.[0].type, 4);
    assert.equal(a.stack.groups6(1).includes("ff05::1:3"), true);

    // An MLDv2 general query (Maximum Response Code 1000 ms) from a link-local querier, hop limit 1.
    tx.length = 0;
    const qsrc = Ipv6.parse("fe80::b") as Ipv6Addr;
    const allNodes = Ipv6.parse("ff02::1") as Ipv6Addr;
    const ip = new Ipv6Builder(qsrc, allNodes, IpProto.Icmpv6, {
      hopLimit: 1,
      exts: [{ type: IpProto.HopByHop, data: new Uint8Array([5, 2, 0, 0, 1, 0]) }],
    });
    const tq = net.now;
    net.inject(
      ["a", 1],
      frame(
        "33:33:00:00:00:01",
        0x86dd,
        new Mldv2QueryBuilder(qsrc, allNodes, 1000, Ipv6.unspecified, false, 2, 125),
        ip,
      ),
    );
    net.runUntilIdle(net.now + 5000);
    const answers = mldOf(tx);
    assert.equal(answers.length, 1);
    assert.ok(answers[0].time >= tq && answers[0].time <= tq + 1000);
    // Every group the interface listens to, the solicited-node group of its address included
    // (RFC 4861 7.2.1 joins it with MLD), as MODE_IS_EXCLUDE {}.
    assert.deepEqual(answers[0].repr, {
      type: 143,
      records: [
        { type: 2, group: "ff02::1:ff00:a", sources: [] },
        { type: 2, group: "ff05::1:3", sources: [] },
      ],
    });
    assert.equal(a.stack.counters.get("mld.rx.query"), 1);

    // A query from a global source is discarded (RFC 3810 5.1.14).
    tx.length = 0;
    const bad = Ipv6.parse("2001:db8::b") as Ipv6Addr;
    const ipBad = new Ipv6Builder(bad, allNodes, IpProto.Icmpv6, { hopLimit: 1 });
    net.inject(
      ["a", 1],
      frame(
        "33:33:00:00:00:01",
        0x86dd,
        new Mldv2QueryBuilder(bad, allNodes, 1000, Ipv6.unspecified, false, 2, 125),
        ipBad,
      ),
    );
    net.runUntilIdle(net.now + 5000);
    assert.equal(mldOf(tx).length, 0);
    assert.equal(a.stack.counters.get("mld.rx.query-ignored"), 1);

    // Leaving: CHANGE_TO_INCLUDE {} twice, then the group is gone from the receive filter.
    tx.length = 0;
    assert.equal(a.stack.udp.leaveGroup(s, group), null);
    net.runUntilIdle(net.now + 5000);
    const leaves = mldOf(tx);
    assert.equal(leaves.length, 2);
    for (const l of leaves) assert.deepEqual(l.repr.records, [{ type: 3, group: "ff05::1:3", sources: [] }]);
    assert.equal(a.stack.groups6(1).includes("ff05::1:3"), false);
  },
);

testBothModes("MLDv1: after an MLDv1 query the host answers with MLDv1 reports and leaves with Done", () => {
  const { net, a, tx } = lan(6);
  const group = Ipv6.parse("ff0e::42") as Ipv6Addr;
  const s = a.stack.udp.open(Ipv6) as number;
  assert.equal(a.stack.udp.joinGroup(s, group), null);
  net.runUntilIdle(net.now + 5000);
  tx.length = 0;
  const qsrc = Ipv6.parse("fe80::b") as Ipv6Addr;
  const allNodes = Ipv6.parse("ff02::1") as Ipv6Addr;
  const ip = new Ipv6Builder(qsrc, allNodes, IpProto.Icmpv6, {
    hopLimit: 1,
    exts: [{ type: IpProto.HopByHop, data: new Uint8Array([5, 2, 0, 0, 1, 0]) }],
  });
  net.inject(
    ["a", 1],
    frame("33:33:00:00:00:01", 0x86dd, new MldBuilder(qsrc, allNodes, 130, 2000, Ipv6.unspecified), ip),
  );
  net.runUntilIdle(net.now + 5000);
  // One MLDv1 report per group: the solicited-node group of fe80::a and the joined group.
  const reports = mldOf(tx).sort((x, y) => (x.repr.group as string).localeCompare(y.repr.group as string));
  assert.equal(reports.length, 2);
  assert.deepEqual(reports[0].repr, { type: 131, maxRespCode: 0, group: "ff02::1:ff00:a" });
  assert.deepEqual(reports[1].repr, { type: 131, maxRespCode: 0, group: "ff0e::42" });
  assert.equal(Ipv6.format(reports[1].ip.dst), "ff0e::42", "RFC 2710 3: an MLDv1 report goes to the group");
  tx.length = 0;
  assert.equal(a.stack.udp.leaveGroup(s, group), null);
  const done = mldOf(tx);
  assert.equal(done.length, 1);
  assert.deepEqual(done[0].repr, { type: 132, maxRespCode: 0, group: "ff0e::42" });
  assert.equal(Ipv6.format(done[0].ip.dst), "ff02::2");
});

testBothModes(
  "MLDv2: an address's solicited-node group is joined and left with reports, shared groups counted once",
  () => {
    const { net, a, tx } = lan(9);
    // 2001:db8::a ends in the same 24 bits as the link-local fe80::ff:fe00:a (00:00:0a): they share
    // ff02::1:ff00:a. 2001:db8::77 has a group of its own.
    assert.equal(a.stack.addAddress(1, "2001:db8::a/64"), null);
    net.runUntilIdle(net.now + 5000);
    assert.equal(mldOf(tx).length, 0, "ff02::1:ff00:a is already reported for fe80::a");
    assert.equal(a.stack.addAddress(1, "2001:db8::77/64"), null);
    net.runUntilIdle(net.now + 5000);
    const joins = mldOf(tx);
    assert.equal(joins.length, 2, "RFC 3810 6.1: Robustness Variable state-change reports");
    for (const j of joins) {
      assert.deepEqual(j.repr, { type: 143, records: [{ type: 4, group: "ff02::1:ff00:77", sources: [] }] });
      assert.equal(Ipv6.format(j.ip.src), "fe80::ff:fe00:a", "RFC 3810 5.2.13: from the link-local address");
    }
    assert.ok(a.stack.groups6(1).includes("ff02::1:ff00:77"));

    tx.length = 0;
    assert.equal(a.stack.removeAddress(1, "2001:db8::77"), null);
    net.runUntilIdle(net.now + 5000);
    const leaves = mldOf(tx);
    assert.equal(leaves.length, 2);
    for (const l of leaves) {
      assert.deepEqual(l.repr, { type: 143, records: [{ type: 3, group: "ff02::1:ff00:77", sources: [] }] });
    }
    assert.ok(!a.stack.groups6(1).includes("ff02::1:ff00:77"));

    // The shared group stays while fe80::a still needs it.
    tx.length = 0;
    assert.equal(a.stack.removeAddress(1, "2001:db8::a"), null);
    net.runUntilIdle(net.now + 5000);
    assert.equal(mldOf(tx).length, 0);
    assert.ok(a.stack.groups6(1).includes("ff02::1:ff00:a"));
  },
);

testBothModes(
  "IGMPv3 (hostconf.igmpVersion 3): reports of group records to 224.0.0.22; IGMPv2 queriers are heard",
  () => {
    const net = new FakeNetwork<Stack>({ seed: 12, lendFrames: mode.lend });
    const a = addHost(net, "a", { macs: [MAC_A], addrs: [["10.0.0.1/24"]], options: { hostconf: { igmpVersion: 3 } } });
    addHost(net, "q", { macs: [MAC_Q], addrs: [["10.0.0.2/24"]] });
    net.link(["a", 1], ["q", 1], { latency: 1 });
    settle(net);
    const tx: TapRecord[] = [];
    net.tap((r) => {
      if (r.dir === "tx" && r.host === "a") tx.push(r);
    });
    const s = a.stack.udp.open(Ipv4) as number;
    const t0 = net.now;
    assert.equal(a.stack.udp.joinGroup(s, parseV4("239.1.2.3")!), null);
    net.runUntilIdle(net.now + 5000);
    const joins = igmpOf(tx);
    assert.equal(joins.length, 2, "RFC 3376 5.1: Robustness Variable state-change reports");
    assert.equal(joins[0].time, t0);
    assert.ok(joins[1].time < t0 + 1000, "the repeat within the IGMPv3 Unsolicited Report Interval (1 s)");
    const j = joins[0];
    const id0 = toHex(j.bytes.subarray(18, 20));
    const ck0 = toHex(j.bytes.subarray(24, 26));
    // RFC 3376 4.2: to 224.0.0.22 (its MAC, RFC 1112 6.4), TTL 1, Router Alert; CHANGE_TO_EXCLUDE {};
    // padded to 60 bytes.
    // biome-ignore format: packet bytes
    const want = hex(
    "01005e000016 02000000000a 0800" +
    `4600 0028 ${id0} 0000 01 02 ${ck0} 0a000001 e0000016 94040000` +
    "22 00 e8f9 0000 0001" +
    "04 00 0000 ef010203" +
    "000000000000",
  );
    assert.equal(toHex(j.bytes), toHex(want));
    const report = Igmpv3ReportView.parse(j.bytes, j.ip.payloadOff, j.ip.payloadLen);
    assert.ok(report instanceof Igmpv3ReportView, "a valid IGMPv3 report (checksum included)");

    // An IGMPv2 general query: the host answers in IGMPv2 (RFC 3376 7.2.1) and leaves with Leave Group.
    tx.length = 0;
    const query = new Ipv4Builder(parseV4("10.0.0.2")!, parseV4("224.0.0.1")!, IpProto.Igmp, 1);
    query.options = ROUTER_ALERT_V4;
    net.inject(["a", 1], frame("01:00:5e:00:00:01", 0x0800, new IgmpBuilder(0x11, 100, Ipv4.unspecified), query));
    net.runUntilIdle(net.now + 20_000);
    const answers = igmpOf(tx);
    assert.deepEqual(
      answers.map((x) => [x.igmp.type, Ipv4.format(x.ip.dst)]),
      [[0x16, "239.1.2.3"]],
    );
    tx.length = 0;
    assert.equal(a.stack.udp.leaveGroup(s, parseV4("239.1.2.3")!), null);
    assert.deepEqual(
      igmpOf(tx).map((x) => [x.igmp.type, Ipv4.format(x.ip.dst)]),
      [[0x17, "224.0.0.2"]],
    );
  },
);

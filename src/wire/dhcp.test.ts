import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import { serializeMessage } from "../hostconf/fake-context.ts";
import { formatV4, type Ipv4Addr, parseV4 } from "../ip/addr.ts";
import {
  BOOTP_MIN_LEN,
  builderFromRepr,
  DHCP_FLAG_BROADCAST,
  DhcpBuilder,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  type DhcpRepr,
  DhcpView,
  dhcpOpt,
  toRepr,
} from "./dhcp.ts";
import { isError, ParseError } from "./errors.ts";

const a = (s: string) => parseV4(s) as Ipv4Addr;
const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const frames = fixtureFrames("dhcp.pcap");
const dhcpFrames = frames.filter((f) => f.proto === 17);
const msg = (n: number) => frames[n - 1].payload;

function parse(b: Uint8Array): DhcpView {
  const v = DhcpView.parse(b, 0, b.length);
  if (isError(v)) assert.fail(String(v));
  return v;
}

function optionCodes(v: DhcpView): number[] {
  const out: number[] = [];
  const c = v.options();
  while (c.next()) out.push(c.code);
  return out;
}

// The options of dnsmasq's OFFER (frame 7), after the cookie: tshark shows 53 Offer, 54 10.0.2.2,
// 51 120 s, 58 60 s, 59 105 s, 1 255.255.255.0, 28 10.0.2.255, 26 1500, 15 "test.example",
// 6 10.0.2.3, 3 10.0.2.2, End.
// biome-ignore format: packet bytes
const OFFER_OPTIONS = new Uint8Array([
  0x35, 0x01, 0x02, 0x36, 0x04, 0x0a, 0x00, 0x02, 0x02, 0x33, 0x04, 0x00, 0x00, 0x00, 0x78, 0x3a,
  0x04, 0x00, 0x00, 0x00, 0x3c, 0x3b, 0x04, 0x00, 0x00, 0x00, 0x69, 0x01, 0x04, 0xff, 0xff, 0xff,
  0x00, 0x1c, 0x04, 0x0a, 0x00, 0x02, 0xff, 0x1a, 0x02, 0x05, 0xdc, 0x0f, 0x0c, 0x74, 0x65, 0x73,
  0x74, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x06, 0x04, 0x0a, 0x00, 0x02, 0x03, 0x03,
  0x04, 0x0a, 0x00, 0x02, 0x02, 0xff,
]);

test("dhcp: udhcpc's DISCOVER (deconstruct)", () => {
  const v = parse(msg(1));
  assert.equal(v.len, 300, "padded to the BOOTP minimum");
  assert.deepEqual([v.op, v.htype, v.hlen, v.hops, v.secs, v.flags], [DhcpOp.Request, 1, 6, 0, 0, 0]);
  assert.equal(v.xid, 0xa4fdb431);
  assert.equal(v.broadcast, false);
  assert.deepEqual([v.ciaddr, v.yiaddr, v.siaddr, v.giaddr], [0, 0, 0, 0]);
  assert.ok(v.chaddrIs(MAC));
  assert.equal(v.messageType, DhcpMessageType.Discover);
  assert.equal(v.maxMessageSize, 576);
  assert.deepEqual([...(v.option(DhcpOption.ParameterRequestList) ?? [])], [1, 3, 6, 12, 15, 26, 28, 42, 119]);
  assert.equal(v.text(DhcpOption.HostName), "guest1");
  assert.equal(v.text(DhcpOption.VendorClassId), "udhcp 1.35.0");
  assert.deepEqual([...(v.option(DhcpOption.ClientId) ?? [])], [1, ...MAC]);
  assert.deepEqual(optionCodes(v), [53, 57, 55, 12, 60, 61]);
  assert.equal(v.serverId, null);
  assert.equal(v.leaseTime, -1);
  assert.equal(v.overload, 0);
});

test("dhcp: dnsmasq's OFFER (deconstruct and construct byte for byte)", () => {
  const bytes = msg(7);
  const v = parse(bytes);
  assert.equal(v.op, DhcpOp.Reply);
  assert.equal(v.xid, 0xa4fdb431);
  assert.equal(formatV4(v.yiaddr), "10.0.2.43");
  assert.equal(formatV4(v.siaddr), "10.0.2.2");
  assert.equal(v.messageType, DhcpMessageType.Offer);
  assert.equal(formatV4(v.serverId as Ipv4Addr), "10.0.2.2");
  assert.deepEqual([v.leaseTime, v.renewalTime, v.rebindingTime], [120, 60, 105]);
  assert.equal(formatV4(v.subnetMask as Ipv4Addr), "255.255.255.0");
  assert.equal(formatV4(v.broadcastAddress as Ipv4Addr), "10.0.2.255");
  assert.equal(v.interfaceMtu, 1500);
  assert.equal(v.text(DhcpOption.DomainName), "test.example");
  assert.equal(v.addrCount(DhcpOption.DomainNameServer), 1);
  assert.equal(formatV4(v.addrAt(DhcpOption.DomainNameServer, 0)), "10.0.2.3");
  assert.equal(v.addrCount(DhcpOption.Router), 1);
  assert.equal(formatV4(v.addrAt(DhcpOption.Router, 0)), "10.0.2.2");
  assert.deepEqual(bytes.subarray(240), OFFER_OPTIONS);

  const b = new DhcpBuilder(
    { op: DhcpOp.Reply, xid: 0xa4fdb431, yiaddr: a("10.0.2.43"), siaddr: a("10.0.2.2"), chaddr: MAC },
    [
      dhcpOpt.messageType(DhcpMessageType.Offer),
      dhcpOpt.addrs(DhcpOption.ServerId, [a("10.0.2.2")]),
      dhcpOpt.u32(DhcpOption.LeaseTime, 120),
      dhcpOpt.u32(DhcpOption.RenewalTime, 60),
      dhcpOpt.u32(DhcpOption.RebindingTime, 105),
      dhcpOpt.addrs(DhcpOption.SubnetMask, [a("255.255.255.0")]),
      dhcpOpt.addrs(DhcpOption.BroadcastAddress, [a("10.0.2.255")]),
      dhcpOpt.u16(DhcpOption.InterfaceMtu, 1500),
      dhcpOpt.text(DhcpOption.DomainName, "test.example"),
      dhcpOpt.addrs(DhcpOption.DomainNameServer, [a("10.0.2.3")]),
      dhcpOpt.addrs(DhcpOption.Router, [a("10.0.2.2")]),
    ],
  );
  // serializeMessage serializes into a buffer of 0xaa: every byte must be written.
  assert.deepEqual(serializeMessage(b), bytes);
});

test("dhcp: every DHCP message of the capture parses and re-serializes from its repr exactly", () => {
  assert.equal(dhcpFrames.length, 18);
  for (const f of dhcpFrames) {
    const v = parse(f.payload);
    const r = toRepr(v);
    assert.deepEqual(serializeMessage(builderFromRepr(r)), f.payload, `frame ${f.number}`);
    assert.deepEqual(toRepr(parse(serializeMessage(builderFromRepr(r)))), r);
  }
});

test("dhcp: the repr of the ACK reads like tshark", () => {
  const r = toRepr(parse(msg(10)));
  assert.equal(r.chaddr, "52:54:00:12:34:56");
  assert.equal(r.yiaddr, "10.0.2.43");
  assert.equal(r.secs, 3);
  assert.deepEqual(
    r.options.map((o) => [o.code, o.value]),
    [
      [53, 5],
      [54, "10.0.2.2"],
      [51, 120],
      [58, 60],
      [59, 105],
      [1, "255.255.255.0"],
      [28, "10.0.2.255"],
      [12, "guest1"],
      [26, 1500],
      [15, "test.example"],
      [6, ["10.0.2.3"]],
      [3, ["10.0.2.2"]],
    ],
  );
});

test("dhcp: the broadcast flag (udhcpc -B), RELEASE, DECLINE, NAK, INFORM", () => {
  const offer = parse(msg(21));
  assert.equal(offer.flags, DHCP_FLAG_BROADCAST);
  assert.ok(offer.broadcast);
  const release = parse(msg(19));
  assert.equal(release.messageType, DhcpMessageType.Release);
  assert.equal(formatV4(release.ciaddr), "10.0.2.43");
  assert.equal(formatV4(release.serverId as Ipv4Addr), "10.0.2.2");
  const decline = parse(msg(24));
  assert.equal(decline.messageType, DhcpMessageType.Decline);
  assert.equal(formatV4(decline.requestedIp as Ipv4Addr), "10.0.2.43");
  const nak = parse(msg(26));
  assert.equal(nak.messageType, DhcpMessageType.Nak);
  assert.equal(nak.text(DhcpOption.Message), "wrong network");
  assert.equal(nak.yiaddr, 0);
  const inform = parse(msg(27));
  assert.equal(inform.messageType, DhcpMessageType.Inform);
  assert.equal(formatV4(inform.ciaddr), "10.0.2.50");
  const ack = parse(msg(30));
  assert.equal(ack.messageType, DhcpMessageType.Ack);
  assert.equal(ack.leaseTime, -1, "RFC 2131 4.3.5: no lease time in the answer to an INFORM");
});

test("dhcp: truncations, bad cookie, bad op and bad hlen are errors, never throws", () => {
  const offer = msg(7);
  for (let n = 0; n < offer.length; n++) {
    const r = DhcpView.parse(offer, 0, n);
    if (n < 240) assert.equal(String(r), "dhcp: too-short", `length ${n}`);
    else assert.ok(r instanceof ParseError || r instanceof DhcpView, `length ${n}`);
  }
  // Cut inside the lease time option (its code at 249: 240 + 9): the option overflows.
  assert.equal(String(DhcpView.parse(offer, 0, 252)), "dhcp: option-overflow");
  // Cut right after an option: no End, accepted (the field ends with the message).
  const cut = parse(offer.slice(0, 255));
  assert.equal(cut.leaseTime, 120);
  assert.equal(cut.renewalTime, -1);
  const bad = offer.slice();
  bad[236] = 0x64;
  assert.equal(String(DhcpView.parse(bad, 0, bad.length)), "dhcp: bad-cookie");
  const op = offer.slice();
  op[0] = 3;
  assert.equal(String(DhcpView.parse(op, 0, op.length)), "dhcp: bad-op");
  const hlen = offer.slice();
  hlen[2] = 17;
  assert.equal(String(DhcpView.parse(hlen, 0, hlen.length)), "dhcp: bad-hlen");
  assert.equal(String(DhcpView.parse(offer, 10, offer.length)), "dhcp: too-short", "past the end of the buffer");
  assert.equal(String(DhcpView.parse(offer, -1, 300)), "dhcp: too-short");
});

test("dhcp: known options of the wrong length read as absent; the raw option is still there", () => {
  const b = serializeMessage(
    new DhcpBuilder({ op: DhcpOp.Reply }, [
      dhcpOpt.messageType(DhcpMessageType.Ack),
      dhcpOpt.bytes(DhcpOption.LeaseTime, Uint8Array.of(0, 0, 1)),
      dhcpOpt.bytes(DhcpOption.Router, Uint8Array.of(10, 0, 0, 1, 10, 0)),
      dhcpOpt.bytes(DhcpOption.DomainNameServer, new Uint8Array(0)),
      dhcpOpt.bytes(DhcpOption.ServerId, Uint8Array.of(10, 0, 0, 1, 9)),
      dhcpOpt.bytes(DhcpOption.InterfaceMtu, Uint8Array.of(5)),
      dhcpOpt.bytes(DhcpOption.LeaseTime, Uint8Array.of(0, 0, 0, 9)),
    ]),
  );
  const v = parse(b);
  assert.equal(v.messageType, DhcpMessageType.Ack);
  assert.equal(v.leaseTime, -1, "the first instance is the one read, and it is malformed");
  assert.deepEqual([...(v.option(DhcpOption.LeaseTime) ?? [])], [0, 0, 1]);
  assert.equal(v.addrCount(DhcpOption.Router), 0);
  assert.equal(v.addrCount(DhcpOption.DomainNameServer), 0);
  assert.equal(v.serverId, null);
  assert.equal(v.interfaceMtu, -1);
  assert.ok(v.has(DhcpOption.InterfaceMtu));
  assert.equal(v.has(DhcpOption.HostName), false);
  assert.equal(v.text(DhcpOption.HostName), null);
  // A message type of two bytes is no message type.
  const t = parse(serializeMessage(new DhcpBuilder({}, [dhcpOpt.bytes(53, Uint8Array.of(1, 1))])));
  assert.equal(t.messageType, 0);
});

test("dhcp: option overload (RFC 2132 9.3): options in file, then sname; bounds checked", () => {
  const fileOpts = Uint8Array.of(DhcpOption.LeaseTime, 4, 0, 0, 0x0e, 0x10, 0, DhcpOption.Router, 4, 10, 0, 0, 1, 255);
  const snameOpts = Uint8Array.of(DhcpOption.HostName, 3, 0x61, 0x62, 0x63, 255);
  const build = (overload: number[], file = fileOpts, sname = snameOpts) =>
    serializeMessage(
      new DhcpBuilder({ op: DhcpOp.Reply, file, sname }, [
        dhcpOpt.messageType(DhcpMessageType.Offer),
        dhcpOpt.bytes(DhcpOption.Overload, Uint8Array.from(overload)),
      ]),
    );
  const both = parse(build([3]));
  assert.equal(both.overload, 3);
  assert.equal(both.leaseTime, 3600);
  assert.equal(formatV4(both.addrAt(DhcpOption.Router, 0)), "10.0.0.1");
  assert.equal(both.text(DhcpOption.HostName), "abc");
  assert.deepEqual(optionCodes(both), [53, 52, 51, 3, 12]);
  const r = toRepr(both);
  assert.deepEqual(
    r.options.map((o) => o.area ?? "options"),
    ["options", "options", "file", "file", "sname"],
  );
  assert.deepEqual(serializeMessage(builderFromRepr(r)), build([3]));
  const fileOnly = parse(build([1]));
  assert.equal(fileOnly.leaseTime, 3600);
  assert.equal(fileOnly.text(DhcpOption.HostName), null, "sname is not option space with overload 1");
  assert.deepEqual(optionCodes(fileOnly), [53, 52, 51, 3]);
  // Values outside 1..3, or a malformed option 52, mean no overload: the fields are not read.
  for (const ov of [[0], [4], [1, 1]]) {
    const v = parse(build(ov));
    assert.equal(v.overload, 0, `overload ${ov}`);
    assert.equal(v.leaseTime, -1);
  }
  // An option overflowing the file field is a parse error, even when the message goes on.
  const bad = fileOpts.slice();
  bad[bad.length - 1] = 0;
  const overflow = new Uint8Array(128);
  overflow[126] = DhcpOption.HostName;
  overflow[127] = 8;
  assert.equal(String(DhcpView.parse(build([1], overflow), 0, 300)), "dhcp: option-overflow");
  // An option 52 inside the file field changes nothing.
  const nested = parse(build([1], Uint8Array.of(DhcpOption.Overload, 1, 2, 255)));
  assert.equal(nested.overload, 1);
  assert.equal(nested.text(DhcpOption.HostName), null);
});

test("dhcp: options longer than 255 bytes are split (RFC 3396); padding to minLen", () => {
  const long = new Uint8Array(300).map((_, i) => i & 0xff);
  const b = new DhcpBuilder({}, [dhcpOpt.bytes(DhcpOption.VendorClassId, long)]);
  assert.equal(b.headerLen, 240 + 257 + 47 + 1);
  const v = parse(serializeMessage(b));
  assert.equal(v.option(DhcpOption.VendorClassId)?.length, 255);
  const parts: number[] = [];
  const c = v.options();
  while (c.next()) parts.push(c.len);
  assert.deepEqual(parts, [255, 45]);
  const small = new DhcpBuilder({}, [dhcpOpt.messageType(1)]);
  assert.equal(serializeMessage(small).length, BOOTP_MIN_LEN);
  small.minLen = 0;
  assert.equal(serializeMessage(small).length, 244);
});

const addrArb = fc.integer({ min: 0, max: 0xffffffff }).map((n) => formatV4(n));
const hexArb = (max: number) =>
  fc.uint8Array({ maxLength: max }).map((b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(""));
const reprArb: fc.Arbitrary<DhcpRepr> = fc
  .record({
    op: fc.constantFrom(1, 2),
    htype: fc.integer({ min: 0, max: 255 }),
    hlen: fc.integer({ min: 0, max: 16 }),
    hops: fc.integer({ min: 0, max: 255 }),
    xid: fc.integer({ min: 0, max: 0xffffffff }),
    secs: fc.integer({ min: 0, max: 0xffff }),
    flags: fc.integer({ min: 0, max: 0xffff }),
    ciaddr: addrArb,
    yiaddr: addrArb,
    siaddr: addrArb,
    giaddr: addrArb,
    options: fc.array(fc.record({ code: fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52), data: hexArb(40) }), {
      maxLength: 12,
    }),
    chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  })
  .map((r) => {
    const bytes = serializeMessage(
      new DhcpBuilder(
        { ...r, ciaddr: a(r.ciaddr), yiaddr: a(r.yiaddr), siaddr: a(r.siaddr), giaddr: a(r.giaddr) },
        r.options.map((o) => ({ code: o.code, data: Uint8Array.from(Buffer.from(o.data, "hex")) })),
      ),
    );
    return toRepr(parse(bytes));
  });

test("dhcp: random reprs round-trip through builder and view (fast-check)", () => {
  fc.assert(
    fc.property(reprArb, (r) => {
      const bytes = serializeMessage(builderFromRepr(r));
      assert.deepEqual(toRepr(parse(bytes)), r);
    }),
    { numRuns: 300 },
  );
});

test("dhcp: random bytes never throw; whatever parses has readable getters (fast-check)", () => {
  const cookie = Uint8Array.of(0x63, 0x82, 0x53, 0x63);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.boolean(), (raw, fix) => {
      const b = raw.slice();
      if (fix && b.length >= 240) {
        b[0] = 1 + (b[0] & 1);
        b[2] &= 15;
        b.set(cookie, 236);
      }
      const v = DhcpView.parse(b, 0, b.length);
      if (isError(v)) return;
      void toRepr(v);
      for (let code = 0; code < 256; code++) {
        v.option(code);
        v.text(code);
        for (let i = 0; i < v.addrCount(code); i++) v.addrAt(code, i);
      }
      void [v.messageType, v.leaseTime, v.serverId, v.interfaceMtu, v.subnetMask];
    }),
    { numRuns: 500 },
  );
});

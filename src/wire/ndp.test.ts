import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { readCapture } from "../capture/pcapng.ts";
import { formatMac, formatV6, type Ipv6Addr, parseMac, parseV6 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { EMPTY_BODY, TooBig } from "../packet/serialize.ts";
import type { ParseError } from "./errors.ts";
import { Icmpv6View } from "./icmpv6.ts";
import {
  type AnyNdpView,
  builderFromRepr,
  LinkAddrOption,
  MtuOption,
  type NdpBuilder,
  NdpOptionType,
  NdpView,
  NeighborAdvertisementBuilder,
  NeighborAdvertisementView,
  NeighborSolicitationBuilder,
  NeighborSolicitationView,
  ndpValid,
  PrefixInfoOption,
  parseNdp,
  RawNdpOption,
  RedirectBuilder,
  RedirectedHeaderOption,
  RedirectView,
  RouterAdvertisementBuilder,
  RouterAdvertisementView,
  RouterSolicitationBuilder,
  RouterSolicitationView,
  toRepr,
} from "./ndp.ts";

// From test/fixtures/ndp.pcap (two Linux network namespaces on a veth pair); ICMPv6 messages only.

// Frame 1: router solicitation from fe80::6071:28ff:feca:554a to ff02::2, source link-layer address option.
// biome-ignore format: packet bytes
const RS = new Uint8Array([
  0x85, 0x00, 0xbe, 0x22, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x62, 0x71, 0x28, 0xca, 0x55, 0x4a,
]);
// Frame 3: neighbor solicitation from fd77::1 to ff02::1:ff00:2 for fd77::2, source link-layer address option.
// biome-ignore format: packet bytes
const NS = new Uint8Array([
  0x87, 0x00, 0x9e, 0x24, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x62, 0x71, 0x28, 0xca, 0x55, 0x4a,
]);
// Frame 4: neighbor advertisement from fd77::2 to fd77::1, flags S and O, target link-layer address option.
// biome-ignore format: packet bytes
const NA = new Uint8Array([
  0x88, 0x00, 0xad, 0x8b, 0x60, 0x00, 0x00, 0x00, 0xfd, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x01, 0x12, 0xe0, 0x69, 0x8e, 0xf3, 0x3c,
]);

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const RS_SRC = v6("fe80::6071:28ff:feca:554a");
const ALL_ROUTERS = v6("ff02::2");
const A1 = v6("fd77::1");
const A2 = v6("fd77::2");
const SOLICITED_NODE_2 = v6("ff02::1:ff00:2");
const MAC1 = parseMac("62:71:28:ca:55:4a") as Uint8Array;
const MAC2 = parseMac("12:e0:69:8e:f3:3c") as Uint8Array;
const ROUTER = v6("fe80::1");

/** Serialize an NDP builder into a buffer full of 0xAA: every byte must be written by the builder. */
function build(b: NdpBuilder): Uint8Array {
  const target = new Buf(new Uint8Array(b.headerLen + 16).fill(0xaa));
  const out = EMPTY_BODY.wrapIn(b).serialize({ target });
  if (out instanceof TooBig) assert.fail("too big");
  return out.toBytes();
}

function parsed(bytes: Uint8Array, src: Uint8Array, dst: Uint8Array): AnyNdpView {
  // The ICMPv6 layer checks the checksum first, as the stack does.
  const icmp = Icmpv6View.parse(bytes, 0, bytes.length, src, dst);
  if (!(icmp instanceof Icmpv6View)) assert.fail(`icmpv6: ${icmp}`);
  const v = parseNdp(bytes, 0, bytes.length);
  if (!(v instanceof NdpView)) assert.fail(`ndp: ${v}`);
  return v;
}

function ndpErr(bytes: Uint8Array, len = bytes.length): ParseError {
  const v = parseNdp(bytes, 0, len);
  if (v instanceof NdpView) assert.fail("expected a parse error");
  return v;
}

test("the inline bytes are the ones in test/fixtures/ndp.pcap", () => {
  const cap = readCapture(new Uint8Array(readFileSync(new URL("../../test/fixtures/ndp.pcap", import.meta.url))));
  assert.deepEqual(cap.records[0].data.subarray(54), RS);
  assert.deepEqual(cap.records[2].data.subarray(54), NS);
  assert.deepEqual(cap.records[3].data.subarray(54), NA);
  // The IP header's hop limit is 255 (RFC 4861: not forwarded).
  assert.equal(cap.records[2].data[14 + 7], 255);
});

test("deconstruct the router solicitation", () => {
  const v = parsed(RS, RS_SRC, ALL_ROUTERS);
  assert.ok(v instanceof RouterSolicitationView);
  assert.equal(v.type, 133);
  assert.equal(v.code, 0);
  assert.equal(formatMac(v.sourceLinkAddr as Uint8Array), "62:71:28:ca:55:4a");
  assert.equal(v.targetLinkAddr, null);
  assert.equal(v.mtu, -1);
  assert.equal(v.validForSource(false), true);
  // RFC 4861 6.1.1: from the unspecified address there must be no source link-layer option.
  assert.equal(v.validForSource(true), false);
});

test("deconstruct the neighbor solicitation", () => {
  const v = parsed(NS, A1, SOLICITED_NODE_2);
  assert.ok(v instanceof NeighborSolicitationView);
  assert.equal(formatV6(v.target), "fd77::2");
  assert.equal(formatMac(v.sourceLinkAddr as Uint8Array), "62:71:28:ca:55:4a");
  assert.equal(v.optionsOff, 24);
  const c = v.options();
  assert.equal(c.next(), true);
  assert.equal(c.type, NdpOptionType.SourceLinkAddr);
  assert.equal(c.known, true);
  assert.equal(c.len, 8);
  assert.equal(formatMac(c.linkAddr as Uint8Array), "62:71:28:ca:55:4a");
  assert.equal(c.next(), false);
});

test("deconstruct the neighbor advertisement", () => {
  const v = parsed(NA, A2, A1);
  assert.ok(v instanceof NeighborAdvertisementView);
  assert.equal(v.router, false);
  assert.equal(v.solicited, true);
  assert.equal(v.override, true);
  assert.equal(v.flags, 0x60);
  assert.equal(formatV6(v.target), "fd77::2");
  assert.equal(formatMac(v.targetLinkAddr as Uint8Array), "12:e0:69:8e:f3:3c");
  assert.equal(v.sourceLinkAddr, null);
  assert.equal(v.validForDestination(false), true);
  // RFC 4861 7.1.2: a solicited advertisement is never sent to a multicast address.
  assert.equal(v.validForDestination(true), false);
});

test("construct the three fixture messages byte for byte", () => {
  assert.deepEqual(
    build(new RouterSolicitationBuilder(RS_SRC, ALL_ROUTERS, [new LinkAddrOption(NdpOptionType.SourceLinkAddr, MAC1)])),
    RS,
  );
  assert.deepEqual(build(new NeighborSolicitationBuilder(A1, SOLICITED_NODE_2, A2, [new LinkAddrOption(1, MAC1)])), NS);
  assert.deepEqual(
    build(
      new NeighborAdvertisementBuilder(A2, A1, A2, { solicited: true, override: true }, [
        new LinkAddrOption(NdpOptionType.TargetLinkAddr, MAC2),
      ]),
    ),
    NA,
  );
});

test("repr round trip of the fixture messages", () => {
  const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
    [RS, RS_SRC, ALL_ROUTERS],
    [NS, A1, SOLICITED_NODE_2],
    [NA, A2, A1],
  ];
  for (const [bytes, src, dst] of cases) {
    const r = toRepr(parsed(bytes, src, dst));
    const b = builderFromRepr(r, src, dst);
    assert.ok(b !== null);
    assert.deepEqual(build(b), bytes);
  }
  assert.deepEqual(toRepr(parsed(NA, A2, A1)), {
    type: 136,
    options: [{ type: 2, mac: "12:e0:69:8e:f3:3c" }],
    router: false,
    solicited: true,
    override: true,
    target: "fd77::2",
  });
});

/** A router advertisement with every option kind we read, and one we do not (RDNSS). */
function routerAdvertisement(): Uint8Array {
  return build(
    new RouterAdvertisementBuilder(
      ROUTER,
      v6("ff02::1"),
      {
        curHopLimit: 64,
        managed: true,
        other: false,
        otherFlags: 0x08, // RFC 4191 preference high (01)
        routerLifetime: 1800,
        reachableTime: 30000,
        retransTimer: 1000,
      },
      [
        new LinkAddrOption(NdpOptionType.SourceLinkAddr, MAC2),
        new MtuOption(1500),
        new PrefixInfoOption(64, true, true, 86400, 14400, v6("2001:db8:1::")),
        new RawNdpOption(NdpOptionType.Rdnss, new Uint8Array([0, 0, 0, 0, 0x0e, 0x10, ...v6("2001:db8::53")])),
      ],
    ),
  );
}

test("router advertisement: construct, deconstruct every field and option, round trip", () => {
  const b = routerAdvertisement();
  // 16 fixed + 8 SLLA + 8 MTU + 32 prefix + 24 RDNSS.
  assert.equal(b.length, 88);
  // biome-ignore format: packet bytes
  assert.deepEqual(Array.from(b.subarray(4, 16)), [64, 0x88, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8]);
  const v = parsed(b, ROUTER, v6("ff02::1"));
  assert.ok(v instanceof RouterAdvertisementView);
  assert.equal(v.curHopLimit, 64);
  assert.equal(v.managed, true);
  assert.equal(v.other, false);
  assert.equal(v.routerPreference, 1);
  assert.equal(v.routerLifetime, 1800);
  assert.equal(v.reachableTime, 30000);
  assert.equal(v.retransTimer, 1000);
  assert.equal(v.mtu, 1500);
  assert.equal(v.prefixCount, 1);
  assert.equal(formatMac(v.sourceLinkAddr as Uint8Array), "12:e0:69:8e:f3:3c");
  const c = v.options();
  const seen: number[] = [];
  while (c.next()) {
    seen.push(c.type);
    if (c.type === NdpOptionType.PrefixInformation) {
      assert.equal(c.prefixLength, 64);
      assert.equal(c.onLink, true);
      assert.equal(c.autonomous, true);
      assert.equal(c.validLifetime, 86400);
      assert.equal(c.preferredLifetime, 14400);
      assert.equal(formatV6(c.prefix as Uint8Array), "2001:db8:1::");
    } else if (c.type === NdpOptionType.Rdnss) {
      assert.equal(c.known, false);
      assert.equal(c.len, 24);
      assert.equal(c.mtu, -1);
      assert.equal(c.prefix, null);
    }
  }
  assert.deepEqual(seen, [1, 5, 3, 25]);
  const r = toRepr(v);
  assert.equal(r.options[3].data, `00000000${"0e10"}20010db8000000000000000000000053`);
  assert.deepEqual(build(builderFromRepr(r, ROUTER, v6("ff02::1")) as NdpBuilder), b);
});

test("redirect: construct, deconstruct, redirected header, round trip", () => {
  const quoted = new Uint8Array(48).map((_, i) => i);
  const b = build(
    new RedirectBuilder(ROUTER, A1, v6("fe80::2"), v6("2001:db8::9"), [
      new LinkAddrOption(NdpOptionType.TargetLinkAddr, MAC2),
      new RedirectedHeaderOption(quoted),
    ]),
  );
  assert.equal(b.length, 40 + 8 + 56);
  const v = parsed(b, ROUTER, A1);
  assert.ok(v instanceof RedirectView);
  assert.equal(formatV6(v.target), "fe80::2");
  assert.equal(formatV6(v.destination), "2001:db8::9");
  assert.equal(formatMac(v.targetLinkAddr as Uint8Array), "12:e0:69:8e:f3:3c");
  assert.deepEqual(v.redirected(), quoted);
  assert.deepEqual(build(builderFromRepr(toRepr(v), ROUTER, A1) as NdpBuilder), b);
});

test("malformed: every truncation inside the fixed part or an option is rejected", () => {
  for (const [msg, fixed] of [
    [RS, 8],
    [NS, 24],
    [NA, 24],
  ] as const) {
    for (let len = 0; len < msg.length; len++) {
      if (len === fixed) continue;
      const e = ndpErr(msg, len);
      assert.equal(e.layer, "ndp");
      // Below the fixed part: too short. Inside the option: its length runs past the message.
      assert.equal(e.reason, len < fixed ? "too-short" : "option-too-long", `type ${msg[0]} length ${len}`);
    }
    // Exactly the fixed part (no options) is a valid message.
    assert.ok(parseNdp(msg, 0, fixed) instanceof NdpView);
  }
});

test("malformed: zero-length option, code not 0, multicast targets, redirect rules, bad type", () => {
  const zero = NS.slice();
  zero[25] = 0;
  // RFC 4861 4.6: nodes must silently discard a message with an option of length zero.
  assert.equal(String(ndpErr(zero)), "ndp: option-length-zero");
  const long = NS.slice();
  long[25] = 2;
  assert.equal(String(ndpErr(long)), "ndp: option-too-long");
  const code = NA.slice();
  code[1] = 1;
  assert.equal(String(ndpErr(code)), "ndp: bad-code");
  const mcast = NS.slice();
  mcast[8] = 0xff;
  assert.equal(String(ndpErr(mcast)), "ndp: multicast-target");
  const mcastNa = NA.slice();
  mcastNa[8] = 0xff;
  assert.equal(String(ndpErr(mcastNa)), "ndp: multicast-target");
  const echo = new Uint8Array(16);
  echo[0] = 128;
  assert.equal(String(ndpErr(echo)), "ndp: bad-type");
  assert.equal(String(NeighborSolicitationView.parse(NA, 0, NA.length)), "ndp: bad-type");
  assert.equal(String(parseNdp(NS, 40, 8)), "ndp: too-short");
  // RFC 4861 8.1: the redirect's destination is not multicast; its target is link-local or the destination.
  const redirect = (target: string, dst: string) =>
    parseNdp(build(new RedirectBuilder(ROUTER, A1, v6(target), v6(dst))), 0, 40);
  assert.equal(String(redirect("fe80::2", "ff02::1")), "ndp: multicast-destination");
  assert.equal(String(redirect("2001:db8::7", "2001:db8::9")), "ndp: redirect-target-not-link-local");
  assert.ok(redirect("2001:db8::9", "2001:db8::9") instanceof RedirectView);
});

test("a known option with the wrong size is skipped like an unknown one", () => {
  // A prefix information option of 3 units instead of 4, then a good MTU option.
  const b = build(
    new RouterAdvertisementBuilder(ROUTER, A1, {}, [
      new RawNdpOption(NdpOptionType.PrefixInformation, new Uint8Array(22)),
      new MtuOption(9000),
    ]),
  );
  const v = parsed(b, ROUTER, A1);
  assert.equal(v.prefixCount, 0);
  assert.equal(v.mtu, 9000);
  const c = v.options();
  assert.equal(c.next(), true);
  assert.equal(c.type, NdpOptionType.PrefixInformation);
  assert.equal(c.known, false);
  assert.equal(c.prefixLength, -1);
  assert.equal(c.prefix, null);
});

test("ndpValid: hop limit 255 and code 0 (RFC 4861 6.1, 7.1)", () => {
  assert.equal(ndpValid(255, 0), true);
  assert.equal(ndpValid(254, 0), false);
  assert.equal(ndpValid(255, 1), false);
});

test("property: random neighbor messages round-trip through builder, parser and repr", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 6, maxLength: 6 }),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      (solicit, target, mac, router, solicited, override) => {
        target[0] = target[0] === 0xff ? 0xfe : target[0]; // not multicast
        const b = solicit
          ? new NeighborSolicitationBuilder(A1, A2, target, [new LinkAddrOption(1, mac)])
          : new NeighborAdvertisementBuilder(A1, A2, target, { router, solicited, override }, [
              new LinkAddrOption(2, mac),
            ]);
        const bytes = build(b);
        const v = parsed(bytes, A1, A2);
        assert.deepEqual(
          Uint8Array.from(solicit ? (v as NeighborSolicitationView).target : (v as NeighborAdvertisementView).target),
          target,
        );
        if (!solicit) assert.equal((v as NeighborAdvertisementView).override, override);
        assert.deepEqual(build(builderFromRepr(toRepr(v), A1, A2) as NdpBuilder), bytes);
      },
    ),
  );
});

test("property: random bytes never throw, and what parses has in-bounds options", () => {
  fc.assert(
    fc.property(fc.constantFrom(133, 134, 135, 136, 137), fc.uint8Array({ maxLength: 96 }), (type, rest) => {
      const bytes = new Uint8Array(1 + rest.length);
      bytes[0] = type;
      bytes.set(rest, 1);
      const v = parseNdp(bytes, 0, bytes.length);
      if (v instanceof NdpView) {
        const c = v.options();
        while (c.next()) assert.ok(c.off + c.len <= bytes.length);
        toRepr(v);
      }
    }),
  );
});

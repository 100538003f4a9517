import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ParseError } from "../wire/errors.ts";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "./addr.ts";
import {
  AddrSubnet,
  isV4BroadcastFor,
  netmask,
  parseCidr,
  parseCidrFor,
  parseSubnet,
  parseSubnetFor,
  Subnet,
  subnetsOverlap,
  v4Broadcast,
} from "./subnet.ts";
import { Ipv4, Ipv6 } from "./version.ts";

const a4 = (s: string) => parseV4(s)!;
const a6 = (s: string) => parseV6(s)!;

function ok<T>(x: T | ParseError): T {
  if (x instanceof ParseError) assert.fail(`unexpected ${x}`);
  return x;
}

test("parseCidr: an IPv4 address and its subnet", () => {
  const r = ok(parseCidr("10.0.0.2/24")) as AddrSubnet<Ipv4Addr>;
  assert.equal(r.ip, Ipv4);
  assert.equal(r.addr, 0x0a000002);
  assert.equal(r.prefixLen, 24);
  assert.equal(r.subnet.addr, 0x0a000000);
  assert.equal(r.subnet.toString(), "10.0.0.0/24");
  assert.equal(r.toString(), "10.0.0.2/24");
  assert.ok(r.subnet.contains(a4("10.0.0.200")));
  assert.ok(!r.subnet.contains(a4("10.0.1.1")));
  assert.equal(v4Broadcast(r.subnet), a4("10.0.0.255"));
});

test("parseCidr: an IPv6 address and its subnet, RFC 5952 text", () => {
  const r = ok(parseCidr("2001:0DB8:0:0:0:0:0:2/64")) as AddrSubnet<Ipv6Addr>;
  assert.equal(r.ip, Ipv6);
  assert.equal(r.toString(), "2001:db8::2/64");
  assert.equal(r.subnet.toString(), "2001:db8::/64");
  assert.ok(r.subnet.contains(a6("2001:db8::ffff:1")));
  assert.ok(!r.subnet.contains(a6("2001:db8:0:1::1")));
  const ll = ok(parseCidr("fe80::1234/10")) as AddrSubnet<Ipv6Addr>;
  assert.ok(ll.subnet.equals(Ipv6.linkLocalSubnet));
  assert.equal(ok(parseCidr("::/0")).toString(), "::/0");
  assert.equal(ok(parseCidr("::ffff:10.0.0.1/128")).toString(), "::ffff:10.0.0.1/128");
});

test("AddrSubnet keeps its own copy of the address", () => {
  const pkt = a6("2001:db8::7");
  const as = new AddrSubnet(Ipv6, pkt, 64);
  pkt[15] = 9;
  assert.equal(as.toString(), "2001:db8::7/64");
});

test("CIDR parse errors are values with a reason", () => {
  const cases: [string, string][] = [
    ["10.0.0.2", "missing-prefix"],
    ["10.0.0.2/", "bad-prefix"],
    ["10.0.0.2/33", "bad-prefix"],
    ["10.0.0.2/024", "bad-prefix"],
    ["10.0.0.2/-1", "bad-prefix"],
    ["10.0.0.2/+8", "bad-prefix"],
    ["10.0.0.2/ 8", "bad-prefix"],
    ["10.0.0.2/8/8", "bad-prefix"],
    ["10.0.0.2/1e1", "bad-prefix"],
    ["10.0.0.256/8", "bad-address"],
    ["/8", "bad-address"],
    ["2001:db8::/129", "bad-prefix"],
    ["2001:db8::1::/64", "bad-address"],
    ["fe80::1%eth0/64", "bad-address"],
    ["", "missing-prefix"],
  ];
  for (const [text, reason] of cases) {
    const r = parseCidr(text);
    assert.ok(r instanceof ParseError, text);
    assert.equal(r.layer, "cidr");
    assert.equal(r.reason, reason, text);
  }
  assert.equal((parseCidrFor(Ipv4, "2001:db8::1/64") as ParseError).reason, "wrong-version");
  assert.equal((parseCidrFor(Ipv6, "10.0.0.1/8") as ParseError).reason, "wrong-version");
  assert.equal(ok(parseCidrFor(Ipv4, "10.0.0.1/8")).toString(), "10.0.0.1/8");
});

test("parseSubnet requires zero host bits", () => {
  assert.equal(ok(parseSubnet("10.0.0.0/8")).toString(), "10.0.0.0/8");
  assert.equal(ok(parseSubnet("0.0.0.0/0")).toString(), "0.0.0.0/0");
  assert.equal(ok(parseSubnet("2001:db8::/32")).toString(), "2001:db8::/32");
  assert.equal((parseSubnet("10.0.0.1/8") as ParseError).reason, "host-bits-set");
  assert.equal((parseSubnet("2001:db8::1/64") as ParseError).reason, "host-bits-set");
  assert.equal((parseSubnet("10.0.0.0") as ParseError).reason, "missing-prefix");
  assert.equal((parseSubnetFor(Ipv6, "10.0.0.0/8") as ParseError).reason, "wrong-version");
  const s = ok(parseSubnetFor(Ipv4, "192.168.0.0/16"));
  assert.equal(s.ip, Ipv4);
});

test("parseCidr never throws on arbitrary text", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (t) => {
      const r = parseCidr(t);
      if (!(r instanceof ParseError)) assert.ok(r.subnet.contains(r.addr as never));
      parseSubnet(t);
    }),
  );
});

test("any address/prefix formats to text that parses back (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }), (b, n) => {
      const as = new AddrSubnet(Ipv6, b as Ipv6Addr, n);
      const back = ok(parseCidr(as.toString())) as AddrSubnet<Ipv6Addr>;
      assert.deepEqual(back.addr, as.addr);
      assert.ok(back.subnet.equals(as.subnet));
      assert.ok(ok(parseSubnet(as.subnet.toString())).equals(as.subnet as never));
    }),
  );
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (x, n) => {
      const as = new AddrSubnet(Ipv4, x as Ipv4Addr, n);
      const back = ok(parseCidr(as.toString())) as AddrSubnet<Ipv4Addr>;
      assert.equal(back.addr, x);
      assert.ok(back.subnet.equals(as.subnet));
    }),
  );
});

test("IPv4 broadcast addresses (RFC 919, RFC 3021)", () => {
  const s24 = Subnet.of(Ipv4, a4("192.168.1.0"), 24);
  assert.equal(v4Broadcast(s24), a4("192.168.1.255"));
  assert.equal(v4Broadcast(Subnet.of(Ipv4, a4("10.0.0.0"), 8)), a4("10.255.255.255"));
  assert.equal(v4Broadcast(Subnet.of(Ipv4, a4("10.0.0.4"), 30)), a4("10.0.0.7"));
  assert.equal(v4Broadcast(Subnet.of(Ipv4, a4("10.0.0.4"), 31)), null);
  assert.equal(v4Broadcast(Subnet.of(Ipv4, a4("10.0.0.4"), 32)), null);
  assert.equal(v4Broadcast(Subnet.of(Ipv4, a4("0.0.0.0"), 0)), a4("255.255.255.255"));
  assert.ok(isV4BroadcastFor(s24, a4("192.168.1.255")));
  assert.ok(isV4BroadcastFor(s24, a4("255.255.255.255")));
  assert.ok(!isV4BroadcastFor(s24, a4("192.168.1.254")));
  assert.ok(!isV4BroadcastFor(s24, a4("192.168.2.255")));
  assert.ok(!isV4BroadcastFor(Subnet.of(Ipv4, a4("10.0.0.4"), 31), a4("10.0.0.5")));
});

test("netmask and overlap", () => {
  assert.equal(Ipv4.format(netmask(Subnet.of(Ipv4, a4("10.0.0.0"), 20))), "255.255.240.0");
  assert.equal(Ipv6.format(netmask(Subnet.of(Ipv6, a6("2001:db8::"), 36))), "ffff:ffff:f000::");
  assert.equal(Ipv6.format(netmask(Subnet.of(Ipv6, a6("::"), 0))), "::");
  const a = Subnet.of(Ipv4, a4("10.0.0.0"), 8);
  const b = Subnet.of(Ipv4, a4("10.2.0.0"), 16);
  const c = Subnet.of(Ipv4, a4("11.0.0.0"), 8);
  assert.ok(subnetsOverlap(a, b));
  assert.ok(subnetsOverlap(b, a));
  assert.ok(!subnetsOverlap(a, c));
});

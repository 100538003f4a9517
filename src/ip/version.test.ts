import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6, v4 } from "./addr.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, isUnicast, parseIp, Subnet, v4Netmask, versionOf } from "./version.ts";

const a4 = (s: string) => parseV4(s)!;
const a6 = (s: string) => parseV6(s)!;

test("IPv4 version object: constants", () => {
  assert.equal(Ipv4.version, 4);
  assert.equal(Ipv4.addrLen, 4);
  assert.equal(Ipv4.addrBits, 32);
  assert.equal(Ipv4.minMtu, 68);
  assert.equal(Ipv4.format(Ipv4.unspecified), "0.0.0.0");
  assert.equal(Ipv4.format(Ipv4.loopback), "127.0.0.1");
  assert.equal(Ipv4.loopbackSubnet.toString(), "127.0.0.0/8");
  assert.equal(Ipv4.multicastSubnet.toString(), "224.0.0.0/4");
  assert.equal(Ipv4.linkLocalSubnet.toString(), "169.254.0.0/16");
  assert.equal(Ipv4.loopbackSubnet.ip, Ipv4);
  assert.equal(v4Netmask(24), 0xffffff00);
  assert.equal(v4Netmask(0), 0);
  assert.equal(v4Netmask(32), 0xffffffff);
});

test("IPv6 version object: constants", () => {
  assert.equal(Ipv6.version, 6);
  assert.equal(Ipv6.addrLen, 16);
  assert.equal(Ipv6.minMtu, 1280);
  assert.equal(Ipv6.format(Ipv6.unspecified), "::");
  assert.equal(Ipv6.format(Ipv6.loopback), "::1");
  assert.equal(Ipv6.loopbackSubnet.toString(), "::1/128");
  assert.equal(Ipv6.multicastSubnet.toString(), "ff00::/8");
  assert.equal(Ipv6.linkLocalSubnet.toString(), "fe80::/10");
  assert.equal(Ipv6.linkLocalSubnet.ip, Ipv6);
});

test("IPv4 address classification", () => {
  const cases: [string, { lo?: boolean; mc?: boolean; un?: boolean; ll?: boolean; llmc?: boolean; uc?: boolean }][] = [
    ["0.0.0.0", { un: true }],
    ["127.0.0.1", { lo: true, uc: true }],
    ["127.255.255.254", { lo: true, uc: true }],
    ["128.0.0.1", { uc: true }],
    ["224.0.0.1", { mc: true, llmc: true }],
    ["224.0.1.1", { mc: true }],
    ["239.255.255.255", { mc: true }],
    ["240.0.0.1", { uc: true }],
    ["223.255.255.255", { uc: true }],
    ["169.254.1.1", { ll: true, uc: true }],
    ["169.253.1.1", { uc: true }],
    ["255.255.255.255", {}],
    ["10.1.2.3", { uc: true }],
  ];
  for (const [t, want] of cases) {
    const a = a4(t);
    assert.equal(Ipv4.isLoopback(a), !!want.lo, `${t} loopback`);
    assert.equal(Ipv4.isMulticast(a), !!want.mc, `${t} multicast`);
    assert.equal(Ipv4.isUnspecified(a), !!want.un, `${t} unspecified`);
    assert.equal(Ipv4.isLinkLocal(a), !!want.ll, `${t} link-local`);
    assert.equal(Ipv4.isLinkLocalMulticast(a), !!want.llmc, `${t} link-local multicast`);
    assert.equal(isUnicast(Ipv4, a), !!want.uc, `${t} unicast`);
    // The predicates agree with the subnets.
    assert.equal(Ipv4.loopbackSubnet.contains(a), !!want.lo);
    assert.equal(Ipv4.multicastSubnet.contains(a), !!want.mc);
    assert.equal(Ipv4.linkLocalSubnet.contains(a), !!want.ll);
  }
});

test("IPv6 address classification", () => {
  const cases: [string, { lo?: boolean; mc?: boolean; un?: boolean; ll?: boolean; llmc?: boolean }][] = [
    ["::", { un: true }],
    ["::1", { lo: true }],
    ["::2", {}],
    ["fe80::1", { ll: true }],
    ["febf:ffff::1", { ll: true }],
    ["fec0::1", {}],
    ["fe7f::1", {}],
    ["ff02::1", { mc: true, llmc: true }],
    ["ff12::1:2", { mc: true, llmc: true }],
    ["ff05::2", { mc: true }],
    ["ff0e::1", { mc: true }],
    ["2001:db8::1", {}],
    ["::ffff:127.0.0.1", {}],
  ];
  for (const [t, want] of cases) {
    const a = a6(t);
    assert.equal(Ipv6.isLoopback(a), !!want.lo, `${t} loopback`);
    assert.equal(Ipv6.isMulticast(a), !!want.mc, `${t} multicast`);
    assert.equal(Ipv6.isUnspecified(a), !!want.un, `${t} unspecified`);
    assert.equal(Ipv6.isLinkLocal(a), !!want.ll, `${t} link-local`);
    assert.equal(Ipv6.isLinkLocalMulticast(a), !!want.llmc, `${t} link-local multicast`);
    assert.equal(isUnicast(Ipv6, a), !want.un && !want.mc, `${t} unicast`);
    assert.equal(Ipv6.loopbackSubnet.contains(a), !!want.lo);
    assert.equal(Ipv6.multicastSubnet.contains(a), !!want.mc);
    assert.equal(Ipv6.linkLocalSubnet.contains(a), !!want.ll);
  }
});

test("read, write, copy, key, equals", () => {
  const b = new Uint8Array([0xaa, 10, 0, 0, 2, 0xbb]);
  const x = Ipv4.readAt(b, 1);
  assert.equal(Ipv4.format(x), "10.0.0.2");
  Ipv4.writeAt(b, 1, a4("192.168.1.254"));
  assert.deepEqual([...b], [0xaa, 192, 168, 1, 254, 0xbb]);
  assert.equal(Ipv4.key(x), 0x0a000002);
  assert.equal(Ipv4.copy(x), x);

  const pkt = new Uint8Array(20);
  pkt.set(a6("2001:db8::5"), 2);
  const borrowed = Ipv6.readAt(pkt, 2);
  const owned = Ipv6.copy(borrowed);
  assert.equal(Ipv6.format(borrowed), "2001:db8::5");
  assert.ok(Ipv6.equals(borrowed, owned));
  pkt[17] = 6; // the packet buffer is reused
  assert.equal(Ipv6.format(borrowed), "2001:db8::6");
  assert.equal(Ipv6.format(owned), "2001:db8::5");
  assert.equal(Ipv6.key(owned), "20010db8000000000000000000000005");
  const out = new Uint8Array(18);
  Ipv6.writeAt(out, 1, owned);
  assert.deepEqual(out.subarray(1, 17), owned);
  assert.equal(out[0], 0);
  assert.equal(out[17], 0);
});

test("maskBits and prefixMatch", () => {
  assert.equal(Ipv4.format(Ipv4.maskBits(a4("10.1.2.3"), 0)), "0.0.0.0");
  assert.equal(Ipv4.format(Ipv4.maskBits(a4("10.1.2.3"), 12)), "10.0.0.0");
  assert.equal(Ipv4.format(Ipv4.maskBits(a4("10.31.2.3"), 12)), "10.16.0.0");
  assert.equal(Ipv4.format(Ipv4.maskBits(a4("255.255.255.255"), 32)), "255.255.255.255");
  assert.equal(Ipv6.format(Ipv6.maskBits(a6("2001:db8:abcd:12ff::1"), 60)), "2001:db8:abcd:12f0::");
  assert.equal(Ipv6.format(Ipv6.maskBits(a6("fe80::1"), 10)), "fe80::");
  assert.equal(Ipv6.format(Ipv6.maskBits(a6("ffff::1"), 0)), "::");
  assert.ok(Ipv4.prefixMatch(a4("10.0.0.1"), a4("10.0.0.255"), 24));
  assert.ok(!Ipv4.prefixMatch(a4("10.0.0.1"), a4("10.0.1.1"), 24));
  assert.ok(Ipv4.prefixMatch(a4("1.2.3.4"), a4("200.2.3.4"), 0));
  assert.ok(Ipv6.prefixMatch(a6("fe80::1"), a6("febf::2"), 10));
  assert.ok(!Ipv6.prefixMatch(a6("fe80::1"), a6("fec0::1"), 10));
});

/** Reference: the first n bits of an address as a string of 0/1, via bitAt. */
function bits<A>(I: IpVersion<A>, a: A, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += I.bitAt(a, i);
  return s;
}

test("maskBits, prefixMatch and bitAt agree (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 128 }),
      (x, y, n) => {
        const a = x as Ipv6Addr;
        const b = y as Ipv6Addr;
        const m = Ipv6.maskBits(a, n);
        assert.equal(bits(Ipv6, m, 128), bits(Ipv6, a, n) + "0".repeat(128 - n));
        assert.equal(Ipv6.prefixMatch(a, b, n), bits(Ipv6, a, n) === bits(Ipv6, b, n));
        assert.equal(Ipv6.prefixMatch(a, m, n), true);
        const c = Ipv6.commonPrefixLen(a, b);
        assert.ok(Ipv6.prefixMatch(a, b, c));
        assert.ok(c === 128 || !Ipv6.prefixMatch(a, b, c + 1));
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.integer({ min: 0, max: 32 }),
      (x, y, n) => {
        const a = v4(x);
        const b = v4(y);
        const m = Ipv4.maskBits(a, n);
        assert.equal(bits(Ipv4, m, 32), bits(Ipv4, a, n) + "0".repeat(32 - n));
        assert.equal(Ipv4.prefixMatch(a, b, n), bits(Ipv4, a, n) === bits(Ipv4, b, n));
        assert.equal(bits(Ipv4, a, 32), x.toString(2).padStart(32, "0"));
        const c = Ipv4.commonPrefixLen(a, b);
        assert.ok(Ipv4.prefixMatch(a, b, c));
        assert.ok(c === 32 || !Ipv4.prefixMatch(a, b, c + 1));
      },
    ),
  );
});

test("commonPrefixLen", () => {
  assert.equal(Ipv4.commonPrefixLen(a4("10.0.0.1"), a4("10.0.0.1")), 32);
  assert.equal(Ipv4.commonPrefixLen(a4("10.0.0.0"), a4("10.0.0.128")), 24);
  assert.equal(Ipv4.commonPrefixLen(a4("0.0.0.0"), a4("128.0.0.0")), 0);
  assert.equal(Ipv6.commonPrefixLen(a6("2001:db8::1"), a6("2001:db8::1")), 128);
  assert.equal(Ipv6.commonPrefixLen(a6("2001:db8::1"), a6("2001:db8::3")), 126);
  assert.equal(Ipv6.commonPrefixLen(a6("fe80::"), a6("fec0::")), 9);
});

test("compare orders addresses numerically", () => {
  assert.ok(Ipv4.compare(a4("10.0.0.1"), a4("192.168.0.1")) < 0);
  assert.ok(Ipv4.compare(a4("255.0.0.0"), a4("1.0.0.0")) > 0);
  assert.equal(Ipv4.compare(a4("1.2.3.4"), a4("1.2.3.4")), 0);
  assert.ok(Ipv6.compare(a6("2001:db8::1"), a6("2001:db8::2")) < 0);
  assert.ok(Ipv6.compare(a6("fe80::"), a6("2001::")) > 0);
  assert.equal(Ipv6.compare(a6("::1"), a6("::1")), 0);
});

test("Subnet.of masks host bits and rejects bad prefix lengths", () => {
  const s = Subnet.of(Ipv4, a4("10.1.2.3"), 16);
  assert.equal(s.toString(), "10.1.0.0/16");
  assert.ok(s.contains(a4("10.1.255.255")));
  assert.ok(!s.contains(a4("10.2.0.0")));
  assert.ok(s.covers(Subnet.of(Ipv4, a4("10.1.2.0"), 24)));
  assert.ok(!Subnet.of(Ipv4, a4("10.1.2.0"), 24).covers(s));
  assert.ok(s.equals(Subnet.of(Ipv4, a4("10.1.99.99"), 16)));
  assert.ok(!s.equals(Subnet.of(Ipv4, a4("10.1.0.0"), 17)));
  assert.throws(() => Subnet.of(Ipv4, a4("10.0.0.0"), 33), RangeError);
  assert.throws(() => Subnet.of(Ipv6, a6("::"), -1), RangeError);
  assert.throws(() => Subnet.of(Ipv6, a6("::"), 129), RangeError);
  const z = Subnet.of(Ipv6, a6("2001:db8::1"), 0);
  assert.equal(z.toString(), "::/0");
  assert.ok(z.contains(a6("ffff::1")));
});

test("versionOf, parseIp, formatIp", () => {
  const x = parseIp("10.0.0.1")!;
  const y = parseIp("2001:DB8::1")!;
  assert.equal(versionOf(x), Ipv4);
  assert.equal(versionOf(y), Ipv6);
  assert.equal(formatIp(x), "10.0.0.1");
  assert.equal(formatIp(y), "2001:db8::1");
  assert.equal(parseIp("10.0.0"), null);
  assert.equal(parseIp("fe80::1%eth0"), null);
  const typed: Ipv4Addr = x as Ipv4Addr;
  assert.equal(Ipv4.parse("10.0.0.1"), typed);
  assert.equal(Ipv6.parse("10.0.0.1"), null);
  assert.equal(Ipv4.parse("::1"), null);
});

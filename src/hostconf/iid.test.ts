import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatV6, type Ipv6Addr, parseMac, parseV6 } from "../ip/addr.ts";
import {
  addrFromPrefix,
  eui64,
  isLinkLocal,
  isReservedIid,
  isUnspecified,
  linkLocalAddr,
  maskPrefix,
  StableIidGenerator,
  solicitedNodeGroup,
} from "./iid.ts";

const v6 = (s: string) => parseV6(s) as Ipv6Addr;
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

test("iid: modified EUI-64 (RFC 4291 appendix A) and the link-local address", () => {
  // RFC 4291 appendix A's example: 34-56-78-9A-BC-DE -> 3656:78ff:fe9a:bcde (u/l bit inverted).
  const mac = parseMac("34:56:78:9a:bc:de") as Uint8Array;
  assert.equal(hex(eui64(mac)), "365678fffe9abcde");
  assert.equal(formatV6(linkLocalAddr(eui64(mac))), "fe80::3656:78ff:fe9a:bcde");
  // A locally administered MAC gets the bit cleared.
  assert.equal(hex(eui64(parseMac("12:34:56:78:9a:bc") as Uint8Array)), "103456fffe789abc");
});

test("iid: solicited-node groups, prefixes and masks", () => {
  assert.equal(formatV6(solicitedNodeGroup(v6("fe80::1034:56ff:fe78:9abc"))), "ff02::1:ff78:9abc");
  assert.equal(formatV6(solicitedNodeGroup(v6("2001:db8::1:2:3"))), "ff02::1:ff02:3");
  assert.equal(
    formatV6(addrFromPrefix(v6("2001:db8:1:2::"), eui64(parseMac("12:34:56:78:9a:bc") as Uint8Array))),
    "2001:db8:1:2:1034:56ff:fe78:9abc",
  );
  assert.equal(formatV6(maskPrefix(v6("2001:db8:ffff:ffff::1"), 48)), "2001:db8:ffff::");
  assert.equal(formatV6(maskPrefix(v6("2001:db8:ffff:ffff::1"), 50)), "2001:db8:ffff:c000::");
  assert.equal(formatV6(maskPrefix(v6("2001:db8::1"), 0)), "::");
  assert.equal(formatV6(maskPrefix(v6("2001:db8::1"), 128)), "2001:db8::1");
  assert.ok(isLinkLocal(v6("febf::1")));
  assert.ok(!isLinkLocal(v6("fec0::1")));
  assert.ok(isUnspecified(v6("::")));
  assert.ok(!isUnspecified(v6("::1")));
});

test("iid: reserved IIDs (RFC 5453)", () => {
  assert.ok(isReservedIid(new Uint8Array(8)));
  assert.ok(isReservedIid(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80])));
  assert.ok(!isReservedIid(Uint8Array.from([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])));
  assert.ok(!isReservedIid(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1])));
});

test("iid: RFC 7217 stable IIDs depend on secret, prefix, interface and DAD counter only", () => {
  const secret = Uint8Array.from({ length: 16 }, (_, i) => i);
  const g = new StableIidGenerator(secret);
  const mac = parseMac("12:34:56:78:9a:bc") as Uint8Array;
  const p1 = v6("2001:db8:1::");
  const a = g.iid(p1, mac, 0);
  assert.equal(a.length, 8);
  assert.deepEqual(new StableIidGenerator(secret).iid(p1, mac, 0), a, "stable across instances");
  assert.notDeepEqual(g.iid(v6("2001:db8:2::"), mac, 0), a, "differs per prefix");
  assert.notDeepEqual(g.iid(p1, mac, 1), a, "differs per DAD counter");
  assert.notDeepEqual(g.iid(p1, parseMac("12:34:56:78:9a:bd") as Uint8Array, 0), a, "differs per interface");
  assert.notDeepEqual(new StableIidGenerator(new Uint8Array(16)).iid(p1, mac, 0), a, "differs per secret");
  assert.notDeepEqual(a, eui64(mac), "does not reveal the MAC");
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(10), (p, n) => {
      assert.ok(!isReservedIid(g.iid(p, mac, n)));
    }),
  );
});

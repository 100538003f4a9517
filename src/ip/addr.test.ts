import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatMac, formatV4, formatV6, macKey, parseMac, parseV4, parseV6, v6Key } from "./addr.ts";

test("IPv4 text round-trips and rejects junk", () => {
  assert.equal(parseV4("10.0.0.2"), 0x0a000002);
  assert.equal(formatV4(parseV4("255.255.255.255")!), "255.255.255.255");
  for (const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""]) assert.equal(parseV4(bad), null);
});

test("IPv6 text follows RFC 5952", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // 4.2.2: one zero word is not ::
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // 4.2.3: the longest run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // 4.2.3: the first of equal runs
    ["FE80::1", "fe80::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["ff02::1:ff00:2", "ff02::1:ff00:2"],
  ];
  for (const [input, want] of cases) assert.equal(formatV6(parseV6(input)!), want, input);
  for (const bad of ["1::2::3", ":::", "12345::", "1:2:3:4:5:6:7:8:9", "g::", "1:2:3:4:5:6:7"]) {
    assert.equal(parseV6(bad), null, bad);
  }
});

test("any IPv6 address formats to text that parses back to it", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
      assert.deepEqual(parseV6(formatV6(a)), a);
      assert.equal(v6Key(a).length, 32);
    }),
  );
});

test("MAC text and keys", () => {
  const m = parseMac("02:00:5E:10:00:01")!;
  assert.equal(formatMac(m), "02:00:5e:10:00:01");
  assert.equal(macKey(m), 0x02005e100001);
  assert.equal(parseMac("02:00:5e:10:00"), null);
});

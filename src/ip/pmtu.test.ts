import assert from "node:assert/strict";
import { test } from "node:test";
import { parseV4, parseV6, v4 } from "./addr.ts";
import { PathMtuCache, plateauBelow } from "./pmtu.ts";
import { Ipv4, Ipv6 } from "./version.ts";

const A = parseV4("203.0.113.5")!;
const B = parseV4("203.0.113.6")!;
const MIN = 60_000;

test("IPv4: learns from fragmentation needed, only ever lowers, ages out after 10 minutes", () => {
  const c = new PathMtuCache(Ipv4);
  assert.equal(c.get(A, 1500, 0), 1500);
  assert.equal(c.update(A, 1400, 0), "lowered");
  assert.equal(c.get(A, 1500, 1), 1400);
  assert.equal(c.get(A, 1280, 1), 1280); // never above the link MTU
  assert.equal(c.get(B, 1500, 1), 1500); // per destination
  assert.equal(c.update(A, 1450, 2), "not-lower");
  assert.equal(c.update(A, 1400, 2), "not-lower");
  assert.equal(c.get(A, 1500, 3), 1400);
  assert.equal(c.update(A, 1300, 5 * MIN), "lowered"); // restarts the aging timer
  assert.equal(c.nextDeadline(), 15 * MIN);
  assert.equal(c.get(A, 1500, 15 * MIN - 1), 1300);
  // RFC 8201 5.3 / RFC 1191 6.3: after the timeout the link MTU is tried again.
  assert.equal(c.get(A, 1500, 15 * MIN), 1500);
  assert.equal(c.size, 0);
  assert.equal(c.peek(A, 15 * MIN), null);
  // After aging out, a larger value is accepted again.
  assert.equal(c.update(A, 1450, 16 * MIN), "lowered");
  assert.equal(c.peek(A, 16 * MIN), 1450);
});

test("IPv4: never below 68; zero or bogus MTU uses the RFC 1191 plateau table", () => {
  const c = new PathMtuCache(Ipv4);
  assert.equal(c.update(A, 40, 0), "lowered");
  assert.equal(c.get(A, 1500, 0), 68);
  assert.equal(c.update(B, 0, 0, 1500), "lowered");
  assert.equal(c.get(B, 1500, 0), 1492);
  assert.equal(c.update(B, 0, 0, 1492), "lowered");
  assert.equal(c.get(B, 1500, 0), 1006);
  assert.equal(c.update(B, 2000, 0, 1006), "lowered"); // reported >= what was sent: nonsense
  assert.equal(c.get(B, 1500, 0), 508);
  const C = parseV4("10.9.9.9")!;
  assert.equal(c.update(C, 0, 0), "no-estimate");
  assert.equal(c.get(C, 1500, 0), 1500);
  assert.equal(plateauBelow(65536), 65535);
  assert.equal(plateauBelow(576), 508);
  assert.equal(plateauBelow(60), 68);
});

test("IPv6: Packet Too Big below 1280 is discarded (RFC 8201 4)", () => {
  const c = new PathMtuCache(Ipv6);
  const d = parseV6("2001:db8::9")!;
  assert.equal(c.update(d, 1279, 0), "below-minimum");
  assert.equal(c.get(d, 1500, 0), 1500);
  assert.equal(c.update(d, 1280, 0), "lowered");
  assert.equal(c.get(d, 1500, 0), 1280);
  assert.equal(c.update(d, 576, 0), "below-minimum");
  assert.equal(c.get(d, 1500, 0), 1280);
  // Keys are by value: a borrowed view of the same address finds the entry.
  const pkt = new Uint8Array(24);
  pkt.set(d, 8);
  assert.equal(c.get(Ipv6.readAt(pkt, 8), 9000, 1), 1280);
  assert.ok(c.delete(d));
  assert.equal(c.get(d, 1500, 1), 1500);
});

test("bounded: the least recently updated destination is evicted; expire reports what aged out", () => {
  const c = new PathMtuCache(Ipv4, { maxEntries: 3, timeout: 1000 });
  for (let i = 1; i <= 3; i++) c.update(v4(i), 1400, i);
  c.update(v4(1), 1300, 10); // refreshes destination 1
  c.update(v4(4), 1400, 11); // evicts destination 2
  assert.equal(c.size, 3);
  assert.equal(c.peek(v4(2), 11), null);
  assert.equal(c.peek(v4(1), 11), 1300);
  assert.equal(c.peek(v4(3), 11), 1400);
  assert.equal(c.nextDeadline(), 1003);
  assert.deepEqual(c.expire(1010), [v4(3), v4(1)]);
  assert.equal(c.size, 1);
  assert.equal(c.nextDeadline(), 1011);
  c.clear();
  assert.equal(c.nextDeadline(), null);
});

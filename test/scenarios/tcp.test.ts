// TCP (RFC 9293) through whole stacks: two hosts and a forwarding router on FakeNetwork, IPv4 and
// IPv6, with seeded loss, reordering, duplication and corruption on both links.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { StackEvent } from "../../src/context.ts";
import { type IpVersion, Ipv4, Ipv6 } from "../../src/ip/version.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type LinkOptions } from "../../src/testing/fake-network.ts";
import { mode, pattern, routerTopology, testBothModes } from "./helpers.ts";

function topology(seed: number, link: LinkOptions) {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const { a, r, b } = routerTopology(net, link);
  return { net, a: a.stack, r: r.stack, b: b.stack };
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

function transfer<A>(I: IpVersion<A>, server: string, seed: number, size: number, link: LinkOptions) {
  const { net, a, b } = topology(seed, link);
  void net.host;
  const events: StackEvent[] = [];
  net.bindings("a").events.length = 0;
  const lst = b.tcp.listen(I, I.unspecified, 5000);
  assert.equal(typeof lst, "number");
  const dst = I.parse(server);
  assert.ok(dst !== null);
  const c = a.tcp.connect(I, null, dst, 5000);
  assert.equal(typeof c, "number");
  const data = pattern(size);
  let sent = 0;
  let srv: number | null = null;
  const got: Uint8Array[] = [];
  let gotLen = 0;
  let eof = false;
  let fin = false;
  let closed = false;
  const done = net.runUntil(() => {
    if (sent < size) {
      const n = a.tcp.send(c as number, data, sent, size - sent);
      if (typeof n === "number") sent += n;
    }
    if (srv === null) srv = b.tcp.accept(lst as number);
    // Half-close once all is buffered and the connection is up: a CLOSE in SYN-SENT deletes the
    // connection (RFC 9293 3.10.4), and a large send buffer takes everything before the handshake.
    if (sent === size && srv !== null && !fin) {
      a.tcp.shutdown(c as number);
      fin = true;
    }
    if (srv !== null && !eof) {
      for (;;) {
        const chunk = b.tcp.recv(srv);
        if (chunk === null) {
          eof = true;
          b.tcp.close(srv);
          break;
        }
        if (chunk.length === 0) break;
        got.push(chunk);
        gotLen += chunk.length;
      }
    }
    for (const ev of net.bindings("a").events) if (ev.type === "closed" && ev.socket === c) closed = true;
    events.push(...net.bindings("a").events.splice(0));
    return eof && closed;
  }, net.now + 600_000);
  assert.ok(done, `transfer finished (sent ${sent}, received ${gotLen}, eof ${eof}, closed ${closed})`);
  const all = new Uint8Array(gotLen);
  let o = 0;
  for (const g of got) {
    all.set(g, o);
    o += g.length;
  }
  assert.equal(gotLen, size);
  assert.equal(sha(all), sha(data), "every byte intact");
  assert.ok(!events.some((e) => e.type === "error"), "no error on the client");
  for (const s of [a, b]) assert.equal(s.counters.get("stack.internal-error"), 0);
  return { a, b, r: net.host("r") };
}

const IMPAIRED: LinkOptions = { loss: 0.02, duplicate: 0.01, corrupt: 0.01, jitter: 3 };

testBothModes("TCP over IPv4 across a router: 300 kB under loss, duplication, corruption and reordering", () => {
  const { r } = transfer(Ipv4, "10.0.2.2", 11, 300_000, IMPAIRED);
  assert.ok(r.counters.get("ipv4.forward") > 200, "the router forwarded the segments");
});

testBothModes("TCP over IPv6 across a router: 300 kB under loss, duplication, corruption and reordering", () => {
  transfer(Ipv6, "2001:db8:2::2", 12, 300_000, IMPAIRED);
});

testBothModes("TCP to a closed port through the stack: RST, ECONNREFUSED", () => {
  const { net, a } = topology(3, {});
  const c = a.tcp.connect(Ipv4, null, Ipv4.parse("10.0.2.2")!, 81);
  assert.equal(typeof c, "number");
  net.runUntilIdle(net.now + 10_000);
  const errs = net.bindings("a").events.filter((e) => e.type === "error" && e.socket === c);
  assert.deepEqual(
    errs.map((e) => (e.type === "error" ? e.code : "")),
    ["ECONNREFUSED"],
  );
});

testBothModes("TCP to an unreachable host: ICMP host unreachable from the router ends the connect", () => {
  const { net, a } = topology(4, {});
  const c = a.tcp.connect(Ipv4, null, Ipv4.parse("10.0.2.99")!, 80);
  assert.equal(typeof c, "number");
  net.runUntilIdle(net.now + 120_000);
  const errs = net.bindings("a").events.filter((e) => e.type === "error" && e.socket === c);
  assert.equal(errs.length, 1);
  assert.ok(errs[0].type === "error" && ["EHOSTUNREACH", "ETIMEDOUT"].includes(errs[0].code), JSON.stringify(errs));
});

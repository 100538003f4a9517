// Host names in connect: the `lookup` option as node:net honours it, the stack's default lookup
// (literals, localhost, ENOTFOUND until a resolver is installed) and Happy Eyeballs (RFC 8305).
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { memoryLinkPair } from "./link.ts";
import type { LookupAddress, LookupFunction, LookupOptions } from "./net.ts";
import { NodeStack } from "./node-stack.ts";

async function pair(): Promise<[NodeStack, NodeStack, () => Promise<void>]> {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(la, { addresses: ["10.0.0.1/24", "fd00::1/64"] });
  b.addLink(lb, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  await Promise.all([a.ready(), b.ready()]);
  return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
}

/** A lookup answering `name` with `addresses`, recording the options it was called with. */
function fakeLookup(name: string, addresses: LookupAddress[], calls: LookupOptions[]): LookupFunction {
  return (hostname, options, cb) => {
    calls.push({ ...options });
    if (hostname !== name) {
      process.nextTick(cb, Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "");
      return;
    }
    const fam = options.family === 4 || options.family === 6 ? options.family : 0;
    const list = addresses.filter((a) => fam === 0 || a.family === fam);
    if (options.all) process.nextTick(cb, null, list);
    else process.nextTick(cb, null, list[0].address, list[0].family);
  };
}

test("lookup: names fail with getaddrinfo ENOTFOUND until a resolver is installed; literals and localhost work", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.end("hi")).listen(80);
    await once(srv, "listening");
    const c = b.net.createConnection({ host: "www.example.test", port: 80 });
    const [err] = (await once(c, "error")) as [NodeJS.ErrnoException & { hostname: string }];
    assert.equal(err.code, "ENOTFOUND");
    assert.equal(err.syscall, "getaddrinfo");
    assert.equal(err.hostname, "www.example.test");
    assert.equal(err.errno, -3008);
    assert.equal(err.message, "getaddrinfo ENOTFOUND www.example.test");
    // The default lookup itself, as dns.lookup is called.
    const all = await new Promise<unknown>((resolve) => b.lookup("localhost", { all: true }, (_e, r) => resolve(r)));
    assert.deepEqual(all, [
      { address: "127.0.0.1", family: 4 },
      { address: "::1", family: 6 },
    ]);
    const six = await new Promise<unknown[]>((resolve) => b.lookup("localhost", { family: 6 }, (...r) => resolve(r)));
    assert.deepEqual(six, [null, "::1", 6]);
    // A resolver installed on the stack answers the name; connect emits `lookup` as node:net's.
    const calls: LookupOptions[] = [];
    b.setLookup(fakeLookup("www.example.test", [{ address: "10.0.0.1", family: 4 }], calls));
    const c2 = b.net.createConnection({ host: "www.example.test", port: 80, family: 4, hints: 32 });
    const [lerr, ip, fam, host] = await once(c2, "lookup");
    assert.deepEqual([lerr, ip, fam, host], [null, "10.0.0.1", 4, "www.example.test"]);
    await once(c2, "connect");
    assert.equal(c2.remoteAddress, "10.0.0.1");
    assert.deepEqual(calls, [{ family: 4, hints: 32, all: false }]);
    c2.destroy();
    // The `lookup` option wins over the stack's.
    const mine: LookupOptions[] = [];
    const c3 = b.net.createConnection({
      host: "other.test",
      port: 80,
      family: 6,
      lookup: fakeLookup("other.test", [{ address: "fd00::1", family: 6 }], mine),
    });
    await once(c3, "connect");
    assert.equal(c3.remoteAddress, "fd00::1");
    assert.equal(mine[0].family, 6);
    c3.destroy();
    srv.close();
  } finally {
    await done();
  }
});

test("Happy Eyeballs: IPv6 unreachable, IPv4 wins after the attempt delay; the other attempt is aborted", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.end("v4 wins")).listen(7, "10.0.0.1");
    await once(srv, "listening");
    const calls: LookupOptions[] = [];
    // fd00::99 is on the link but nobody answers its neighbour solicitations: that attempt hangs.
    const lookup = fakeLookup(
      "dual.test",
      [
        { address: "fd00::99", family: 6 },
        { address: "10.0.0.1", family: 4 },
      ],
      calls,
    );
    const attempts: string[] = [];
    const t0 = performance.now();
    const c = b.net.createConnection({ host: "dual.test", port: 7, lookup, autoSelectFamilyAttemptTimeout: 100 });
    c.on("connectionAttempt", (ip: string) => attempts.push(ip));
    const timedOut: string[] = [];
    c.on("connectionAttemptTimeout", (ip: string) => timedOut.push(ip));
    await once(c, "connect");
    const dt = performance.now() - t0;
    assert.ok(dt >= 90, `IPv4 tried after the attempt delay (${dt} ms)`);
    assert.ok(dt < 1500, `and did not wait for the IPv6 attempt to fail (${dt} ms)`);
    assert.equal(calls[0].all, true);
    assert.deepEqual(attempts, ["fd00::99", "10.0.0.1"]);
    assert.deepEqual(timedOut, ["fd00::99"]);
    assert.deepEqual(c.autoSelectFamilyAttemptedAddresses, ["fd00::99:7", "10.0.0.1:7"]);
    assert.equal(c.remoteAddress, "10.0.0.1");
    // The losing IPv6 attempt is gone: the only connection left is the winner.
    assert.equal(b.tcp.connectionCount, 1);
    const data: Buffer[] = [];
    c.on("data", (d: Buffer) => data.push(d));
    await once(c, "end");
    assert.equal(Buffer.concat(data).toString(), "v4 wins");
    srv.close();
  } finally {
    await done();
  }
});

test("Happy Eyeballs: addresses interleaved by family from the first one's; all failing gives an AggregateError", async () => {
  const [_a, b, done] = await pair();
  try {
    // Nothing listens on port 9 of 10.0.0.1 / fd00::1: each attempt is refused at once.
    const lookup = fakeLookup(
      "many.test",
      [
        { address: "fd00::1", family: 6 },
        { address: "fd00::1", family: 6 },
        { address: "fd00::3", family: 6 },
        { address: "10.0.0.1", family: 4 },
      ],
      [],
    );
    const attempts: string[] = [];
    const c = b.net.createConnection({ host: "many.test", port: 9, lookup, autoSelectFamilyAttemptTimeout: 50 });
    c.on("connectionAttempt", (ip: string) => attempts.push(ip));
    const failed: string[] = [];
    c.on("connectionAttemptFailed", (ip: string) => failed.push(ip));
    const [err] = (await once(c, "error")) as [AggregateError & { code: string }];
    // RFC 8305 4: alternate families starting with the first address's; duplicates tried once.
    assert.deepEqual(attempts.slice(0, 2), ["fd00::1", "10.0.0.1"]);
    assert.deepEqual(attempts.sort(), ["10.0.0.1", "fd00::1", "fd00::3"]);
    assert.ok(err instanceof AggregateError);
    assert.equal(err.code, "ECONNREFUSED");
    assert.ok(failed.includes("10.0.0.1") && failed.includes("fd00::1"));
    // autoSelectFamily: false uses the first address only.
    const one: LookupOptions[] = [];
    const single = b.net.createConnection({
      host: "many.test",
      port: 9,
      autoSelectFamily: false,
      lookup: fakeLookup("many.test", [{ address: "10.0.0.1", family: 4 }], one),
    });
    const [e2] = (await once(single, "error")) as [NodeJS.ErrnoException];
    assert.equal(e2.code, "ECONNREFUSED");
    assert.equal(one[0].all, undefined);
  } finally {
    await done();
  }
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryLinkPair } from "../link.ts";
import { NodeStack } from "../node-stack.ts";
import { readyAlive } from "../services.ts";
import {
  formatBytes,
  formatRate,
  openStack,
  parseGateway,
  parseMtu,
  parseTapSpec,
  parseTapSpecs,
  SetupError,
} from "./tap-args.ts";

test("--tap NAME:ADDR[,ADDR...] parses names and addresses with prefix lengths", () => {
  assert.deepEqual(parseTapSpec("tap0:10.0.0.2/24,fd00::2/64"), {
    name: "tap0",
    addresses: ["10.0.0.2/24", "fd00::2/64"],
  });
  assert.deepEqual(parseTapSpec("t:::1/128"), { name: "t", addresses: ["::1/128"] });
  assert.match(parseTapSpec("tap0") as string, /expected NAME:ADDR/);
  assert.match(parseTapSpec("tap0:") as string, /no address after 'tap0:'/);
  assert.match(parseTapSpec("tap0:10.0.0.2") as string, /'10.0.0.2' needs a prefix length/);
  assert.match(parseTapSpec("tap0:10.0.0.2/33") as string, /'10.0.0.2\/33' is not an address with prefix length/);
  assert.match(parseTapSpec("tap0:10.0.0.300/24") as string, /is not an address/);
  assert.match(parseTapSpec("a-name-longer-than-15:10.0.0.2/24") as string, /not a valid interface name/);
  assert.match(parseTapSpec(":10.0.0.2/24") as string, /not a valid interface name/);
  assert.match(parseTapSpecs([]) as string, /missing --tap/);
  assert.match(parseTapSpecs(["t0:10.0.0.2/24", "t0:10.1.0.2/24"]) as string, /--tap t0 given twice/);
  assert.equal((parseTapSpecs(["t0:10.0.0.2/24", "t1:10.1.0.2/24"]) as unknown[]).length, 2);
});

test("--gateway and --mtu", () => {
  assert.equal(parseGateway(undefined), null);
  assert.equal(parseGateway("10.0.0.1"), "10.0.0.1");
  assert.deepEqual(parseGateway("10.0.0.1/24"), { error: "--gateway 10.0.0.1/24: not an IPv4 or IPv6 address" });
  assert.equal(parseMtu("9000", true), 9000);
  assert.equal(parseMtu("576", false), 576);
  assert.match((parseMtu("576", true) as { error: string }).error, /IPv6 needs at least 1280/);
  assert.match((parseMtu("1e3", false) as { error: string }).error, /not a number/);
  assert.match((parseMtu("70000", false) as { error: string }).error, /between 68 and 65535/);
});

test("sizes and rates", () => {
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(3_000_000), "3.00 MB");
  assert.equal(formatBytes(10_000_000), "10.0 MB");
  assert.equal(formatRate(1_250_000, 1), "10.0 Mbit/s");
  assert.equal(formatRate(250_000_000, 1), "2.00 Gbit/s");
});

test("openStack configures a stack on given links, with gateways; bad gateways fail with one line", async () => {
  const [a, b] = memoryLinkPair();
  const peer = new NodeStack();
  peer.addLink(b, { addresses: ["10.5.0.1/24"] });
  await readyAlive(peer);
  const o = await openStack({
    taps: [{ name: "x0", addresses: ["10.5.0.2/24"] }],
    gateways: ["10.5.0.1"],
    openLink: () => a,
  });
  try {
    // The configured stack answers and reaches its peer on the link.
    const r = await o.stack.ping("10.5.0.1", { count: 1, timeout: 2000 });
    assert.equal(r.received, 1);
  } finally {
    await o.close();
    await peer.close();
  }
  const [c] = memoryLinkPair();
  await assert.rejects(
    openStack({ taps: [{ name: "x1", addresses: ["10.6.0.2/24"] }], gateways: ["fd00::1"], openLink: () => c }),
    (e: Error) => /^--gateway fd00::1: cannot add the default route/.test(e.message),
  );
});

test("openStack: readyTimeoutMs bounds the wait for duplicate address detection", async () => {
  // DAD of fd00::2 takes at least a second (RFC 4862 RetransTimer): 50 ms is too short.
  const [a] = memoryLinkPair();
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  const before = timers();
  const t0 = performance.now();
  await assert.rejects(
    openStack({ taps: [{ name: "x2", addresses: ["fd00::2/64"] }], readyTimeoutMs: 50, openLink: () => a }),
    (e: Error) =>
      e instanceof SetupError &&
      e.message === "IPv6 duplicate address detection of the stack's addresses did not finish in 0.05 s",
  );
  assert.ok(performance.now() - t0 < 900);
  // Nothing is left holding the process open (no timer of the abandoned wait).
  assert.equal(timers(), before);
  // Long enough: it opens.
  const [c] = memoryLinkPair();
  const o = await openStack({
    taps: [{ name: "x3", addresses: ["fd00::3/64"] }],
    readyTimeoutMs: 10_000,
    openLink: () => c,
  });
  const all = o.stack.stack.deviceIds().flatMap((d) => o.stack.stack.addresses(d));
  assert.ok(all.includes("fd00::3/64"), all.join(" "));
  await o.close();
});

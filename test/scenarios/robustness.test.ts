// The same seed gives the same frames byte for byte; malformed frames never throw out of the stack.
import assert from "node:assert/strict";
import fc from "fast-check";
import { Buf } from "../../src/packet/buf.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork } from "../../src/testing/fake-network.ts";
import { addHost, mode, pattern, ping, settle, testBothModes, toHex } from "./helpers.ts";

/** A lossy, jittery router scenario; returns every frame on the wire as "time host dir hex". */
function run(seed: number): string[] {
  const net = new FakeNetwork<Stack>({ seed, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: ["02:00:00:00:01:02"], addrs: [["10.0.1.2/24", "2001:db8:1::2/64"]] });
  addHost(net, "r", {
    macs: ["02:00:00:00:01:01", "02:00:00:00:02:01"],
    addrs: [
      ["10.0.1.1/24", "2001:db8:1::1/64"],
      ["10.0.2.1/24", "2001:db8:2::1/64"],
    ],
    options: { forwarding: { v4: true, v6: true } },
  });
  const b = addHost(net, "b", { macs: ["02:00:00:00:02:02"], addrs: [["10.0.2.2/24", "2001:db8:2::2/64"]] });
  a.stack.addRoute("0.0.0.0/0", { gateway: "10.0.1.1" });
  a.stack.addRoute("::/0", { gateway: "2001:db8:1::1" });
  b.stack.addRoute("0.0.0.0/0", { gateway: "10.0.2.1" });
  b.stack.addRoute("::/0", { gateway: "2001:db8:2::1" });
  const impaired = { latency: 2, jitter: 3, loss: 0.1, duplicate: 0.05, reorder: 0.1 };
  net.link(["a", 1], ["r", 1], impaired);
  net.link(["r", 2], ["b", 1], impaired);
  settle(net);
  const out: string[] = [];
  net.tap((r) => out.push(`${r.time.toFixed(3)} ${r.host} ${r.dir} ${r.note ?? ""} ${toHex(r.bytes)}`));
  for (let i = 0; i < 10; i++) {
    ping(a.stack, "10.0.2.2", 1, i, pattern(100 + i));
    ping(a.stack, "2001:db8:2::2", 2, i, pattern(2000));
    net.advance(500);
  }
  net.runUntilIdle(net.now + 120_000);
  return out;
}

testBothModes("the same seed gives the same frames, byte for byte", () => {
  const x = run(11);
  const y = run(11);
  assert.ok(x.length > 60);
  assert.deepEqual(x, y);
  assert.notDeepEqual(run(12), x, "a different seed gives another run");
});

/** Frames captured from a normal exchange: ARP, IPv4, IPv6, ICMP, NDP, fragments. */
function capture(): Uint8Array[] {
  const net = new FakeNetwork<Stack>({ seed: 5, lendFrames: mode.lend });
  const a = addHost(net, "a", { macs: ["02:00:00:00:00:0a"], addrs: [["10.0.0.1/24", "2001:db8::a/64"]] });
  addHost(net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24", "2001:db8::b/64"]] });
  net.link(["a", 1], ["b", 1]);
  settle(net);
  const frames: Uint8Array[] = [];
  net.tap((r) => {
    if (r.dir === "tx") frames.push(r.bytes.slice());
  });
  ping(a.stack, "10.0.0.2", 1, 1, pattern(40));
  ping(a.stack, "2001:db8::b", 1, 1, pattern(40));
  ping(a.stack, "10.0.0.2", 1, 2, pattern(3000));
  ping(a.stack, "2001:db8::b", 1, 2, pattern(3000));
  net.runUntilIdle(net.now + 1000);
  return frames;
}

function victim(): { stack: Stack; net: FakeNetwork<Stack> } {
  const net = new FakeNetwork<Stack>({ seed: 9, lendFrames: mode.lend });
  const h = addHost(net, "v", {
    macs: ["02:00:00:00:00:0b"],
    addrs: [["10.0.0.2/24", "2001:db8::b/64"]],
    options: { forwarding: { v4: true, v6: true } },
  });
  h.stack.addRoute("0.0.0.0/0", { gateway: "10.0.0.1" });
  return { stack: h.stack, net };
}

testBothModes("every truncation and every single-bit flip of real frames is handled without throwing", () => {
  const frames = capture();
  assert.ok(frames.length >= 8);
  const { stack, net } = victim();
  for (const f of frames) {
    for (let n = 0; n <= f.length; n++) stack.receiveFrame(1, new Buf(f.slice(0, n)));
    for (let bit = 0; bit < Math.min(f.length, 80) * 8; bit++) {
      const g = f.slice();
      g[bit >>> 3] ^= 1 << (bit & 7);
      stack.receiveFrame(1, new Buf(g));
    }
  }
  net.runUntilIdle(net.now + 200_000);
  assert.equal(stack.counters.get("stack.internal-error"), 0, String(stack.lastInternalError));
  assert.ok(stack.counters.get("ipv4.rx.bad-checksum") > 0);
  assert.ok(stack.counters.get("ethernet.rx.too-short") > 0);
});

testBothModes("random frames never throw (fast-check)", () => {
  const frames = capture();
  const { stack, net } = victim();
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        // A real frame's header followed by random bytes.
        fc
          .tuple(fc.constantFrom(...frames), fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.nat(80))
          .map(([f, tail, cut]) => {
            const keep = Math.min(cut, f.length);
            const g = new Uint8Array(keep + tail.length);
            g.set(f.subarray(0, keep));
            g.set(tail, keep);
            return g;
          }),
      ),
      (bytes) => {
        stack.receiveFrame(1, new Buf(bytes));
        net.runUntilIdle(stackTime(net) + 10);
        return stack.counters.get("stack.internal-error") === 0;
      },
    ),
  );
  assert.equal(stack.counters.get("stack.internal-error"), 0, String(stack.lastInternalError));
});

function stackTime(net: FakeNetwork<Stack>): number {
  return net.now;
}

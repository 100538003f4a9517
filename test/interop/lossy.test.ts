/**
 * TCP on impaired links with the Linux kernel (issue 18): a 1 MiB echo from the kernel through the
 * impairing relay (test/interop/relay.ts) to `netstack serve`, with 5% of frames lost, and with
 * 25% reordered, both directions; beside it the kernel talking to a kernel through the same relay
 * and bridge (test/interop/lossy.ts). The data must come back intact, and in time (each echo has
 * 30 s, where a recovery paced by retransmission timeouts would take far longer). The times are
 * printed for comparison; `npm run bench:lossy` runs the whole table with 4 MiB.
 * Skipped with the reason when not root, no /dev/net/tun, no `ip netns`, no bridge, no python3.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lossyEcho, lossySkipReason } from "./lossy.ts";

const skip = lossySkipReason();
const SIZE = 1 << 20;

describe("interop: TCP echo with the kernel through an impairing relay", { skip, timeout: 240_000 }, () => {
  for (const [label, impair] of [
    ["5% of frames lost", "loss=0.05"],
    ["5 ms delay, 3 ms jitter, 25% reordered", "delay=5,jitter=3,reorder=0.25"],
  ]) {
    test(`${label}: netstack echoes 1 MiB intact (beside kernel to kernel)`, async () => {
      const linux = await lossyEcho({ target: "linux", impair, size: SIZE, seed: 7, limitSeconds: 30 });
      const ns = await lossyEcho({ target: "netstack", impair, size: SIZE, seed: 7, limitSeconds: 30 });
      console.log(
        `${label}: kernel to kernel ${linux.seconds.toFixed(3)} s, kernel to netstack ${ns.seconds.toFixed(3)} s ` +
          `(${(ns.seconds / linux.seconds).toFixed(2)}x); relay ${JSON.stringify(ns.relay)}`,
      );
      assert.equal(ns.error, undefined, `netstack run: ${ns.error}`);
      assert.ok(ns.intact, "the echo came back whole and equal");
      assert.equal(ns.bytes, SIZE);
      assert.ok(Number.isFinite(ns.seconds));
      // The relay did impair: frames were dropped (or reordered) both ways.
      const r = ns.relay as { ab: Record<string, number>; ba: Record<string, number> };
      const key = impair.startsWith("loss") ? "lost" : "reordered";
      assert.ok(r.ab[key] > 0 && r.ba[key] > 0, `${key} both ways`);
      assert.ok(linux.intact, `the kernel-to-kernel reference ran: ${linux.error ?? ""}`);
    });
  }
});

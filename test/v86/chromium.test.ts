/**
 * The v86 test guest in a real browser tab: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens examples/browser/v86/ (served by its serve.ts), v86 boots the guest in
 * the page, and the guest's NIC reaches a NodeStack through the page's WebSocket to the relay
 * (test/v86/relay.ts). The test runs commands in the guest through the page: a static address, a
 * ping of the stack, and a download of /bytes/N checked by length and SHA-256.
 *
 * Skipped with the reason where Chromium, playwright-core or the guest is missing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { startV86Page } from "../../examples/browser/v86/serve.ts";
import { bytesBody } from "../../src/node/services.ts";
import { guestSkipReason, type RunResult } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function skipReason(): Promise<string | false> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium)`;
  try {
    await import("playwright-core");
  } catch {
    return "playwright-core is not installed";
  }
  return guestSkipReason();
}

test("v86 guest in headless Chromium: boots in the page, pings and downloads from a NodeStack over the page's WebSocket", {
  skip: await skipReason(),
  timeout: 300_000,
}, async (t) => {
  const { chromium } = await import("playwright-core");
  const page = await startV86Page();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  try {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(String(e)));
    tab.on("console", (m) => {
      if (m.type() === "error") errors.push(`${m.text()} (${m.location().url})`);
    });
    await tab.goto(`${page.url}?setup=0`);
    const ready = await tab.evaluate(
      () =>
        (globalThis as unknown as { v86guest: { ready: Promise<{ release: string; bootMs: number }> } }).v86guest.ready,
    );
    t.diagnostic(`guest ${ready.release} booted in the tab in ${ready.bootMs.toFixed(0)} ms`);
    const run = (cmd: string): Promise<RunResult> =>
      tab.evaluate(
        ([c]) =>
          (globalThis as unknown as { v86guest: { run(c: string, t: number): Promise<RunResult> } }).v86guest.run(
            c,
            120_000,
          ),
        [cmd],
      );
    const up = await run("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ping -c 2 -W 5 10.0.2.2");
    assert.equal(up.status, 0, up.output);
    assert.match(up.output, /2 packets transmitted, 2 packets received/);
    const n = 200_000;
    const got = await run(
      `wget -q -O /tmp/body http://10.0.2.2/bytes/${n} && wc -c < /tmp/body && sha256sum /tmp/body`,
    );
    assert.equal(got.status, 0, got.output);
    const [len, hash] = got.output.trim().split(/\s+/);
    assert.equal(Number(len), n);
    assert.equal(hash, createHash("sha256").update(bytesBody(n)).digest("hex"));
    assert.ok(page.relay.stats.fromClient > 0, "frames came from the tab over the WebSocket");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await page.close();
  }
});

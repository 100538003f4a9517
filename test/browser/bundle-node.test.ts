// dist/browser/netstack.js (built into a temporary directory by scripts/build-browser.mjs): one ES
// module with no imports left, no Node module inside, and the same code runs under Node when
// imported from its file: two stacks echo 1 MB and UDP in memory, and a stack on a WebSocketLink
// (Node's `ws` package, handed to it) echoes TCP and fetches 10 MB from a NodeStack.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { startRelay } from "../../examples/browser/relay.ts";
import type * as NS from "../../src/browser/index.ts";
import { buildOnce } from "./harness.ts";
import * as scenarios from "./scenarios.ts";

test("the browser bundle is one ES module without imports and without Node modules", { timeout: 30_000 }, async () => {
  const b = await buildOnce();
  assert.deepEqual(b.imports, []);
  assert.ok(!b.inputs.some((p) => p.startsWith("node:") || p.includes("src/node/")), "no Node module in the bundle");
  assert.ok(b.inputs.some((p) => p.endsWith("src/browser/browser-stack.ts")));
  const code = readFileSync(b.bundle, "utf8");
  // No static import or export-from of another module (the one dynamic import() takes a computed name).
  assert.doesNotMatch(code, /\bimport\s*["'{*]|\bfrom\s*["']/);
  assert.doesNotMatch(code, /import\(\s*["']/);
  assert.ok(b.gzipBytes < b.bytes);
});

test("the bundle imported in Node: in-memory TCP echo and UDP, and a WebSocketLink to a NodeStack", {
  timeout: 30_000,
}, async () => {
  const b = await buildOnce();
  const ns = await import(pathToFileURL(b.bundle).href);
  const echo = await scenarios.echoScenario(ns, 1_000_000);
  assert.equal(echo.receivedHash, echo.sentHash);
  const udp = await scenarios.udpScenario(ns);
  assert.equal(udp.received, 4);
  const relay = await startRelay();
  try {
    // A bundle loaded from outside a package cannot find `ws` by itself: hand it the class.
    const { WebSocket } = await import("ws");
    const r = await scenarios.wsScenario(ns, relay.url, 10_000_000, {
      WebSocket: WebSocket as unknown as NS.WebSocketConstructor,
    });
    assert.equal(r.echo.received, 1_000_000);
    assert.equal(r.echo.receivedHash, r.echo.sentHash);
    assert.equal(r.fetchLength, 10_000_000);
    assert.equal(r.fetchBad, 0);
    assert.equal(r.udp.received, 3);
    assert.equal(r.v6Length, 100000, "fetch over IPv6 ([fd00::1])");
  } finally {
    await relay.close();
  }
});

// netstack/browser in a real browser: headless Chromium loads dist/browser/netstack.js (built into a
// temporary directory) with import() from a page on 127.0.0.1 and runs the scenarios of
// scenarios.ts in the tab: two BrowserStacks over an in-page link (1 MB TCP echo checked by SHA-256,
// fetch against a tiny HTTP server written with stack.listen, UDP echo), and a stack on a
// WebSocketLink to a NodeStack in this process (relay.ts): 1 MB TCP echo by hash, fetch of
// /bytes/10000000 with the length and every byte checked, UDP echo. No console errors allowed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { startRelay } from "../../examples/browser/relay.ts";
import { startDemo } from "../../examples/browser/serve.ts";
import { buildOnce, chromiumSkipReason, launchChromium, servePage } from "./harness.ts";
import type { EchoResult, FetchResult, WsResult } from "./scenarios.ts";

const skip = await chromiumSkipReason();

describe("netstack/browser in headless Chromium", { skip, timeout: 120_000 }, () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;
  let page: Page;
  let site: Awaited<ReturnType<typeof servePage>>;
  const problems: string[] = [];

  before(async () => {
    const b = await buildOnce();
    site = await servePage(b, {
      "/script-tag.html": {
        type: "text/html",
        body: `<!doctype html><script type="module">
import { BrowserStack, inPageLinkPair } from "/netstack.js";
const s = new BrowserStack({ dad: false });
const d = s.addLink(inPageLinkPair()[0], { addresses: ["10.9.9.1/24"] });
globalThis.scriptTagResult = s.stack.addresses(d).find((a) => a.startsWith("10."));
</script>`,
      },
    });
    browser = await launchChromium();
    context = browser.context;
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    await page.goto(site.url);
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  test("the bundle loads with import() and exports BrowserStack", async () => {
    const names = await page.evaluate(async () => {
      const ns = await import("/netstack.js" as string);
      return [
        typeof ns.BrowserStack,
        typeof ns.WebSocketLink,
        typeof ns.inPageLinkPair,
        (globalThis as { isSecureContext?: boolean }).isSecureContext,
      ];
    });
    assert.deepEqual(names, ["function", "function", "function", true]);
  });

  test("the bundle loads from a plain <script type=module>", async () => {
    const tab = await context.newPage();
    try {
      await tab.goto(`${site.url}script-tag.html`);
      await tab.waitForFunction(() => (globalThis as { scriptTagResult?: string }).scriptTagResult !== undefined);
      assert.equal(
        await tab.evaluate(() => (globalThis as { scriptTagResult?: string }).scriptTagResult),
        "10.9.9.1/24",
      );
    } finally {
      await tab.close();
    }
  });

  test("in-page link: 1 MB TCP echo arrives intact (SHA-256)", async () => {
    const r: EchoResult = await page.evaluate(async () => {
      const ns = await import("/netstack.js" as string);
      const sc = await import("/scenarios.js" as string);
      return sc.echoScenario(ns, 1_000_000);
    });
    assert.equal(r.received, 1_000_000);
    assert.equal(r.receivedHash, r.sentHash);
  });

  test("in-page link: fetch against a server written with stack.listen", async () => {
    const r: FetchResult = await page.evaluate(async () => {
      const ns = await import("/netstack.js" as string);
      const sc = await import("/scenarios.js" as string);
      return sc.fetchScenario(ns);
    });
    assert.equal(r.bytesStatus, 200);
    assert.equal(r.bytesLength, 300000);
    assert.equal(r.bytesBad, 0);
    assert.equal(r.chunkedLength, 25500);
    assert.equal(r.chunkedFirst, "aaa");
    assert.equal(r.chunkedLast, "zzz");
    assert.equal(r.redirected, true);
    assert.equal(r.redirectUrl, "http://10.9.0.2/echo");
    assert.equal(r.redirectBody, "200 GET 0");
    assert.equal(r.postMethod, "POST");
    assert.equal(r.postBody, "hello body");
    assert.equal(r.postType, "text/plain;charset=UTF-8");
    assert.equal(r.streamBody, "PUT streamed request body");
    assert.equal(r.notFound, 404);
    assert.match(r.tooMany, /redirect count exceeded/);
    assert.equal(r.manualStatus, 302);
    assert.equal(r.serverConnections, 1, "every request before the refused one reused one connection");
    assert.equal(r.refused, "ECONNREFUSED");
    assert.equal(r.aborted, "AbortError");
  });

  test("in-page link: UDP echo over IPv4 and IPv6", async () => {
    const r = await page.evaluate(async () => {
      const ns = await import("/netstack.js" as string);
      const sc = await import("/scenarios.js" as string);
      return sc.udpScenario(ns);
    });
    assert.equal(r.received, 4);
    assert.deepEqual(r.payloads, [
      "datagram 0 from 10.9.0.2:7",
      "datagram 1 from 10.9.0.2:7",
      "datagram 2 from 10.9.0.2:7",
      "datagram 0 from fd09::2:7",
    ]);
  });

  test("WebSocketLink to a NodeStack: TCP echo, fetch of 10 MB, UDP echo", async () => {
    const relay = await startRelay();
    try {
      const r: WsResult = await page.evaluate(async (url) => {
        const ns = await import("/netstack.js" as string);
        const sc = await import("/scenarios.js" as string);
        return sc.wsScenario(ns, url, 10_000_000);
      }, relay.url);
      assert.equal(r.echo.received, 1_000_000);
      assert.equal(r.echo.receivedHash, r.echo.sentHash);
      assert.equal(r.fetchStatus, 200);
      assert.equal(r.fetchLength, 10_000_000);
      assert.equal(r.fetchBad, 0, "every byte of /bytes/N is the services' pattern");
      assert.equal(r.udp.received, 3);
      assert.equal(r.v6Length, 100000, "fetch over IPv6 ([fd00::1])");
      assert.equal(r.udp.payloads[0], "datagram 0 from 10.0.0.1:7");
      assert.equal(relay.stats.clients, 1);
      assert.ok(relay.services.stats.httpRequests >= 1);
    } finally {
      await relay.close();
    }
  });

  test("the demo page (npm run demo:browser) downloads to 100% without console errors", async () => {
    const demo = await startDemo(0);
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    tab.on("pageerror", (e) => errors.push(e.message));
    try {
      await tab.goto(`${demo.url}?bytes=3000000`);
      await tab.waitForFunction(
        () =>
          (globalThis as unknown as { document: { body: { dataset: { done?: string } } } }).document.body.dataset.done,
        null,
        { timeout: 60_000 },
      );
      const state = await tab.evaluate(() => {
        const d = (
          globalThis as unknown as {
            document: {
              body: { dataset: { done?: string } };
              getElementById(id: string): { value?: number; textContent: string; childElementCount: number };
            };
          }
        ).document;
        return {
          done: d.body.dataset.done,
          progress: d.getElementById("progress").value,
          status: d.getElementById("status").textContent,
          frames: d.getElementById("frames").childElementCount,
        };
      });
      assert.equal(state.done, "ok", state.status);
      assert.equal(state.progress, 1);
      assert.match(state.status, /HTTP 200: 3,000,000 bytes/);
      assert.ok(state.frames > 0, "the frame list shows frames");
      assert.deepEqual(errors, []);
    } finally {
      await tab.close();
      await demo.close();
    }
  });

  test("no console errors or page errors", () => {
    assert.deepEqual(problems, []);
  });
});

// The cost of the browser and of the WebSocket hop (issue 16, "Benchmark"): a BrowserStack in a
// headless Chromium tab downloads /bytes/N with stack.fetch over a WebSocketLink from a NodeStack
// running the `netstack serve` services (examples/browser/relay.ts: a ws server relaying frames to the
// NodeStack over a memory link, the stand-in for `serve --ws`), beside, in the same run:
//   - the same BrowserStack code under Node over the same kind of WebSocket (the `ws` package):
//     separates the tab's cost from the WebSocket hop's;
//   - a NodeStack client fetching the same URL with node:http over a memory link to the same kind
//     of server NodeStack (the reference: no browser, no WebSocket);
//   - Chromium's raw WebSocket receive rate for 1514-byte binary messages (no stack): the ceiling
//     of the hop in a tab.
// Rounds alternate between the tasks and each keeps its best (the machine is shared).
// Run: npm run bench:browser [-- --bytes N --rounds R]
import { Agent, get } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { WebSocket, WebSocketServer } from "ws";
import { startRelay } from "../examples/browser/relay.ts";
import * as ns from "../src/browser/index.ts";
import { memoryLinkPair } from "../src/node/link.ts";
import type { Socket } from "../src/node/net.ts";
import { NodeStack } from "../src/node/node-stack.ts";
import { startServices } from "../src/node/services.ts";
import { buildOnce, chromiumSkipReason, launchChromium, servePage } from "../test/browser/harness.ts";

const { values } = parseArgs({
  options: { bytes: { type: "string", default: "20000000" }, rounds: { type: "string", default: "3" } },
});
const BYTES = Number(values.bytes);
const ROUNDS = Number(values.rounds);
const mbps = (bytes: number, ms: number) => (bytes * 8) / ms / 1000;

/** A stack (tab or Node) fetching /bytes/N over a WebSocketLink; returns ms for the body. */
async function nodeOverWs(): Promise<number> {
  const relay = await startRelay();
  try {
    const stack = new ns.BrowserStack({ dad: false });
    stack.addLink(await ns.WebSocketLink.connect(relay.url), { addresses: ["10.0.0.2/24"] });
    const t0 = performance.now();
    const res = await stack.fetch(`http://10.0.0.1/bytes/${BYTES}`);
    const n = (await res.arrayBuffer()).byteLength;
    const ms = performance.now() - t0;
    if (n !== BYTES) throw new Error(`got ${n} bytes`);
    await stack.close();
    return ms;
  } finally {
    await relay.close();
  }
}

async function tabOverWs(page: import("playwright-core").Page): Promise<number> {
  const relay = await startRelay();
  try {
    const r = await page.evaluate(
      async ({ url, bytes }) => {
        const m = await import("/netstack.js" as string);
        const stack = new m.BrowserStack({ dad: false });
        stack.addLink(await m.WebSocketLink.connect(url), { addresses: ["10.0.0.2/24"] });
        const t0 = performance.now();
        const res = await stack.fetch(`http://10.0.0.1/bytes/${bytes}`);
        const reader = res.body.getReader();
        let n = 0;
        for (;;) {
          const x = await reader.read();
          if (x.done) break;
          n += x.value.length;
        }
        const ms = performance.now() - t0;
        await stack.close();
        return { n, ms };
      },
      { url: relay.url, bytes: BYTES },
    );
    if (r.n !== BYTES) throw new Error(`tab got ${r.n} bytes`);
    return r.ms;
  } finally {
    await relay.close();
  }
}

/** NodeStack + node:http over a memory link (the reference). */
async function nodeOverMemory(): Promise<number> {
  const [la, lb] = memoryLinkPair();
  const server = new NodeStack({ dad: false });
  const client = new NodeStack({ dad: false });
  server.addLink(la, { addresses: ["10.0.0.1/24"] });
  client.addLink(lb, { addresses: ["10.0.0.2/24"] });
  const services = await startServices(server);
  const agent = new Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (o: { host: string; port: number }) =>
    client.net.createConnection({ host: o.host, port: o.port }) as Socket;
  const t0 = performance.now();
  const n = await new Promise<number>((resolve, reject) => {
    get({ host: "10.0.0.1", port: 80, path: `/bytes/${BYTES}`, agent }, (res) => {
      let k = 0;
      res.on("data", (d: Buffer) => {
        k += d.length;
      });
      res.on("end", () => resolve(k));
      res.on("error", reject);
    }).on("error", reject);
  });
  const ms = performance.now() - t0;
  if (n !== BYTES) throw new Error(`node got ${n}`);
  await services.close();
  await client.close();
  await server.close();
  return ms;
}

/** Chromium's raw receive rate of 1514-byte binary WebSocket messages, as ms for BYTES of them. */
async function rawTabWs(page: import("playwright-core").Page): Promise<number> {
  const frames = Math.ceil(BYTES / 1460);
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (ws: WebSocket) => {
    const f = Buffer.alloc(1514, 7);
    let i = 0;
    const pump = () => {
      while (i < frames && ws.bufferedAmount < 4 * 1024 * 1024) {
        ws.send(f);
        i++;
      }
      if (i < frames) setTimeout(pump, 1);
      else ws.send("end");
    };
    pump();
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  const ms = await page.evaluate(
    (u) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(u);
        ws.binaryType = "arraybuffer";
        let t0 = 0;
        ws.onmessage = (e) => {
          if (t0 === 0) t0 = performance.now();
          if (typeof e.data === "string") {
            resolve(performance.now() - t0);
            ws.close();
          }
        };
      }),
    url,
  );
  await new Promise((r) => wss.close(r));
  return ms;
}

async function main(): Promise<void> {
  const skip = await chromiumSkipReason();
  let page: import("playwright-core").Page | null = null;
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  let site: Awaited<ReturnType<typeof servePage>> | null = null;
  if (skip === false) {
    site = await servePage(await buildOnce());
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(site.url);
  } else console.log(`(no tab figures: ${skip})`);
  const best = new Map<string, number>();
  const keep = (k: string, ms: number) => best.set(k, Math.min(best.get(k) ?? Infinity, ms));
  for (let r = 0; r < ROUNDS; r++) {
    keep("node-mem", await nodeOverMemory());
    keep("node-ws", await nodeOverWs());
    if (page !== null) {
      keep("tab-ws", await tabOverWs(page));
      keep("tab-raw", await rawTabWs(page));
    }
  }
  await browser?.close();
  await site?.close();
  const ref = mbps(BYTES, best.get("node-mem") as number);
  const rows: [string, string][] = [
    ["node-mem", "NodeStack + node:http, memory link (reference)"],
    ["node-ws", "BrowserStack + stack.fetch under Node, WebSocketLink (ws)"],
    ["tab-ws", "BrowserStack + stack.fetch in Chromium, WebSocketLink"],
    ["tab-raw", "Chromium raw WebSocket receive, 1514 B messages, no stack"],
  ];
  console.log(`download of /bytes/${BYTES}, best of ${ROUNDS} alternating rounds`);
  console.log("| path | Mbit/s | vs reference |");
  console.log("| --- | --- | --- |");
  for (const [k, label] of rows) {
    const ms = best.get(k);
    if (ms === undefined) continue;
    const v = mbps(BYTES, ms);
    console.log(`| ${label} | ${v.toFixed(1)} | ${(v / ref).toFixed(3)}x |`);
  }
}

await main();

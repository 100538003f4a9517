/**
 * `npm run demo:v86 [-- PORT]`: serves examples/browser/v86/ on 127.0.0.1 (default port 8086) and
 * prints its URL. The page boots the v86 test guest (scripts/guest/v86/build.mjs; built here first
 * if needed) in the tab; its NIC's WebSocket goes to /relay on the same port, where a relay joins
 * it to a NodeStack (10.0.2.2/24, fd00:86::2/64) running `netstack serve`'s services.
 *
 * The relay is test/v86/relay.ts, a STAND-IN for the gateway's switch (`netstack gateway --ws`):
 * one guest at a time, no DHCP (the page sets 10.0.2.15 itself).
 *
 * `startV86Page()` is what test/v86/chromium.test.ts uses.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { memoryLinkPair } from "../../../src/node/link.ts";
import { NodeStack } from "../../../src/node/node-stack.ts";
import { readyAlive, type Services, startServices } from "../../../src/node/services.ts";
import { defaultGuestDir, GUEST_CMDLINE, guestSkipReason, readManifest, v86Paths } from "../../../test/v86/harness.ts";
import { type Relay, startRelay } from "../../../test/v86/relay.ts";

const here = dirname(new URL(import.meta.url).pathname);

export interface V86Page {
  /** http://127.0.0.1:PORT/ */
  url: string;
  stack: NodeStack;
  services: Services;
  relay: Relay;
  close(): Promise<void>;
}

/** Build the page script, start the stack, the relay and the HTTP server. */
export async function startV86Page(port = 0): Promise<V86Page> {
  const why = guestSkipReason();
  if (why) throw new Error(why);
  const m = readManifest();
  const bundle = await build({
    entryPoints: [join(here, "main.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    // libv86.mjs reaches for Node's modules only when it runs in Node (behind runtime checks).
    external: ["crypto", "node:crypto", "fs", "node:fs/promises", "perf_hooks"],
  });
  const files: Record<string, { type: string; body: Buffer | string }> = {
    "/": { type: "text/html", body: readFileSync(join(here, "index.html")) },
    "/main.js": { type: "text/javascript", body: bundle.outputFiles[0].text },
    "/v86.wasm": { type: "application/wasm", body: readFileSync(v86Paths().wasm) },
    "/guest/cmdline": { type: "text/plain", body: GUEST_CMDLINE },
    "/favicon.ico": { type: "image/svg+xml", body: "<svg xmlns='http://www.w3.org/2000/svg'/>" },
  };
  for (const f of [m.files.bios, m.files.vgaBios, m.files.bzimage, m.files.flatKernel, m.files.initrd]) {
    files[`/guest/${f}`] = { type: "application/octet-stream", body: readFileSync(join(defaultGuestDir, f)) };
  }
  const server: Server = createServer((req, res) => {
    const f = files[(req.url ?? "/").split("?")[0]];
    if (f === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": f.type, "cache-control": "no-store" }).end(f.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const [a, b] = memoryLinkPair({ names: ["stack", "relay"] });
  const stack = new NodeStack();
  stack.addLink(a, { addresses: ["10.0.2.2/24", "fd00:86::2/64"] });
  await readyAlive(stack);
  const services = await startServices(stack);
  const relay = await startRelay(b, { server, path: "/relay" });
  const { port: p } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${p}/`,
    stack,
    services,
    relay,
    close: async () => {
      await relay.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
      await stack.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const page = await startV86Page(Number(process.argv[2] ?? 8086));
  console.log(`v86 guest page: ${page.url}  (Ctrl-C to stop)`);
  process.once("SIGINT", () => void page.close().then(() => process.exit(0)));
}

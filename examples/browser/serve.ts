/**
 * `npm run demo:browser`: serves the demo page (examples/browser/index.html and app.js, bundled with
 * netstack/browser by esbuild at start-up) on http://127.0.0.1:PORT/ and, on the same port at /ws,
 * the WebSocket relay to a NodeStack running the `netstack serve` services (relay.ts, the stand-in
 * for `netstack serve --ws` until the gateway's switch lands). Open the printed URL: the tab's stack
 * downloads /bytes/N with a progress bar and lists the frames both ways.
 * Options: --port N (default 8080; 0 picks a free port), --bytes N (the size the page fetches).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { startRelay } from "./relay.ts";

const here = new URL(".", import.meta.url).pathname;

export interface Demo {
  url: string;
  close(): Promise<void>;
}

export async function startDemo(port = 8080): Promise<Demo> {
  const app = await build({
    entryPoints: [join(here, "app.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
  });
  const files: Record<string, [string, string | Uint8Array]> = {
    "/": ["text/html; charset=utf-8", readFileSync(join(here, "index.html"), "utf8")],
    "/app.js": ["text/javascript", app.outputFiles[0].contents],
  };
  const server = createServer((req, res) => {
    const f = files[(req.url ?? "/").split("?")[0]];
    if (f === undefined) {
      res.writeHead(req.url === "/favicon.ico" ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { "content-type": f[0], "cache-control": "no-store" }).end(f[1]);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const relay = await startRelay({ server, path: "/ws" });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/`,
    async close() {
      await relay.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8080" }, bytes: { type: "string" } } });
  const demo = await startDemo(Number(values.port));
  const q = values.bytes === undefined ? "" : `?bytes=${Number(values.bytes)}`;
  console.log(`netstack browser demo ready: open ${demo.url}${q}`);
  const stop = () => {
    demo.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

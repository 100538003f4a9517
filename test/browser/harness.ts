// Helpers of the browser tests: the netstack/browser bundle and the scenarios module built into a
// temporary directory (never dist/), a page server on 127.0.0.1, and headless Chromium (Debian's
// `chromium` driven by playwright-core) with a fresh profile. Tests skip with the reason where
// Chromium or playwright-core is missing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
// @ts-expect-error: a plain .mjs script without types
import { buildBrowserBundle } from "../../scripts/build-browser.mjs";

export const root = new URL("../..", import.meta.url).pathname;

export interface Built {
  dir: string;
  bundle: string;
  scenarios: string;
  bytes: number;
  gzipBytes: number;
  imports: { path: string }[];
  inputs: string[];
}

let built: Promise<Built> | null = null;

/** Build the bundle and the scenarios module once per process, into a temporary directory. */
export function buildOnce(): Promise<Built> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "netstack-browser-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const b = await buildBrowserBundle({ outdir: dir });
    const scenarios = join(dir, "scenarios.js");
    await build({
      entryPoints: [join(root, "test", "browser", "scenarios.ts")],
      outfile: scenarios,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      logLevel: "silent",
    });
    return {
      dir,
      bundle: b.outfile,
      scenarios,
      bytes: b.bytes,
      gzipBytes: b.gzipBytes,
      imports: b.imports,
      inputs: b.inputs,
    };
  })();
  return built;
}

/** Serve `/` (an empty page), `/netstack.js` and `/scenarios.js` on 127.0.0.1. */
export async function servePage(b: Built, extra: Record<string, { type: string; body: string }> = {}) {
  const files: Record<string, { type: string; body: Buffer | string }> = {
    "/": { type: "text/html", body: "<!doctype html><title>netstack test</title><body></body>" },
    "/netstack.js": { type: "text/javascript", body: readFileSync(b.bundle) },
    "/netstack.js.map": { type: "application/json", body: readFileSync(`${b.bundle}.map`) },
    "/scenarios.js": { type: "text/javascript", body: readFileSync(b.scenarios) },
    ...extra,
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const f = files[path];
    if (f === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": f.type, "cache-control": "no-store" }).end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Why Chromium tests cannot run here (false: they can). */
export async function chromiumSkipReason(): Promise<string | false> {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
  try {
    await import("playwright-core");
  } catch {
    return "playwright-core is not installed (npm ci)";
  }
  return false;
}

/** Launch headless Chromium with a fresh profile. `close()` also removes the profile. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "netstack-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Write a file into the build directory (for pages the tests make). */
export function writeBuilt(b: Built, name: string, body: string): string {
  const p = join(b.dir, name);
  writeFileSync(p, body);
  return p;
}

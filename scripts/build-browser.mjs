#!/usr/bin/env node
import { join } from "node:path";
// Builds dist/browser/netstack.js: src/browser/index.ts bundled by esbuild into one ES module with no
// imports (loads with <script type="module"> or import() from a URL), minified, with a source map.
// Prints its size, minified and gzipped. Called by `npm run build`.
// Usage: node scripts/build-browser.mjs [--outdir DIR] [--quiet]
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

/**
 * Bundle into `outdir` (default dist/browser). Returns the file path, its sizes and the imports
 * esbuild left in the output (none expected).
 */
export async function buildBrowserBundle({ outdir = join(root, "dist", "browser"), minify = true, write = true } = {}) {
  const outfile = join(outdir, "netstack.js");
  const result = await build({
    entryPoints: [join(root, "src", "browser", "index.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    sourcemap: write ? "linked" : false,
    metafile: true,
    write,
    logLevel: "silent",
    legalComments: "none",
  });
  const out = Object.entries(result.metafile.outputs).find(([p]) => p.endsWith("netstack.js"));
  const code = write ? null : result.outputFiles.find((f) => f.path.endsWith("netstack.js")).contents;
  const bytes = out[1].bytes;
  const text = code ?? (await import("node:fs")).readFileSync(outfile);
  return {
    outfile,
    bytes,
    gzipBytes: gzipSync(text, { level: 9 }).length,
    imports: out[1].imports,
    inputs: Object.keys(result.metafile.inputs),
    code: code === null ? null : new TextDecoder().decode(code),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--outdir");
  const r = await buildBrowserBundle(i >= 0 ? { outdir: args[i + 1] } : {});
  if (r.imports.length > 0) {
    console.error(`build-browser: the bundle imports ${r.imports.map((x) => x.path).join(", ")}`);
    process.exit(1);
  }
  if (!args.includes("--quiet")) {
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(`build-browser: ${r.outfile}: ${kib(r.bytes)} minified, ${kib(r.gzipBytes)} gzipped`);
  }
}

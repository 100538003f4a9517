#!/usr/bin/env node
// Builds the TAP addon (native/tap.c -> native/build/tap.node) with the system C compiler against
// Node's own headers: no node-gyp, no downloads, no install hooks. Called by `npm run build`.
//
// A failure never fails the set-up: the addon is optional, and `TapLink` reports why it is
// unavailable. `--strict` makes a failure exit 1 (for CI jobs that need TAP).
// Usage: node scripts/build-native.mjs [--force] [--strict] [--quiet]
// Environment: CC (compiler, default cc/gcc/clang), NODE_INCLUDE_DIR (directory holding node_api.h).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = new Set(process.argv.slice(2));
const strict = args.has("--strict");
const quiet = args.has("--quiet");
const src = join(root, "native", "tap.c");
const outDir = join(root, "native", "build");
const out = join(outDir, "tap.node");

function log(msg) {
  if (!quiet) console.log(`build-native: ${msg}`);
}

function skip(reason) {
  console.warn(`build-native: TAP addon not built: ${reason}`);
  console.warn("build-native: everything else works; TapLink will report that TAP is unavailable.");
  process.exit(strict ? 1 : 0);
}

if (process.platform !== "linux") skip(`TAP devices are Linux-only (this is ${process.platform})`);
if (!existsSync(src)) skip(`${src} is missing`);

if (!args.has("--force") && existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) {
  log(`${out} is up to date`);
  process.exit(0);
}

/** Directories that may hold node_api.h and uv.h, most specific first. */
function includeCandidates() {
  const c = [];
  if (process.env.NODE_INCLUDE_DIR) c.push(process.env.NODE_INCLUDE_DIR);
  // Official tarballs and nvm/fnm/volta installs: <prefix>/bin/node, <prefix>/include/node.
  c.push(join(dirname(process.execPath), "..", "include", "node"));
  for (const v of [process.env.npm_config_nodedir, readNpmrcNodedir()]) {
    if (v) c.push(join(v, "include", "node"));
  }
  c.push("/usr/include/node", "/usr/local/include/node");
  // Headers node-gyp downloaded earlier, if any.
  const ver = process.versions.node;
  c.push(join(homedir(), ".cache", "node-gyp", ver, "include", "node"));
  c.push(join(homedir(), ".node-gyp", ver, "include", "node"));
  return c;
}

function readNpmrcNodedir() {
  for (const f of [join(root, ".npmrc"), join(homedir(), ".npmrc")]) {
    try {
      const m = /^\s*nodedir\s*=\s*(.+?)\s*$/m.exec(readFileSync(f, "utf8"));
      if (m) return m[1];
    } catch {}
  }
  return undefined;
}

const include = includeCandidates().find((d) => existsSync(join(d, "node_api.h")) && existsSync(join(d, "uv.h")));
if (include === undefined) {
  skip(
    "Node's C headers (node_api.h, uv.h) were not found; install them (Debian: apt-get install libnode-dev, " +
      "or use an official Node tarball) or set NODE_INCLUDE_DIR",
  );
}

function works(cc) {
  return spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0;
}
const cc = [process.env.CC, "cc", "gcc", "clang"].find((c) => c && works(c));
if (cc === undefined) skip("no C compiler found (Debian: apt-get install gcc; or set CC)");

mkdirSync(outDir, { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
const cmd = [
  "-O2",
  "-g",
  "-std=gnu11",
  "-Wall",
  "-Wextra",
  "-Wno-unused-parameter",
  "-fPIC",
  "-pthread",
  "-shared",
  "-fvisibility=hidden",
  `-I${include}`,
  src,
  "-o",
  tmp,
];
log(`${cc} ${cmd.join(" ")}`);
const r = spawnSync(cc, cmd, { encoding: "utf8" });
if (r.stdout) process.stdout.write(r.stdout);
if (r.stderr) process.stderr.write(r.stderr);
if (r.status !== 0) skip(`${cc} failed (exit ${r.status ?? r.signal})`);
renameSync(tmp, out);

// Load it once: a binary that does not load is as good as none.
try {
  const m = { exports: {} };
  process.dlopen(m, out);
  if (typeof m.exports.open !== "function") throw new Error("exports no open()");
} catch (err) {
  skip(`the built addon does not load: ${err.message}`);
}
log(`built ${out}`);

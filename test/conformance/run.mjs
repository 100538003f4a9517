// Runs Node's own net/http/dgram test files against a NodeStack (see shim.ts), each in a child
// process, several at once. Used by conformance.test.ts and by hand:
//
//   node test/conformance/run.mjs                 every selected file, against the stack
//   node test/conformance/run.mjs --reference     the same files against real node:net (no shim)
//   node test/conformance/run.mjs --expected      only the files of expected-pass.txt
//   node test/conformance/run.mjs --update        rewrite expected-pass.txt from this run
//   node test/conformance/run.mjs test-net-foo.js ...   just these
//   -j N: children at once (default: 2 per core); -v: print the output of failures
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheDir, fetchNodeTests } from "./fetch.mjs";
import { selectFiles } from "./select.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const EXPECTED = join(here, "expected-pass.txt");

/** The entries of expected-pass.txt: `{ file, slow }` (a line is `name` or `name slow`). */
export function expectedEntries() {
  return readFileSync(EXPECTED, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "")
    .map((l) => {
      const [file, tag] = l.split(/\s+/);
      return { file, slow: tag === "slow" };
    });
}

/** The file names listed in expected-pass.txt. */
export function expectedFiles() {
  return expectedEntries().map((e) => e.file);
}

/** A file taking longer than this against the stack is marked `slow` by --update. */
const SLOW_MS = 1000;

/** Bundle shim.ts (and the stack) into one CommonJS file for `node --require`. */
export async function buildShim() {
  const { build } = await import("esbuild");
  const out = join(cacheDir(), `shim-${process.pid}.cjs`);
  mkdirSync(dirname(out), { recursive: true });
  await build({
    entryPoints: [join(here, "shim.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: out,
    logLevel: "error",
  });
  return out;
}

function flagsOf(text) {
  const m = /^\/\/ Flags:(.*)$/m.exec(text);
  return m === null ? [] : m[1].trim().split(/\s+/).filter(Boolean);
}

/**
 * Run `files` (names in test/parallel) with `shim` preloaded (null: real node). Resolves to a Map
 * name -> { status: "pass" | "fail" | "skip" | "timeout", ms, output }.
 */
export async function runFiles(testDir, files, { shim, concurrency, timeoutMs = 20_000 } = {}) {
  const jobs = concurrency ?? Math.max(2, availableParallelism() * 2);
  const tmpRoot = mkdtempSync(join(tmpdir(), "netstack-conformance-"));
  const results = new Map();
  let next = 0;
  const worker = async (slot) => {
    while (next < files.length) {
      const name = files[next++];
      const path = join(testDir, "parallel", name);
      const flags = flagsOf(readFileSync(path, "utf8"));
      const args = [...(shim ? ["--require", shim] : []), ...flags, path];
      const t0 = performance.now();
      const r = await new Promise((resolve) => {
        const child = spawn(process.execPath, args, {
          cwd: dirname(testDir),
          env: { ...process.env, NODE_SKIP_FLAG_CHECK: "1", NODE_TEST_DIR: tmpRoot, TEST_THREAD_ID: String(slot) },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        const keep = (d) => {
          if (output.length < 100_000) output += d;
        };
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, timeoutMs);
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          let status = code === 0 && signal === null ? "pass" : "fail";
          if (timedOut) status = "timeout";
          else if (status === "pass" && /^1\.\.0 # Skipped/m.test(output)) status = "skip";
          resolve({ status, code, signal, output });
        });
      });
      r.ms = Math.round(performance.now() - t0);
      results.set(name, r);
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, (_, i) => worker(i)));
  } finally {
    rmSync(tmpRoot, { recursive: true, force: true });
  }
  return results;
}

async function main(argv) {
  const got = fetchNodeTests();
  if ("skip" in got) {
    console.error(`skipped: ${got.skip}`);
    return 0;
  }
  const opt = (f) => argv.includes(f);
  const j = argv.indexOf("-j");
  const concurrency = j >= 0 ? Number(argv[j + 1]) : undefined;
  const named = argv.filter((a, i) => /^test-.*\.m?js$/.test(a) && argv[i - 1] !== "-j");
  const { files, excluded } = selectFiles(got.dir);
  const chosen = named.length > 0 ? named : opt("--expected") ? expectedFiles() : files;
  const shim = opt("--reference") ? null : await buildShim();
  const t0 = performance.now();
  let results;
  try {
    results = await runFiles(got.dir, chosen, { shim, concurrency });
  } finally {
    if (shim) rmSync(shim, { force: true });
  }
  const by = { pass: [], fail: [], skip: [], timeout: [] };
  for (const [name, r] of [...results].sort()) {
    by[r.status].push(name);
    if (r.status !== "pass" && r.status !== "skip") {
      console.log(`${r.status.toUpperCase()} ${name} (${r.ms} ms)`);
      if (opt("-v")) console.log(r.output.split("\n").slice(0, 40).join("\n"));
    }
  }
  console.log(
    `node ${got.version} tests, ${opt("--reference") ? "real node:net" : "stack"}: ${chosen.length} files` +
      ` (${excluded.length} left out by select.mjs): ${by.pass.length} pass, ${by.fail.length} fail,` +
      ` ${by.timeout.length} timeout, ${by.skip.length} skip, in ${Math.round((performance.now() - t0) / 1000)} s`,
  );
  if (opt("--update")) {
    const head = readFileSync(EXPECTED, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("#"))
      .join("\n");
    const lines = by.pass.map((n) => (results.get(n).ms > SLOW_MS ? `${n} slow` : n));
    writeFileSync(EXPECTED, `${head}\n${lines.join("\n")}\n`);
    console.log(`wrote ${by.pass.length} files to ${EXPECTED}`);
  }
  if (opt("--json"))
    writeFileSync(argv[argv.indexOf("--json") + 1], JSON.stringify(Object.fromEntries(Object.entries(by)), null, 1));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));

/**
 * The fuzz runner: `npm run fuzz -- [--target NAME|all] [--seconds N | --count N] [--seed S] [--list]`.
 * `cli` (fuzz/cli.ts) is a target too, run after the others (it is asynchronous).
 *
 * Runs each chosen target for N seconds or N executions (each target gets the whole budget), from
 * seed S (default 1: the same command finds the same things), and prints per target the
 * executions, frames per second and findings. Every distinct finding's first input is written to
 * fuzz/regressions/<target>-<hash>.bin, which `fuzz.test.ts` replays from then on. Exit status 1
 * when something was found.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fixtureFrames, REGRESSIONS_DIR } from "./corpus.ts";
import { type Finding, fuzzTarget, reproducerName } from "./engine.ts";
import { hex } from "./target.ts";
import { TARGETS, targetByName } from "./targets/index.ts";
import { knownHits } from "./targets/stack.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "all" },
    seconds: { type: "string" },
    count: { type: "string" },
    seed: { type: "string", default: "1" },
    list: { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log("usage: npm run fuzz -- [--target NAME|all] [--seconds N | --count N] [--seed S] [--list] [--no-write]");
  process.exit(0);
}
if (values.list) {
  for (const t of TARGETS) console.log(`${t.name.padEnd(10)} ${t.description}`);
  console.log(
    `${"cli".padEnd(10)} argument vectors through src/node/cli.ts's main: exit 0/1/2, no stack trace, one-line usage errors`,
  );
  process.exit(0);
}

const names = values.target === "all" ? [...TARGETS.map((t) => t.name), "cli"] : values.target.split(",");
const runCliTarget = names.includes("cli");
const chosen = names
  .filter((n) => n !== "cli")
  .map((n) => {
    const t = targetByName(n);
    if (t === undefined) {
      console.error(`unknown target ${n}; known: ${TARGETS.map((x) => x.name).join(", ")}`);
      process.exit(2);
    }
    return t;
  });
const seed = Number(values.seed) >>> 0;
const count = values.count !== undefined ? Number(values.count) : undefined;
const seconds = values.seconds !== undefined ? Number(values.seconds) : count === undefined ? 10 : undefined;

const frames = fixtureFrames();
console.log(
  `fuzz: seed ${seed}, ${count !== undefined ? `${count} executions` : `${seconds} s`} per target, ${frames.length} fixture frames`,
);

function save(f: Finding): string {
  const file = join(REGRESSIONS_DIR, reproducerName(f));
  if (!values["no-write"]) {
    mkdirSync(REGRESSIONS_DIR, { recursive: true });
    if (!existsSync(file)) writeFileSync(file, f.input);
  }
  return file;
}

function pct(a: number, b: number): string {
  return `${b === 0 ? 0 : Math.round((100 * a) / b)}%`.padStart(4);
}

let total = 0;
for (const t of chosen) {
  const t0 = performance.now();
  const deadline = seconds !== undefined ? t0 + seconds * 1000 : Number.POSITIVE_INFINITY;
  const stats = fuzzTarget(t, { seed, count, frames, stop: () => performance.now() >= deadline });
  const dt = (performance.now() - t0) / 1000;
  const rate = Math.round(stats.frames / dt);
  const fr = stats.frames !== stats.executions ? `, ${stats.frames} frames` : "";
  console.log(
    `${t.name.padEnd(10)} ${String(stats.executions).padStart(10)} executions${fr} in ${dt.toFixed(1)} s ` +
      `(${String(rate).padStart(7)} frames/s), ${pct(stats.parsedOk, stats.executions)} parsed ok, corpus ${stats.corpus}, ${stats.findings.length} findings`,
  );
  for (const f of stats.findings) {
    const file = save(f);
    console.log(`  ${f.kind}: ${f.message}`);
    console.log(`    seen ${f.count}x; reproducer ${file}${values["no-write"] ? " (not written)" : ""}`);
    console.log(
      `    input ${hex(f.input.subarray(0, 64))}${f.input.length > 64 ? "..." : ""} (${f.input.length} bytes)`,
    );
  }
  if (t.name === "stack" && Object.keys(knownHits).length > 0) {
    console.log(`  known open findings tolerated (see fuzz/regressions/OPEN): ${JSON.stringify(knownHits)}`);
  }
  total += stats.findings.length;
}
if (runCliTarget) {
  // The command line (fuzz/cli.ts): argument vectors through src/node/cli.ts's main, in process.
  const { cliKnownHits, fuzzCli } = await import("./cli.ts");
  const n = count ?? Math.max(1, Math.round((seconds ?? 10) * 500));
  const t0 = performance.now();
  const s = await fuzzCli(seed, n);
  const dt = (performance.now() - t0) / 1000;
  console.log(
    `${"cli".padEnd(10)} ${String(s.executions).padStart(10)} executions in ${dt.toFixed(1)} s, exit codes ${JSON.stringify(s.codes)}, ${s.findings.length} findings`,
  );
  if (Object.keys(cliKnownHits).length > 0)
    console.log(`  known open findings tolerated: ${JSON.stringify(cliKnownHits)}`);
  for (const f of s.findings) console.log(`  ${f.message}\n    argv ${JSON.stringify(f.argv)}`);
  total += s.findings.length;
}
process.exit(total > 0 ? 1 : 0);

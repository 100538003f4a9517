#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test (Node 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs [substring filter...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.ts")) files.push(relative(root, p));
  }
}
for (const d of ["src", "test", "fuzz"]) {
  try {
    walk(join(root, d));
  } catch {}
}
const filters = process.argv.slice(2);
const chosen = files.sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (chosen.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", ...chosen], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);

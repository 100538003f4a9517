// The platform-neutral core (everything under src/ except src/node/ and src/browser/) must not touch
// Node or the host's clock, timers or randomness: those come through the injected Bindings (src/host/
// and src/http/ get them from a HostPlatform). src/browser/ may use the browser's globals, but no
// Node module and nothing from src/node/.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;

function coreFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      const rel = relative(root, p);
      if (rel === join("src", "node") || rel === join("src", "browser")) continue;
      coreFiles(p, out);
    } else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const FORBIDDEN: [RegExp, string][] = [
  [/from\s+["']node:/, "imports node:*"],
  [/import\s*\(\s*["']node:/, "imports node:*"],
  [/require\s*\(/, "uses require()"],
  [/\bBuffer\b/, "uses Node's Buffer"],
  [/\bDate\b/, "uses Date"],
  [/\bset(Timeout|Interval|Immediate)\b/, "uses host timers"],
  [/\bperformance\b/, "uses performance"],
  [/\bMath\.random\b/, "uses Math.random"],
  [/\bprocess\./, "uses process"],
  [/from\s+["'][^"']*\/node\//, "imports from src/node/"],
];

/** Remove comments so prose mentioning e.g. "Date" does not trip the check. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

test("core files use no Node API, host clock, host timers or Math.random", () => {
  const files = coreFiles(join(root, "src"));
  assert.ok(files.length > 5, "found the core files");
  const problems: string[] = [];
  for (const f of files) {
    const src = stripComments(readFileSync(f, "utf8"));
    for (const [re, what] of FORBIDDEN) if (re.test(src)) problems.push(`${relative(root, f)} ${what}`);
  }
  assert.deepEqual(problems, []);
});

test("the purity check catches a forbidden use", () => {
  const bad = stripComments('import x from "node:fs";\nconst t = Date.now();');
  assert.ok(FORBIDDEN.some(([re]) => re.test(bad)));
  assert.ok(!FORBIDDEN.some(([re]) => re.test(stripComments("// Date and setTimeout in a comment\nconst a = 1;"))));
});

test("src/browser imports no Node module and nothing from src/node", () => {
  const dir = join(root, "src", "browser");
  const problems: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
    const src = stripComments(readFileSync(join(dir, name), "utf8"));
    for (const [re, what] of FORBIDDEN.filter(
      ([, w]) => w.includes("import") || w.includes("require") || w.includes("Buffer"),
    )) {
      if (re.test(src)) problems.push(`src/browser/${name} ${what}`);
    }
  }
  assert.deepEqual(problems, []);
});

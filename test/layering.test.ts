// The layers of the core and the arrows allowed between them (docs/ARCHITECTURE.md): wire/ reads
// only packet/ and the address types; device/ knows nothing of the IP layer above it, nor of host
// configuration or the transports; hostconf/ is driven through its context and never reaches into
// device/ or the IP layer; nothing that ships imports the testing toolkit; the core imports nothing
// of node/ or browser/; and no import cycle ties two core files together. Test files (*.test.ts)
// are free to import what they test with.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;
const src = join(root, "src");

/** Every non-test TypeScript file under src/, as a path relative to src/ ("ip/ipv4.ts"). */
function sources(dir = src, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(relative(src, p));
  }
  return out;
}

/** The relative imports of a source file (`import`, `export ... from`, `import()`), as src/-relative paths. */
function importsOf(file: string, text = readFileSync(join(src, file), "utf8")): string[] {
  const re = /(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;
  const out: string[] = [];
  for (const m of text.matchAll(re)) out.push(relative(src, resolve(dirname(join(src, file)), m[1] ?? m[2])));
  return out;
}

/** The IP layer's modules (the rest of ip/ holds algorithms and data structures any layer may use). */
const IP_LAYER = new Set([
  "ip/addresses.ts",
  "ip/icmpv4.ts",
  "ip/icmpv6.ts",
  "ip/ipv4.ts",
  "ip/ipv6.ts",
  "ip/multicast.ts",
  "ip/ndp.ts",
  "ip/output.ts",
  "ip/sas.ts",
  "ip/state.ts",
]);

/** Entry points of what the package ships (package.json "exports" and "bin"), testing/ aside. */
const SHIPPED_ENTRIES = ["index.ts", "node/index.ts", "node/cli.ts"];

const files = sources();
const graph = new Map(files.map((f) => [f, importsOf(f)]));

/** The files reachable from the shipped entry points. */
function shipped(): Set<string> {
  const seen = new Set<string>();
  const todo = [...SHIPPED_ENTRIES];
  while (todo.length > 0) {
    const f = todo.pop() as string;
    if (seen.has(f) || !graph.has(f)) continue;
    seen.add(f);
    todo.push(...(graph.get(f) ?? []));
  }
  return seen;
}

/** Each rule: which files it covers, and what they may not import (a message, or null when allowed). */
const RULES: { name: string; covers: (f: string) => boolean; check: (target: string) => string | null }[] = [
  {
    name: "wire/ imports only wire/, packet/ and ip/addr.ts",
    covers: (f) => f.startsWith("wire/"),
    check: (t) => (t.startsWith("wire/") || t.startsWith("packet/") || t === "ip/addr.ts" ? null : "outside its layer"),
  },
  {
    name: "device/ never imports the IP layer, hostconf/ or the transports",
    covers: (f) => f.startsWith("device/"),
    check: (t) =>
      IP_LAYER.has(t) || t.startsWith("hostconf/") || t.startsWith("transport/") || t === "stack.ts"
        ? "a layer above it"
        : null,
  },
  {
    name: "hostconf/ never imports device/, the IP layer or the Stack (it is driven through HostconfContext)",
    covers: (f) => f.startsWith("hostconf/"),
    check: (t) =>
      t.startsWith("device/") || IP_LAYER.has(t) || t === "stack.ts" || t === "core.ts" ? "the Stack's side" : null,
  },
  {
    name: "the core imports nothing of node/ or browser/",
    covers: (f) => !f.startsWith("node/") && !f.startsWith("browser/"),
    check: (t) => (t.startsWith("node/") || t.startsWith("browser/") ? "a host binding" : null),
  },
];

test("layering: each layer imports only what it may", () => {
  const problems: string[] = [];
  for (const [f, targets] of graph) {
    for (const rule of RULES) {
      if (!rule.covers(f)) continue;
      for (const t of targets) {
        const why = rule.check(t);
        if (why !== null) problems.push(`${f} -> ${t} (${why}; ${rule.name})`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("layering: nothing the package ships imports testing/ (the Stack implements no testing interface)", () => {
  const reach = shipped();
  assert.ok(reach.has("stack.ts") && reach.has("ip/ipv4.ts") && reach.has("node/node-stack.ts"), "found the graph");
  const problems: string[] = [];
  for (const f of reach) {
    if (f.startsWith("testing/")) {
      problems.push(`${f} is reachable from ${SHIPPED_ENTRIES.join(", ")}`);
      continue;
    }
    for (const t of graph.get(f) ?? []) if (t.startsWith("testing/")) problems.push(`${f} -> ${t}`);
  }
  assert.deepEqual(problems, []);
});

/** Strongly connected components of more than one file (Tarjan). */
function cycles(nodes: string[]): string[][] {
  const within = new Set(nodes);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

test("layering: no import cycle among the core's files (type imports count)", () => {
  const core = files.filter((f) => !f.startsWith("node/") && !f.startsWith("browser/"));
  assert.ok(core.length > 50, "found the core files");
  assert.deepEqual(cycles(core), []);
});

test("layering: the checks see what they look for", () => {
  // A wire module reaching into the IP layer, and a device module importing ip/ipv4.ts, are caught.
  const wire = RULES[0];
  const device = RULES[1];
  assert.equal(wire.check(importsOf("wire/x.ts", 'import { Ipv4 } from "../ip/version.ts";')[0]), "outside its layer");
  assert.equal(
    device.check(importsOf("device/x.ts", 'import type { Ipv4Layer } from "../ip/ipv4.ts";')[0]),
    "a layer above it",
  );
  assert.equal(device.check("ip/addr.ts"), null);
  graph.set("zz/a.ts", ["zz/b.ts"]);
  graph.set("zz/b.ts", ["zz/a.ts"]);
  assert.deepEqual(cycles(["zz/a.ts", "zz/b.ts"]), [["zz/a.ts", "zz/b.ts"]]);
  graph.delete("zz/a.ts");
  graph.delete("zz/b.ts");
});

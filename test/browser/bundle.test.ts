// The core runs outside Node: the public barrels bundle for the browser (esbuild, platform "browser")
// without any Node built-in, and the bundle runs two stacks talking TCP in a bare JavaScript realm
// (node:vm context) that has no Node APIs, no timers and no `process`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createContext, runInContext } from "node:vm";
import { build } from "esbuild";

const entry = fileURLToPath(new URL("./entry.ts", import.meta.url));

test("the core bundles for the browser with no Node built-ins and runs in a bare realm", async () => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "netstackBundle",
    write: false,
    logLevel: "silent",
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(
    inputs.some((p) => p.endsWith("src/stack.ts")),
    "the Stack is in the bundle",
  );
  assert.ok(!inputs.some((p) => p.startsWith("node:") || p.includes("src/node/")), "no Node module in the bundle");
  const code = result.outputFiles[0].text;
  // A realm with only the ECMAScript globals plus the two encoders the entry uses.
  const realm = createContext({ TextEncoder, TextDecoder });
  assert.equal(
    runInContext("typeof setTimeout + typeof process + typeof Buffer", realm),
    "undefinedundefinedundefined",
  );
  runInContext(code, realm);
  assert.equal(runInContext("netstackBundle.run()", realm), "hello from a bare realm");
});

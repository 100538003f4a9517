/**
 * Node's own net/http/dgram test files (test/parallel of the Node release Debian packages for
 * Node 20) run against a NodeStack (shim.ts swaps node:net / node:dgram for the stack's), each in a
 * child process. Every file of expected-pass.txt must pass (about 80 s for all of them, six at a
 * time); NETSTACK_CONFORMANCE=quick leaves out those marked `slow` there (they wait for keep-alive
 * or idle timeouts). Skips, with the reason,
 * when the tests cannot be fetched (fetch.mjs). `node test/conformance/run.mjs` runs every selected
 * file and reports the others.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
// @ts-expect-error: plain JavaScript modules without declarations
import { fetchNodeTests } from "./fetch.mjs";
// @ts-expect-error: plain JavaScript modules without declarations
import { buildShim, expectedEntries, runFiles } from "./run.mjs";

type Entry = { file: string; slow: boolean };
type Result = { status: string; output: string; ms: number };

const got = fetchNodeTests() as { dir: string; version: string } | { skip: string };
const quick = process.env.NETSTACK_CONFORMANCE === "quick";

test("conformance: Node's own net/http/dgram tests that passed still pass against the stack", {
  skip: "skip" in got ? `Node's test files unavailable: ${got.skip}` : false,
  timeout: 600_000,
}, async () => {
  const { dir } = got as { dir: string };
  const entries = (expectedEntries() as Entry[]).filter((e) => !quick || !e.slow);
  const shim = (await buildShim()) as string;
  let results: Map<string, Result>;
  try {
    results = await runFiles(
      dir,
      entries.map((e) => e.file),
      { shim, concurrency: 6 },
    );
  } finally {
    rmSync(shim, { force: true });
  }
  const failed = [...results].filter(([, r]) => r.status !== "pass");
  const report = failed.map(([name, r]) => `${name}: ${r.status}\n${r.output.split("\n").slice(0, 12).join("\n")}`);
  assert.equal(
    failed.length,
    0,
    `${failed.length} of ${entries.length} files stopped passing:\n${report.join("\n\n")}`,
  );
});

// The command-line fuzz target (fuzz/cli.ts): a short seeded run of argument vectors through
// src/node/cli.ts's main, and tests that its checks catch what they claim to. The CLI writes to
// the process's stdout, so it runs in a child process (fuzz/cli-run.ts), never beside the reporter.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { Rng } from "../src/testing/rng.ts";
import { type CliFuzzStats, type CliOutcome, checkCliOutcome, nextArgv } from "./cli.ts";
import { FIXTURES_DIR } from "./corpus.ts";

const root = new URL("..", import.meta.url).pathname;

/** One child process: the seeded fuzz run and the real runs below. */
const REAL = [["decode", `${FIXTURES_DIR}/udp.pcap`], ["decode", "--bogus"], ["--version"]];
const result = JSON.parse(
  execFileSync(
    process.execPath,
    ["--import", "tsx", "fuzz/cli-run.ts", String(0x636c69), "400", JSON.stringify(REAL)],
    {
      cwd: root,
      encoding: "utf8",
    },
  )
    .trim()
    .split("\n")
    .pop() ?? "null",
) as { fuzz: CliFuzzStats; runs: CliOutcome[] };

test("cli: 400 seeded argument vectors find nothing, and reach every exit code", () => {
  const s = result.fuzz;
  assert.equal(s.executions, 400);
  const report = s.findings.map((f) => `${f.message}\n  argv ${JSON.stringify(f.argv)}`).join("\n");
  assert.equal(s.findings.length, 0, report);
  // Not every vector is rejected at the first option: successes and damaged captures happen too.
  assert.ok((s.codes[0] ?? 0) > 10, JSON.stringify(s.codes));
  assert.ok((s.codes[1] ?? 0) > 0, JSON.stringify(s.codes));
  assert.ok((s.codes[2] ?? 0) > 100, JSON.stringify(s.codes));
});

test("cli: real runs: decode of a fixture, a usage error, --version", () => {
  const [ok, bad, v] = result.runs;
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /10\.77\.0\.1\.52622 > 10\.77\.0\.2\.9999: UDP, length 14/);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "netstack decode: unknown option '--bogus' (see --help)\n");
  assert.equal(checkCliOutcome(REAL[1], bad), null);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^netstack \d+\.\d+\.\d+\n$/);
});

test("cli: the checks flag exit codes, stack traces, internal errors and multi-line usage errors", () => {
  const argv = ["decode", "x"];
  assert.match(checkCliOutcome(argv, { code: 3, stdout: "", stderr: "" }) ?? "", /exit code 3/);
  assert.match(
    checkCliOutcome(argv, { code: 1, stdout: "", stderr: "TypeError: x\n    at run (/a/b.ts:1:2)\n" }) ?? "",
    /stack trace/,
  );
  assert.match(
    checkCliOutcome(argv, { code: 1, stdout: "", stderr: "netstack decode: internal error: boom\n" }) ?? "",
    /internal error/,
  );
  assert.match(checkCliOutcome(argv, { code: 2, stdout: "", stderr: "one\ntwo\n" }) ?? "", /printed 2 lines/);
  assert.match(checkCliOutcome(argv, { code: 2, stdout: "", stderr: "no prefix\n" }) ?? "", /without the netstack/);
  assert.match(checkCliOutcome(["--help"], { code: 0, stdout: "", stderr: "" }) ?? "", /0 bytes of output/);
  // A line break inside an echoed argument must be escaped by the CLI: two lines are a finding.
  const nl = ["decode", "a\nb", "c"];
  const r = { code: 2, stdout: "", stderr: "netstack decode: expected one FILE, got 2: a\nb c\n" };
  assert.match(checkCliOutcome(nl, r) ?? "", /printed 2 lines/);
});

test("cli: argument vectors are deterministic from the seed and never give other commands arbitrary arguments", () => {
  const files = [`${FIXTURES_DIR}/tcp.pcap`, `${FIXTURES_DIR}/missing.pcap`];
  const run = (seed: number): string[][] => {
    const rng = new Rng(seed);
    return Array.from({ length: 300 }, () => nextArgv(rng, files));
  };
  assert.deepEqual(run(5), run(5));
  for (const argv of run(5)) {
    if (["serve", "fetch", "ping"].includes(argv[0])) {
      assert.equal(argv.length, 2, JSON.stringify(argv));
      assert.ok(["--help", "-h", "--no-such-option-at-all", "-Z"].includes(argv[1]), JSON.stringify(argv));
    }
  }
});

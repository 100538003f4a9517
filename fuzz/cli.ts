/**
 * Fuzzing the `netstack` command line (issue 6: "the CLI's argument parsing"): random and mutated
 * argument vectors run through `main(argv)` of src/node/cli.ts in this process, with standard
 * output and error captured. Invariants for every vector: the exit code is 0, 1 or 2; nothing on
 * stderr looks like a stack trace or an internal error; a usage error (exit 2) is exactly one line
 * `netstack[ <cmd>]: <message>`; `--help` and `--version` succeed with text on stdout.
 *
 * Only commands that parse and read files are given arbitrary arguments (`decode`); any other
 * command (serve, fetch, ping: they open TAP devices) is asked for `--help` or given an option no
 * command has, so nothing here opens a device or touches a network.
 *
 * Deterministic from a seed, like the other targets.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../src/testing/rng.ts";
import { FIXTURES_DIR, fixtureFrames, REGRESSIONS_DIR } from "./corpus.ts";
import { mutate } from "./mutate.ts";
import { pcapTarget } from "./targets/capture.ts";

type Main = (argv: string[]) => Promise<number>;

let cliMain: Main | null = null;

/** Import the CLI's `main` (importing runs nothing). */
export async function loadCli(): Promise<Main> {
  if (cliMain !== null) return cliMain;
  const m = (await import("../src/node/cli.ts")) as { main: Main };
  cliMain = m.main;
  return cliMain;
}

interface Captured {
  out: string[];
  err: string[];
  restore(): void;
}

function capture(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write;
  const e = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  return {
    out,
    err,
    restore() {
      process.stdout.write = o;
      process.stderr.write = e;
    },
  };
}

/** What one run did. */
export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `netstack <argv>` in this process. */
export async function runCli(argv: string[]): Promise<CliOutcome> {
  const main = await loadCli();
  const cap = capture();
  let code: number;
  try {
    code = await main(argv);
  } finally {
    cap.restore();
  }
  return { code, stdout: cap.out.join(""), stderr: cap.err.join("") };
}

/** Findings reported and not fixed yet, tolerated (and counted) while `tolerateKnown` is on. */
export const cliOptions = { tolerateKnown: true };
export const cliKnownHits: Record<string, number> = {};

/** The invariants; null or what broke. */
export function checkCliOutcome(argv: readonly string[], r: CliOutcome): string | null {
  const show = JSON.stringify(argv).slice(0, 200);
  if (r.code !== 0 && r.code !== 1 && r.code !== 2) return `${show}: exit code ${r.code}`;
  if (/internal error/i.test(r.stderr)) return `${show}: ${r.stderr.trim().split("\n")[0]}`;
  if (/^\s+at .+[(:]\d+/m.test(r.stderr) || /\n\s+at /.test(r.stderr)) return `${show}: a stack trace on stderr`;
  if (r.code === 2) {
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    if (lines.length !== 1) {
      return `${show}: a usage error printed ${lines.length} lines on stderr`;
    }
    if (!/^netstack( [a-z]+)?: \S/.test(lines[0]))
      return `${show}: a usage error without the netstack prefix: ${lines[0]}`;
  }
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "--version") && (r.code !== 0 || r.stdout === "")) {
    return `${show}: exit ${r.code} with ${r.stdout.length} bytes of output`;
  }
  return null;
}

/** Commands given arbitrary arguments: they only parse and read files. */
const SAFE = ["decode"];
/** Names that may be commands now or soon: only `--help` and unknown options reach them. */
const OTHERS = ["serve", "fetch", "ping", "help", "version", "nosuchcommand"];
const OPTIONS = ["--json", "--verify", "--help", "-h", "--version", "-v", "--", "-", "--tap", "--count", "-x", "--"];

const WEIRD = [
  "",
  " ",
  "-",
  "--",
  "---",
  "--json=1",
  "--verify=false",
  "--=",
  "-hx",
  "-\u0000",
  "\u00e9\u00e8",
  "\ud83d\ude00",
  "a".repeat(300),
  "--".repeat(50),
  "../../../../etc/passwd",
  "/dev/null",
  "/proc/self/cmdline",
  "%s%n",
  "$HOME",
  "$(echo hi)",
  "\n",
  "\t--json",
];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

function randomString(rng: Rng): string {
  const n = rng.int(12);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.8) ? 32 + rng.int(95) : rng.int(0x800));
  return s;
}

/** Temporary directories made by `cliFiles` (removed by `fuzzCli` when done). */
const made: string[] = [];

/** Files to hand `decode`: real captures, damaged ones, a directory, a missing path. */
export function cliFiles(rng: Rng, damaged = 4): string[] {
  const files = ["pcap", "pcapng"].map((e) => join(FIXTURES_DIR, `tcp.${e}`));
  files.push(join(FIXTURES_DIR, "ndp.pcap"), REGRESSIONS_DIR, join(FIXTURES_DIR, "no-such-file.pcap"));
  const dir = mkdtempSync(join(tmpdir(), "netstack-cli-fuzz-"));
  made.push(dir);
  const seeds = pcapTarget.seedsFromFrames(fixtureFrames());
  for (let i = 0; i < damaged; i++) {
    const f = join(dir, `damaged-${i}.pcap`);
    writeFileSync(f, mutate(rng, pick(rng, seeds), pcapTarget, seeds));
    files.push(f);
  }
  const empty = join(dir, "empty.pcap");
  writeFileSync(empty, new Uint8Array(0));
  files.push(empty);
  return files;
}

/** One argument vector. */
export function nextArgv(rng: Rng, files: readonly string[]): string[] {
  const r = rng.int(10);
  if (r === 0)
    return Array.from({ length: rng.int(4) }, () => (rng.chance(0.5) ? pick(rng, WEIRD) : randomString(rng)));
  if (r === 1) {
    const cmd = pick(rng, OTHERS);
    return [cmd, pick(rng, ["--help", "-h", "--no-such-option-at-all", "-Z"])];
  }
  if (r === 2)
    return [
      pick(rng, ["--help", "-h", "help", "--version", "-v", "--nope", "-q"]),
      ...(rng.chance(0.3) ? [pick(rng, [...SAFE, ...OTHERS])] : []),
    ];
  const argv = [pick(rng, SAFE)];
  for (let n = rng.int(5); n > 0; n--) {
    const k = rng.int(6);
    if (k <= 1) argv.push(pick(rng, files));
    else if (k === 2) argv.push(pick(rng, OPTIONS));
    else if (k === 3) argv.push(pick(rng, WEIRD));
    else if (k === 4) argv.push(`--${randomString(rng)}`);
    else argv.push(randomString(rng));
  }
  // A mutation of a good vector: swap, duplicate, drop.
  if (argv.length > 1 && rng.chance(0.3)) {
    const i = 1 + rng.int(argv.length - 1);
    if (rng.chance(0.5)) argv.splice(i, 0, argv[i]);
    else argv.splice(i, 1);
  }
  return argv;
}

export interface CliFuzzStats {
  executions: number;
  /** Exit codes seen: how many of each. */
  codes: Record<number, number>;
  findings: { message: string; argv: string[] }[];
}

/** Run `count` argument vectors from `seed`. */
export async function fuzzCli(seed: number, count: number): Promise<CliFuzzStats> {
  const rng = new Rng(seed);
  const files = cliFiles(rng);
  const stats: CliFuzzStats = { executions: 0, codes: {}, findings: [] };
  const seen = new Set<string>();
  try {
    await loop();
  } finally {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  }
  return stats;

  async function loop(): Promise<void> {
    for (let i = 0; i < count; i++) {
      const argv = nextArgv(rng, files);
      let m: string | null;
      try {
        const r = await runCli(argv);
        stats.codes[r.code] = (stats.codes[r.code] ?? 0) + 1;
        m = checkCliOutcome(argv, r);
      } catch (e) {
        m = `${JSON.stringify(argv)}: main threw ${String(e)}`;
      }
      stats.executions++;
      if (m !== null) {
        const key = m.replace(/\[.*?\]: /, "").replace(/\d+/g, "N");
        if (!seen.has(key)) {
          seen.add(key);
          stats.findings.push({ message: m, argv });
        }
      }
    }
  }
}

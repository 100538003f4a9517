/**
 * `node --import tsx fuzz/cli-run.ts SEED COUNT [ARGV_JSON]`: the CLI fuzz loop, then one run of
 * `netstack ARGV` for each argument vector in ARGV_JSON (an array of arrays), in a process of its
 * own, printing `{ fuzz, runs }` as one JSON line. fuzz/cli.test.ts uses it so that the CLI's
 * writes to stdout never mix with the test reporter's.
 */
import { cliKnownHits, fuzzCli, runCli } from "./cli.ts";

const [seed, count, argvs] = process.argv.slice(2);
const fuzz = await fuzzCli(Number(seed) >>> 0, Number(count));
const runs = [];
for (const argv of JSON.parse(argvs ?? "[]") as string[][]) runs.push(await runCli(argv));
process.stdout.write(`${JSON.stringify({ fuzz: { ...fuzz, known: cliKnownHits }, runs })}\n`);

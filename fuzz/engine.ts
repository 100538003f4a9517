/**
 * The fuzz loop, independent of files and clocks: build a target's corpus, run inputs drawn from
 * one seeded `Rng`, and collect findings (an exception escaping the target, or an invariant it
 * reports broken), each with the first input that produced it. `fuzz/index.ts` adds the clock,
 * the fixtures and the reproducer files; `fuzz.test.ts` runs a short loop of each target.
 */
import { Rng } from "../src/testing/rng.ts";
import { nextInput } from "./mutate.ts";
import { type FuzzTarget, parseStats } from "./target.ts";

/** One distinct failure and the first input that showed it. */
export interface Finding {
  target: string;
  /** "exception" (escaped the target) or "invariant" (the target reported one broken). */
  kind: "exception" | "invariant";
  message: string;
  input: Uint8Array;
  /** How many inputs showed this same message. */
  count: number;
}

/** Run one input; null, or the finding's kind and message. */
export function runOne(target: FuzzTarget, input: Uint8Array): { kind: Finding["kind"]; message: string } | null {
  try {
    const m = target.run(input);
    return m === null ? null : { kind: "invariant", message: m };
  } catch (e) {
    const err = e as Error;
    const at = (err?.stack ?? "").split("\n").find((l) => l.includes("/src/")) ?? "";
    return { kind: "exception", message: `${err?.name ?? "Error"}: ${err?.message ?? String(e)} ${at.trim()}` };
  }
}

/** The corpus of a target: seeds from real frames, then seeds made with the builders. */
export function buildCorpus(target: FuzzTarget, frames: readonly Uint8Array[], seed: number): Uint8Array[] {
  return [...target.seedsFromFrames(frames), ...target.builtSeeds(new Rng(seed ^ 0x5eed))];
}

export interface FuzzOptions {
  seed: number;
  /** Stop after this many executions... */
  count?: number;
  /** ...or when this returns true (checked every 256 executions). */
  stop?: () => boolean;
  /** Frames to cut seeds from. */
  frames: readonly Uint8Array[];
  /** Called for each new distinct finding. */
  onFinding?: (f: Finding) => void;
}

export interface FuzzStats {
  target: string;
  executions: number;
  corpus: number;
  findings: Finding[];
  /** Inputs a parser accepted (the rest were rejected with a parse error, as most mutants are). */
  parsedOk: number;
  /** Frames (or files) pushed through: executions times frames per input. */
  frames: number;
}

/** Fuzz one target; deterministic for a given seed and count. */
export function fuzzTarget(target: FuzzTarget, opts: FuzzOptions): FuzzStats {
  const corpus = buildCorpus(target, opts.frames, opts.seed);
  const rng = new Rng(opts.seed);
  const found = new Map<string, Finding>();
  parseStats.ok = 0;
  // Every seed runs as it is first: they must all pass.
  let n = 0;
  let frames = 0;
  const check = (input: Uint8Array): void => {
    n++;
    frames += target.framesOf?.(input) ?? 1;
    const r = runOne(target, input);
    if (r === null) return;
    // Findings with the same message (numbers stripped) count as one.
    const key = `${r.kind} ${r.message.replace(/\d+/g, "N")}`;
    const f = found.get(key);
    if (f !== undefined) {
      f.count++;
      return;
    }
    const nf: Finding = { target: target.name, kind: r.kind, message: r.message, input: input.slice(), count: 1 };
    found.set(key, nf);
    opts.onFinding?.(nf);
  };
  for (const s of corpus) check(s);
  const max = opts.count ?? Number.POSITIVE_INFINITY;
  while (n < max) {
    if ((n & 255) === 0 && opts.stop?.()) break;
    const k = target.join !== undefined ? (target.batch ?? 1) : 1;
    if (k <= 1) {
      check(nextInput(rng, target, corpus));
      continue;
    }
    const parts: Uint8Array[] = [];
    for (let i = 0; i < k; i++) parts.push(nextInput(rng, target, corpus));
    check(target.join!(parts));
  }
  return {
    target: target.name,
    executions: n,
    corpus: corpus.length,
    findings: [...found.values()],
    parsedOk: parseStats.ok,
    frames,
  };
}

/** FNV-1a (32-bit) of the bytes as 8 hex digits: the reproducer file's name. */
export function fnv1a(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The reproducer file name of a finding: `<target>-<hash>.bin`. */
export function reproducerName(f: { target: string; input: Uint8Array }): string {
  return `${f.target}-${fnv1a(f.input)}.bin`;
}

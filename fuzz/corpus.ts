/** Reading the real frames of test/fixtures/*.pcap (the seeds) and the reproducers of fuzz/regressions/. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readCapture } from "../src/capture/pcapng.ts";

const root = new URL("..", import.meta.url).pathname;
export const FIXTURES_DIR = join(root, "test", "fixtures");
export const REGRESSIONS_DIR = join(root, "fuzz", "regressions");

/** Every frame of every capture in test/fixtures (sorted by file name, so the order is stable). */
export function fixtureFrames(dir = FIXTURES_DIR): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return frames;
  }
  for (const name of names) {
    if (!name.endsWith(".pcap") && !name.endsWith(".pcapng")) continue;
    const r = readCapture(new Uint8Array(readFileSync(join(dir, name))));
    for (const rec of r.records) frames.push(rec.data.slice());
  }
  return frames;
}

/** A reproducer file: its target (the name before the last "-") and its input. */
export interface Reproducer {
  file: string;
  target: string;
  input: Uint8Array;
}

/** Every `<target>-<hash>.bin` in fuzz/regressions. */
export function reproducers(dir = REGRESSIONS_DIR): Reproducer[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(".bin"))
    .map((file) => ({
      file,
      target: file.slice(0, file.lastIndexOf("-")),
      input: new Uint8Array(readFileSync(join(dir, file))),
    }));
}

/**
 * Reproducers of findings not fixed yet, from fuzz/regressions/OPEN (one file name per line, then
 * whitespace and a note; `#` starts a comment). The test replays them as `todo`.
 */
export function openFindings(dir = REGRESSIONS_DIR): Map<string, string> {
  const open = new Map<string, string>();
  let text = "";
  try {
    text = readFileSync(join(dir, "OPEN"), "utf8");
  } catch {
    return open;
  }
  for (const line of text.split("\n")) {
    const t = line.replace(/#.*/, "").trim();
    if (t === "") continue;
    const [file, ...note] = t.split(/\s+/);
    open.set(file, note.join(" "));
  }
  return open;
}

// Internet checksum over 1460 bytes (a full TCP payload), against Uint8Array.set of 1500 bytes as
// the memory-bandwidth reference measured in the same run. Also at offset 54 of a frame buffer (the
// payload of an Ethernet+IPv4+TCP frame: not 4-byte aligned) and at an odd offset, and the
// textbook RFC 1071 loop (one 16-bit word per step) for scale.
import { checksum } from "../src/wire/checksum.ts";
import { fmt, row, runBench, table } from "./util.ts";

const OPS = 1000;
/** Issue 2's target. */
const TARGET_GBPS = 8;

/** RFC 1071 section 4.1, as usually transcribed: a word per step, carries folded at the end. */
function textbook(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  let i = off;
  const end = off + len - 1;
  for (; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < off + len) s += b[i] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export async function benchChecksum(): Promise<void> {
  const frame = new Uint8Array(1600);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 131 + 7) & 0xff;
  const data = frame.slice(0, 1460);
  if (checksum(frame, 55, 1460) !== textbook(frame, 55, 1460) || checksum(data, 0, 1460) !== textbook(data, 0, 1460)) {
    throw new Error("checksum disagrees with the textbook loop");
  }
  const src = new Uint8Array(1500);
  const dst = new Uint8Array(1500);
  let sink = 0;
  const r = await runBench([
    {
      name: "checksum 1460 B",
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s ^= checksum(data, 0, 1460);
        sink ^= s;
      },
    },
    {
      name: "checksum 1460 B at frame offset 54",
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s ^= checksum(frame, 54, 1460);
        sink ^= s;
      },
    },
    {
      name: "checksum 1460 B at odd offset 55",
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s ^= checksum(frame, 55, 1460);
        sink ^= s;
      },
    },
    {
      name: "textbook RFC 1071 loop 1460 B",
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let i = 0; i < OPS; i++) s ^= textbook(data, 0, 1460);
        sink ^= s;
      },
    },
    {
      name: "Uint8Array.set 1500 B (reference)",
      ops: OPS,
      fn: () => {
        for (let i = 0; i < OPS; i++) dst.set(src);
      },
    },
  ]);
  const s = row(r, "Uint8Array.set 1500 B (reference)");
  const rows: string[][] = [];
  for (const name of [
    "checksum 1460 B",
    "checksum 1460 B at frame offset 54",
    "checksum 1460 B at odd offset 55",
    "textbook RFC 1071 loop 1460 B",
  ]) {
    const c = row(r, name);
    const gbps = (c.hz * 1460) / 1e9;
    const target = name.startsWith("textbook")
      ? ""
      : `>= ${TARGET_GBPS} GB/s: ${gbps >= TARGET_GBPS ? "met" : "NOT met"}`;
    rows.push([
      c.name,
      fmt(c.hz, "ops/s"),
      fmt(c.hz * 1460, "B/s"),
      `${((c.hz * 1460) / (s.hz * 1500)).toFixed(2)}x`,
      target,
    ]);
  }
  rows.push([s.name, fmt(s.hz, "ops/s"), fmt(s.hz * 1500, "B/s"), "1.00x", ""]);
  table(rows, ["task", "rate", "bytes/s", "vs set", "target"]);
  if (sink === 0.5) console.log(sink);
}

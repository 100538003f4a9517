// Internet checksum over 1460 bytes (a full TCP payload), against Uint8Array.set of 1500 bytes as
// the memory-bandwidth reference measured in the same run.
import { checksum } from "../src/wire/checksum.ts";
import { fmt, runBench, table } from "./util.ts";

export async function benchChecksum(): Promise<void> {
  const data = new Uint8Array(1460);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  const src = new Uint8Array(1500);
  const dst = new Uint8Array(1500);
  let sink = 0;
  const r = await runBench([
    [
      "checksum 1460 B",
      () => {
        sink ^= checksum(data, 0, 1460);
      },
    ],
    [
      "Uint8Array.set 1500 B (reference)",
      () => {
        dst.set(src);
      },
    ],
  ]);
  const c = r.get("checksum 1460 B")!;
  const s = r.get("Uint8Array.set 1500 B (reference)")!;
  table(
    [
      [c.name, fmt(c.hz, "ops/s"), fmt(c.hz * 1460, "B/s"), `${((c.hz * 1460) / (s.hz * 1500)).toFixed(2)}x`],
      [s.name, fmt(s.hz, "ops/s"), fmt(s.hz * 1500, "B/s"), "1.00x"],
    ],
    ["task", "rate", "bytes/s", "vs set"],
  );
  if (sink === 0.5) console.log(sink);
}

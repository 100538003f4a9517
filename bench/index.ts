// `npm run bench`: every benchmark table of the project (tinybench). Figures are also reported as
// ratios against references measured in the same run, since this machine is shared and noisy.
// Usage: npm run bench [-- <name filter>]
import { benchChecksum } from "./checksum.bench.ts";
import { benchForward } from "./forward.bench.ts";
import { benchNode } from "./node.bench.ts";
import { benchStackTcp } from "./stack-tcp.bench.ts";
import { benchTcp } from "./tcp.bench.ts";
import { benchWire } from "./wire.bench.ts";

const suites: [string, () => Promise<void>][] = [
  ["checksum", benchChecksum],
  ["wire", benchWire],
  ["tcp", benchTcp],
  ["stack-tcp", benchStackTcp],
  ["node", benchNode],
  ["forward", benchForward],
];
const filter = process.argv[2];
for (const [name, run] of suites) {
  if (filter !== undefined && !name.includes(filter)) continue;
  console.log(`\n## ${name}`);
  await run();
}

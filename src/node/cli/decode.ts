/**
 * `netstack decode [--json] [--verify] FILE`: read a pcap or pcapng capture (Ethernet link type)
 * and print one tcpdump-style line per frame, or with `--json` one JSON object per frame in the
 * shape fixed by issue 2 (see src/wire/decode.ts). `--verify` re-serializes every well-formed frame
 * from its parsed representation with the builders and byte-compares: the differing frames are
 * named on stderr and the exit code is 1.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { LINKTYPE_ETHERNET } from "../../capture/pcap.ts";
import { readCapture } from "../../capture/pcapng.ts";
import { type DecodeRecord, decodeFrame, summarize, verifyFrame } from "../../wire/decode.ts";
import type { CliCommand, CliContext } from "../cli.ts";

const HELP = `Usage: netstack decode [--json] [--verify] FILE

Print the frames of a pcap or pcapng capture (Ethernet link type), one per line.

Options:
  --json      one JSON object per frame instead of a tcpdump-style line:
              {"frame", "ok", "error"?, "eth", "arp"?, "ip"?, "tcp"?, "udp"?, "icmp"?}
  --verify    re-serialize every well-formed frame from its parsed fields and byte-compare;
              frames that differ are named on stderr and the exit code is 1
  -h, --help  show this help

Exit status: 0 success, 1 a damaged capture or a frame that re-serializes differently,
2 a usage error (unknown option, missing or unreadable file).
`;

async function run(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: "boolean", default: false },
      verify: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    ctx.out(HELP);
    return 0;
  }
  if (positionals.length === 0) ctx.usage("missing FILE (a pcap or pcapng capture; see --help)");
  if (positionals.length > 1) ctx.usage(`expected one FILE, got ${positionals.length}: ${positionals.join(" ")}`);
  const file = positionals[0];
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(e));
    return ctx.usage(`cannot read ${file}: ${why}`);
  }
  const capture = readCapture(bytes);
  // Not a capture at all: the user gave the wrong file.
  if (capture.records.length === 0 && capture.error !== null && capture.error.offset === 0) {
    return ctx.usage(`${file}: ${capture.error.message}`);
  }
  let differ = 0;
  let checked = 0;
  capture.records.forEach((rec, i) => {
    const frame = i + 1;
    if (rec.linkType !== LINKTYPE_ETHERNET) {
      const r: DecodeRecord = { frame, ok: false, error: `capture: link type ${rec.linkType} is not Ethernet` };
      ctx.out(values.json ? `${JSON.stringify(r)}\n` : `${frame} [${r.error}]\n`);
      return;
    }
    const d = decodeFrame(rec.data, frame);
    ctx.out(values.json ? `${JSON.stringify(d.record)}\n` : `${summarize(d)}\n`);
    if (values.verify && d.record.ok) {
      checked++;
      const v = verifyFrame(rec.data, d);
      if (v.kind === "differs") {
        differ++;
        ctx.err(`netstack decode: frame ${frame} re-serializes differently: ${v.message}`);
      }
    }
  });
  let status = 0;
  if (capture.error !== null) {
    ctx.err(`netstack decode: ${file}: ${capture.error.message}`);
    status = 1;
  }
  if (values.verify) {
    const n = capture.records.length;
    ctx.err(
      `netstack decode: verified ${checked} of ${n} frames (${n - checked} malformed or not Ethernet): ` +
        (differ === 0 ? "all byte-identical" : `${differ} differ`),
    );
    if (differ > 0) status = 1;
  }
  return status;
}

/** The `decode` subcommand. */
export const command: CliCommand = {
  name: "decode",
  summary: "print the frames of a pcap/pcapng capture",
  help: HELP,
  run,
};

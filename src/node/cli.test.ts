// The `netstack` CLI run as a child process through bin/netstack.js, as a user runs it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Direction, writePcap } from "../capture/pcap.ts";
import { PcapngWriter, readCapture } from "../capture/pcapng.ts";
import { decodeRecord } from "../wire/decode.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "netstack.js");
const FIXTURES = join(ROOT, "test", "fixtures");
const dir = mkdtempSync(join(tmpdir(), "netstack-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function netstack(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function frames(name: string): Uint8Array[] {
  return readCapture(new Uint8Array(readFileSync(join(FIXTURES, name)))).records.map((r) => r.data);
}

/** A usage error: exit 2, exactly one line on stderr, no stack trace. */
function assertUsage(r: Run, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test("decode prints one tcpdump-style line per frame", async () => {
  const r = await netstack("decode", join(FIXTURES, "tcp.pcap"));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 16);
  assert.equal(
    lines[0],
    "1 10.77.0.1.40866 > 10.77.0.2.8080: Flags [S], seq 813479746, win 64240, " +
      "options [mss 1460,sackOK,TS val 3185672155 ecr 0,nop,wscale 10], length 0",
  );
  assert.match(lines[15], /^16 10\.77\.0\.2\.8080 > 10\.77\.0\.1\.40866: Flags \[\.\], ack 813479834, /);
  assert.equal(r.stderr, "");
});

test("decode --json --verify prints the contract's records and verifies every frame", async () => {
  const r = await netstack("decode", "--json", "--verify", join(FIXTURES, "ping6-frag.pcap"));
  assert.equal(r.code, 0, r.stderr);
  const records = r.stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as ReturnType<typeof decodeRecord>);
  const want = frames("ping6-frag.pcap").map((f, i) => decodeRecord(f, i + 1));
  assert.deepEqual(records, want);
  assert.equal(records[0].ip?.id, 0x74c197ce);
  assert.match(r.stderr, /verified 6 of 6 frames .*all byte-identical/);
});

test("decode reads pcapng, and reports frames of other link types", async () => {
  const w = new PcapngWriter();
  const eth = w.addInterface({ name: "tap0" });
  const raw = w.addInterface({ name: "tun0", linkType: 101 });
  const arp = frames("arp.pcap");
  const file = join(dir, "mixed.pcapng");
  writeFileSync(
    file,
    Buffer.concat([
      w.packet(eth, 1n, arp[0], Direction.Outbound),
      w.packet(raw, 2n, new Uint8Array(20)),
      w.packet(eth, 3n, arp[1], Direction.Inbound),
    ]),
  );
  const r = await netstack("decode", "--json", file);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(JSON.parse(lines[0]), decodeRecord(arp[0], 1));
  assert.deepEqual(JSON.parse(lines[1]), { frame: 2, ok: false, error: "capture: link type 101 is not Ethernet" });
  assert.equal(JSON.parse(lines[2]).arp.op, 2);
});

test("--verify exits 1 and names a frame that re-serializes differently", async () => {
  const ping = frames("ping4.pcap");
  // Frame 2 has the IPv4 reserved ("evil") bit set, with its header checksum fixed: it parses,
  // but no repr keeps that bit.
  const evil = ping[0].slice();
  evil[14 + 6] |= 0x80;
  evil[14 + 10] = 0;
  evil[14 + 11] = 0;
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (evil[i] << 8) | evil[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  evil[14 + 10] = c >> 8;
  evil[14 + 11] = c & 0xff;
  const file = join(dir, "evil.pcap");
  writeFileSync(file, writePcap([{ data: ping[1] }, { data: evil }, { data: new Uint8Array(8) }]));
  const r = await netstack("decode", "--verify", file);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.trimEnd().split("\n").length, 3);
  assert.match(r.stderr, /frame 2 re-serializes differently: byte 20: re-serialized 0x40, captured 0xc0/);
  assert.match(r.stderr, /verified 2 of 3 frames \(1 malformed or not Ethernet\): 1 differ/);
  assert.doesNotMatch(r.stderr, /frame [13] /);
});

test("a damaged capture: the frames before the damage, then exit 1", async () => {
  const whole = readFileSync(join(FIXTURES, "udp.pcap"));
  const file = join(dir, "cut.pcap");
  writeFileSync(file, whole.subarray(0, whole.length - 10));
  const r = await netstack("decode", file);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.trimEnd().split("\n").length, 7);
  assert.match(r.stderr, /cut\.pcap: pcap: record 8 .*truncated/);
});

test("help", async () => {
  const top = await netstack("--help");
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^Usage: netstack <command>/);
  assert.match(top.stdout, /\n {2}decode {2}/);
  const sub = await netstack("decode", "--help");
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /^Usage: netstack decode \[--json\] \[--verify\] FILE/);
  const viaHelp = await netstack("help", "decode");
  assert.equal(viaHelp.stdout, sub.stdout);
});

test("user mistakes: one line on stderr, exit 2", async () => {
  const [unknownOpt, missing, noFile, none, unknownCmd, notCapture, two, newline] = await Promise.all([
    netstack("decode", "--frobnicate", join(FIXTURES, "arp.pcap")),
    netstack("decode", join(dir, "does-not-exist.pcap")),
    netstack("decode"),
    netstack(),
    netstack("frob"),
    netstack("decode", join(ROOT, "package.json")),
    netstack("decode", "a.pcap", "b.pcap"),
    netstack("frob\nnicate\u001b[2J"),
  ]);
  assertUsage(unknownOpt, /^netstack decode: unknown option '--frobnicate' \(see --help\)$/);
  assertUsage(missing, /^netstack decode: cannot read .*does-not-exist\.pcap: no such file$/);
  assertUsage(noFile, /^netstack decode: missing FILE/);
  assertUsage(none, /^netstack: missing command: one of decode/);
  assertUsage(unknownCmd, /^netstack: unknown command 'frob'/);
  assertUsage(notCapture, /^netstack decode: .*package\.json: capture: not a pcap or pcapng file \(starts 7b/);
  assertUsage(two, /^netstack decode: expected one FILE, got 2/);
  // An argument with control characters is echoed escaped: still one line, no terminal escapes.
  assertUsage(newline, /^netstack: unknown command 'frob\\nnicate\\u001b\[2J'/);
});

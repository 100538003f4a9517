import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { Direction } from "../capture/pcap.ts";
import { readPcapng } from "../capture/pcapng.ts";
import { memoryLinkPair } from "./link.ts";
import { PcapLink, PcapngCapture } from "./pcap-link.ts";

const dir = mkdtempSync(join(tmpdir(), "netstack-pcap-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// An ARP request "who-has 10.0.0.1 tell 10.0.0.2" from 02:00:00:00:00:02, padded to 60 bytes.
// biome-ignore format: packet bytes
const ARP_REQUEST = Uint8Array.of(
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06,
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 0, 2,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 1,
  ...new Uint8Array(18),
);
// The reply "10.0.0.1 is-at 02:00:00:00:00:01".
// biome-ignore format: packet bytes
const ARP_REPLY = Uint8Array.of(
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 0, 2,
  ...new Uint8Array(18),
);

/** A clock starting at 1700000000.123456789 s, advancing 1000.000001 µs per reading. */
function fakeClock(): () => bigint {
  let t = 1_700_000_000_123_456_789n;
  return () => {
    const now = t;
    t += 1_000_001n;
    return now;
  };
}

/** Capture an ARP exchange on both ends of a memory pair (two interfaces of one file). */
async function arpExchange(file: string): Promise<void> {
  const [a, b] = memoryLinkPair({ names: ["mem0", "mem1"] });
  const cap = new PcapngCapture({ file, clock: fakeClock() });
  const ca = cap.wrap(a);
  const cb = cap.wrap(b, { name: "peer" });
  const gotA: Uint8Array[] = [];
  ca.onFrames((f) => gotA.push(...f));
  cb.onFrames((frames) => {
    for (const f of frames) if (f[21] === 1) cb.send(ARP_REPLY);
  });
  ca.send(ARP_REQUEST);
  await tick();
  await tick();
  assert.deepEqual(gotA, [ARP_REPLY]);
  await ca.close();
  await cb.close();
  cap.close();
}

test("pcap link: both directions of two links, read back by our reader with ns timestamps", async () => {
  const file = join(dir, "arp.pcapng");
  await arpExchange(file);
  const r = readPcapng(new Uint8Array(readFileSync(file)));
  assert.equal(r.error, null);
  const seen = r.records.map((x) => [x.interface, x.direction, x.timestampNs, x.data.length, x.data[21]]);
  assert.deepEqual(seen, [
    [0, Direction.Outbound, 1_700_000_000_123_456_789n, 60, 1],
    [1, Direction.Inbound, 1_700_000_000_124_456_790n, 60, 1],
    [1, Direction.Outbound, 1_700_000_000_125_456_791n, 60, 2],
    [0, Direction.Inbound, 1_700_000_000_126_456_792n, 60, 2],
  ]);
  assert.deepEqual(r.records[0].data, ARP_REQUEST);
  assert.deepEqual(r.records[3].data, ARP_REPLY);
});

test("pcap link: snap length, dropped sends not captured, an idle capture is a valid file", async () => {
  const chunks: Uint8Array[] = [];
  const cap = new PcapngCapture({ write: (c) => chunks.push(c.slice()), clock: fakeClock(), flushBytes: 1 });
  // The section header is written at once.
  assert.equal(chunks.length, 1);
  assert.equal(readPcapng(chunks[0]).error, null);
  const [a, b] = memoryLinkPair({ maxFrameLen: 100 });
  const ca = cap.wrap(a, { snapLen: 20 });
  ca.send(ARP_REQUEST);
  ca.send(new Uint8Array(101)); // too big: the link drops it, the capture does not show it
  assert.equal(a.stats.txDropped, 1);
  await b.close();
  await ca.close();
  cap.close();
  const all = Buffer.concat(chunks);
  const r = readPcapng(new Uint8Array(all));
  assert.equal(r.error, null);
  assert.equal(r.records.length, 1);
  assert.deepEqual(r.records[0].data, ARP_REQUEST.subarray(0, 20));
  assert.equal(r.records[0].origLen, 60);
  assert.equal(cap.packets, 1);
  // Closed: nothing more is recorded.
  cap.record(0, Direction.Inbound, ARP_REQUEST);
  assert.equal(Buffer.concat(chunks).length, all.length);
});

test("pcap link: toFile owns its file and buffers until flushed", async () => {
  const file = join(dir, "one.pcapng");
  const [a, b] = memoryLinkPair();
  const l = PcapLink.toFile(a, file, { clock: fakeClock(), flushMs: 60_000 });
  l.send(ARP_REQUEST);
  // Buffered: only the section header is in the file yet.
  assert.equal(readPcapng(new Uint8Array(readFileSync(file))).records.length, 0);
  l.capture.flush();
  assert.equal(readPcapng(new Uint8Array(readFileSync(file))).records.length, 1);
  l.send(ARP_REPLY);
  await l.close();
  await b.close();
  assert.equal(l.capture.closed, true);
  const r = readPcapng(new Uint8Array(readFileSync(file)));
  assert.equal(r.error, null);
  assert.deepEqual(
    r.records.map((x) => x.data),
    [ARP_REQUEST, ARP_REPLY],
  );
});

function have(tool: string): boolean {
  return spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
}

test("pcap link: tcpdump reads the capture, with nanosecond timestamps", {
  skip: have("tcpdump") ? false : "tcpdump is not installed (apt-get install tcpdump)",
}, async () => {
  const file = join(dir, "tcpdump.pcapng");
  await arpExchange(file);
  const r = spawnSync("tcpdump", ["-r", file, "-nn", "-tt", "--time-stamp-precision=nano"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 4, r.stdout);
  assert.match(lines[0], /^1700000000\.123456789 .*ARP, Request who-has 10\.0\.0\.1 tell 10\.0\.0\.2/);
  assert.match(lines[3], /^1700000000\.126456792 .*ARP, Reply 10\.0\.0\.1 is-at 02:00:00:00:00:01/);
});

test("pcap link: tshark reads interfaces, directions and timestamps", {
  skip: have("tshark") ? false : "tshark is not installed (apt-get install tshark)",
}, async () => {
  const file = join(dir, "tshark.pcapng");
  await arpExchange(file);
  const fields = ["frame.interface_name", "frame.packet_flags_direction", "frame.time_epoch", "arp.opcode"];
  const r = spawnSync("tshark", ["-r", file, "-T", "fields", ...fields.flatMap((f) => ["-e", f])], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split("\n")
    .map((l) => l.split("\t"));
  assert.deepEqual(
    // Direction: 1 inbound, 2 outbound (printed as hex; the width varies between versions).
    rows.map((x) => [x[0], Number.parseInt(x[1], 16), x[3]]),
    [
      ["mem0", 2, "1"],
      ["peer", 1, "1"],
      ["peer", 2, "2"],
      ["mem0", 1, "2"],
    ],
  );
  assert.match(rows[0][2], /^1700000000\.123456789/);
});

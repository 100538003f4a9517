/** `npm run demo` (examples/demo.ts) runs without root, verifies its download and exits by itself. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readCapture } from "../../src/capture/pcapng.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { root } from "./helpers.ts";

test("demo: two stacks, node:http over them, a pcapng capture, and it exits", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "netstack-demo-"));
  try {
    const pcap = join(dir, "demo.pcapng");
    const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "examples/demo.ts"), pcap], {
      cwd: root,
      encoding: "utf8",
      timeout: 50_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /GET \/bytes\/1000000 -> 200, Content-Length 1000000, 1000000 bytes \(verified\)/);
    assert.match(r.stdout, /GET http:\/\/\[fd00::1\]\/bytes\/1000 over IPv6 -> 200, 1000 bytes/);
    assert.match(r.stdout, /ping fd00::1: 3\/3 replies/);
    const cap = readCapture(new Uint8Array(readFileSync(pcap)));
    assert.equal(cap.error, null);
    const n = Number(/wrote .*: (\d+) frames/.exec(r.stdout)?.[1]);
    assert.equal(cap.records.length, n);
    // Every captured frame decodes, and the HTTP request is among them.
    let get = 0;
    for (const [i, rec] of cap.records.entries()) {
      const d = decodeFrame(rec.data, i + 1);
      assert.ok(d.record.ok, `frame ${i + 1}: ${d.record.error}`);
      if (Buffer.from(rec.data).includes("GET /bytes/1000000 HTTP/1.1")) get++;
    }
    assert.equal(get, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

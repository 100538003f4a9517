import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { memoryLinkPair } from "./link.ts";
import { NodeStack } from "./node-stack.ts";
import { connectWeb } from "./web-streams.ts";

async function pair(): Promise<[NodeStack, NodeStack, () => Promise<void>]> {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(la, { addresses: ["10.0.0.1/24", "fd00::1/64"] });
  b.addLink(lb, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  await Promise.all([a.ready(), b.ready()]);
  return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
}

test("web streams: echo of 1 MB through { readable, writable }, half-close ends the readable", async () => {
  const [a, b, done] = await pair();
  try {
    a.net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s)).listen(7, "fd00::1");
    const conn = await connectWeb(b, { host: "fd00::1", port: 7 });
    assert.equal(conn.remoteAddress, "fd00::1");
    assert.equal(conn.remotePort, 7);
    assert.equal(conn.localAddress, "fd00::2");
    const size = 1 << 20;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    const reading = (async () => {
      const h = createHash("sha256");
      let n = 0;
      for await (const chunk of conn.readable) {
        assert.ok(chunk instanceof Uint8Array);
        h.update(chunk);
        n += chunk.length;
      }
      return [n, h.digest("hex")] as const;
    })();
    const writer = conn.writable.getWriter();
    for (let off = 0; off < size; off += 10000) {
      await writer.ready;
      await writer.write(data.subarray(off, off + 10000));
    }
    await writer.close();
    const [n, digest] = await reading;
    assert.equal(n, size);
    assert.equal(digest, createHash("sha256").update(data).digest("hex"));
  } finally {
    await done();
  }
});

test("web streams: a peer that does not read holds the writer back; reading releases it", async () => {
  const [a, b, done] = await pair();
  try {
    let server: import("./net.ts").Socket | null = null;
    a.net
      .createServer({ pauseOnConnect: true }, (s) => {
        server = s;
      })
      .listen(9, "10.0.0.1");
    const conn = await connectWeb(b, { host: "10.0.0.1", port: 9 });
    const writer = conn.writable.getWriter();
    const chunk = new Uint8Array(32 * 1024);
    let accepted = 0;
    let pending: Promise<void> | null = null;
    // Write until a write stays pending: the peer's window and our send buffer are full.
    for (let i = 0; i < 100 && pending === null; i++) {
      const p = writer.write(chunk).then(() => {
        accepted += chunk.length;
      });
      const r = await Promise.race([p.then(() => "done"), sleep(150).then(() => "pending")]);
      if (r === "pending") pending = p;
    }
    assert.ok(pending !== null, "a write stayed pending");
    // Far less than 100 chunks went: bounded by the receiver's window and the send buffer.
    assert.ok(accepted < 1_000_000, `accepted ${accepted}`);
    assert.ok(accepted >= 256 * 1024, `accepted ${accepted}`);
    // The peer starts reading: the pending write completes.
    assert.ok(server !== null);
    let got = 0;
    (server as import("./net.ts").Socket).on("data", (d: Buffer) => {
      got += d.length;
    });
    (server as import("./net.ts").Socket).resume();
    const before = accepted;
    await pending;
    assert.equal(accepted, before + chunk.length);
    await writer.ready;
    await writer.write(chunk);
    await writer.close();
    while (got < accepted + chunk.length) await sleep(10);
    assert.equal(got, accepted + chunk.length);
  } finally {
    await done();
  }
});

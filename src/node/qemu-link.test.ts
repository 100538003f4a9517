import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { QEMU_MAX_FRAME, QemuFrameDecoder, QemuStreamLink, QemuStreamServer, qemuFrame } from "./qemu-link.ts";

const dir = mkdtempSync(join(tmpdir(), "netstack-qemu-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let sockN = 0;
const sockPath = () => join(dir, `s${sockN++}.sock`);

/** Wait until `n` frames have arrived on `link`. */
function frames(link: QemuStreamLink, n: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve) => {
    link.onFrames((batch) => {
      got.push(...batch);
      if (got.length >= n) resolve(got);
    });
  });
}

/** Read exactly `n` bytes from a raw socket. */
async function readBytes(s: Socket, n: number): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const [chunk] = (await once(s, "data")) as [Buffer];
    parts.push(chunk);
    have += chunk.length;
  }
  return new Uint8Array(Buffer.concat(parts));
}

test("qemu framing: 32-bit big-endian length prefix", () => {
  // biome-ignore format: packet bytes
  assert.deepEqual(qemuFrame(Uint8Array.of(9, 0xaa, 0xbb, 0xcc, 9), 1, 3), Uint8Array.of(
    0x00, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc,
  ));
  const big = new Uint8Array(0x10203);
  assert.deepEqual(qemuFrame(big, 0, big.length).subarray(0, 4), Uint8Array.of(0x00, 0x01, 0x02, 0x03));
});

test("qemu decoder: frames split at every boundary are reassembled", () => {
  // biome-ignore format: packet bytes
  const stream = Uint8Array.of(
    0, 0, 0, 3, 1, 2, 3,
    0, 0, 0, 0,
    0, 0, 0, 5, 4, 5, 6, 7, 8,
  );
  for (let cut1 = 0; cut1 <= stream.length; cut1++) {
    for (let cut2 = cut1; cut2 <= stream.length; cut2++) {
      const out: number[][] = [];
      const d = new QemuFrameDecoder(100, (f) => out.push([...f]));
      for (const part of [stream.subarray(0, cut1), stream.subarray(cut1, cut2), stream.subarray(cut2)]) {
        assert.equal(d.push(part), null);
      }
      assert.deepEqual(out, [[1, 2, 3], [], [4, 5, 6, 7, 8]], `cuts ${cut1}, ${cut2}`);
      assert.equal(d.pending, 0);
    }
  }
});

test("qemu decoder: random frames in random chunks round-trip", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (frames, sizes) => {
        const stream = Buffer.concat(frames.map((f) => qemuFrame(f, 0, f.length)));
        const out: Uint8Array[] = [];
        const d = new QemuFrameDecoder(300, (f) => out.push(f));
        let i = 0;
        let k = 0;
        while (i < stream.length) {
          const n = sizes[k++ % sizes.length];
          assert.equal(d.push(stream.subarray(i, i + n)), null);
          i += n;
        }
        assert.deepEqual(out, frames);
      },
    ),
  );
});

test("qemu decoder: a length above the maximum is an error that sticks", () => {
  const out: Uint8Array[] = [];
  const d = new QemuFrameDecoder(1514, (f) => out.push(f));
  assert.equal(d.push(Uint8Array.of(0, 0, 0, 1, 7)), null);
  const err = d.push(Uint8Array.of(0, 0, 0x05, 0xeb));
  assert.match(err ?? "", /frame length 1515 exceeds 1514/);
  assert.equal(d.push(Uint8Array.of(0, 0, 0, 1, 7)), err);
  assert.deepEqual(out, [Uint8Array.of(7)]);
});

test("qemu link (server, unix socket): frames from a QEMU-like client in odd chunks; frames to it", {
  timeout: 10_000,
}, async () => {
  const path = sockPath();
  const server = await QemuStreamServer.listen({ path });
  assert.equal(server.address(), path);
  const accepted = server.accept();
  const vm = connect(path);
  await once(vm, "connect");
  const link = await accepted;
  assert.equal(link.maxFrameLen, QEMU_MAX_FRAME);
  const arrived = frames(link, 3);
  const f1 = new Uint8Array(60).map((_, i) => i);
  const f2 = new Uint8Array(1514).map((_, i) => (i * 7) & 0xff);
  const f3 = Uint8Array.of(0xde, 0xad);
  const stream = Buffer.concat([qemuFrame(f1, 0, 60), qemuFrame(f2, 0, 1514), qemuFrame(f3, 0, 2)]);
  // Write in pieces that cut the length prefixes and frames, with pauses so they arrive apart.
  for (const [a, b] of [
    [0, 2],
    [2, 30],
    [30, 66],
    [66, 1000],
    [1000, stream.length],
  ]) {
    vm.write(stream.subarray(a, b));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(await arrived, [f1, f2, f3]);
  assert.equal(link.stats.rxFrames, 3);
  assert.equal(link.stats.rxBytes, 60 + 1514 + 2);

  // Our frames reach the VM with their length prefix, from the (bytes, off, len) form too.
  const backing = Uint8Array.of(0xff, 1, 2, 3, 4, 5, 0xff);
  link.send(backing, 1, 5);
  link.send(f3);
  backing[1] = 0; // copied before send returned
  assert.deepEqual(await readBytes(vm, 9 + 6), Uint8Array.of(0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, 2, 0xde, 0xad));
  assert.equal(link.stats.txFrames, 2);

  // The VM going away closes the link with a reason.
  const closed = new Promise<Error | null>((r) => link.onClose(r));
  vm.destroy();
  assert.match(String(await closed), /peer closed/);
  assert.equal(link.closed, true);
  link.send(f3);
  assert.equal(link.stats.txDropped, 1);
  await server.close();
});

test("qemu link (client, TCP): connect to a QEMU-like server; pause holds frames; close", {
  timeout: 10_000,
}, async () => {
  const vmServer = createServer();
  vmServer.listen(0, "127.0.0.1");
  await once(vmServer, "listening");
  const port = (vmServer.address() as { port: number }).port;
  const conn = once(vmServer, "connection") as Promise<[Socket]>;
  const link = await QemuStreamLink.connect({ port }, { name: "vm0" });
  assert.equal(link.name, "vm0");
  const [vm] = await conn;
  const got: Uint8Array[] = [];
  link.onFrames((b) => got.push(...b));
  link.pause();
  vm.write(qemuFrame(Uint8Array.of(1, 2, 3), 0, 3));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got.length, 0);
  link.resume();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, [Uint8Array.of(1, 2, 3)]);

  let reason: Error | null | undefined;
  link.onClose((e) => {
    reason = e;
  });
  link.send(Uint8Array.of(9));
  const ended = once(vm, "end");
  const closing = link.close();
  // close() flushes what was sent before it, then ends the stream.
  assert.deepEqual(await readBytes(vm, 5), Uint8Array.of(0, 0, 0, 1, 9));
  vm.resume();
  await ended;
  await closing;
  assert.equal(reason, null);
  vm.destroy();
  vmServer.close();
});

test("qemu link: a corrupt length closes the link with an error; connect failures are clear", {
  timeout: 10_000,
}, async () => {
  const path = sockPath();
  const server = await QemuStreamServer.listen({ path }, { maxFrameLen: 1514 });
  const vm = connect(path);
  const link = await server.accept();
  const closed = new Promise<Error | null>((r) => link.onClose(r));
  vm.write(Uint8Array.of(0x7f, 0, 0, 0, 1, 2, 3));
  assert.match(String(await closed), /frame length 2130706432 exceeds 1514/);
  vm.destroy();
  await server.close();
  await assert.rejects(QemuStreamLink.connect({ path: join(dir, "missing.sock") }), (e: Error) => {
    assert.match(e.message, /qemu link: cannot connect .*missing\.sock: .*ENOENT/);
    assert.equal((e as Error & { code?: string }).code, "ENOENT");
    return true;
  });
});

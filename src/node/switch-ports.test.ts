import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { WebSocket } from "ws";
import { LearningSwitch } from "../gateway/switch.ts";
import { MemoryLink, memoryLinkPair } from "./link.ts";
import { NodeStack } from "./node-stack.ts";
import { QemuFrameDecoder, QemuStreamLink, qemuFrame } from "./qemu-link.ts";
import { attachLink, QemuPortServer, SwitchLink } from "./switch-ports.ts";
import { WebSocketPortServer } from "./ws-port-server.ts";

const dir = mkdtempSync(join(tmpdir(), "netstack-switch-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let sockN = 0;
const sockPath = () => join(dir, `s${sockN++}.sock`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function mac(n: number): Uint8Array {
  return Uint8Array.of(0x02, 0, 0, 0, 0, n);
}
const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** dst, src, EtherType 0x88b5, a tag byte, then `pad` bytes of pattern. */
function frame(dst: Uint8Array, src: Uint8Array, tag: number, pad = 46): Uint8Array {
  const f = new Uint8Array(15 + pad);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  for (let i = 15; i < f.length; i++) f[i] = (i * 7 + tag) & 0xff;
  return f;
}

/** A QEMU stand-in: a raw socket speaking the length-prefixed framing. */
class RawQemu {
  readonly got: Uint8Array[] = [];
  closed = false;
  private constructor(readonly sock: Socket) {
    const d = new QemuFrameDecoder(1 << 20, (f) => this.got.push(f));
    sock.on("data", (c: Buffer) => d.push(c));
    sock.on("close", () => {
      this.closed = true;
    });
    sock.on("error", () => {});
  }
  static async connect(to: { path: string } | { port: number }): Promise<RawQemu> {
    const s = "path" in to ? connect(to.path) : connect(to.port, "127.0.0.1");
    await once(s, "connect");
    return new RawQemu(s);
  }
  send(f: Uint8Array): void {
    this.sock.write(qemuFrame(f, 0, f.length));
  }
  tags(): number[] {
    return this.got.map((f) => f[14]);
  }
}

/** A WebSocket client of the port server. */
class WsClient {
  readonly got: Uint8Array[] = [];
  closeCode: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (d: Buffer) => this.got.push(new Uint8Array(d)));
    ws.on("close", (code: number) => {
      this.closeCode = code;
    });
    ws.on("error", () => {});
  }
  static async connect(url: string): Promise<WsClient> {
    const ws = new WebSocket(url);
    const c = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("close", () => resolve());
    });
    return c;
  }
  tags(): number[] {
    return this.got.map((f) => f[14]);
  }
}

describe("switch ports: QEMU streams, WebSocket clients, a stack", () => {
  test("two QEMU-stream clients (unix and TCP) and a WebSocket client exchange frames through the switch", async () => {
    const sw = new LearningSwitch({ now: () => performance.now() });
    const path = sockPath();
    const qu = await QemuPortServer.listen(sw, { path });
    const qt = await QemuPortServer.listen(sw, { host: "127.0.0.1", port: 0 });
    const ws = await WebSocketPortServer.listen(sw, { port: 0 });
    try {
      const a = await RawQemu.connect({ path });
      const b = await RawQemu.connect({ port: (qt.address() as { port: number }).port });
      const w = await WsClient.connect(`ws://127.0.0.1:${ws.address().port}/any/path?x=1`);
      await waitFor("three ports", () => sw.ports.length === 3);

      // A broadcast from A reaches B and W, byte for byte, and not A.
      const f1 = frame(BROADCAST, mac(0xa), 1, 1500);
      a.send(f1);
      await waitFor("the broadcast", () => b.got.length === 1 && w.got.length === 1);
      assert.deepEqual(b.got[0], f1);
      assert.deepEqual(w.got[0], f1);

      // W answers A by unicast: only A gets it.
      const f2 = frame(mac(0xa), mac(0xc), 2);
      w.ws.send(f2);
      await waitFor("the unicast to A", () => a.got.length === 1);
      assert.deepEqual(a.got[0], f2);
      // B sends W a unicast (W is known now): only W gets it; a later broadcast from W shows B got
      // nothing in between (each port's stream is in order).
      b.send(frame(mac(0xc), mac(0xb), 3));
      await waitFor("the unicast to W", () => w.got.length === 2);
      w.ws.send(frame(BROADCAST, mac(0xc), 4));
      await waitFor("W's broadcast", () => a.got.length === 2 && b.got.length === 2);
      assert.deepEqual(
        [a.tags(), b.tags(), w.tags()],
        [
          [2, 4],
          [1, 4],
          [1, 3],
        ],
      );
      const byMac = Object.fromEntries(sw.macTable().map((e) => [e.mac, e.portName]));
      assert.match(byMac["02:00:00:00:00:0a"], /^qemu:\/.*\.sock#0$/);
      assert.match(byMac["02:00:00:00:00:0b"], /^qemu:127\.0\.0\.1:\d+#0$/);
      assert.match(byMac["02:00:00:00:00:0c"], /^ws:127\.0\.0\.1:\d+#0$/);

      // B disconnects: its port goes, its station is forgotten, frames for it are flooded.
      b.sock.destroy();
      await waitFor("B's port removed", () => sw.ports.length === 2);
      assert.ok(!sw.macTable().some((e) => e.mac === "02:00:00:00:00:0b"));
      a.send(frame(mac(0xb), mac(0xa), 5));
      await waitFor("the flood to W", () => w.got.length === 3);
      assert.equal(w.tags()[2], 5);
      assert.equal(qt.connections, 0);

      // The WebSocket client leaves too.
      w.ws.close();
      await waitFor("W's port removed", () => sw.ports.length === 1 && ws.connections === 0);
      a.sock.destroy();
      await waitFor("A's port removed", () => sw.ports.length === 0);
    } finally {
      await Promise.all([qu.close(), qt.close(), ws.close()]);
    }
  });

  test("bounds: ports beyond maxPorts are refused; oversized frames close their connection; text messages are dropped", async () => {
    const sw = new LearningSwitch({ now: () => performance.now(), maxPorts: 2 });
    const path = sockPath();
    const qu = await QemuPortServer.listen(sw, { path }, { maxFrameLen: 2000 });
    const ws = await WebSocketPortServer.listen(sw, { port: 0, maxFrameLen: 2000 });
    const url = `ws://127.0.0.1:${ws.address().port}/`;
    try {
      const a = await RawQemu.connect({ path });
      const w = await WsClient.connect(url);
      await waitFor("two ports", () => sw.ports.length === 2);
      // Full: a third QEMU connection and a third WebSocket client are closed at once.
      const c = await RawQemu.connect({ path });
      await waitFor("the refused QEMU connection to close", () => c.closed);
      const w2 = await WsClient.connect(url);
      await waitFor("the refused client to close", () => w2.closeCode !== null);
      assert.equal(w2.closeCode, 1013);
      assert.equal(sw.counters.get("switch.port.refused"), 2);
      assert.equal(sw.ports.length, 2);

      // A text message is no frame: dropped, the client stays.
      w.ws.send("hello");
      w.ws.send(frame(BROADCAST, mac(0xc), 1));
      await waitFor("the frame after the text", () => a.got.length === 1);
      assert.deepEqual(a.tags(), [1]);

      // A message larger than maxFrameLen closes the client (1009); a QEMU length beyond it, the stream.
      w.ws.send(new Uint8Array(2001));
      await waitFor("the oversized client to close", () => w.closeCode !== null);
      assert.equal(w.closeCode, 1009);
      a.sock.write(Uint8Array.of(0, 0, 0x07, 0xd1));
      await waitFor("the out-of-step stream to close", () => a.closed);
      await waitFor("both ports removed", () => sw.ports.length === 0);
    } finally {
      await Promise.all([qu.close(), ws.close()]);
    }
  });

  test("a stale unix socket file is replaced; a live listener is not", async () => {
    const sw = new LearningSwitch({ now: () => performance.now() });
    const path = sockPath();
    const first = await QemuPortServer.listen(sw, { path });
    await assert.rejects(
      QemuPortServer.listen(sw, { path }),
      (e: Error & { code?: string }) => e.code === "EADDRINUSE",
    );
    await first.close();
    // A socket file nobody listens on (a process that died without closing it) is taken over.
    const r = spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ]);
    assert.equal(r.status, 0);
    assert.ok(existsSync(path), "the dead listener left its socket file");
    const second = await QemuPortServer.listen(sw, { path });
    const a = await RawQemu.connect({ path });
    await waitFor("the port", () => sw.ports.length === 1);
    a.sock.destroy();
    await second.close();
  });

  test("SwitchLink: a NodeStack as a port answers a stack on a QEMU stream (ARP, ping, TCP)", async () => {
    const sw = new LearningSwitch({ now: () => performance.now() });
    const path = sockPath();
    const qu = await QemuPortServer.listen(sw, { path });
    const gw = new NodeStack({ dad: false });
    gw.addLink(new SwitchLink(sw, { name: "gw" }), { addresses: ["10.0.2.2/24"] });
    const server = gw.net.createServer((s) => s.pipe(s)).listen(7);
    const guest = new NodeStack({ dad: false });
    try {
      guest.addLink(await QemuStreamLink.connect({ path }), { addresses: ["10.0.2.15/24"] });
      const r = await guest.ping("10.0.2.2", { count: 2, interval: 10 });
      assert.equal(r.received, 2);
      const sock = guest.net.createConnection({ host: "10.0.2.2", port: 7 });
      const data = new Uint8Array(200_000).map((_, i) => (i * 13) & 0xff);
      const chunks: Buffer[] = [];
      sock.on("data", (d: Buffer) => chunks.push(d));
      sock.end(data);
      await once(sock, "end");
      assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), data);
      assert.equal(sw.ports.length, 2);
      assert.equal(sw.macTable().length, 2);
    } finally {
      server.close();
      await guest.close();
      await gw.close();
      await qu.close();
    }
    assert.equal(sw.ports.length, 0, "closing the stack removed its port");
  });

  test("a port whose link's write queue is over the bound drops the frames for it (counted)", () => {
    const sw = new LearningSwitch({ now: () => 0 });
    const [l, peer] = memoryLinkPair();
    let backlog = 0;
    Object.defineProperty(l, "writeQueueBytes", { get: () => backlog });
    attachLink(sw, l, { maxQueueBytes: 1000 });
    const got: Uint8Array[] = [];
    peer.onFrames((fs) => got.push(...fs));
    const other = sw.addPort("other", () => {});
    other.input(frame(BROADCAST, mac(1), 1));
    backlog = 1001;
    other.input(frame(BROADCAST, mac(1), 2));
    assert.equal(l.stats.txFrames, 1);
    assert.equal(l.stats.txDropped, 1);
    assert.ok(l instanceof MemoryLink);
  });
});

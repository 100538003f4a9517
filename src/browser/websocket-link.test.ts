// WebSocketLink on the wire: a `ws` server in this process plays the far side and checks that every
// binary message is exactly one Ethernet frame, with no prefix, both ways (the v86 relay convention).
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { type WebSocket, WebSocketServer } from "ws";
import { BrowserStack } from "./browser-stack.ts";
import { type WebSocketLike, WebSocketLink } from "./websocket-link.ts";

const STACK_MAC = [0x02, 0, 0, 0, 0, 0x02];
const PEER_MAC = [0x02, 0, 0, 0, 0, 0x01];

async function server() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const conn = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  return { wss, url, conn, close: () => new Promise<void>((r) => wss.close(() => r())) };
}

/** The next binary message, as bytes. */
function nextMessage(ws: WebSocket): Promise<Uint8Array> {
  return new Promise((resolve) =>
    ws.once("message", (d: Buffer) => resolve(new Uint8Array(d.buffer, d.byteOffset, d.length))),
  );
}

test("WebSocketLink: one Ethernet frame per binary message, no prefix, both ways", { timeout: 30_000 }, async () => {
  const srv = await server();
  // No WebSocket global in Node 20: the link loads the ws package itself.
  const link = await WebSocketLink.connect(srv.url);
  const ws = await srv.conn;
  const stack = new BrowserStack({ dad: false });
  stack.addLink(link, { addresses: ["10.0.0.2/24"], mac: "02:00:00:00:00:02" });
  const messages: Uint8Array[] = [];
  ws.on("message", (d: Buffer) => messages.push(new Uint8Array(d)));
  const sock = stack.connect({ host: "10.0.0.1", port: 80 });
  // The stack asks for 10.0.0.1: an ARP request frame, alone in its message (after its gratuitous ARP).
  const isRequest = (m: Uint8Array) => m[12] === 0x08 && m[13] === 0x06 && m[14 + 7] === 1 && m[14 + 27] === 1;
  while (!messages.some(isRequest)) await new Promise((r) => setTimeout(r, 5));
  const arp = messages.find(isRequest) as Uint8Array;
  assert.ok(arp.length === 42 || arp.length === 60, `ARP frame of ${arp.length} bytes`);
  assert.deepEqual([...arp.subarray(0, 6)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...arp.subarray(6, 12)], STACK_MAC);
  assert.deepEqual([...arp.subarray(14 + 24, 14 + 28)], [10, 0, 0, 1], "target protocol address");
  // The reply goes back as one 42-byte message (unpadded, as v86 sends them).
  const reply = Uint8Array.from([
    ...STACK_MAC,
    ...PEER_MAC,
    0x08,
    0x06,
    0,
    1,
    0x08,
    0,
    6,
    4,
    0,
    2,
    ...PEER_MAC,
    10,
    0,
    0,
    1,
    ...STACK_MAC,
    10,
    0,
    0,
    2,
  ]);
  const syn = nextMessage(ws);
  ws.send(reply);
  const f = await syn;
  // Ethernet to the peer's MAC, IPv4, TCP to port 80 with SYN set.
  assert.deepEqual([...f.subarray(0, 6)], PEER_MAC);
  assert.deepEqual([f[12], f[13]], [0x08, 0x00]);
  assert.equal(f[14 + 9], 6);
  const ihl = (f[14] & 0x0f) * 4;
  assert.equal((f[14 + ihl + 2] << 8) | f[14 + ihl + 3], 80);
  assert.equal(f[14 + ihl + 13] & 0x02, 0x02);
  assert.equal(f.length, 14 + ((f[16] << 8) | f[17]), "the message is the frame: no prefix, no trailer");
  // Text messages and runts are dropped and counted.
  ws.send("not a frame");
  ws.send(Uint8Array.of(1, 2, 3));
  while (link.stats.rxDropped < 2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(link.stats.rxDropped, 2);
  sock.close().catch(() => {});
  await stack.close();
  await srv.close();
});

test("WebSocketLink: a full socket buffer drops frames (counted) instead of queueing without bound", {
  timeout: 30_000,
}, () => {
  const sent: Uint8Array[] = [];
  const fake: WebSocketLike = {
    binaryType: "blob",
    readyState: 1,
    bufferedAmount: 0,
    send: (d) => sent.push(d),
    close: () => {},
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  const link = new WebSocketLink(fake, { maxBufferedAmount: 1000 });
  assert.equal(fake.binaryType, "arraybuffer");
  const frame = new Uint8Array(100).fill(7);
  link.send(frame, 10, 60);
  assert.equal(sent.length, 1);
  assert.deepEqual([...sent[0]], [...frame.subarray(10, 70)]);
  // The link copied: changing the caller's buffer does not change what was sent.
  frame.fill(9);
  assert.equal(sent[0][0], 7);
  (fake as { bufferedAmount: number }).bufferedAmount = 5000;
  link.send(frame);
  assert.equal(sent.length, 1);
  assert.equal(link.stats.txDropped, 1);
  // A frame larger than maxFrameLen is dropped too.
  (fake as { bufferedAmount: number }).bufferedAmount = 0;
  link.send(new Uint8Array(2000));
  assert.equal(link.stats.txDropped, 2);
});

test("WebSocketLink.connect: a refused connection rejects with ECONNREFUSED", { timeout: 30_000 }, async () => {
  const srv = await server();
  const url = srv.url;
  await srv.close();
  await assert.rejects(WebSocketLink.connect(url), { code: "ECONNREFUSED" });
});

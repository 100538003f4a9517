// Regression tests for issue 12 items 7 and 12: node:dgram behaviour the stack's dgram shares with
// node:dgram (Linux's broadcast and TTL rules, Node's messages, bind(cb), any ArrayBufferView as a
// message, connect completing asynchronously).
import assert from "node:assert/strict";
import realDgram from "node:dgram";
import { once } from "node:events";
import { test } from "node:test";
import type { RemoteInfo } from "./dgram.ts";
import { memoryLinkPair } from "./link.ts";
import { NodeStack } from "./node-stack.ts";

async function pair(): Promise<[NodeStack, NodeStack, () => Promise<void>]> {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(la, { addresses: ["10.0.0.1/24", "fd00::1/64"] });
  b.addLink(lb, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  await Promise.all([a.ready(), b.ready()]);
  return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
}

function sendResult(s: { send(...a: unknown[]): void }, ...args: unknown[]): Promise<Error | null> {
  return new Promise((resolve) => s.send(...args, (err: Error | null) => resolve(err)));
}

test("item 7: directed broadcast needs setBroadcast (EACCES), TTL range EINVAL, Node's messages", async () => {
  const [a, b, done] = await pair();
  try {
    const rx = a.dgram.createSocket("udp4");
    rx.bind(9999);
    await once(rx, "listening");
    const tx = b.dgram.createSocket("udp4");
    const err = (await sendResult(tx, "x", 9999, "10.0.0.255")) as NodeJS.ErrnoException;
    assert.equal(err?.code, "EACCES");
    assert.equal(err.message, "send EACCES 10.0.0.255:9999");
    assert.equal(((await sendResult(tx, "x", 9999, "255.255.255.255")) as NodeJS.ErrnoException).code, "EACCES");
    tx.setBroadcast(true);
    const got = once(rx, "message") as Promise<[Buffer, RemoteInfo]>;
    assert.equal(await sendResult(tx, "hello all", 9999, "10.0.0.255"), null);
    const [msg, rinfo] = await got;
    assert.equal(msg.toString(), "hello all");
    assert.equal(rinfo.address, "10.0.0.2");
    for (const ttl of [0, 256, 300]) assert.throws(() => tx.setTTL(ttl), { code: "EINVAL", message: "setTTL EINVAL" });
    assert.equal(tx.setTTL(1), 1);
    assert.throws(() => tx.setMulticastTTL(256), { code: "EINVAL", message: "setMulticastTTL EINVAL" });
    assert.equal(tx.setMulticastTTL(0), 0);
    tx.close();
    assert.throws(() => tx.close(), { code: "ERR_SOCKET_DGRAM_NOT_RUNNING", message: "Not running" });
    assert.throws(() => tx.send("x", 1, "10.0.0.1"), { message: "Not running" });
    rx.close();
  } finally {
    await done();
  }
  // node:dgram says the same for the TTL range and a closed socket.
  const r = realDgram.createSocket("udp4");
  r.bind(0);
  await once(r, "listening");
  assert.throws(() => r.setTTL(0), { code: "EINVAL", message: "setTTL EINVAL" });
  assert.throws(() => r.setMulticastTTL(256), { code: "EINVAL", message: "setMulticastTTL EINVAL" });
  r.close();
  assert.throws(() => r.close(), { code: "ERR_SOCKET_DGRAM_NOT_RUNNING", message: "Not running" });
});

test("item 12: bind(cb), Int8Array and DataView messages, asynchronous connect", async () => {
  const [a, b, done] = await pair();
  try {
    const rx = a.dgram.createSocket("udp6");
    await new Promise<void>((resolve) => rx.bind(() => resolve()));
    const port = rx.address().port;
    assert.ok(port > 0);
    const tx = b.dgram.createSocket("udp6");
    const bytes = Int8Array.of(1, -2, 3);
    const view = new DataView(Uint8Array.of(9, 8, 7, 6).buffer, 1, 2);
    const got: Buffer[] = [];
    const two = new Promise<void>((resolve) =>
      rx.on("message", (m: Buffer) => {
        got.push(m);
        if (got.length === 2) resolve();
      }),
    );
    assert.equal(await sendResult(tx, bytes, port, "fd00::1"), null);
    assert.equal(await sendResult(tx, view, port, "fd00::1"), null);
    await two;
    assert.deepEqual(
      got.map((m) => [...m]),
      [
        [1, 254, 3],
        [8, 7],
      ],
    );
    // Not a message at all: node:dgram's ERR_INVALID_ARG_TYPE.
    assert.throws(() => tx.send(42 as never, port, "fd00::1"), { code: "ERR_INVALID_ARG_TYPE", name: "TypeError" });
    // connect() completes later, as node:dgram's: not connected right after the call.
    const c = b.dgram.createSocket("udp6");
    let connected = false;
    c.connect(port, "fd00::1", () => {
      connected = true;
    });
    assert.equal(connected, false);
    assert.throws(() => c.remoteAddress(), { code: "ERR_SOCKET_DGRAM_NOT_CONNECTED" });
    await once(c, "connect");
    assert.equal(connected, true);
    assert.deepEqual(c.remoteAddress(), { address: "fd00::1", family: "IPv6", port });
    c.close();
    tx.close();
    rx.close();
  } finally {
    await done();
  }
});

import assert from "node:assert/strict";
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

for (const [type, server, client] of [
  ["udp4", "10.0.0.1", "10.0.0.2"],
  ["udp6", "fd00::1", "fd00::2"],
] as const) {
  test(`dgram ${type}: bind, send with callback, message with rinfo, echo back, address, close`, async () => {
    const [a, b, done] = await pair();
    try {
      const srv = a.dgram.createSocket(type);
      srv.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
        srv.send(Buffer.concat([Buffer.from("echo:"), msg]), rinfo.port, rinfo.address);
      });
      srv.bind(5353);
      await once(srv, "listening");
      assert.deepEqual(srv.address(), {
        address: type === "udp4" ? "0.0.0.0" : "::",
        family: type === "udp4" ? "IPv4" : "IPv6",
        port: 5353,
      });

      const cli = b.dgram.createSocket({ type });
      const got = once(cli, "message") as Promise<[Buffer, RemoteInfo]>;
      const sent = await new Promise<number>((resolve, reject) =>
        cli.send("ping", 5353, server, (err, n) => (err ? reject(err) : resolve(n ?? -1))),
      );
      assert.equal(sent, 4);
      const [msg, rinfo] = await got;
      assert.equal(msg.toString(), "echo:ping");
      assert.deepEqual(rinfo, { address: server, family: type === "udp4" ? "IPv4" : "IPv6", port: 5353, size: 9 });
      const local = cli.address();
      assert.equal(local.family, type === "udp4" ? "IPv4" : "IPv6");
      assert.ok(local.port >= 1024);

      // connect() fixes the destination: send without one; offset/length select a slice.
      cli.connect(5353, server);
      await once(cli, "connect");
      assert.deepEqual(cli.remoteAddress(), { address: server, family: rinfo.family, port: 5353 });
      const got2 = once(cli, "message") as Promise<[Buffer, RemoteInfo]>;
      cli.send(Buffer.from("xxhixx"), 2, 2);
      assert.equal((await got2)[0].toString(), "echo:hi");

      // Errors are Node-shaped: EADDRINUSE on a second bind of the port.
      const dup = a.dgram.createSocket(type);
      dup.bind(5353, server);
      const [err] = (await once(dup, "error")) as [NodeJS.ErrnoException & { address: string; port: number }];
      assert.equal(err.code, "EADDRINUSE");
      assert.equal(err.syscall, "bind");
      assert.equal(err.message, `bind EADDRINUSE ${server}:5353`);
      dup.close();
      void client;

      const closed = once(srv, "close");
      srv.close();
      await closed;
      cli.close();
    } finally {
      await done();
    }
  });
}

test("dgram: an oversized datagram fails with EMSGSIZE in the send callback", async () => {
  const [_a, b, done] = await pair();
  try {
    const s = b.dgram.createSocket("udp4");
    const err = await new Promise<Error | null>((resolve) => s.send(new Uint8Array(70000), 9, "10.0.0.1", resolve));
    assert.equal((err as NodeJS.ErrnoException).code, "EMSGSIZE");
    assert.equal((err as NodeJS.ErrnoException).syscall, "send");
    s.close();
  } finally {
    await done();
  }
});

test("ping: IPv4 and IPv6 echo with round-trip times; an absent host times out", async () => {
  const [_a, b, done] = await pair();
  try {
    for (const target of ["10.0.0.1", "fd00::1"]) {
      const seen: number[] = [];
      const r = await b.ping(target, { count: 3, interval: 10, size: 100, onReply: (x) => seen.push(x.seq) });
      assert.equal(r.target, target);
      assert.equal(r.sent, 3);
      assert.equal(r.received, 3);
      assert.equal(r.loss, 0);
      assert.deepEqual(seen, [0, 1, 2]);
      assert.ok(r.rtts.every((x) => x !== null && x >= 0 && x < 1000));
      assert.ok(r.min <= r.avg && r.avg <= r.max);
      assert.ok(r.replies.every((x) => x.from === target && x.bytes === 100));
    }
    const lost = await b.ping("10.0.0.77", { count: 1, timeout: 150 });
    assert.equal(lost.received, 0);
    assert.equal(lost.loss, 100);
    assert.deepEqual(lost.rtts, [null]);
    await assert.rejects(b.ping("not-an-ip"), { code: "EINVAL" });
  } finally {
    await done();
  }
});

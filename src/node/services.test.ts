import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Agent, get } from "node:http";
import { test } from "node:test";
import { memoryLinkPair } from "./link.ts";
import type { Socket } from "./net.ts";
import { NodeStack } from "./node-stack.ts";
import { bytesBody, chargenLines, readyAlive, startServices } from "./services.ts";

/** A server stack running the services and a client stack, joined by an in-memory link. */
async function pair() {
  const [a, b] = memoryLinkPair();
  const server = new NodeStack();
  const client = new NodeStack();
  server.addLink(a, { addresses: ["10.9.0.1/24", "fd09::1/64"] });
  client.addLink(b, { addresses: ["10.9.0.2/24", "fd09::2/64"] });
  await Promise.all([readyAlive(server), readyAlive(client)]);
  const services = await startServices(server);
  return {
    server,
    client,
    services,
    close: async () => {
      await services.close();
      await client.close();
      await server.close();
    },
  };
}

function collect(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
}

test("chargen lines follow RFC 864's rotating pattern", () => {
  const two = Buffer.from(chargenLines(0, 2)).toString("latin1");
  assert.equal(
    two,
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n" +
      "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n",
  );
  // Line 94 starts with '~' and wraps around to ' '.
  const last = Buffer.from(chargenLines(94, 1)).toString("latin1");
  assert.equal(last.slice(0, 3), "~ !");
  assert.equal(last.length, 74);
});

test("services: TCP echo v4 and v6, discard, chargen, UDP echo", { timeout: 30_000 }, async () => {
  const p = await pair();
  try {
    assert.deepEqual(p.services.listening, ["tcp/7", "udp/7", "tcp/9", "udp/9", "tcp/19", "tcp/80"]);
    const log = (m: string) => process.env.DBG && console.error(m);
    for (const host of ["10.9.0.1", "fd09::1"]) {
      log(`echo ${host}`);
      const data = bytesBody(200_000);
      const s = p.client.net.createConnection({ port: 7, host });
      const got = collect(s);
      s.end(data);
      const back = await got;
      assert.equal(createHash("sha256").update(back).digest("hex"), createHash("sha256").update(data).digest("hex"));
    }
    log("discard");
    // Discard: the server counts, sends nothing back.
    const d = p.client.net.createConnection({ port: 9, host: "10.9.0.1" });
    const nothing = collect(d);
    d.end(Buffer.alloc(5000, 1));
    assert.equal((await nothing).length, 0);
    assert.equal(p.services.stats.discardedBytes, 5000);
    log("chargen");
    // Chargen: read a while, then close.
    const c = p.client.net.createConnection({ port: 19, host: "fd09::1" });
    const first = await new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      let n = 0;
      c.on("data", (x: Buffer) => {
        parts.push(x);
        n += x.length;
        if (n >= 10_000) {
          c.destroy();
          resolve(Buffer.concat(parts));
        }
      });
    });
    assert.deepEqual(first.subarray(0, 74 * 95), Buffer.from(chargenLines(0, 95)));
    assert.deepEqual(first.subarray(74 * 95, 74 * 96), Buffer.from(chargenLines(0, 1)));
    log("udp");
    // UDP echo on both versions, and discard is silent.
    for (const [type, host] of [
      ["udp4", "10.9.0.1"],
      ["udp6", "fd09::1"],
    ] as const) {
      const u = p.client.dgram.createSocket(type);
      const reply = new Promise<[Buffer, number]>((resolve) => u.on("message", (m: Buffer, r) => resolve([m, r.port])));
      u.send(Buffer.from(`hello ${type}`), 7, host);
      const [m, port] = await reply;
      assert.equal(m.toString(), `hello ${type}`);
      assert.equal(port, 7);
      u.close();
    }
  } finally {
    await p.close();
  }
});

test("services: HTTP / and /bytes/N through node:http with an Agent on our sockets", { timeout: 30_000 }, async () => {
  const p = await pair();
  try {
    const agent = new Agent({ keepAlive: true });
    (agent as unknown as { createConnection: unknown }).createConnection = (o: { port: number; host: string }) =>
      p.client.net.createConnection({ port: o.port, host: o.host });
    const fetch = (path: string, host = "10.9.0.1") =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        get({ host, port: 80, path, agent }, (res) => {
          const parts: Buffer[] = [];
          res.on("data", (d: Buffer) => parts.push(d));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
          );
        }).on("error", reject);
      });
    const home = await fetch("/");
    assert.equal(home.status, 200);
    assert.match(home.body.toString(), /<h1>netstack<\/h1>/);
    const big = await fetch("/bytes/300000", "fd09::1");
    assert.equal(big.status, 200);
    assert.equal(big.headers["content-length"], "300000");
    assert.equal(big.body.length, 300000);
    assert.deepEqual(big.body, Buffer.from(bytesBody(300000)));
    const zero = await fetch("/bytes/0");
    assert.equal(zero.status, 200);
    assert.equal(zero.body.length, 0);
    assert.equal((await fetch("/nope")).status, 404);
    assert.equal(p.services.stats.httpRequests, 4);
    assert.equal(p.services.stats.httpBodyBytes, home.body.length + 300000 + "not found: try / or /bytes/N\n".length);
    agent.destroy();
  } finally {
    await p.close();
  }
});

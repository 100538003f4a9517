import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { memoryLinkPair } from "./link.ts";
import { netError, type Socket } from "./net.ts";
import { NodeStack, type NodeStackOptions } from "./node-stack.ts";

/** Two stacks joined by an in-memory link: a = 10.0.0.1 / fd00::1, b = 10.0.0.2 / fd00::2. */
async function pair(options: NodeStackOptions = {}): Promise<[NodeStack, NodeStack, () => Promise<void>]> {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false, ...options });
  const b = new NodeStack({ dad: false, ...options });
  a.addLink(la, { addresses: ["10.0.0.1/24", "fd00::1/64"] });
  b.addLink(lb, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  await Promise.all([a.ready(), b.ready()]);
  return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
}

/** The next `name` event's arguments (unlike events.once, an `error` event does not reject it). */
function next(e: NodeJS.EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((resolve) => e.once(name, (...args: unknown[]) => resolve(args)));
}

function collect(s: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on("data", (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once("end", () => resolve(Buffer.concat(parts)));
    s.once("error", reject);
  });
}

test("net: echo over IPv4 and IPv6, with Node's events, endpoints and counters", async () => {
  const [a, b, done] = await pair();
  try {
    const server = a.net.createServer((s) => s.pipe(s));
    server.listen(7);
    await once(server, "listening");
    assert.deepEqual(server.address(), { address: "::", family: "IPv6", port: 7 });
    for (const host of ["10.0.0.1", "fd00::1"]) {
      const c = b.net.createConnection({ host, port: 7 });
      assert.equal(c.connecting, true);
      assert.equal(c.pending, true);
      assert.equal(c.readyState, "opening");
      const events: string[] = [];
      c.on("connect", () => events.push("connect"));
      c.on("ready", () => events.push("ready"));
      await once(c, "connect");
      assert.equal(c.connecting, false);
      assert.equal(c.readyState, "open");
      assert.equal(c.remoteAddress, host);
      assert.equal(c.remotePort, 7);
      assert.equal(c.remoteFamily, host.includes(":") ? "IPv6" : "IPv4");
      assert.equal(c.localAddress, host === "10.0.0.1" ? "10.0.0.2" : "fd00::2");
      assert.ok((c.localPort ?? 0) >= 1024);
      assert.deepEqual(c.address(), { address: c.localAddress, family: c.remoteFamily, port: c.localPort });
      const got = collect(c);
      const closed = next(c, "close");
      c.write("hello ");
      c.end("world");
      assert.equal((await got).toString(), "hello world");
      await closed;
      assert.deepEqual(events, ["connect", "ready"]);
      assert.equal(c.bytesRead, 11);
      assert.equal(c.bytesWritten, 11);
    }
    server.close();
    await once(server, "close");
  } finally {
    await done();
  }
});

test("net: ECONNREFUSED is shaped like Node's", async () => {
  const [_a, b, done] = await pair();
  try {
    const c = b.net.connect(80, "10.0.0.1");
    const closed = next(c, "close");
    const [err] = (await next(c, "error")) as [NodeJS.ErrnoException & { address: string; port: number }];
    assert.equal(err.message, "connect ECONNREFUSED 10.0.0.1:80");
    assert.equal(err.code, "ECONNREFUSED");
    assert.equal(err.errno, -111);
    assert.equal(err.syscall, "connect");
    assert.equal(err.address, "10.0.0.1");
    assert.equal(err.port, 80);
    const [hadError] = await closed;
    assert.equal(hadError, true);
    // Same shape as node:net's own error for the same failure.
    const ref = netError("ECONNREFUSED", "connect", "127.0.0.1", 1);
    assert.equal(ref.message, "connect ECONNREFUSED 127.0.0.1:1");
  } finally {
    await done();
  }
});

test("net: EADDRINUSE on listen", async () => {
  const [a, _b, done] = await pair();
  try {
    const s1 = a.net.createServer().listen(8080, "10.0.0.1");
    await once(s1, "listening");
    const s2 = a.net.createServer().listen(8080, "10.0.0.1");
    const [err] = (await once(s2, "error")) as [NodeJS.ErrnoException & { address: string; port: number }];
    assert.equal(err.code, "EADDRINUSE");
    assert.equal(err.syscall, "listen");
    assert.equal(err.errno, -98);
    assert.equal(err.address, "10.0.0.1");
    assert.equal(err.port, 8080);
    assert.equal(err.message, "listen EADDRINUSE: address already in use 10.0.0.1:8080");
    assert.equal(s2.listening, false);
    // The wildcard dual-stack listener also collides.
    const s3 = a.net.createServer().listen(8080);
    const [err3] = (await once(s3, "error")) as [NodeJS.ErrnoException];
    assert.equal(err3.code, "EADDRINUSE");
    s1.close();
    await once(s1, "close");
    // Free again after close.
    const s4 = a.net.createServer().listen(8080, "10.0.0.1");
    await once(s4, "listening");
    s4.close();
  } finally {
    await done();
  }
});

test("net: half-close with allowHalfOpen: the server answers after the client's FIN", async () => {
  const [a, b, done] = await pair();
  try {
    const server = a.net.createServer({ allowHalfOpen: true }, (s) => {
      const parts: Buffer[] = [];
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("end", () => {
        // Our read side is over; the write side is still open.
        assert.equal(s.readyState, "writeOnly");
        s.end(`got ${Buffer.concat(parts).toString()}`);
      });
    });
    server.listen(9, "10.0.0.1");
    await once(server, "listening");
    const c = b.net.createConnection({ host: "10.0.0.1", port: 9, allowHalfOpen: true });
    await once(c, "connect");
    const got = collect(c);
    const closed = next(c, "close");
    c.end("question");
    assert.equal((await got).toString(), "got question");
    await closed;
    server.close();
  } finally {
    await done();
  }
});

test("net: a RST reaches the peer as ECONNRESET (read)", async () => {
  const [a, b, done] = await pair();
  try {
    const accepted = new Promise<Socket>((resolve) => {
      a.net.createServer(resolve).listen(5000, "10.0.0.1");
    });
    const c = b.net.createConnection(5000, "10.0.0.1");
    await once(c, "connect");
    const s = await accepted;
    s.resetAndDestroy();
    const [err] = (await next(c, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "ECONNRESET");
    assert.equal(err.syscall, "read");
    assert.equal(err.errno, -104);
    assert.equal(err.message, "read ECONNRESET");

    // destroy() with data TCP holds unread also resets (RFC 2525 2.17), as the kernel does.
    const accepted2 = new Promise<Socket>((resolve) => {
      a.net.createServer({ pauseOnConnect: true }, resolve).listen(5001, "10.0.0.1");
    });
    const c2 = b.net.createConnection(5001, "10.0.0.1");
    const s2 = await accepted2;
    c2.write("unread");
    while ((s2.tcpInfo()?.recvBuffered ?? 0) === 0) await sleep(5);
    assert.equal(s2.readableLength, 0);
    s2.destroy();
    const [err2] = (await next(c2, "error")) as [NodeJS.ErrnoException];
    assert.equal(err2.code, "ECONNRESET");
  } finally {
    await done();
  }
});

test("net: setTimeout emits timeout after idleness and keeps the socket open", async () => {
  const [a, b, done] = await pair();
  try {
    a.net.createServer(() => {}).listen(6000, "10.0.0.1");
    const c = b.net.createConnection(6000, "10.0.0.1");
    await once(c, "connect");
    const t0 = performance.now();
    let fired = 0;
    c.setTimeout(50, () => fired++);
    assert.equal(c.timeout, 50);
    await once(c, "timeout");
    const dt = performance.now() - t0;
    assert.ok(dt >= 45, `timeout after ${dt} ms`);
    assert.equal(fired, 1);
    assert.equal(c.destroyed, false);
    c.setTimeout(0);
    assert.equal(c.timeout, 0);
    c.destroy();
  } finally {
    await done();
  }
});

test("net: large transfer with a slow reader: the window closes and recovers, data intact", async () => {
  const [a, b, done] = await pair();
  try {
    const size = 3 * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
    const want = createHash("sha256").update(data).digest("hex");
    const accepted = new Promise<Socket>((resolve) => {
      a.net.createServer(resolve).listen(7000, "10.0.0.1");
    });
    const c = b.net.createConnection(7000, "10.0.0.1");
    await once(c, "connect");
    const s = await accepted;
    // The reader does not read at first.
    s.pause();
    let falseSeen = false;
    let drains = 0;
    c.on("drain", () => drains++);
    let off = 0;
    const chunk = 64 * 1024;
    const writeSome = (): void => {
      while (off < size) {
        const ok = c.write(data.subarray(off, off + chunk));
        off += chunk;
        if (!ok) {
          falseSeen = true;
          c.once("drain", writeSome);
          return;
        }
      }
      c.end();
    };
    writeSome();
    // Wait until the receiver's window is closed: its TCP receive buffer is full, and the sender
    // has less than a segment of window (RFC 9293 3.8.6.2.1: it does not send less).
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) {
      await sleep(20);
      const info = c.tcpInfo();
      const rinfo = s.tcpInfo();
      closed = info !== null && rinfo !== null && info.sndWnd < info.smss && rinfo.rcvWnd < info.smss;
    }
    assert.ok(closed, "the window closed");
    assert.ok(falseSeen, "write() returned false");
    const rinfo = s.tcpInfo();
    // What the stream holds is bounded by its high-water mark; the rest waits in TCP.
    assert.ok(rinfo !== null && rinfo.recvBuffered > 200_000, `recvBuffered ${rinfo?.recvBuffered}`);
    assert.ok(s.readableLength <= 65536 + s.readableHighWaterMark);
    assert.ok(off < size, "the sender is blocked");
    // Now read slowly, then fully.
    const hash = createHash("sha256");
    let got = 0;
    s.on("data", (d: Buffer) => {
      hash.update(d);
      got += d.length;
    });
    s.resume();
    await once(s, "end");
    assert.equal(got, size);
    const cClosed = next(c, "close");
    assert.equal(hash.digest("hex"), want);
    assert.ok(drains > 0);
    assert.equal(s.bytesRead, size);
    s.end();
    await cClosed;
  } finally {
    await done();
  }
});

test("net: corked small writes reach TCP together: one segment with Nagle off, one data chunk", async () => {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(la, { addresses: ["10.0.0.1/24"] });
  b.addLink(lb, { addresses: ["10.0.0.2/24"] });
  try {
    const chunks: Buffer[] = [];
    const got = new Promise<void>((resolve) => {
      a.net
        .createServer((s) => {
          s.on("data", (d: Buffer) => {
            chunks.push(d);
            if (Buffer.concat(chunks).length >= 100) resolve();
          });
        })
        .listen(7, "10.0.0.1");
    });
    const c = b.net.createConnection({ host: "10.0.0.1", port: 7, noDelay: true });
    await once(c, "connect");
    await sleep(20);
    const before = lb.stats.txFrames;
    c.cork();
    for (let i = 0; i < 10; i++) c.write(Buffer.alloc(10, 0x30 + i));
    c.uncork();
    // The ten chunks went to TCP in one call: one data segment, sent at once.
    assert.equal(lb.stats.txFrames - before, 1);
    await got;
    assert.equal(chunks.length, 1);
    assert.equal(
      chunks[0].toString(),
      "0123456789".replace(/./g, (d) => d.repeat(10)),
    );
    assert.equal(c.bytesWritten, 100);
    c.destroy();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

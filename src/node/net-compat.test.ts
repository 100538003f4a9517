// Regression tests for issue 12 items 4-11: node:net behaviour the stack's net must share with
// node:net (checked side by side with the real module on loopback where the result is Node's own).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import realNet from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { memoryLinkPair } from "./link.ts";
import type { Server, Socket } from "./net.ts";
import { NodeStack } from "./node-stack.ts";

/** Two stacks joined by an in-memory link: a = 10.0.0.1 / fd00::1, b = 10.0.0.2 / fd00::2. */
async function pair(): Promise<[NodeStack, NodeStack, () => Promise<void>]> {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(la, { addresses: ["10.0.0.1/24", "fd00::1/64"] });
  b.addLink(lb, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  await Promise.all([a.ready(), b.ready()]);
  return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
}

function next(e: NodeJS.EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((resolve) => e.once(name, (...args: unknown[]) => resolve(args)));
}

async function listening(s: Server | realNet.Server): Promise<number> {
  if (!s.listening) await once(s, "listening");
  return (s.address() as realNet.AddressInfo).port;
}

test("item 4: the idle timeout fires again after activity; timeout is 0 after setTimeout(0); peer unknown after close", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.on("data", () => {}));
    srv.listen(7000, "10.0.0.1");
    await listening(srv);
    const c = b.net.createConnection(7000, "10.0.0.1");
    await once(c, "connect");
    let fired = 0;
    c.setTimeout(40, () => fired++);
    c.on("timeout", () => {});
    await once(c, "timeout");
    // Activity after the first timeout starts a new idle period: a second event follows.
    c.write("x");
    await once(c, "timeout");
    assert.equal(fired, 1);
    c.setTimeout(0);
    assert.equal(c.timeout, 0);
    // remoteAddress was never read while connected: after close it is undefined, as node:net's.
    c.destroy();
    await once(c, "close");
    assert.equal(c.remoteAddress, undefined);
    assert.equal(c.remotePort, undefined);
    assert.equal(c.localAddress, undefined);
    srv.close();
  } finally {
    await done();
  }
  // The same with node:net on loopback.
  const srv = realNet.createServer(() => {}).listen(0, "127.0.0.1");
  const c = realNet.connect(await listening(srv), "127.0.0.1");
  await once(c, "connect");
  c.destroy();
  await once(c, "close");
  assert.equal(c.remoteAddress, undefined);
  c.setTimeout(10);
  srv.close();
});

test("item 5: past maxConnections the connection is closed and `drop` names it", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.on("data", () => {}));
    srv.maxConnections = 1;
    srv.listen(7001, "10.0.0.1");
    await listening(srv);
    const c1 = b.net.createConnection(7001, "10.0.0.1");
    await once(c1, "connect");
    const dropped = next(srv, "drop");
    const c2 = b.net.createConnection(7001, "10.0.0.1");
    const errors: Error[] = [];
    c2.on("error", (e) => errors.push(e));
    c2.resume();
    await once(c2, "connect");
    const [data] = (await dropped) as [Record<string, unknown>];
    assert.equal(data.remoteAddress, "10.0.0.2");
    assert.equal(data.remotePort, c2.localPort);
    assert.equal(data.localAddress, "10.0.0.1");
    assert.equal(data.localPort, 7001);
    // node:net closes the handle: the client sees the end of the stream, not a reset.
    await once(c2, "end");
    assert.deepEqual(errors, []);
    c1.destroy();
    c2.destroy();
    srv.close();
  } finally {
    await done();
  }
});

test("item 6: a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; ipv6Only refuses them", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer();
    srv.listen(7002);
    await listening(srv);
    const accepted = next(srv, "connection");
    const c = b.net.createConnection(7002, "10.0.0.1");
    await once(c, "connect");
    const [s] = (await accepted) as [Socket];
    assert.equal(s.remoteAddress, "::ffff:10.0.0.2");
    assert.equal(s.remoteFamily, "IPv6");
    assert.equal(s.localAddress, "::ffff:10.0.0.1");
    assert.deepEqual(s.address(), { address: "::ffff:10.0.0.1", family: "IPv6", port: 7002 });
    // The client's own view is plain IPv4.
    assert.equal(c.remoteAddress, "10.0.0.1");
    c.destroy();
    srv.close();
    const only6 = a.net.createServer();
    only6.listen({ port: 7003, ipv6Only: true });
    await listening(only6);
    const c4 = b.net.createConnection(7003, "10.0.0.1");
    const [err] = (await next(c4, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "ECONNREFUSED");
    const c6 = b.net.createConnection(7003, "fd00::1");
    await once(c6, "connect");
    c6.destroy();
    only6.close();
  } finally {
    await done();
  }
  // node:net on loopback does the same.
  const srv = realNet.createServer().listen(0);
  const accepted = next(srv, "connection");
  const c = realNet.connect(await listening(srv), "127.0.0.1");
  const [s] = (await accepted) as [realNet.Socket];
  assert.equal(s.remoteAddress, "::ffff:127.0.0.1");
  assert.equal(s.remoteFamily, "IPv6");
  c.destroy();
  s.destroy();
  srv.close();
});

/** Run `body` (TypeScript, in a child with `stack` a NodeStack on loopback): ms until it exits. */
async function exitsWithin(body: string, limitMs: number): Promise<number> {
  const script = `import { NodeStack } from ${JSON.stringify(new URL("./node-stack.ts", import.meta.url).pathname)};
const stack = new NodeStack({ dad: false });
${body}`;
  const dir = mkdtempSync(join(tmpdir(), "netstack-loop-"));
  const file = join(dir, "child.ts");
  writeFileSync(file, script);
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", file], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(signal, null, `still running after ${limitMs} ms: ${body}`);
  assert.equal(code, 0, stderr);
  return performance.now() - t0;
}

test("item 8: a socket stops holding the event loop at end-of-stream, when paused, or unref()ed", async () => {
  // Each child ends only when nothing of the stack holds its loop (as with node:net).
  await Promise.all([
    // End-of-stream received: the client socket (never ended by us) no longer holds the loop.
    exitsWithin(
      `const srv = stack.net.createServer((s) => { s.end("bye"); srv.close(); }).listen(9, () => {
         const c = stack.net.connect(9, "127.0.0.1"); c.resume(); c.on("end", () => {});
       });`,
      8000,
    ),
    // Paused before it connected (node:net's test-net-connect-paused-connection).
    exitsWithin(
      `stack.net.createServer((conn) => conn.unref()).listen(9, function () {
         stack.net.connect(9, "127.0.0.1").pause();
         this.unref();
       });`,
      8000,
    ),
    // unref()ed client and server.
    exitsWithin(
      `const srv = stack.net.createServer((s) => s.unref()).listen(9, () => {
         stack.net.connect(9, "127.0.0.1").unref();
         srv.unref();
       });`,
      8000,
    ),
  ]);
});

test("item 9: shapes: callable without new, one prototype, Server.call(this), listeners, reconnect", async () => {
  const [a, b, done] = await pair();
  try {
    const { Server, Socket, Stream } = a.net;
    assert.ok((Server as unknown as () => Server)() instanceof Server);
    assert.ok((Socket as unknown as () => Socket)() instanceof Socket);
    assert.equal(Stream, Socket);
    // new Server(listener) and new Server(options, listener) honour the listener.
    let calls = 0;
    const s1 = new Server(() => calls++).listen(7010, "10.0.0.1");
    const s2 = new Server({ allowHalfOpen: true }, () => calls++).listen(7011, "10.0.0.1");
    await Promise.all([listening(s1), listening(s2)]);
    // Patches to Socket.prototype apply to every socket of the stack.
    (b.net.Socket.prototype as unknown as { tag(): string }).tag = () => "patched";
    const c1 = b.net.createConnection(7010, "10.0.0.1");
    const c2 = b.net.connect({ port: 7011, host: "10.0.0.1" });
    assert.ok(c1 instanceof b.net.Socket && c1 instanceof Socket && c1 instanceof Duplex);
    assert.equal((c1 as unknown as { tag(): string }).tag(), "patched");
    await Promise.all([once(c1, "connect"), once(c2, "connect")]);
    await sleep(20);
    assert.equal(calls, 2);
    c1.destroy();
    c2.destroy();
    s1.close();
    s2.close();
    // node:http's Server builds itself with `net.Server.call(this, options)`: so can a subclass here.
    function LegacyServer(this: Server) {
      a.net.Server.call(this, { allowHalfOpen: true });
    }
    Object.setPrototypeOf(LegacyServer.prototype, a.net.Server.prototype);
    const legacy = new (LegacyServer as unknown as new () => Server)();
    assert.equal(legacy.allowHalfOpen, true);
    legacy.listen(7012, "10.0.0.1");
    assert.equal(await listening(legacy), 7012);
    legacy.close();
    // A closed socket connects again.
    const echo = a.net.createServer((s) => s.pipe(s)).listen(7013, "10.0.0.1");
    await listening(echo);
    const r = b.net.createConnection(7013, "10.0.0.1");
    for (let i = 0; i < 3; i++) {
      if (i > 0) r.connect(7013, "10.0.0.1");
      await once(r, "connect");
      const got = once(r, "data");
      r.write(`round ${i}`);
      assert.equal(String((await got)[0]), `round ${i}`);
      r.end();
      await once(r, "close");
    }
    echo.close();
  } finally {
    await done();
  }
});

test("item 10: bufferSize, localFamily, the signal options, Symbol.asyncDispose", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer().listen(7020, "fd00::1");
    await listening(srv);
    const c = b.net.createConnection(7020, "fd00::1");
    assert.equal(c.bufferSize, 0);
    await once(c, "connect");
    assert.equal(c.localFamily, "IPv6");
    c.destroy();
    await once(c, "close");
    assert.equal(c.bufferSize, undefined);
    // connect({ signal }): aborting destroys the socket with an AbortError.
    const ac = new AbortController();
    const s = b.net.createConnection({ port: 7020, host: "fd00::1", signal: ac.signal });
    const [err] = (await Promise.all([next(s, "error"), Promise.resolve().then(() => ac.abort())]))[0] as [Error];
    assert.equal(err.name, "AbortError");
    assert.equal(s.destroyed, true);
    // listen({ signal }): aborting closes the server.
    const lc = new AbortController();
    const l = a.net.createServer().listen({ port: 7021, host: "10.0.0.1", signal: lc.signal });
    await listening(l);
    lc.abort();
    await once(l, "close");
    assert.equal(l.listening, false);
    // dgram createSocket({ signal }): aborting closes the socket.
    const dc = new AbortController();
    const d = a.dgram.createSocket({ type: "udp4", signal: dc.signal });
    d.bind(0);
    await once(d, "listening");
    dc.abort();
    await once(d, "close");
    // Symbol.asyncDispose closes a server, a dgram socket.
    const disposable = a.net.createServer().listen(7022, "10.0.0.1");
    await listening(disposable);
    await disposable[Symbol.asyncDispose]();
    assert.equal(disposable.listening, false);
    const d2 = a.dgram.createSocket("udp6").bind(0);
    await once(d2, "listening");
    await d2[Symbol.asyncDispose]();
    assert.throws(() => d2.address(), { code: "ERR_SOCKET_DGRAM_NOT_RUNNING", message: "Not running" });
    srv.close();
  } finally {
    await done();
  }
});

test("item 11: bytesWritten counts each byte once while a chunk is partly sent", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.pause()).listen(7030, "10.0.0.1");
    await listening(srv);
    const c = b.net.createConnection(7030, "10.0.0.1");
    await once(c, "connect");
    const total = 10_000_000;
    c.write(Buffer.alloc(total, 1));
    // The receiver does not read: TCP holds part of the chunk, the rest waits in the stream.
    await sleep(100);
    assert.ok((c.bufferSize ?? 0) > 0);
    assert.equal(c.bytesWritten, total);
    c.destroy();
    srv.close();
  } finally {
    await done();
  }
});

test("item 11: remote address only once connected; writes after the peer's FIN; local address and port errors; 0.0.0.0", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.end("bye")).listen(7040, "10.0.0.1");
    await listening(srv);
    const c = b.net.createConnection(7040, "10.0.0.1");
    assert.equal(c.remoteAddress, undefined);
    await once(c, "connect");
    assert.equal(c.remoteAddress, "10.0.0.1");
    // Without allowHalfOpen, a write after the peer's FIN fails as node:net's (EPIPE, next tick).
    c.resume();
    c.end();
    const late = new Promise<[boolean, NodeJS.ErrnoException]>((resolve) =>
      c.on("end", () => {
        const ret = c.write("late", (e) => resolve([ret, e as NodeJS.ErrnoException]));
      }),
    );
    c.on("error", () => {});
    const [ret, err] = await late;
    assert.equal(ret, false);
    assert.equal(err.code, "EPIPE");
    assert.equal(err.message, "This socket has been ended by the other party");
    // With allowHalfOpen the write goes out after the peer's FIN.
    const got: Buffer[] = [];
    let ended: () => void = () => {};
    const serverEnded = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const half = a.net.createServer({ allowHalfOpen: true }, (s) => {
      s.on("data", (d: Buffer) => got.push(d));
      s.on("end", ended);
      s.end();
    });
    half.listen(7041, "10.0.0.1");
    await listening(half);
    const h = b.net.createConnection({ port: 7041, host: "10.0.0.1", allowHalfOpen: true });
    h.resume();
    await once(h, "end");
    h.end("after FIN");
    await serverEnded;
    assert.equal(Buffer.concat(got).toString(), "after FIN");
    // A local address that is not ours, a local port a listener holds.
    const na = b.net.createConnection({ port: 7040, host: "10.0.0.1", localAddress: "10.0.0.9" });
    const [e1] = (await next(na, "error")) as [NodeJS.ErrnoException];
    assert.equal(e1.code, "EADDRNOTAVAIL");
    assert.equal(e1.syscall, "bind");
    assert.equal(e1.message, "bind EADDRNOTAVAIL 10.0.0.9");
    const holder = b.net.createServer().listen(7042, "10.0.0.2");
    await listening(holder);
    const inuse = b.net.createConnection({ port: 7040, host: "10.0.0.1", localPort: 7042 });
    const [e2] = (await next(inuse, "error")) as [NodeJS.ErrnoException];
    assert.equal(e2.code, "EADDRINUSE");
    holder.close();
    // Connecting to 0.0.0.0 is connecting to this host (Linux): nothing listens: ECONNREFUSED.
    const z = b.net.createConnection(7099, "0.0.0.0");
    const [e3] = (await next(z, "error")) as [NodeJS.ErrnoException];
    assert.equal(e3.code, "ECONNREFUSED");
    // `listening` does not fire after an immediate close().
    const quick = a.net.createServer().listen(7043, "10.0.0.1");
    let heard = false;
    quick.on("listening", () => {
      heard = true;
    });
    quick.close();
    await once(quick, "close");
    await sleep(10);
    assert.equal(heard, false);
    srv.close();
    half.close();
  } finally {
    await done();
  }
});

test("item 11: argument errors carry node:net's codes, classes and messages", async () => {
  const [a, _b, done] = await pair();
  try {
    const cases: [string, (net: typeof realNet) => unknown][] = [
      ["connect({})", (n) => n.connect({} as never)],
      ["connect(-1)", (n) => n.connect(-1)],
      ["connect(65536)", (n) => n.connect({ port: 65536 })],
      ["connect port true", (n) => n.connect({ port: true as never })],
      ["connect localAddress", (n) => n.connect({ port: 80, localAddress: "nope" })],
      ["listen(65536)", (n) => n.createServer().listen(65536)],
      ["listen({})", (n) => n.createServer().listen({} as never)],
      ["Server(1)", (n) => new n.Server(1 as never)],
      ["setTimeout(-1)", (n) => new n.Socket().setTimeout(-1)],
    ];
    for (const [what, f] of cases) {
      const want = capture(() => f(realNet));
      const got = capture(() => f(a.net as unknown as typeof realNet));
      assert.ok(want !== null, `${what}: node:net threw nothing`);
      assert.deepEqual(got, want, what);
    }
  } finally {
    await done();
  }
});

function capture(f: () => unknown): { name: string; code: unknown; message: string } | null {
  try {
    const r = f() as { destroy?(): void; close?(): void } | undefined;
    r?.destroy?.();
    return null;
  } catch (e) {
    const err = e as Error & { code?: unknown };
    return { name: err.name, code: err.code, message: err.message };
  }
}

test("types: a stack socket goes where a net.Socket is expected; stack.http.agent() is an http.Agent", async () => {
  const [a, b, done] = await pair();
  try {
    const srv = a.net.createServer((s) => s.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"));
    srv.listen(80, "10.0.0.1");
    await listening(srv);
    // Type level: accepted without a cast (typecheck fails otherwise).
    const c: realNet.Socket = b.net.createConnection(80, "10.0.0.1");
    await once(c, "connect");
    c.destroy();
    const { get } = await import("node:http");
    const body = await new Promise<string>((resolve, reject) =>
      get("http://10.0.0.1/", { agent: b.http.agent() }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d;
        });
        res.on("end", () => resolve(text));
      }).on("error", reject),
    );
    assert.equal(body, "ok");
    srv.close();
  } finally {
    await done();
  }
});

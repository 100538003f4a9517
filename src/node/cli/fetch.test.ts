// `httpGet` (the engine of `netstack fetch`) between two stacks on an in-memory link: a normal
// download, an HTTP error, and the idle timeout with its TCP and neighbour diagnostics, against a
// server that accepts and never answers and against an address nobody owns.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import http from "node:http";
import { test } from "node:test";
import { memoryLinkPair } from "../link.ts";
import type { Socket } from "../net.ts";
import { NodeStack } from "../node-stack.ts";
import { httpGet } from "./fetch.ts";
import { neighbourDiagnostics, tcpDiagnostics } from "./tcp-diag.ts";

/** Client a = 10.0.0.1 / fd00::1, server b = 10.0.0.2 / fd00::2; the MAC of b. */
async function pair(): Promise<{ a: NodeStack; b: NodeStack; bMac: string; close: () => Promise<void> }> {
  const [la, lb] = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(la, { addresses: ["10.0.0.1/24", "fd00::1/64"] });
  const db = b.addLink(lb, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  await Promise.all([a.ready(), b.ready()]);
  const bMac = b.stack.deviceInfo(db)?.mac ?? "";
  return { a, b, bMac, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

/** An http.Server on `stack`'s TCP port `port`. */
function serveHttp(stack: NodeStack, port: number, handler: http.RequestListener) {
  const server = http.createServer(handler);
  const listener = stack.net.createServer((sock) => server.emit("connection", sock));
  listener.listen(port);
  return listener;
}

test("httpGet downloads a body; an HTTP error status is a failure with the status line", async () => {
  const { a, b, close } = await pair();
  try {
    const body = new Uint8Array(200_000).map((_, i) => i * 7);
    const listener = serveHttp(b, 8000, (req, res) => {
      if (req.url !== "/blob") {
        res.writeHead(404, "Not Found").end();
        return;
      }
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
    const parts: Buffer[] = [];
    const progress: [number, number | null, boolean][] = [];
    const out = new (await import("node:stream")).Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        cb();
      },
    });
    const ok = await httpGet(a, {
      host: "fd00::2",
      port: 8000,
      path: "/blob",
      idleTimeoutMs: 5000,
      out,
      progress: (n, total, final) => progress.push([n, total, final]),
    });
    assert.deepEqual({ ...ok }, { ok: true, message: "", stalled: false, status: 200, received: body.length });
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), body);
    assert.deepEqual(progress.at(-1), [body.length, body.length, true]);

    const missing = await httpGet(a, { host: "10.0.0.2", port: 8000, path: "/nope", idleTimeoutMs: 5000 });
    assert.deepEqual(
      { ...missing },
      { ok: false, message: "HTTP 404 Not Found", stalled: false, status: 404, received: 0 },
    );
    const refused = await httpGet(a, { host: "10.0.0.2", port: 8001, path: "/", idleTimeoutMs: 5000 });
    assert.equal(refused.message, "connection refused by 10.0.0.2:8001");
    listener.close();
  } finally {
    await close();
  }
});

test("idle timeout: a server that accepts and never answers; the message shows TCP state and neighbour", async () => {
  const { a, b, bMac, close } = await pair();
  try {
    let request = "";
    const accepted: Socket[] = [];
    const listener = b.net.createServer((sock) => {
      accepted.push(sock);
      sock.on("data", (d: Buffer) => {
        request += d.toString("latin1");
      });
    });
    listener.listen(8000);
    const t0 = performance.now();
    const r = await httpGet(a, { host: "10.0.0.2", port: 8000, path: "/x", idleTimeoutMs: 300 });
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.stalled, true);
    assert.equal(r.status, 0);
    assert.ok(took >= 300 && took < 3000, `gave up after ${took} ms`);
    assert.match(request, /^GET \/x HTTP\/1\.1\r\nHost: 10\.0\.0\.2:8000\r\n/);
    assert.ok(request.endsWith("\r\n\r\n"));
    // Everything we sent (SYN + request) is acknowledged; we received only the SYN-ACK.
    const sent = 1 + request.length;
    const srtt = r.message.match(/srtt (\d+ ms)/)?.[1];
    assert.equal(
      r.message,
      `no data from 10.0.0.2:8000 for 0.3 s (TCP state ESTABLISHED, snd.una/nxt ${sent}/${sent}, rcv.nxt 1, ` +
        `snd.wnd ${r.message.match(/snd\.wnd (\d+)/)?.[1]}, rcv.wnd ${r.message.match(/rcv\.wnd (\d+)/)?.[1]}, ` +
        `retransmitted 0 segments (0 timeouts, 0 unanswered), RTO ${r.message.match(/RTO (\d+ ms)/)?.[1]}, ` +
        // srtt is left out while it is 0 ms (a sub-millisecond memory link).
        `${srtt === undefined ? "" : `srtt ${srtt}, `}last segment ${r.message.match(/last segment (\d+ ms)/)?.[1]} ago; ` +
        `neighbour 10.0.0.2 reachable ${bMac})`,
    );
    assert.ok(Number(r.message.match(/snd\.wnd (\d+)/)?.[1]) > 0);
    assert.ok(Number(r.message.match(/rcv\.wnd (\d+)/)?.[1]) > 0);
    // The last segment from the server (the ACK of the request) came about the timeout ago.
    const ago = Number(r.message.match(/last segment (\d+) ms ago/)?.[1]);
    assert.ok(ago >= 250 && ago < 3000, r.message);
    // The client gave up: the server sees the connection end.
    for (const s of accepted) s.destroy();
    listener.close();
  } finally {
    await close();
  }
});

test("idle timeout while connecting: nobody has the address (SYN-SENT, neighbour incomplete)", async () => {
  const { a, close } = await pair();
  try {
    const r = await httpGet(a, { host: "fd00::99", port: 80, path: "/", idleTimeoutMs: 200 });
    assert.equal(r.stalled, true);
    assert.match(
      r.message,
      /^no data from \[fd00::99\]:80 for 0\.2 s \(TCP state SYN-SENT, snd\.una\/nxt 0\/1, rcv\.nxt 0, snd\.wnd 0, rcv\.wnd \d+, retransmitted 0 segments \(0 timeouts, 0 unanswered\), RTO 1000 ms; neighbour fd00::99 incomplete \(1 packet queued\)\)$/,
    );
  } finally {
    await close();
  }
});

test("the idle timer restarts with every byte: a slow but steady response completes", async () => {
  const { a, b, close } = await pair();
  try {
    const listener = serveHttp(b, 8000, (_req, res) => {
      res.writeHead(200, { "content-length": 6 });
      let n = 0;
      const t = setInterval(() => {
        res.write("x");
        if (++n === 6) {
          clearInterval(t);
          res.end();
        }
      }, 100);
    });
    // 6 bytes 100 ms apart: 600 ms in all, never 400 ms without data.
    const r = await httpGet(a, { host: "10.0.0.2", port: 8000, path: "/", idleTimeoutMs: 400 });
    assert.deepEqual({ ...r }, { ok: true, message: "", stalled: false, status: 200, received: 6 });
    listener.close();
  } finally {
    await close();
  }
});

test("diagnostics without a connection, and a next hop behind a gateway", async () => {
  const { a, bMac, close } = await pair();
  try {
    assert.equal(tcpDiagnostics(a, null), "no TCP connection");
    assert.equal(neighbourDiagnostics(a, "10.0.0.2"), "no neighbour entry for 10.0.0.2");
    a.gateway("10.0.0.2");
    // Resolve the gateway (a ping through it), then ask about an off-link host.
    const p = await a.ping("10.0.0.2", { count: 1 });
    assert.equal(p.received, 1);
    assert.equal(neighbourDiagnostics(a, "192.0.2.7"), `neighbour 10.0.0.2 reachable ${bMac}`);
    assert.equal(neighbourDiagnostics(a, "fd00:0::2"), "no neighbour entry for fd00::2");
  } finally {
    await close();
  }
});

test("lingerGuard: a process still held open after the work says what holds it and exits", () => {
  const run = (body: string) =>
    spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", body], {
      cwd: new URL("../../..", import.meta.url).pathname,
      encoding: "utf8",
      timeout: 20_000,
    });
  const guard = `import { lingerGuard } from "./src/node/cli/fetch.ts";
    const ctx = { err: (l) => process.stderr.write(l + "\\n") };`;
  // Something (a forgotten interval) holds the event loop: the guard fires.
  const held = run(`${guard} setInterval(() => {}, 1e6); lingerGuard(0, ctx, 100);`);
  assert.equal(held.status, 1);
  assert.match(
    held.stderr,
    /^netstack fetch: internal error: still running 0\.1 s after finishing \(active: .*Timeout.*\)\n$/,
  );
  // Nothing holds it: the process ends normally, without waiting for the guard.
  const t0 = performance.now();
  const clean = run(`${guard} lingerGuard(0, ctx, 10_000); process.stdout.write("done");`);
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal(clean.stdout, "done");
  assert.equal(clean.stderr, "");
  assert.ok(performance.now() - t0 < 9000);
});

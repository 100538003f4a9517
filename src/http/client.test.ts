// The fetch client over two BrowserStacks in this process (an in-memory link), against servers that
// write raw HTTP bytes with stack.listen: what a caller of fetch sees (statuses, bodies, errors), and
// what the server sees (requests, connections).
import assert from "node:assert/strict";
import { test } from "node:test";
import { BrowserStack, type BrowserStackOptions, inPageLinkPair } from "../browser/browser-stack.ts";
import type { TcpSocket } from "../host/tcp-socket.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function pair(http?: BrowserStackOptions["http"]) {
  const [la, lb] = inPageLinkPair();
  const a = new BrowserStack({ dad: false, http, lookup: async (h) => (h === "server.test" ? ["10.9.0.2"] : []) });
  const b = new BrowserStack({ dad: false });
  a.addLink(la, { addresses: ["10.9.0.1/24"] });
  b.addLink(lb, { addresses: ["10.9.0.2/24"] });
  return { a, b, close: async () => Promise.all([a.close(), b.close()]) };
}

interface SeenRequest {
  head: string;
  body: string;
  conn: number;
}

/**
 * A server that parses requests (Content-Length or chunked bodies) and answers each with what
 * `answer` returns: raw bytes to write, or "close" (close without answering), or "reset".
 */
function rawServer(
  stack: BrowserStack,
  port: number,
  answer: (req: SeenRequest, n: number) => string | Uint8Array | "close" | "reset" | Promise<string | "close">,
) {
  const seen: SeenRequest[] = [];
  let conns = 0;
  const listener = stack.listen(port, (c: TcpSocket) => {
    const conn = ++conns;
    void (async () => {
      const reader = c.readable.getReader();
      const writer = c.writable.getWriter();
      let buf = "";
      const fill = async () => {
        const r = await reader.read();
        if (r.done) return false;
        buf += dec.decode(r.value);
        return true;
      };
      try {
        for (;;) {
          while (!buf.includes("\r\n\r\n")) if (!(await fill())) return await c.close();
          const i = buf.indexOf("\r\n\r\n");
          const head = buf.slice(0, i);
          buf = buf.slice(i + 4);
          let body = "";
          const cl = /content-length: (\d+)/i.exec(head);
          if (cl !== null) {
            while (buf.length < Number(cl[1])) await fill();
            body = buf.slice(0, Number(cl[1]));
            buf = buf.slice(Number(cl[1]));
          } else if (/transfer-encoding: chunked/i.test(head)) {
            while (!buf.includes("0\r\n\r\n")) await fill();
            const end = buf.indexOf("0\r\n\r\n") + 5;
            body = buf.slice(0, end).replace(/[0-9a-f]+\r\n([\s\S]*?)\r\n/g, "$1");
            buf = buf.slice(end);
          }
          const req = { head, body, conn };
          seen.push(req);
          const out = await answer(req, seen.length);
          if (out === "close") return await c.close();
          if (out === "reset") return await writer.abort();
          await writer.write(typeof out === "string" ? enc.encode(out) : out);
        }
      } catch {
        await c.close().catch(() => {});
      }
    })();
  });
  return { seen, listener, connections: () => conns };
}

const ok = (body: string, extra = "") => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

test("fetch: keep-alive reuses one connection; the pool keeps at most maxIdlePerOrigin", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair({ maxIdlePerOrigin: 2 });
  const srv = rawServer(b, 80, (r) => ok(`you asked ${r.head.split(" ")[1]}`));
  for (let i = 0; i < 3; i++) assert.equal(await (await a.fetch(`http://10.9.0.2/${i}`)).text(), `you asked /${i}`);
  assert.equal(srv.connections(), 1);
  assert.equal(a.http.stats.reused, 2);
  // Four at once need four connections; afterwards the pool keeps two of them.
  const texts = await Promise.all([0, 1, 2, 3].map(async (i) => (await a.fetch(`http://10.9.0.2/p${i}`)).text()));
  assert.deepEqual(texts, ["you asked /p0", "you asked /p1", "you asked /p2", "you asked /p3"]);
  assert.equal(srv.connections(), 4);
  assert.equal(a.http.idleConnections, 2);
  // The request line, Host and Accept as sent.
  assert.match(srv.seen[0].head, /^GET \/0 HTTP\/1\.1\r\nhost: 10\.9\.0\.2\r\naccept: \*\/\*$/);
  await close();
});

test("fetch: an idle connection the server closed is dropped; a request it refused is retried once", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair();
  // Request 2 arrives on the reused connection and the server closes it without answering.
  const srv = rawServer(b, 80, (_r, n) => (n === 2 ? "close" : ok(`n=${n}`)));
  assert.equal(await (await a.fetch("http://10.9.0.2/x")).text(), "n=1");
  assert.equal(await (await a.fetch("http://10.9.0.2/x")).text(), "n=3");
  assert.equal(a.http.stats.retried, 1);
  assert.equal(srv.connections(), 2);
  // A POST with a byte body is replayable too.
  await close();
});

test("fetch: idle connections close after idleTimeoutMs", { timeout: 30_000 }, async () => {
  const { a, b, close } = pair({ idleTimeoutMs: 30 });
  rawServer(b, 80, () => ok("x"));
  await (await a.fetch("http://10.9.0.2/")).text();
  assert.equal(a.http.idleConnections, 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(a.http.idleConnections, 0);
  await close();
});

test("fetch: redirects rewrite methods as fetch does, and drop Authorization across origins", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair();
  const srv = rawServer(b, 80, (r) => {
    const path = r.head.split(" ")[1];
    const method = r.head.split(" ")[0];
    if (path === "/303") return "HTTP/1.1 303 See Other\r\nLocation: /seen\r\nContent-Length: 0\r\n\r\n";
    if (path === "/307") return "HTTP/1.1 307 Temporary Redirect\r\nLocation: /seen\r\nContent-Length: 0\r\n\r\n";
    if (path === "/302") return "HTTP/1.1 302 Found\r\nLocation: /seen\r\nContent-Length: 0\r\n\r\n";
    if (path === "/away")
      return "HTTP/1.1 301 Moved\r\nLocation: http://10.9.0.2:8080/there\r\nContent-Length: 0\r\n\r\n";
    const auth = /authorization: (.*)/i.exec(r.head)?.[1] ?? "none";
    return ok(`${method} ${path} body=${r.body} auth=${auth}`);
  });
  rawServer(b, 8080, (r) => ok(`other origin auth=${/authorization: (.*)/i.exec(r.head)?.[1] ?? "none"}`));
  const post = { method: "POST", body: "data", headers: { authorization: "secret" } };
  assert.equal(await (await a.fetch("http://10.9.0.2/303", post)).text(), "GET /seen body= auth=secret");
  assert.equal(await (await a.fetch("http://10.9.0.2/302", post)).text(), "GET /seen body= auth=secret");
  assert.equal(await (await a.fetch("http://10.9.0.2/307", post)).text(), "POST /seen body=data auth=secret");
  const put = { ...post, method: "PUT" };
  assert.equal(await (await a.fetch("http://10.9.0.2/302", put)).text(), "PUT /seen body=data auth=secret");
  const away = await a.fetch("http://10.9.0.2/away", { headers: { authorization: "secret" } });
  assert.equal(await away.text(), "other origin auth=none");
  assert.equal(away.url, "http://10.9.0.2:8080/there");
  assert.equal(away.redirected, true);
  // The 303's body-describing headers went with the body.
  assert.doesNotMatch(srv.seen[1].head, /content-type/i);
  // A streamed body cannot be sent again for a 307.
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(enc.encode("once"));
      c.close();
    },
  });
  await assert.rejects(
    a.fetch("http://10.9.0.2/307", { method: "POST", body: stream, duplex: "half" } as RequestInit),
    {
      name: "TypeError",
    },
  );
  await assert.rejects(a.fetch("http://10.9.0.2/302", { redirect: "error" }), { name: "TypeError" });
  await close();
});

test("fetch: broken responses reject with TypeError; a short body errors the stream", { timeout: 30_000 }, async () => {
  const { a, b, close } = pair();
  rawServer(b, 80, (r) => {
    const path = r.head.split(" ")[1];
    if (path === "/two-lengths") return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    if (path === "/garbage") return "SMTP ready\r\n\r\n";
    if (path === "/short") return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
    if (path === "/reset") return "reset";
    return ok("?");
  });
  // The server closes after /short's partial body (the next read sees the end).
  await assert.rejects(a.fetch("http://10.9.0.2/two-lengths"), (e: Error) => {
    assert.equal(e.name, "TypeError");
    assert.match(String((e.cause as Error).message), /Content-Length/);
    return true;
  });
  await assert.rejects(a.fetch("http://10.9.0.2/garbage"), { name: "TypeError" });
  await assert.rejects(a.fetch("http://10.9.0.2/reset"), (e: Error) => {
    assert.equal((e.cause as { code?: string }).code, "ECONNRESET");
    return true;
  });
  const short = await a.fetch("http://10.9.0.2/short");
  assert.equal(short.status, 200);
  const reading = short.text();
  // The server stays open: close its side so the body ends early.
  await b.close();
  await assert.rejects(reading, { name: "TypeError" });
  await close();
});

test("fetch: host names go through the lookup hook; unknown names fail with ENOTFOUND", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair();
  rawServer(b, 80, (r) => ok(/host: (.*)/.exec(r.head)?.[1] ?? ""));
  assert.equal(await (await a.fetch("http://server.test/")).text(), "server.test");
  await assert.rejects(a.fetch("http://nowhere.test/"), (e: Error) => {
    assert.equal((e.cause as { code?: string }).code, "ENOTFOUND");
    return true;
  });
  await assert.rejects(a.fetch("https://10.9.0.2/"), { name: "TypeError" });
  await close();
});

test("fetch: gzip bodies are decoded; HEAD and 204 have no body", { timeout: 30_000 }, async () => {
  const { a, b, close } = pair();
  const plain = "netstack ".repeat(1000);
  const gz = new Uint8Array(
    await new Response(new Blob([plain]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  rawServer(b, 80, (r) => {
    const path = r.head.split(" ")[1];
    if (path === "/gz") {
      const h = enc.encode(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`);
      const out = new Uint8Array(h.length + gz.length);
      out.set(h);
      out.set(gz, h.length);
      return out;
    }
    if (path === "/204") return "HTTP/1.1 204 No Content\r\n\r\n";
    return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  });
  assert.equal(await (await a.fetch("http://10.9.0.2/gz")).text(), plain);
  const head = await a.fetch("http://10.9.0.2/", { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), "5");
  assert.equal(head.body, null);
  const nc = await a.fetch("http://10.9.0.2/204");
  assert.equal(nc.status, 204);
  assert.equal(nc.body, null);
  // Both went over one connection: the HEAD's announced length was not waited for.
  assert.equal(a.http.stats.connections, 1);
  await close();
});

test("fetch: a body nobody reads stops the sender (backpressure reaches TCP)", { timeout: 30_000 }, async () => {
  const { a, b, close } = pair();
  const total = 8 * 1024 * 1024;
  let written = 0;
  b.listen(80, (c) => {
    void (async () => {
      const w = c.writable.getWriter();
      await w.write(enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`));
      const chunk = new Uint8Array(65536);
      while (written < total) {
        await w.write(chunk);
        written += chunk.length;
      }
    })();
  });
  const res = await a.fetch("http://10.9.0.2/");
  await new Promise((r) => setTimeout(r, 300));
  // Held: TCP's receive and send buffers (256 KiB each) and the streams' queues, not 8 MiB.
  assert.ok(written < 1024 * 1024, `server wrote ${written} bytes while nobody read`);
  const got = (await res.arrayBuffer()).byteLength;
  assert.equal(got, total);
  await close();
});

test("fetch: at most maxConnectionsPerOrigin connections; more requests wait their turn or abort", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair({ maxConnectionsPerOrigin: 2 });
  const srv = rawServer(b, 80, (r) => ok(`you asked ${r.head.split(" ")[1]}`));
  const texts = await Promise.all([0, 1, 2, 3, 4].map(async (i) => (await a.fetch(`http://10.9.0.2/${i}`)).text()));
  assert.deepEqual(
    texts,
    [0, 1, 2, 3, 4].map((i) => `you asked /${i}`),
  );
  assert.equal(srv.connections(), 2);
  assert.ok(a.http.stats.waited >= 3, `waited ${a.http.stats.waited}`);
  // Two bodies held unread occupy both connections: a third request waits, and its abort ends the wait.
  const held = [await a.fetch("http://10.9.0.2/h1"), await a.fetch("http://10.9.0.2/h2")];
  const ac = new AbortController();
  const waiting = a.fetch("http://10.9.0.2/w", { signal: ac.signal });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.seen.length, 7, "the third request was not sent");
  ac.abort();
  await assert.rejects(waiting, { name: "AbortError" });
  for (const h of held) await h.text();
  assert.equal(await (await a.fetch("http://10.9.0.2/after")).text(), "you asked /after");
  assert.equal(srv.connections(), 2);
  await close();
});

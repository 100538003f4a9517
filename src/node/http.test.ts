// Unmodified node:http and node:tls over the stack: the server is given connections from our
// listener, the client gets its sockets from an Agent whose createConnection returns ours.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import tls from "node:tls";
import { memoryLinkPair } from "./link.ts";
import type { Socket, TcpConnectOptions } from "./net.ts";
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

/** The next `name` event's arguments (an `error` event does not reject it). */
function next(e: NodeJS.EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((resolve) => e.once(name, (...args: unknown[]) => resolve(args)));
}

/** An http.Server fed with the connections our listener accepts on `port`. */
function httpServer(stack: NodeStack, port: number, handler: http.RequestListener) {
  const server = http.createServer(handler);
  const listener = stack.net.createServer((sock) => server.emit("connection", sock));
  listener.listen(port);
  return { server, listener };
}

/** An http.Agent (keep-alive) whose sockets come from `stack`. */
function agentOn(stack: NodeStack): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: unknown }).createConnection = (
    opts: TcpConnectOptions,
    cb?: () => void,
  ): Socket => stack.net.createConnection(opts, cb);
  return agent;
}

function get(agent: http.Agent, url: string): Promise<{ res: http.IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ res, body: Buffer.concat(parts).toString() }));
      })
      .on("error", reject);
  });
}

test("http: node:http server and client over the stack, several keep-alive requests on one connection", async () => {
  const [a, b, done] = await pair();
  const remotePorts = new Set<number | undefined>();
  const { server, listener } = httpServer(a, 80, (req, res) => {
    remotePorts.add(req.socket.remotePort);
    if (req.url?.startsWith("/bytes/")) {
      const n = Number(req.url.slice(7));
      res.writeHead(200, { "content-length": n, "content-type": "application/octet-stream" });
      res.end(Buffer.alloc(n, 0x61));
      return;
    }
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      res.setHeader("content-type", "text/plain");
      res.end(`${req.method} ${req.url} from ${req.socket.remoteAddress}${body ? ` body=${body}` : ""}`);
    });
  });
  const agent = agentOn(b);
  try {
    await once(listener, "listening");
    const r1 = await get(agent, "http://10.0.0.1/hello");
    assert.equal(r1.res.statusCode, 200);
    assert.equal(r1.res.headers["content-type"], "text/plain");
    // The server listens on "::" (dual-stack): an IPv4 peer shows as IPv4-mapped, as with node:net.
    assert.equal(r1.body, "GET /hello from ::ffff:10.0.0.2");
    const r2 = await get(agent, "http://10.0.0.1/bytes/100000");
    assert.equal(r2.res.headers["content-length"], "100000");
    assert.equal(r2.body, "a".repeat(100000));
    const r3 = await get(agent, "http://[fd00::1]/six");
    assert.equal(r3.body, "GET /six from fd00::2");
    // A POST with a body, through http.request.
    const r4 = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "10.0.0.1", port: 80, path: "/post", method: "POST", agent }, (res) => {
        let s = "";
        res.on("data", (d: Buffer) => {
          s += d.toString();
        });
        res.on("end", () => resolve(s));
      });
      req.on("error", reject);
      req.end("payload");
    });
    assert.equal(r4, "POST /post from ::ffff:10.0.0.2 body=payload");
    // Keep-alive: the three IPv4 requests shared one connection (one client port), v6 had its own.
    assert.equal(remotePorts.size, 2);
  } finally {
    agent.destroy();
    server.close();
    listener.close();
    await done();
  }
});

/** A self-signed certificate for `cn`, made with openssl at test time (null when unavailable). */
function selfSigned(cn: string): { key: string; cert: string } | null {
  const dir = mkdtempSync(join(tmpdir(), "netstack-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        `/CN=${cn}`,
        "-addext",
        `subjectAltName=IP:${cn}`,
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const creds = selfSigned("10.0.0.1");

test("https: tls.connect({ socket }) and a server-side TLSSocket over the stack, certificate verified", {
  skip: creds === null ? "openssl is not available to make a self-signed certificate" : false,
}, async () => {
  const { key, cert } = creds as { key: string; cert: string };
  const [a, b, done] = await pair();
  const server = http.createServer((req, res) => {
    res.end(`secure ${req.url} ${(req.socket as tls.TLSSocket).getProtocol()}`);
  });
  const listener = a.net.createServer((sock) => {
    const t = new tls.TLSSocket(sock, { isServer: true, key, cert });
    server.emit("connection", t);
  });
  listener.listen(443, "10.0.0.1");
  try {
    await once(listener, "listening");
    const raw = b.net.createConnection(443, "10.0.0.1");
    await once(raw, "connect");
    const seen: Buffer[] = [];
    raw.on("data", (d: Buffer) => seen.push(d));
    const secure = tls.connect({ socket: raw, ca: cert, servername: undefined, host: "10.0.0.1" });
    await once(secure, "secureConnect");
    assert.equal(secure.authorized, true);
    assert.equal(secure.getPeerCertificate().subject.CN, "10.0.0.1");
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ createConnection: () => secure, path: "/tls", host: "10.0.0.1" }, (res) => {
        let s = "";
        res.on("data", (d: Buffer) => {
          s += d.toString();
        });
        res.on("end", () => resolve(s));
      });
      req.on("error", reject);
      req.end();
    });
    assert.match(body, /^secure \/tls TLSv1\.[23]$/);
    // What crossed the stack was encrypted: the response's plaintext is not in the TCP stream.
    const wire = Buffer.concat(seen);
    assert.ok(wire.length > 0 && raw.bytesRead === wire.length);
    assert.equal(wire.includes("secure /tls"), false);
    const closed = next(raw, "close");
    secure.destroy();
    await closed;
  } finally {
    server.close();
    listener.close();
    await done();
  }
});

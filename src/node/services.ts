/**
 * The classic test services on a NodeStack, as `netstack serve` runs them (and the demo reuses):
 *
 * - echo, TCP and UDP port 7 (RFC 862): send back what arrives.
 * - discard, TCP and UDP port 9 (RFC 863): throw away what arrives.
 * - chargen, TCP port 19 (RFC 864): stream the rotating 72-character printable lines until the
 *   peer closes, respecting backpressure.
 * - HTTP/1.1 on TCP port 80: node:http's own server, fed the stack's accepted sockets with
 *   `server.emit("connection", socket)`. `GET /` answers a small page; `GET /bytes/N` exactly N
 *   bytes of body (with `Content-Length: N`), streamed with backpressure.
 *
 * Every TCP service listens on `::` (both IPv4 and IPv6, as node:net does).
 */
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { DgramSocket, RemoteInfo } from "./dgram.ts";
import type { Server, Socket } from "./net.ts";
import type { NodeStack } from "./node-stack.ts";

/** Which services to start (all by default) and on which ports. */
export interface ServicesOptions {
  echo?: boolean;
  discard?: boolean;
  chargen?: boolean;
  http?: boolean;
  /** Port overrides (defaults 7, 9, 19, 80). */
  ports?: Partial<Record<"echo" | "discard" | "chargen" | "http", number>>;
  /** Largest N of `GET /bytes/N` (default 2^40). */
  maxBytes?: number;
  /** Called for each HTTP request served (method, path, status, body bytes). */
  onRequest?(info: { method: string; path: string; status: number; bytes: number; remote: string }): void;
}

/** Counters of what the services did. */
export interface ServiceStats {
  tcpConnections: number;
  udpDatagrams: number;
  echoedBytes: number;
  discardedBytes: number;
  chargenBytes: number;
  httpRequests: number;
  httpBodyBytes: number;
}

/** Running services. */
export interface Services {
  readonly stats: ServiceStats;
  /** The node:http server (its `connection`s come from the stack). */
  readonly http: HttpServer | null;
  /** What listens: "tcp/7", "udp/7", ... */
  readonly listening: string[];
  /** Stop listening and destroy open connections. */
  close(): Promise<void>;
}

/** The RFC 864 character set: the 95 printable ASCII characters, space to tilde. */
const CHARGEN_CHARS = 95;
const CHARGEN_LINE = 72;

/**
 * `lines` chargen lines starting at line number `first` (RFC 864: line i starts with character
 * i mod 95 of the printable set, holds 72 characters, ends with CR LF).
 */
export function chargenLines(first: number, lines: number): Uint8Array {
  const out = new Uint8Array(lines * (CHARGEN_LINE + 2));
  let o = 0;
  for (let l = 0; l < lines; l++) {
    const start = (first + l) % CHARGEN_CHARS;
    for (let i = 0; i < CHARGEN_LINE; i++) out[o++] = 32 + ((start + i) % CHARGEN_CHARS);
    out[o++] = 13;
    out[o++] = 10;
  }
  return out;
}

/** One full cycle of chargen output (95 lines): what is written repeatedly. */
const CHARGEN_CYCLE = chargenLines(0, CHARGEN_CHARS);

const PAGE = `<!doctype html>
<html><head><title>netstack</title></head>
<body><h1>netstack</h1>
<p>Served by a user-space TCP/IP stack in TypeScript, through node:http.</p>
<p><a href="/bytes/1000000">/bytes/1000000</a> returns exactly that many bytes.</p>
</body></html>
`;

/** Body bytes of `/bytes/N`: a repeating pattern (not zeros, so a wrong offset shows up). */
const PATTERN = (() => {
  const p = new Uint8Array(65536);
  for (let i = 0; i < p.length; i++) p[i] = (i * 7 + (i >> 8)) & 0xff;
  return p;
})();

/** The first `n` bytes `GET /bytes/N` sends (the pattern repeated), for checking downloads. */
export function bytesBody(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += PATTERN.length) out.set(PATTERN.subarray(0, Math.min(PATTERN.length, n - o)), o);
  return out;
}

/**
 * `stack.ready()` (IPv6 duplicate address detection finished), keeping the process alive while
 * waiting: the core's DAD timer alone does not hold the event loop open.
 */
export async function readyAlive(stack: NodeStack): Promise<void> {
  const keep = setInterval(() => {}, 1 << 30);
  try {
    await stack.ready();
  } finally {
    clearInterval(keep);
  }
}

/** Start the services on `stack`. Resolves once every listener is up (rejects if a port is taken). */
export async function startServices(stack: NodeStack, options: ServicesOptions = {}): Promise<Services> {
  const stats: ServiceStats = {
    tcpConnections: 0,
    udpDatagrams: 0,
    echoedBytes: 0,
    discardedBytes: 0,
    chargenBytes: 0,
    httpRequests: 0,
    httpBodyBytes: 0,
  };
  const ports = { echo: 7, discard: 9, chargen: 19, http: 80, ...options.ports };
  const maxBytes = options.maxBytes ?? 2 ** 40;
  const servers: Server[] = [];
  const udps: DgramSocket[] = [];
  const listening: string[] = [];
  let http: HttpServer | null = null;

  const listenTcp = (port: number, onConn: (s: Socket) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      const srv = stack.net.createServer((s) => {
        stats.tcpConnections++;
        // A peer's reset is that connection's business, not the service's.
        s.on("error", () => s.destroy());
        onConn(s);
      });
      srv.once("error", reject);
      srv.listen(port, () => {
        srv.off("error", reject);
        servers.push(srv);
        listening.push(`tcp/${port}`);
        resolve();
      });
    });

  const listenUdp = (port: number, onMsg: (sock: DgramSocket, msg: Uint8Array, r: RemoteInfo) => void) =>
    Promise.all(
      (["udp4", "udp6"] as const).map(
        (type) =>
          new Promise<void>((resolve, reject) => {
            const sock = stack.dgram.createSocket(type);
            sock.on("message", (msg: Uint8Array, r: RemoteInfo) => {
              stats.udpDatagrams++;
              onMsg(sock, msg, r);
            });
            sock.once("error", reject);
            sock.bind(port, () => {
              sock.off("error", reject);
              sock.on("error", () => {});
              udps.push(sock);
              resolve();
            });
          }),
      ),
    ).then(() => {
      listening.push(`udp/${port}`);
    });

  try {
    if (options.echo !== false) {
      // RFC 862: "Once a connection is established any data received is sent back."
      await listenTcp(ports.echo, (s) => {
        s.on("data", (d: Uint8Array) => {
          stats.echoedBytes += d.length;
        });
        s.pipe(s);
      });
      await listenUdp(ports.echo, (sock, msg, r) => {
        stats.echoedBytes += msg.length;
        sock.send(msg, r.port, r.address);
      });
    }
    if (options.discard !== false) {
      // RFC 863: "simply throw away any data it receives".
      await listenTcp(ports.discard, (s) => {
        s.on("data", (d: Uint8Array) => {
          stats.discardedBytes += d.length;
        });
      });
      await listenUdp(ports.discard, (_sock, msg) => {
        stats.discardedBytes += msg.length;
      });
    }
    if (options.chargen !== false) {
      // RFC 864: send data until the user closes; what arrives is thrown away.
      await listenTcp(ports.chargen, (s) => {
        s.resume();
        s.on("end", () => s.destroy());
        const pump = () => {
          while (!s.destroyed && s.writable) {
            stats.chargenBytes += CHARGEN_CYCLE.length;
            if (!s.write(CHARGEN_CYCLE)) {
              s.once("drain", pump);
              return;
            }
          }
        };
        pump();
      });
    }
    if (options.http !== false) {
      const h = createHttpServer({ keepAlive: true }, (req, res) => serveHttp(req, res, stats, maxBytes, options));
      http = h;
      await listenTcp(ports.http, (s) => {
        h.emit("connection", s);
      });
    }
  } catch (e) {
    for (const s of servers) s.destroy();
    for (const u of udps) u.close();
    throw e;
  }
  return {
    stats,
    http,
    listening,
    close: async () => {
      http?.closeAllConnections();
      for (const s of servers) s.destroy();
      for (const u of udps) u.close();
    },
  };
}

function serveHttp(
  req: IncomingMessage,
  res: ServerResponse,
  stats: ServiceStats,
  maxBytes: number,
  options: ServicesOptions,
): void {
  stats.httpRequests++;
  const path = (req.url ?? "/").split("?")[0];
  const remote = req.socket.remoteAddress ?? "";
  const done = (status: number, bytes: number) => {
    stats.httpBodyBytes += bytes;
    options.onRequest?.({ method: req.method ?? "", path, status, bytes, remote });
  };
  const text = (status: number, body: string, type = "text/plain; charset=utf-8") => {
    const b = Buffer.from(body);
    res.writeHead(status, { "Content-Type": type, "Content-Length": b.length });
    res.end(req.method === "HEAD" ? undefined : b);
    done(status, req.method === "HEAD" ? 0 : b.length);
  };
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD");
    text(405, "method not allowed\n");
    return;
  }
  if (path === "/") {
    text(200, PAGE, "text/html; charset=utf-8");
    return;
  }
  const m = /^\/bytes\/(\d{1,15})$/.exec(path);
  if (m === null) {
    text(404, "not found: try / or /bytes/N\n");
    return;
  }
  const n = Number(m[1]);
  if (n > maxBytes) {
    text(400, `at most ${maxBytes} bytes\n`);
    return;
  }
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": n });
  if (req.method === "HEAD") {
    res.end();
    done(200, 0);
    return;
  }
  let sent = 0;
  const pump = () => {
    while (sent < n) {
      const len = Math.min(PATTERN.length, n - sent);
      sent += len;
      // A fresh view each time: the stream may hold the chunk until TCP takes it.
      const ok = res.write(PATTERN.subarray(0, len));
      if (!ok && sent < n) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
    done(200, n);
  };
  res.on("close", () => res.off("drain", pump));
  pump();
}

// Scenarios of netstack/browser that run unchanged in a Chromium tab (bundled by the tests, given the
// netstack/browser module) and under Node (given the source module or the built bundle). Each one
// returns what a user would check: byte counts, SHA-256 digests, statuses, bodies.
import type * as NS from "../../src/browser/index.ts";

type Ns = typeof NS;

const enc = new TextEncoder();
const dec = new TextDecoder();

async function sha256(parts: readonly Uint8Array[]): Promise<string> {
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  const reader = r.getReader();
  for (;;) {
    const x = await reader.read();
    if (x.done) return parts;
    parts.push(x.value);
  }
}

function total(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** Two stacks in this realm on an in-page link: A 10.9.0.1, B 10.9.0.2 (and fd09::1 / fd09::2). */
export function pair(ns: Ns): { a: NS.BrowserStack; b: NS.BrowserStack } {
  const [la, lb] = ns.inPageLinkPair();
  const a = new ns.BrowserStack({ dad: false });
  const b = new ns.BrowserStack({ dad: false });
  a.addLink(la, { addresses: ["10.9.0.1/24", "fd09::1/64"] });
  b.addLink(lb, { addresses: ["10.9.0.2/24", "fd09::2/64"] });
  return { a, b };
}

export interface EchoResult {
  sent: number;
  received: number;
  sentHash: string;
  receivedHash: string;
  ms: number;
}

/** Write `bytes` random bytes to an echo service at host:port and read them all back. */
export async function tcpEcho(stack: NS.BrowserStack, host: string, port: number, bytes: number): Promise<EchoResult> {
  const data = randomBytes(bytes);
  const t0 = performance.now();
  const s = stack.connect({ host, port });
  await s.opened;
  const reading = readAll(s.readable);
  const w = s.writable.getWriter();
  for (let o = 0; o < data.length; o += 16384) await w.write(data.subarray(o, Math.min(data.length, o + 16384)));
  await w.close();
  const got = await reading;
  await s.closed;
  return {
    sent: data.length,
    received: total(got),
    sentHash: await sha256([data]),
    receivedHash: await sha256(got),
    ms: performance.now() - t0,
  };
}

/** An echo server: what arrives goes back (half-close propagates). */
export function echoServer(stack: NS.BrowserStack, port: number): NS.TcpListener {
  return stack.listen(port, (c) => {
    c.readable.pipeTo(c.writable).catch(() => {});
  });
}

/** The `/bytes/N` pattern of src/node/services.ts, checked without building the expected body. */
export function checkPattern(parts: readonly Uint8Array[]): number {
  let i = 0;
  let bad = 0;
  for (const p of parts) {
    for (let k = 0; k < p.length; k++, i++) {
      const j = i & 0xffff;
      if (p[k] !== ((j * 7 + (j >> 8)) & 0xff)) bad++;
    }
  }
  return bad;
}

/**
 * A tiny HTTP/1.1 server written with `stack.listen` (keep-alive; requests with Content-Length or
 * chunked bodies): GET /bytes/N (Content-Length), GET /chunked/N (chunked, 1000-byte chunks), GET
 * /redirect/K/path (K redirects, 302, then to /path), any method on /echo (the body back, with the
 * method in X-Method), GET /close (Connection: close).
 */
export function tinyHttpServer(
  stack: NS.BrowserStack,
  port: number,
): { listener: NS.TcpListener; connections: () => number } {
  let connections = 0;
  const listener = stack.listen(port, (conn) => {
    connections++;
    void serveConnection(conn);
  });
  return { listener, connections: () => connections };
}

async function serveConnection(conn: NS.TcpSocket): Promise<void> {
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  let buf: Uint8Array = new Uint8Array(0);
  const more = async (): Promise<boolean> => {
    const r = await reader.read();
    if (r.done) return false;
    const j = new Uint8Array(buf.length + r.value.length);
    j.set(buf);
    j.set(r.value, buf.length);
    buf = j;
    return true;
  };
  const line = async (): Promise<string | null> => {
    for (;;) {
      const i = buf.indexOf(10);
      if (i >= 0) {
        const s = dec.decode(buf.subarray(0, i)).replace(/\r$/, "");
        buf = buf.subarray(i + 1);
        return s;
      }
      if (!(await more())) return null;
    }
  };
  const take = async (n: number): Promise<Uint8Array> => {
    while (buf.length < n) if (!(await more())) throw new Error("short body");
    const out = buf.slice(0, n);
    buf = buf.subarray(n);
    return out;
  };
  try {
    for (;;) {
      const reqLine = await line();
      if (reqLine === null) break;
      const [method, path] = reqLine.split(" ");
      const headers = new Map<string, string>();
      for (;;) {
        const h = await line();
        if (h === null || h === "") break;
        const c = h.indexOf(":");
        headers.set(h.slice(0, c).toLowerCase(), h.slice(c + 1).trim());
      }
      let body: Uint8Array = new Uint8Array(0);
      if (headers.get("transfer-encoding") === "chunked") {
        const parts: Uint8Array[] = [];
        for (;;) {
          const size = Number.parseInt((await line()) ?? "0", 16);
          if (size === 0) {
            await line();
            break;
          }
          parts.push(await take(size));
          await line();
        }
        body = new Uint8Array(total(parts));
        let o = 0;
        for (const p of parts) {
          body.set(p, o);
          o += p.length;
        }
      } else if (headers.has("content-length")) body = await take(Number(headers.get("content-length")));
      // Head and body in one write (one segment: no Nagle wait for the peer's delayed ACK).
      const send = async (head: string, b?: Uint8Array): Promise<void> => {
        const h = enc.encode(head);
        const out = new Uint8Array(h.length + (b?.length ?? 0));
        out.set(h);
        if (b !== undefined) out.set(b, h.length);
        await writer.write(out);
      };
      const bytesM = /^\/bytes\/(\d+)$/.exec(path);
      const chunkedM = /^\/chunked\/(\d+)$/.exec(path);
      const redirectM = /^\/redirect\/(\d+)(\/.*)$/.exec(path);
      if (bytesM !== null) {
        const n = Number(bytesM[1]);
        await send(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\nContent-Type: application/octet-stream\r\n\r\n`);
        const chunk = new Uint8Array(65536);
        for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + (i >> 8)) & 0xff;
        for (let o = 0; o < n; o += chunk.length) await writer.write(chunk.subarray(0, Math.min(chunk.length, n - o)));
      } else if (chunkedM !== null) {
        const n = Number(chunkedM[1]);
        await send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (let o = 0; o < n; o += 1000) {
          const k = Math.min(1000, n - o);
          const c = new Uint8Array(k).fill(0x61 + ((o / 1000) % 26));
          await send(`${k.toString(16)};ext=1\r\n`, c);
          await send("\r\n");
        }
        await send("0\r\nX-Trailer: yes\r\n\r\n");
      } else if (redirectM !== null) {
        const k = Number(redirectM[1]);
        const to = k <= 1 ? redirectM[2] : `/redirect/${k - 1}${redirectM[2]}`;
        await send(`HTTP/1.1 302 Found\r\nLocation: ${to}\r\nContent-Length: 5\r\n\r\n`, enc.encode("moved"));
      } else if (path === "/echo") {
        const h = `HTTP/1.1 200 OK\r\nX-Method: ${method}\r\nX-Content-Type: ${headers.get("content-type") ?? ""}\r\nContent-Length: ${body.length}\r\n\r\n`;
        await send(h, body);
      } else if (path === "/close") {
        await send("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", enc.encode("ok"));
        break;
      } else {
        await send("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
      }
    }
    await writer.close();
  } catch {
    await conn.close().catch(() => {});
  }
}

export interface FetchResult {
  bytesStatus: number;
  bytesLength: number;
  bytesBad: number;
  chunkedLength: number;
  chunkedFirst: string;
  chunkedLast: string;
  redirected: boolean;
  redirectUrl: string;
  redirectBody: string;
  postMethod: string;
  postBody: string;
  postType: string;
  streamBody: string;
  notFound: number;
  tooMany: string;
  manualStatus: number;
  connections: number;
  serverConnections: number;
  refused: string;
  aborted: string;
}

/** fetch between two in-page stacks, against `tinyHttpServer` on B port 80. */
export async function fetchScenario(ns: Ns): Promise<FetchResult> {
  const { a, b } = pair(ns);
  const srv = tinyHttpServer(b, 80);
  const base = "http://10.9.0.2";
  const r1 = await a.fetch(`${base}/bytes/300000`);
  const p1 = await readAll(r1.body as ReadableStream<Uint8Array>);
  const r2 = await a.fetch(`${base}/chunked/25500`);
  const t2 = await r2.text();
  const r3 = await a.fetch(`${base}/redirect/3/echo`);
  const t3 = await r3.text();
  const r4 = await a.fetch(`${base}/echo`, { method: "post", body: "hello body" });
  const t4 = await r4.text();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(enc.encode("streamed "));
      c.enqueue(enc.encode("request body"));
      c.close();
    },
  });
  const r5 = await a.fetch(`${base}/echo`, { method: "PUT", body: stream, duplex: "half" } as RequestInit);
  const t5 = await r5.text();
  const r6 = await a.fetch(`${base}/nothing-here`);
  await r6.text();
  let tooMany = "";
  try {
    await a.fetch(`${base}/redirect/21/echo`);
  } catch (e) {
    tooMany = String((e as Error).cause ?? e);
  }
  const r7 = await a.fetch(`${base}/redirect/1/echo`, { redirect: "manual" });
  await r7.text();
  let refused = "";
  try {
    await a.fetch("http://10.9.0.2:81/");
  } catch (e) {
    refused = ((e as Error).cause as { code?: string })?.code ?? String(e);
  }
  let aborted = "";
  try {
    const ac = new AbortController();
    const r = await a.fetch(`${base}/bytes/5000000`, { signal: ac.signal });
    const rd = (r.body as ReadableStream<Uint8Array>).getReader();
    await rd.read();
    ac.abort();
    for (;;) if ((await rd.read()).done) break;
  } catch (e) {
    aborted = (e as Error).name;
  }
  const result: FetchResult = {
    bytesStatus: r1.status,
    bytesLength: total(p1),
    bytesBad: checkPattern(p1),
    chunkedLength: t2.length,
    chunkedFirst: t2.slice(0, 3),
    chunkedLast: t2.slice(-3),
    redirected: r3.redirected,
    redirectUrl: r3.url,
    redirectBody: `${r3.status} ${r3.headers.get("x-method")} ${t3.length}`,
    postMethod: r4.headers.get("x-method") ?? "",
    postBody: t4,
    postType: r4.headers.get("x-content-type") ?? "",
    streamBody: `${r5.headers.get("x-method")} ${t5}`,
    notFound: r6.status,
    tooMany,
    manualStatus: r7.status,
    connections: a.http.stats.connections,
    serverConnections: srv.connections(),
    refused,
    aborted,
  };
  await a.close();
  await b.close();
  return result;
}

/** Send `count` datagrams to an echo service and collect the answers. */
export async function udpEcho(
  stack: NS.BrowserStack,
  host: string,
  port: number,
  count: number,
): Promise<{ sent: number; received: number; payloads: string[] }> {
  const sock = stack.openDatagram({});
  const reader = sock.readable.getReader();
  const payloads: string[] = [];
  for (let i = 0; i < count; i++) {
    const msg = `datagram ${i}`;
    for (let attempt = 0; ; attempt++) {
      await sock.send(enc.encode(msg), host, port);
      const got = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 1000)),
      ]);
      if (got !== null && !got.done) {
        payloads.push(`${dec.decode(got.value.data)} from ${got.value.remoteAddress}:${got.value.remotePort}`);
        break;
      }
      if (attempt >= 3) throw new Error(`no UDP echo for ${msg}`);
    }
  }
  await sock.close();
  return { sent: count, received: payloads.length, payloads };
}

/** UDP echo between two in-page stacks (B echoes on port 7). */
export async function udpScenario(ns: Ns): Promise<{ sent: number; received: number; payloads: string[] }> {
  const { a, b } = pair(ns);
  const echo = b.openDatagram({ port: 7 });
  void (async () => {
    const r = echo.readable.getReader();
    for (;;) {
      const m = await r.read();
      if (m.done) return;
      await echo.send(m.value.data, m.value.remoteAddress, m.value.remotePort);
    }
  })();
  const out = await udpEcho(a, "10.9.0.2", 7, 3);
  const v6 = await udpEcho(a, "fd09::2", 7, 1);
  await a.close();
  await b.close();
  return {
    sent: out.sent + v6.sent,
    received: out.received + v6.received,
    payloads: [...out.payloads, ...v6.payloads],
  };
}

/** TCP echo of `bytes` between two in-page stacks (B echoes on port 7), v4 or v6. */
export async function echoScenario(ns: Ns, bytes: number, host = "10.9.0.2"): Promise<EchoResult> {
  const { a, b } = pair(ns);
  echoServer(b, 7);
  const r = await tcpEcho(a, host, 7, bytes);
  await a.close();
  await b.close();
  return r;
}

export interface WsResult {
  echo: EchoResult;
  fetchStatus: number;
  fetchLength: number;
  fetchBad: number;
  fetchMs: number;
  udp: { sent: number; received: number; payloads: string[] };
  /** Bytes of /bytes/100000 fetched over IPv6. */
  v6Length: number;
}

/** A stack in this realm on a WebSocketLink to `url`, whose far side (10.0.0.1) runs the services. */
export async function wsScenario(
  ns: Ns,
  url: string,
  fetchBytes: number,
  linkOptions?: NS.WebSocketLinkOptions,
): Promise<WsResult> {
  const stack = new ns.BrowserStack({ dad: false });
  const link = await ns.WebSocketLink.connect(url, linkOptions);
  stack.addLink(link, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  const echo = await tcpEcho(stack, "10.0.0.1", 7, 1_000_000);
  const r6 = await stack.fetch("http://[fd00::1]/bytes/100000");
  const v6Length = (await r6.arrayBuffer()).byteLength;
  const t0 = performance.now();
  const res = await stack.fetch(`http://10.0.0.1/bytes/${fetchBytes}`);
  const parts = await readAll(res.body as ReadableStream<Uint8Array>);
  const fetchMs = performance.now() - t0;
  const udp = await udpEcho(stack, "10.0.0.1", 7, 3);
  await stack.close();
  return {
    echo,
    fetchStatus: res.status,
    fetchLength: total(parts),
    fetchBad: checkPattern(parts),
    fetchMs,
    udp,
    v6Length,
  };
}

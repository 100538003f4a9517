/**
 * An HTTP/1.1 client with the WHATWG `fetch` interface (RFC 9110 semantics, RFC 9112 messages), over
 * any stream connection (a netstack TCP socket): `client.fetch(url, init)` returns a `Response`
 * whose body streams from the connection with backpressure.
 *
 * - Request bodies: strings, bytes, Blob, FormData, URLSearchParams (encoded as `fetch` does, with
 *   `Content-Length`) and ReadableStreams (sent with the chunked coding, RFC 9112 7.1).
 * - Response bodies: Content-Length, chunked, or until close (RFC 9112 6.3); gzip and deflate
 *   content codings are decoded where the host has DecompressionStream.
 * - Connections are kept alive and reused (RFC 9112 9.3): at most `maxConnectionsPerOrigin` are
 *   open per origin (more requests wait in order, as browsers do); idle connections wait in a pool
 *   bounded per origin and in total, and close after an idle timeout. A request on a reused connection that
 *   the server had already closed is retried once on a new one (RFC 9112 9.3.1) when its body can
 *   be sent again.
 * - Redirects as `fetch` does them: `follow` (at most 20; 301/302 turn POST into GET, 303 turns
 *   everything but HEAD into GET, dropping the body; `Authorization` dropped across origins),
 *   `error` (a TypeError) or `manual` (the 3xx response itself, as Node's fetch returns it: a
 *   constructed Response cannot be opaque).
 * - `AbortSignal`: aborting before the response rejects with the signal's reason; after, it errors
 *   the body stream; either way the connection is reset.
 * - Failures reject with `TypeError("fetch failed")` whose `cause` is the coded error (ECONNREFUSED,
 *   ENOTFOUND, ...), as Node's fetch does.
 */
import {
  type BodyFraming,
  bodyFraming,
  ChunkedDecoder,
  HttpParseError,
  headEnd,
  keepAlive,
  listValues,
  MAX_HEAD_BYTES,
  parseHead,
  type ResponseHead,
} from "./parse.ts";

/** A byte-stream connection the client sends requests over. */
export interface HttpConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened: Promise<unknown>;
  close(): Promise<void>;
}

/** Opens a connection to `host` (as written in the URL, brackets removed) and `port`. */
export type Dial = (host: string, port: number, signal?: AbortSignal) => HttpConnection;

export interface HttpClientOptions {
  dial: Dial;
  /** Connections open at once per origin, busy or idle (default 6, as browsers); more requests wait. */
  maxConnectionsPerOrigin?: number;
  /** Idle connections kept per origin (default 6). */
  maxIdlePerOrigin?: number;
  /** Idle connections kept in all (default 64). */
  maxIdle?: number;
  /** Close an idle connection after this many ms (default 4000; needs `timers`). */
  idleTimeoutMs?: number;
  /** Host timers for the idle timeout (without them idle connections stay until reused or closed). */
  timers?: { setTimer(fn: () => void, ms: number): unknown; clearTimer(h: unknown): void };
}

/** Most redirects followed (the fetch standard's limit). */
const MAX_REDIRECTS = 20;
/** A redirect response body up to this size is read to the end so the connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;
const encoder = new TextEncoder();
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Statuses whose Response has no body (fetch's "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** Request headers that describe the body (dropped when a redirect drops the body). */
const BODY_HEADERS = ["content-encoding", "content-language", "content-location", "content-type", "content-length"];

class Closed extends Error {
  readonly code = "ECONNRESET";
}

/** One connection with its reader, writer and bytes read past the last response. */
class PooledConnection {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Bytes read from the connection but not yet consumed. */
  leftover: Uint8Array | null = null;
  /** A read started while idle (to notice the server closing); the next `read` takes it. */
  private pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> | null = null;
  idleTimer: unknown = null;
  /** Requests this connection carried. */
  uses = 0;
  dead = false;
  /** Called once when the connection closes (the pool's count of open connections). */
  onClose: (() => void) | null = null;

  constructor(
    readonly conn: HttpConnection,
    readonly origin: string,
  ) {
    this.reader = conn.readable.getReader();
    this.writer = conn.writable.getWriter();
  }

  /** The next bytes, or null at the end of the stream. */
  async read(): Promise<Uint8Array | null> {
    if (this.leftover !== null) {
      const l = this.leftover;
      this.leftover = null;
      return l;
    }
    const p = this.pending ?? this.reader.read();
    this.pending = null;
    const r = await p;
    return r.done ? null : r.value;
  }

  /** Start reading while idle: `onActivity` runs if data or the end arrives before reuse. */
  watch(onActivity: () => void): void {
    if (this.pending !== null || this.leftover !== null) return;
    const p = this.reader.read();
    this.pending = p;
    p.then(
      () => {
        if (this.pending === p) onActivity();
      },
      () => {
        if (this.pending === p) onActivity();
      },
    );
  }

  close(): void {
    if (this.dead) return;
    this.dead = true;
    this.conn.close().catch(() => {});
    const cb = this.onClose;
    this.onClose = null;
    cb?.();
  }
}

/** fetch's redirect modes. */
type Redirect = "follow" | "error" | "manual";

/** The request after normalization. */
interface Req {
  url: URL;
  method: string;
  headers: Headers;
  /** Bytes (replayable), a stream (once), or none. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  redirect: Redirect;
  signal: AbortSignal | null;
}

function fetchFailed(cause: unknown): TypeError {
  return new TypeError("fetch failed", { cause });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** fetch's method normalization: the six standard methods are upper-cased. */
function normalizeMethod(m: string): string {
  const u = m.toUpperCase();
  return ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].includes(u) ? u : m;
}

function originOf(u: URL): string {
  return `${u.hostname}:${u.port === "" ? "80" : u.port}`;
}

export class HttpClient {
  private readonly idle = new Map<string, PooledConnection[]>();
  private idleCount = 0;
  /** Open connections per origin (busy or idle). */
  private readonly live = new Map<string, number>();
  /** Requests waiting for a connection of a full origin: handed one, or null (open your own). */
  private readonly waiters = new Map<string, ((pc: PooledConnection | null) => void)[]>();
  private readonly maxPerOrigin: number;
  private readonly maxIdlePerOrigin: number;
  private readonly maxIdle: number;
  private readonly idleTimeoutMs: number;
  /** Connections opened / requests sent on a reused connection (for tests and diagnostics). */
  readonly stats = { connections: 0, reused: 0, retried: 0, waited: 0 };

  constructor(private readonly options: HttpClientOptions) {
    this.maxPerOrigin = Math.max(1, options.maxConnectionsPerOrigin ?? 6);
    this.maxIdlePerOrigin = options.maxIdlePerOrigin ?? 6;
    this.maxIdle = options.maxIdle ?? 64;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 4000;
  }

  /** Idle connections in the pool. */
  get idleConnections(): number {
    return this.idleCount;
  }

  /** Close every idle connection. */
  closeIdle(): void {
    for (const list of this.idle.values()) for (const c of list) this.dropIdle(c, false);
    this.idle.clear();
    this.idleCount = 0;
  }

  async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const req = await this.normalize(input, init);
    const signal = req.signal;
    if (signal?.aborted) throw abortReason(signal);
    let redirected = false;
    for (let hops = 0; ; hops++) {
      const res = await this.send(req);
      const location = res.headers.get("location");
      if (!REDIRECTS.has(res.status) || location === null || req.redirect === "manual") {
        return finish(res, req.url, redirected);
      }
      if (req.redirect === "error") {
        await discard(res);
        throw fetchFailed(new Error(`unexpected redirect to ${location}`));
      }
      if (hops >= MAX_REDIRECTS) {
        await discard(res);
        throw fetchFailed(new Error("redirect count exceeded"));
      }
      let next: URL;
      try {
        next = new URL(location, req.url);
      } catch {
        await discard(res);
        throw fetchFailed(new Error(`bad redirect location ${location}`));
      }
      await discard(res);
      if (next.protocol !== "http:") throw fetchFailed(new Error(`redirect to unsupported scheme ${next.protocol}`));
      const s = res.status;
      // Fetch: 301/302 turn POST into GET; 303 turns every method but HEAD into GET; the body goes.
      if (((s === 301 || s === 302) && req.method === "POST") || (s === 303 && req.method !== "HEAD")) {
        req.method = "GET";
        req.body = null;
        for (const h of BODY_HEADERS) req.headers.delete(h);
      } else if (req.body instanceof ReadableStream) {
        // 307/308 resend the body: impossible for a stream already sent.
        throw fetchFailed(new Error("cannot follow a redirect with a streamed request body"));
      }
      if (originOf(next) !== originOf(req.url)) req.headers.delete("authorization");
      req.url = next;
      redirected = true;
    }
  }

  // ---- one request/response exchange ----

  private async send(req: Req): Promise<Response> {
    const origin = originOf(req.url);
    for (let attempt = 0; ; attempt++) {
      const pc = await this.acquire(req, origin, attempt > 0);
      const reused = pc.uses > 0;
      try {
        return await this.exchange(pc, req);
      } catch (e) {
        pc.close();
        // RFC 9112 9.3.1: a reused connection closed by the server before any response byte: retry
        // once on a new connection, when the request body can be sent again.
        if (reused && attempt === 0 && e instanceof Closed && !(req.body instanceof ReadableStream)) {
          this.stats.retried++;
          continue;
        }
        if (req.signal?.aborted) throw abortReason(req.signal);
        throw e instanceof TypeError ? e : fetchFailed(e);
      }
    }
  }

  /**
   * A connection for `req`: an idle one of its origin (unless `fresh`), a new one while the origin
   * has fewer than `maxConnectionsPerOrigin` open, else the next one released (requests wait in
   * order; an abort takes the request out of the queue).
   */
  private async acquire(req: Req, origin: string, fresh: boolean): Promise<PooledConnection> {
    for (;;) {
      const idle = fresh ? null : this.takeIdle(origin);
      if (idle !== null) return idle;
      if ((this.live.get(origin) ?? 0) < this.maxPerOrigin) return this.open(req, origin);
      this.stats.waited++;
      const signal = req.signal;
      const got = await new Promise<PooledConnection | null>((resolve, reject) => {
        const list = this.waiters.get(origin) ?? [];
        this.waiters.set(origin, list);
        const onAbort = (): void => {
          const i = list.indexOf(waiter);
          if (i >= 0) list.splice(i, 1);
          reject(abortReason(signal as AbortSignal));
        };
        const waiter = (pc: PooledConnection | null): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve(pc);
        };
        list.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      if (got !== null) return got;
    }
  }

  private open(req: Req, origin: string): PooledConnection {
    const host = req.url.hostname.startsWith("[") ? req.url.hostname.slice(1, -1) : req.url.hostname;
    const port = req.url.port === "" ? 80 : Number(req.url.port);
    this.stats.connections++;
    this.live.set(origin, (this.live.get(origin) ?? 0) + 1);
    const pc = new PooledConnection(this.options.dial(host, port, req.signal ?? undefined), origin);
    pc.onClose = () => {
      const n = (this.live.get(origin) ?? 1) - 1;
      if (n > 0) this.live.set(origin, n);
      else this.live.delete(origin);
      // A slot is free: the first waiting request opens a connection of its own.
      this.nextWaiter(origin)?.(null);
    };
    return pc;
  }

  private nextWaiter(origin: string): ((pc: PooledConnection | null) => void) | undefined {
    const list = this.waiters.get(origin);
    const w = list?.shift();
    if (list !== undefined && list.length === 0) this.waiters.delete(origin);
    return w;
  }

  private async exchange(pc: PooledConnection, req: Req): Promise<Response> {
    const signal = req.signal;
    let onAbort: (() => void) | null = null;
    if (signal !== null) {
      onAbort = () => pc.close();
      signal.addEventListener("abort", onAbort, { once: true });
    }
    const unwatch = (): void => {
      if (onAbort !== null) signal?.removeEventListener("abort", onAbort);
    };
    try {
      if (pc.uses++ > 0) this.stats.reused++;
      await pc.conn.opened;
      const writing = this.writeRequest(pc, req);
      let writeError: unknown = null;
      writing.catch((e) => {
        writeError = e;
      });
      let head: ResponseHead;
      for (;;) {
        head = await this.readHead(pc, writeError);
        // RFC 9110 15.2: interim 1xx responses are skipped (101 needs an upgrade we do not ask for).
        if (head.status < 100 || head.status >= 200) break;
        if (head.status === 101) throw new HttpParseError("unexpected 101 Switching Protocols");
      }
      const framing = bodyFraming(req.method, head);
      const headers = new Headers();
      for (const [n, v] of head.fields) {
        try {
          headers.append(n, v);
        } catch {
          throw new HttpParseError(`bad value of header ${n}`);
        }
      }
      if (head.status < 200 || head.status > 599) throw new HttpParseError(`status ${head.status} out of range`);
      const reusable = keepAlive(head) && framing.kind !== "close" && req.headers.get("connection") !== "close";
      const body = this.bodyStream(pc, framing, reusable, writing, unwatch, signal);
      let stream = body;
      const coding = listValues(head.fields, "content-encoding");
      if (
        body !== null &&
        coding.length === 1 &&
        typeof DecompressionStream !== "undefined" &&
        ["gzip", "x-gzip", "deflate"].includes(coding[0])
      ) {
        const fmt = coding[0] === "deflate" ? "deflate" : "gzip";
        stream = body.pipeThrough(new DecompressionStream(fmt) as unknown as TransformStream<Uint8Array, Uint8Array>);
      }
      const statusText = /^[\t\x20-\x7e\x80-\xff]*$/.test(head.statusText) ? head.statusText : "";
      if (NULL_BODY.has(head.status) && stream !== null) {
        // A body on a status that cannot have one: not delivered, and the connection not reused.
        await stream.cancel().catch(() => {});
        stream = null;
      }
      return new Response(stream, { status: head.status, statusText, headers });
    } catch (e) {
      unwatch();
      throw e;
    }
  }

  private async writeRequest(pc: PooledConnection, req: Req): Promise<void> {
    const u = req.url;
    const h = req.headers;
    let head = `${req.method} ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\n`;
    if (!h.has("accept")) head += "accept: */*\r\n";
    const body = req.body;
    const streamed = body instanceof ReadableStream;
    h.delete("content-length");
    h.delete("transfer-encoding");
    h.delete("host");
    for (const [n, v] of h) head += `${n}: ${v}\r\n`;
    if (streamed) head += "transfer-encoding: chunked\r\n";
    else if (body !== null) head += `content-length: ${body.length}\r\n`;
    // RFC 9110 8.6: a POST/PUT without a body says so with Content-Length: 0.
    else if (req.method === "POST" || req.method === "PUT" || req.method === "PATCH") head += "content-length: 0\r\n";
    head += "\r\n";
    const headBytes = encoder.encode(head);
    const w = pc.writer;
    if (!streamed) {
      if (body === null || body.length === 0) await w.write(headBytes);
      else if (body.length <= 16 * 1024) {
        const one = new Uint8Array(headBytes.length + body.length);
        one.set(headBytes);
        one.set(body, headBytes.length);
        await w.write(one);
      } else {
        await w.write(headBytes);
        await w.write(body);
      }
      return;
    }
    await w.write(headBytes);
    const reader = body.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array)) throw new TypeError("request body stream chunks must be Uint8Array");
      if (chunk.length === 0) continue;
      await w.write(encoder.encode(`${chunk.length.toString(16)}\r\n`));
      await w.write(chunk);
      await w.write(encoder.encode("\r\n"));
    }
    await w.write(encoder.encode("0\r\n\r\n"));
  }

  private async readHead(pc: PooledConnection, writeError: unknown): Promise<ResponseHead> {
    let buf: Uint8Array = new Uint8Array(0);
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await pc.read();
      } catch (e) {
        if (buf.length === 0) throw new Closed(String((e as Error)?.message ?? e), { cause: e });
        throw e;
      }
      if (chunk === null) {
        if (writeError !== null) throw writeError;
        if (buf.length === 0) throw new Closed("connection closed before the response");
        throw new HttpParseError("connection closed in the response head");
      }
      const from = Math.max(0, buf.length - 3);
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
      const end = headEnd(buf, from);
      if (end >= 0) {
        const head = parseHead(buf, end);
        if (end < buf.length) pc.leftover = buf.subarray(end);
        return head;
      }
      if (buf.length > MAX_HEAD_BYTES) throw new HttpParseError("response head too large");
    }
  }

  /**
   * The body as a stream pulled from the connection (backpressure reaches TCP). At its end the
   * connection goes back to the pool when `reusable` and the request was sent completely.
   */
  private bodyStream(
    pc: PooledConnection,
    framing: BodyFraming,
    reusable: boolean,
    writing: Promise<void>,
    unwatch: () => void,
    signal: AbortSignal | null,
  ): ReadableStream<Uint8Array> | null {
    const done = (ok: boolean): void => {
      unwatch();
      if (!ok || !reusable) {
        pc.close();
        return;
      }
      writing.then(
        () => this.putIdle(pc),
        () => pc.close(),
      );
    };
    if (framing.kind === "none" || (framing.kind === "length" && framing.length === 0)) {
      done(pc.leftover === null);
      return framing.kind === "none" ? null : new ReadableStream({ start: (c) => c.close() });
    }
    let remaining = framing.kind === "length" ? framing.length : Number.POSITIVE_INFINITY;
    const chunked = framing.kind === "chunked" ? new ChunkedDecoder() : null;
    let finished = false;
    const end = (ok: boolean): void => {
      if (finished) return;
      finished = true;
      done(ok);
    };
    return new ReadableStream<Uint8Array>(
      {
        pull: async (ctrl) => {
          try {
            for (;;) {
              const b = await pc.read();
              if (b === null) {
                // Until-close bodies end here; the others were cut short.
                if (framing.kind === "close") {
                  end(false);
                  ctrl.close();
                  return;
                }
                throw new HttpParseError("connection closed before the end of the body");
              }
              if (chunked !== null) {
                const parts = chunked.push(b);
                for (const p of parts) if (p.length > 0) ctrl.enqueue(p);
                if (chunked.done) {
                  // Bytes after the message: the server sent more than one response; do not reuse.
                  end(chunked.rest === b.length);
                  ctrl.close();
                  return;
                }
                if (parts.length > 0) return;
                continue;
              }
              if (b.length >= remaining) {
                if (remaining > 0) ctrl.enqueue(b.subarray(0, remaining));
                const extra = b.length > remaining;
                remaining = 0;
                end(!extra);
                ctrl.close();
                return;
              }
              remaining -= b.length;
              ctrl.enqueue(b);
              return;
            }
          } catch (e) {
            end(false);
            throw signal?.aborted ? abortReason(signal) : e instanceof TypeError ? e : fetchFailed(e);
          }
        },
        cancel: () => end(false),
      },
      { highWaterMark: 0 },
    );
  }

  // ---- the pool ----

  private takeIdle(origin: string): PooledConnection | null {
    const list = this.idle.get(origin);
    while (list !== undefined && list.length > 0) {
      const pc = list.pop() as PooledConnection;
      this.idleCount--;
      this.stopTimer(pc);
      if (!pc.dead) return pc;
    }
    return null;
  }

  private putIdle(pc: PooledConnection): void {
    if (pc.dead) return;
    // A request waiting for this origin takes the connection at once.
    const waiter = this.nextWaiter(pc.origin);
    if (waiter !== undefined) {
      waiter(pc);
      return;
    }
    const list = this.idle.get(pc.origin) ?? [];
    if (list.length >= this.maxIdlePerOrigin || this.idleCount >= this.maxIdle) {
      pc.close();
      return;
    }
    list.push(pc);
    this.idle.set(pc.origin, list);
    this.idleCount++;
    // Data or the end arriving on an idle connection: the server closed it (or misbehaves).
    pc.watch(() => this.dropIdle(pc, true));
    const t = this.options.timers;
    if (t !== undefined && this.idleTimeoutMs > 0) {
      pc.idleTimer = t.setTimer(() => {
        pc.idleTimer = null;
        this.dropIdle(pc, true);
      }, this.idleTimeoutMs);
    }
  }

  private dropIdle(pc: PooledConnection, unlist: boolean): void {
    if (unlist) {
      const list = this.idle.get(pc.origin);
      const i = list === undefined ? -1 : list.indexOf(pc);
      if (i >= 0) {
        list?.splice(i, 1);
        this.idleCount--;
      }
    }
    this.stopTimer(pc);
    pc.close();
  }

  private stopTimer(pc: PooledConnection): void {
    if (pc.idleTimer !== null) this.options.timers?.clearTimer(pc.idleTimer);
    pc.idleTimer = null;
  }

  // ---- input ----

  private async normalize(input: string | URL | Request, init: RequestInit): Promise<Req> {
    let url: URL;
    let method = "GET";
    let headers = new Headers();
    let body: Req["body"] = null;
    let redirect: Redirect = "follow";
    let signal: AbortSignal | null = null;
    if (typeof Request !== "undefined" && input instanceof Request) {
      url = new URL(input.url);
      method = input.method;
      headers = new Headers(input.headers);
      redirect = input.redirect as Redirect;
      signal = input.signal;
      if (input.body !== null && init.body === undefined) body = new Uint8Array(await input.arrayBuffer());
    } else {
      try {
        url = new URL(String(input));
      } catch {
        throw new TypeError(`fetch: invalid URL ${String(input)}`);
      }
    }
    if (init.method !== undefined) method = normalizeMethod(init.method);
    if (init.headers !== undefined) headers = new Headers(init.headers);
    if (init.redirect !== undefined) redirect = init.redirect as Redirect;
    if (init.signal !== undefined) signal = init.signal;
    if (url.protocol !== "http:") throw new TypeError(`fetch: unsupported scheme ${url.protocol} (http only)`);
    if (url.username !== "" || url.password !== "") throw new TypeError("fetch: URL includes credentials");
    if (init.body !== undefined && init.body !== null) {
      if (method === "GET" || method === "HEAD") throw new TypeError("fetch: a GET or HEAD request cannot have a body");
      if (init.body instanceof ReadableStream) body = init.body as ReadableStream<Uint8Array>;
      else {
        // Let the platform encode it as fetch would (strings, Blob, FormData, URLSearchParams, bytes).
        const r = new Response(init.body);
        const ct = r.headers.get("content-type");
        if (ct !== null && !headers.has("content-type")) headers.set("content-type", ct);
        body = new Uint8Array(await r.arrayBuffer());
      }
    }
    url.hash = "";
    return { url, method, headers, body, redirect, signal };
  }
}

/** Read a redirect's body to the end when small (so its connection is reused), else cancel it. */
async function discard(res: Response): Promise<void> {
  if (res.body === null) return;
  const len = Number(res.headers.get("content-length") ?? Number.NaN);
  if (len <= DRAIN_LIMIT) {
    try {
      await res.arrayBuffer();
      return;
    } catch {}
  }
  await res.body.cancel().catch(() => {});
}

/** Give the constructed Response the fetch fields a constructor cannot set. */
function finish(res: Response, url: URL, redirected: boolean): Response {
  Object.defineProperty(res, "url", { value: url.href, enumerable: true });
  Object.defineProperty(res, "redirected", { value: redirected, enumerable: true });
  return res;
}

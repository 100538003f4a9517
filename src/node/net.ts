/**
 * A node:net-compatible surface over a NodeStack's TCP: `Socket` (a `stream.Duplex`), `Server`,
 * `createConnection` / `connect` / `createServer`, `isIP`.
 *
 * Events, methods and properties follow node:net, so unmodified Node libraries (node:http client
 * and server, node:tls) run over the stack. Errors are shaped like Node's: an `Error` with `code`,
 * `errno` (the negative `os.constants.errno` value), `syscall`, and for `connect` / `listen` the
 * `address` and `port`, with Node's messages (`connect ECONNREFUSED 10.0.0.1:80`,
 * `listen EADDRINUSE: address already in use 10.0.0.1:80`, `read ECONNRESET`).
 *
 * Backpressure both ways:
 * - Writing: a chunk is handed to the TCP send buffer; what does not fit waits for the core's
 *   `writable` event before the chunk's callback runs, so the stream's buffer grows, `write()`
 *   returns false, and `drain` follows once TCP took everything.
 * - Reading: data is pulled from the TCP receive buffer only while the stream wants it (`push`
 *   returned true, or `_read` was called). When the application stops reading, the data stays in
 *   TCP, the advertised window shrinks to zero (RFC 9293 3.8.6.2), and a window update goes out when
 *   reading resumes.
 */

import { EventEmitter } from "node:events";
import { isIP as nodeIsIP } from "node:net";
import { constants as osConstants } from "node:os";
import { Duplex, type DuplexOptions } from "node:stream";
import { getSystemErrorMap } from "node:util";
import type { ErrorCode, IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { TcpInfo } from "../transport/tcp/tcp-layer.ts";
import type { NodeStack } from "./node-stack.ts";
import { StackRef } from "./stack-ref.ts";

// ---- errors ----

/** A Node-style system error (`err.code`, `err.errno`, `err.syscall`, ...). */
export interface NetError extends Error {
  code: string;
  errno?: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** The negative errno Node reports for `code` (undefined for codes without one). */
export function errnoOf(code: string): number | undefined {
  const n = (osConstants.errno as Record<string, number | undefined>)[code];
  return n === undefined ? undefined : -n;
}

/**
 * A Node-shaped error. `described` adds the system message as `uvExceptionWithHostPort` does
 * (`listen EADDRINUSE: address already in use 10.0.0.1:80`); otherwise the form of
 * `exceptionWithHostPort` (`connect ECONNREFUSED 10.0.0.1:80`) or `errnoException` (`read ECONNRESET`).
 */
export function netError(code: string, syscall: string, address?: string, port?: number, described = false): NetError {
  const errno = errnoOf(code);
  let msg = `${syscall} ${code}`;
  if (described && errno !== undefined) {
    const d = getSystemErrorMap().get(errno);
    if (d !== undefined) msg += `: ${d[1]}`;
  }
  if (address !== undefined) msg += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const e = new Error(msg) as NetError;
  e.errno = errno;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (address !== undefined && port !== undefined && port > 0) e.port = port;
  return e;
}

// ---- addresses ----

export function isIP(input: string): 0 | 4 | 6 {
  return nodeIsIP(input) as 0 | 4 | 6;
}
export function isIPv4(input: string): boolean {
  return nodeIsIP(input) === 4;
}
export function isIPv6(input: string): boolean {
  return nodeIsIP(input) === 6;
}

/** An IP literal, or "localhost" (there is no resolver in the stack). */
function resolveHost(host: string | undefined, family?: number): IpAddr | null {
  if (host === undefined || host === "" || host === "localhost") {
    return family === 6 ? parseIp("::1") : parseIp("127.0.0.1");
  }
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return parseIp(h);
}

function versionOf(a: IpAddr): IpVersion<IpAddr> {
  return (typeof a === "number" ? Ipv4 : Ipv6) as unknown as IpVersion<IpAddr>;
}

/** The `address()` object Node returns. */
export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

// ---- Socket ----

/** Options of `new Socket()` (node:net's, those that apply). */
export interface SocketOptions extends DuplexOptions {
  allowHalfOpen?: boolean;
}

/** Options of `connect()` (node:net's TCP ones). */
export interface TcpConnectOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  timeout?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  allowHalfOpen?: boolean;
  /** TCP send / receive buffer sizes for this connection. */
  sendBufferSize?: number;
  recvBufferSize?: number;
  [key: string]: unknown;
}

type Callback = () => void;

/** Largest chunk `pull` hands to the stream at once. */
const READ_MAX = 1 << 20;
/** `_writev` joins chunks up to this many bytes into one. */
const WRITEV_JOIN = 64 * 1024;

/** A TCP connection of a NodeStack, as a node:net `Socket`. */
export class Socket extends Duplex {
  /** The core socket id (null before connect and after destroy). */
  private id: SocketId | null = null;
  connecting = false;
  bytesRead = 0;
  private written = 0;
  /** The idle timeout in ms (undefined: none), as node:net's `socket.timeout`. */
  timeout: number | undefined = undefined;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly hold: StackRef;
  private wantRead = false;
  private eof = false;
  private writeChunk: Uint8Array | null = null;
  private writeOff = 0;
  private writeCb: ((err?: Error | null) => void) | null = null;
  private afterConnect: Callback[] = [];
  private resetOnDestroy = false;
  private local: AddressInfo | null = null;
  private remote: AddressInfo | null = null;
  private pendingNoDelay: boolean | null = null;
  private pendingKeepAlive: [boolean, number] | null = null;
  private host = "";
  private port = 0;

  constructor(
    readonly stack: NodeStack,
    options: SocketOptions = {},
    /** An established connection (from a listener) to wrap. */
    accepted?: SocketId,
    /** false: leave received data in TCP until the application reads (`pauseOnConnect`). */
    startReading = true,
  ) {
    super({ ...options, allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, autoDestroy: true });
    this.hold = new StackRef(stack);
    stack.track(this);
    if (accepted !== undefined) {
      this.attach(accepted);
      this.cacheEndpoints();
      this.hold.take();
      if (startReading) this.read(0);
      else this.pause();
    }
  }

  // ---- properties ----

  get bytesWritten(): number {
    return this.written + this.writableLength;
  }

  /** True until the connection is established. */
  get pending(): boolean {
    return this.id === null || this.connecting;
  }

  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  get remoteAddress(): string | undefined {
    return this.remote?.address;
  }
  get remotePort(): number | undefined {
    return this.remote?.port;
  }
  get remoteFamily(): string | undefined {
    return this.remote?.family;
  }
  get localAddress(): string | undefined {
    return this.local?.address;
  }
  get localPort(): number | undefined {
    return this.local?.port;
  }

  /** The local endpoint, as node:net's `address()` ({} before connecting). */
  address(): AddressInfo | Record<string, never> {
    return this.local === null ? {} : { ...this.local };
  }

  /** The core socket id (null when not open). */
  get socketId(): SocketId | null {
    return this.id;
  }

  /** A snapshot of the TCP connection (state, windows, RTT, ...), null when closed. */
  tcpInfo(): TcpInfo | null {
    return this.id === null ? null : this.stack.tcp.info(this.id);
  }

  // ---- connect ----

  connect(options: TcpConnectOptions, listener?: Callback): this;
  connect(port: number | string, host?: string, listener?: Callback): this;
  connect(port: number | string, listener?: Callback): this;
  connect(...args: unknown[]): this {
    const [opts, cb] = normalizeConnectArgs(args);
    if (cb !== undefined) this.once("connect", cb);
    if (this.id !== null || this.connecting || this.destroyed) {
      throw Object.assign(new Error("Socket is already connected"), { code: "ERR_SOCKET_CONNECTION_BUSY" });
    }
    const port = Number(opts.port);
    const host = opts.host ?? "localhost";
    this.host = host;
    this.port = port;
    this.connecting = true;
    this.hold.take();
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    if (opts.noDelay) this.setNoDelay(true);
    if (opts.keepAlive) this.setKeepAlive(true, opts.keepAliveInitialDelay ?? 0);
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) {
      throw Object.assign(new RangeError(`Port should be > 0 and < 65536. Received ${String(opts.port)}.`), {
        code: "ERR_SOCKET_BAD_PORT",
      });
    }
    const remote = resolveHost(opts.host, opts.family);
    if (remote === null) {
      const e = netError("ENOTFOUND", "getaddrinfo", host);
      (e as NetError & { hostname: string }).hostname = host;
      process.nextTick(() => this.destroy(e));
      return this;
    }
    const I = versionOf(remote);
    let local: IpAddr | null = null;
    if (opts.localAddress !== undefined) {
      local = parseIp(opts.localAddress);
      if (local === null || typeof local !== typeof remote) {
        process.nextTick(() => this.destroy(netError("EINVAL", "connect", opts.localAddress, opts.localPort)));
        return this;
      }
    }
    const r = this.stack.tcp.connect(I, local, remote, port, {
      localPort: opts.localPort,
      sendBufferSize: opts.sendBufferSize,
      recvBufferSize: opts.recvBufferSize,
    });
    if (typeof r === "string") {
      process.nextTick(() => this.destroy(netError(r, "connect", formatIp(remote), port)));
      return this;
    }
    this.attach(r);
    this.cacheEndpoints();
    return this;
  }

  // ---- options ----

  setNoDelay(noDelay = true): this {
    if (this.id === null || this.connecting) this.pendingNoDelay = noDelay;
    else this.stack.tcp.setNoDelay(this.id, noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    if (this.id === null || this.connecting) this.pendingKeepAlive = [enable, initialDelay];
    else this.stack.tcp.setKeepAlive(this.id, enable, initialDelay > 0 ? initialDelay : undefined);
    return this;
  }

  /** Emit `timeout` after `ms` without activity (0 disables); the socket stays open. */
  setTimeout(ms: number, callback?: Callback): this {
    if (callback !== undefined) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (ms > 0 && !this.destroyed) {
      this.timeout = ms;
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.emit("timeout");
      }, ms);
      this.idleTimer.unref();
    } else this.timeout = ms > 0 ? ms : undefined;
    return this;
  }

  ref(): this {
    if (!this.hold.refed) {
      this.hold.refed = true;
      if (!this.destroyed && (this.id !== null || this.connecting)) this.hold.take();
    }
    return this;
  }

  unref(): this {
    if (this.hold.refed) {
      this.hold.refed = false;
      this.hold.drop();
    }
    return this;
  }

  /** Close after the queued writes (node:net). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  /** Close with a RST (RFC 9293 3.10.5 ABORT): the peer gets ECONNRESET. */
  resetAndDestroy(): this {
    this.resetOnDestroy = true;
    this.destroy();
    return this;
  }

  // ---- stream implementation ----

  override _read(_size: number): void {
    this.wantRead = true;
    this.pull();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.afterConnect.push(() => this._write(chunk, _enc, cb));
      return;
    }
    if (this.id === null) {
      cb(netError("EPIPE", "write"));
      return;
    }
    this.touch();
    this.writeChunk = chunk;
    this.writeOff = 0;
    this.writeCb = cb;
    this.flushWrite();
  }

  /**
   * Several chunks queued while a write was in progress (or corked): small ones are joined so they
   * reach TCP in one call (one segment with Nagle off, as node:net's writev does).
   */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += chunks[i].chunk.length;
    if (total <= WRITEV_JOIN || chunks.length === 1) {
      const one =
        chunks.length === 1
          ? chunks[0].chunk
          : Buffer.concat(
              chunks.map((c) => c.chunk),
              total,
            );
      this._write(one, "binary", cb);
      return;
    }
    // Large chunks: one after another, `cb` once TCP took the last.
    let i = 0;
    const next = (err?: Error | null): void => {
      if (err != null || i === chunks.length) cb(err);
      else this._write(chunks[i++].chunk, "binary", next);
    };
    next();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.afterConnect.push(() => this._final(cb));
      return;
    }
    if (this.id === null) {
      cb();
      return;
    }
    // RFC 9293 3.10.4: CLOSE on the sending side: a FIN follows the queued data.
    const e = this.stack.tcp.shutdown(this.id);
    cb(e === null || e === "ENOTCONN" ? null : netError(e, "shutdown"));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const id = this.id;
    if (id !== null) {
      this.stack.offSocket(id);
      if (this.resetOnDestroy || this.connecting) this.stack.tcp.abort(id);
      // Unread data makes the close a RST (RFC 2525 2.17), as the kernel does.
      else this.stack.tcp.close(id);
      this.id = null;
    }
    this.connecting = false;
    this.afterConnect = [];
    this.writeCb = null;
    this.writeChunk = null;
    this.hold.drop();
    this.stack.untrack(this);
    cb(err);
    process.nextTick(() => this.emit("close", err != null));
  }

  // ---- internals ----

  private attach(id: SocketId): void {
    this.id = id;
    this.stack.onSocket(id, this.onCoreEvent);
  }

  private cacheEndpoints(): void {
    if (this.id === null) return;
    const l = this.stack.tcp.address(this.id);
    const r = this.stack.tcp.remoteAddress(this.id);
    if (l !== null) this.local = { address: formatIp(l.address as IpAddr), family: l.family, port: l.port };
    if (r !== null) this.remote = { address: formatIp(r.address as IpAddr), family: r.family, port: r.port };
  }

  /** Activity: restart the idle timer. */
  private touch(): void {
    this.idleTimer?.refresh();
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    switch (ev.type) {
      case "connected":
        this.onConnected();
        break;
      case "readable":
        if (this.wantRead) this.pull();
        break;
      case "writable":
        if (this.writeCb !== null) this.flushWrite();
        break;
      case "error":
        this.onCoreError(ev.code);
        break;
      case "closed":
        // A clean end of both directions: deliver what is left and the end of the stream.
        this.pull();
        break;
    }
  };

  private onConnected(): void {
    if (!this.connecting || this.id === null) return;
    this.connecting = false;
    this.cacheEndpoints();
    if (this.pendingNoDelay !== null) this.stack.tcp.setNoDelay(this.id, this.pendingNoDelay);
    if (this.pendingKeepAlive !== null) {
      const [on, delay] = this.pendingKeepAlive;
      this.stack.tcp.setKeepAlive(this.id, on, delay > 0 ? delay : undefined);
    }
    this.touch();
    this.emit("connect");
    this.emit("ready");
    const later = this.afterConnect;
    this.afterConnect = [];
    for (const f of later) f();
    if (!this.isPaused() || this.listenerCount("data") === 0) this.read(0);
  }

  private onCoreError(code: ErrorCode): void {
    if (this.destroyed) return;
    const err = this.connecting ? netError(code, "connect", this.host, this.port) : netError(code, "read");
    if (this.connecting && this.remote !== null) {
      err.message = `connect ${code} ${this.remote.address}:${this.remote.port}`;
      err.address = this.remote.address;
      err.port = this.remote.port;
    }
    this.destroy(err);
  }

  /**
   * Move data from the TCP receive buffer into the stream while it wants more: everything TCP
   * holds, in one chunk (one copy, into a Buffer from Node's pool when small).
   */
  private pull(): void {
    const id = this.id;
    if (id === null || this.eof || this.connecting || this.destroyed) return;
    const tcp = this.stack.tcp;
    for (;;) {
      const avail = tcp.readable(id);
      if (avail === 0) {
        if (tcp.recv(id, 0) !== null) return;
        this.eof = true;
        this.push(null);
        // As node:net does at EOF: with nothing buffered, `end` follows even if nobody reads.
        this.read(0);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(avail, READ_MAX));
      const n = tcp.recvInto(id, chunk, 0, chunk.length);
      if (n <= 0) return;
      this.bytesRead += n;
      this.touch();
      if (!this.push(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        // The application stopped reading: the rest stays in TCP and the window closes.
        this.wantRead = false;
        return;
      }
    }
  }

  private flushWrite(): void {
    const chunk = this.writeChunk;
    const id = this.id;
    if (chunk === null || id === null) return;
    const n = this.stack.tcp.send(id, chunk, this.writeOff, chunk.length - this.writeOff);
    if (typeof n === "string") {
      const cb = this.writeCb;
      this.writeCb = null;
      this.writeChunk = null;
      cb?.(netError(n, "write"));
      return;
    }
    this.writeOff += n;
    this.written += n;
    if (this.writeOff >= chunk.length) {
      const cb = this.writeCb;
      this.writeCb = null;
      this.writeChunk = null;
      cb?.();
    }
    // Otherwise the send buffer is full: the core's `writable` event continues.
  }
}

function normalizeConnectArgs(args: unknown[]): [TcpConnectOptions, Callback | undefined] {
  const last = args[args.length - 1];
  const cb = typeof last === "function" ? (last as Callback) : undefined;
  const a0 = args[0];
  if (a0 !== null && typeof a0 === "object") return [a0 as TcpConnectOptions, cb];
  const host = typeof args[1] === "string" ? args[1] : undefined;
  return [{ port: a0 as number | string, host }, cb];
}

// ---- Server ----

/** Options of `createServer` (node:net's that apply). */
export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** Options of `listen` (node:net's TCP ones). */
export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
}

/** A listening TCP socket (or a v4 and a v6 one sharing a port), as node:net's `Server`. */
export class Server extends EventEmitter {
  private listeners4or6: SocketId[] = [];
  private readonly connections = new Set<Socket>();
  private addr: AddressInfo | null = null;
  private readonly hold: StackRef;
  private closing = false;
  maxConnections = Number.POSITIVE_INFINITY;
  readonly options: ServerOptions;

  constructor(
    readonly stack: NodeStack,
    options: ServerOptions = {},
    connectionListener?: (socket: Socket) => void,
  ) {
    super();
    this.hold = new StackRef(stack);
    this.options = options;
    if (connectionListener !== undefined) this.on("connection", connectionListener);
  }

  get listening(): boolean {
    return this.listeners4or6.length > 0;
  }

  listen(options: ListenOptions, cb?: Callback): this;
  listen(port?: number, host?: string, backlog?: number, cb?: Callback): this;
  listen(port?: number, host?: string, cb?: Callback): this;
  listen(port?: number, cb?: Callback): this;
  listen(...args: unknown[]): this {
    const last = args[args.length - 1];
    const cb = typeof last === "function" ? (last as Callback) : undefined;
    let o: ListenOptions;
    if (args[0] !== null && typeof args[0] === "object") o = args[0] as ListenOptions;
    else {
      const rest = args.filter((x) => typeof x !== "function");
      o = {
        port: rest[0] === undefined ? 0 : Number(rest[0]),
        host: typeof rest[1] === "string" ? rest[1] : undefined,
        backlog: typeof rest[1] === "number" ? rest[1] : typeof rest[2] === "number" ? rest[2] : undefined,
      };
    }
    if (cb !== undefined) this.once("listening", cb);
    if (this.listening) {
      throw Object.assign(new Error("Listen method has been called more than once without closing."), {
        code: "ERR_SERVER_ALREADY_LISTEN",
      });
    }
    const port = o.port ?? 0;
    const tcp = this.stack.tcp;
    const hostText = o.host ?? "::";
    const fail = (code: string, address: string): this => {
      for (const id of this.listeners4or6) tcp.close(id);
      this.listeners4or6 = [];
      process.nextTick(() => this.emit("error", netError(code, "listen", address, port, true)));
      return this;
    };
    const addr = o.host === undefined || o.host === "" ? Ipv6.unspecified : resolveHost(o.host);
    if (addr === null) return fail("EADDRNOTAVAIL", hostText);
    const I = versionOf(addr);
    // node:net: "::" (the default) also accepts IPv4 unless ipv6Only: a second listener on 0.0.0.0.
    const dual = I === (Ipv6 as unknown) && Ipv6.isUnspecified(addr as never) && o.ipv6Only !== true;
    if (!I.isUnspecified(addr) && !this.stack.stack.ip.isLocal(I, addr)) {
      return fail("EADDRNOTAVAIL", formatIp(addr));
    }
    const r = tcp.listen(I, addr, port, o.backlog);
    if (typeof r === "string") return fail(r, formatIp(addr));
    this.listeners4or6.push(r);
    const bound = (tcp.address(r) as { port: number }).port;
    if (dual) {
      const r4 = tcp.listen(Ipv4, Ipv4.unspecified, bound, o.backlog);
      if (typeof r4 === "string") return fail(r4, formatIp(addr));
      this.listeners4or6.push(r4);
    }
    this.addr = { address: formatIp(addr), family: I.name, port: bound };
    for (const id of this.listeners4or6) this.stack.onSocket(id, this.onCoreEvent);
    this.stack.track(this);
    this.closing = false;
    this.hold.take();
    process.nextTick(() => this.emit("listening"));
    return this;
  }

  /** The bound address (null when not listening). */
  address(): AddressInfo | null {
    return this.addr === null ? null : { ...this.addr };
  }

  /** Stop accepting; `close` is emitted once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    if (cb !== undefined) {
      if (!this.listening) {
        const e = Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" });
        process.nextTick(() => cb(e));
      } else this.once("close", () => cb());
    }
    if (!this.listening) return this;
    for (const id of this.listeners4or6) {
      this.stack.offSocket(id);
      this.stack.tcp.close(id);
    }
    this.listeners4or6 = [];
    this.addr = null;
    this.closing = true;
    this.hold.drop();
    this.maybeClosed();
    return this;
  }

  /** Node's `server.close()` via `destroy()`, for `NodeStack.close()`: also destroys connections. */
  destroy(): void {
    for (const s of [...this.connections]) s.destroy();
    this.close();
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.connections.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    if (!this.hold.refed) {
      this.hold.refed = true;
      if (this.listening) this.hold.take();
    }
    return this;
  }

  unref(): this {
    this.hold.refed = false;
    this.hold.drop();
    return this;
  }

  private maybeClosed(): void {
    if (this.closing && this.connections.size === 0) {
      this.closing = false;
      this.stack.untrack(this);
      process.nextTick(() => this.emit("close"));
    }
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    if (ev.type !== "accepted") return;
    const tcp = this.stack.tcp;
    for (;;) {
      const id = tcp.accept(ev.socket);
      if (id === null) return;
      if (this.connections.size >= this.maxConnections) {
        tcp.abort(id);
        continue;
      }
      const o = this.options;
      const s = new Socket(this.stack, { allowHalfOpen: o.allowHalfOpen ?? false }, id, o.pauseOnConnect !== true);
      if (o.noDelay) s.setNoDelay(true);
      if (o.keepAlive) s.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
      this.connections.add(s);
      s.once("close", () => {
        this.connections.delete(s);
        this.maybeClosed();
      });
      this.emit("connection", s);
    }
  };
}

// ---- the module-shaped API ----

/** What `stack.net` holds: node:net's functions and classes bound to one stack. */
export interface NetApi {
  Socket: new (options?: SocketOptions) => Socket;
  Server: new (options?: ServerOptions, listener?: (socket: Socket) => void) => Server;
  createConnection(options: TcpConnectOptions, listener?: Callback): Socket;
  createConnection(port: number | string, host?: string, listener?: Callback): Socket;
  connect(options: TcpConnectOptions, listener?: Callback): Socket;
  connect(port: number | string, host?: string, listener?: Callback): Socket;
  createServer(listener?: (socket: Socket) => void): Server;
  createServer(options: ServerOptions, listener?: (socket: Socket) => void): Server;
  isIP: typeof isIP;
  isIPv4: typeof isIPv4;
  isIPv6: typeof isIPv6;
}

/** node:net bound to `stack` (NodeStack builds its `net` with this). */
export function createNet(stack: NodeStack): NetApi {
  class BoundSocket extends Socket {
    constructor(options?: SocketOptions) {
      super(stack, options);
    }
  }
  class BoundServer extends Server {
    constructor(options?: ServerOptions, listener?: (socket: Socket) => void) {
      super(stack, options, listener);
    }
  }
  const createConnection = (...args: unknown[]): Socket => {
    const [opts] = normalizeConnectArgs(args);
    const s = new Socket(stack, { allowHalfOpen: opts.allowHalfOpen });
    return (s.connect as (...a: unknown[]) => Socket)(...args);
  };
  const createServer = (a?: ServerOptions | ((s: Socket) => void), b?: (s: Socket) => void): Server =>
    typeof a === "function" ? new Server(stack, {}, a) : new Server(stack, a ?? {}, b);
  return {
    Socket: BoundSocket,
    Server: BoundServer,
    createConnection: createConnection as NetApi["createConnection"],
    connect: createConnection as NetApi["connect"],
    createServer: createServer as NetApi["createServer"],
    isIP,
    isIPv4,
    isIPv6,
  };
}

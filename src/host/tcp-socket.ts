/**
 * TCP connections as WHATWG streams, over the core's `TcpLayer` (RFC 9293), in the shape of the
 * WinterCG / Cloudflare sockets API: `connect()` returns at once a socket with `readable`,
 * `writable`, `opened` (resolves with the endpoints once established), `closed` and `close()`.
 * `listen(port, onConnection)` hands accepted connections in the same shape.
 *
 * Backpressure both ways, carried into TCP:
 * - Reading: data is taken from the TCP receive buffer only while the readable's queue is below its
 *   high-water mark (the stream's `pull`). A consumer that stops reading leaves the data in TCP, so
 *   the advertised window shrinks to zero (RFC 9293 3.8.6.2) and a window update follows when it
 *   reads again.
 * - Writing: a chunk's `write()` promise resolves once TCP's send buffer has taken all of it; what
 *   does not fit waits for the core's `writable` event, so a writer that awaits `ready` / `write()`
 *   never queues more than the buffer holds plus the stream's own high-water mark.
 *
 * Closing: `writable.close()` sends a FIN after the queued data (half-close, RFC 9293 3.10.4);
 * `writable.abort()` resets (3.10.5); `readable.cancel()` stops delivering (later data is read and
 * dropped, so the peer is not stalled); `close()` closes both and releases the socket (a RST when
 * unread data is left, RFC 2525 2.17). Errors carry Node-style codes (ECONNREFUSED, ECONNRESET, ...).
 */
import type { ErrorCode, IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { TcpInfo } from "../transport/tcp/tcp-layer.ts";
import { type CodedError, codedError } from "./errors.ts";
import type { HostStack } from "./host-stack.ts";

/** The endpoints of an open connection. */
export interface SocketInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** Turns a host name into addresses (IP literals). The stack has no resolver of its own yet. */
export type LookupFn = (hostname: string) => Promise<string | readonly string[]>;

export interface ConnectOptions {
  /** An IP literal (IPv6 with or without brackets) or a name for the stack's `lookup`. */
  host?: string;
  /** Alias of `host` (the sockets API's name). */
  hostname?: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  /** Nagle's algorithm off (RFC 9293 3.7.4). */
  noDelay?: boolean;
  /** TCP send / receive buffer sizes for this connection. */
  sendBufferSize?: number;
  recvBufferSize?: number;
  /** Abort connecting (and the connection) with this signal. */
  signal?: AbortSignal;
}

/** Queue bound of each direction's stream, bytes. */
const HIGH_WATER = 64 * 1024;
/** Largest chunk the readable enqueues at once. */
const READ_MAX = 256 * 1024;
/** Where data read after `readable.cancel()` goes (dropped). */
const DISCARD = new Uint8Array(64 * 1024);

/** Resolve `host` to one address: an IP literal, "localhost", or the first answer of `lookup`. */
export async function resolveHost(host: string | undefined, lookup: LookupFn | undefined): Promise<IpAddr> {
  const h = host === undefined || host === "" ? "localhost" : host;
  const bare = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
  const lit = parseIp(bare);
  if (lit !== null) return lit;
  if (lookup !== undefined) {
    const r = await lookup(bare);
    const list = typeof r === "string" ? [r] : r;
    for (const a of list) {
      const ip = parseIp(a);
      if (ip !== null) return ip;
    }
  } else if (bare === "localhost") {
    return parseIp("127.0.0.1") as IpAddr;
  }
  throw codedError("ENOTFOUND", "getaddrinfo", bare);
}

function versionFor(a: IpAddr): IpVersion<IpAddr> {
  return (typeof a === "number" ? Ipv4 : Ipv6) as unknown as IpVersion<IpAddr>;
}

/** A promise whose rejection is not reported when nobody listens (as `opened` / `closed`). */
function quiet<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** One TCP connection of a HostStack, as streams. */
export class TcpSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves with the endpoints once the connection is established; rejects if it fails. */
  readonly opened: Promise<SocketInfo>;
  /** Resolves once the socket is closed and released; rejects with the connection's error. */
  readonly closed: Promise<void>;
  /** Bytes delivered to the readable / taken by TCP from the writable. */
  bytesRead = 0;
  bytesWritten = 0;
  private id: SocketId | null = null;
  private info: SocketInfo | null = null;
  private readonly openedP = quiet<SocketInfo>();
  private readonly closedP = quiet<void>();
  private readCtrl!: ReadableStreamDefaultController<Uint8Array>;
  private writeCtrl!: WritableStreamDefaultController;
  private readDone = false;
  private draining = false;
  /** The readable was cancelled: data is still read from TCP, and dropped. */
  private discarding = false;
  private writeDone = false;
  private pendingWrite: {
    chunk: Uint8Array;
    off: number;
    resolve: () => void;
    reject: (e: unknown) => void;
  } | null = null;
  private failure: CodedError | null = null;
  private finished = false;

  constructor(
    readonly host: HostStack,
    /** A connection accepted by a listener (already established). */
    accepted?: SocketId,
  ) {
    this.opened = this.openedP.promise;
    this.closed = this.closedP.promise;
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.readCtrl = c;
        },
        pull: () => this.drain(),
        cancel: () => {
          this.readDone = true;
          this.discarding = true;
          this.drain();
          this.maybeRelease();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }),
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        start: (c) => {
          this.writeCtrl = c;
        },
        write: (chunk) => this.write(chunk),
        close: () => this.shutdown(),
        abort: () => {
          this.writeDone = true;
          this.fail(codedError("ECONNABORTED", "write"), true);
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }),
    );
    host.track(this);
    if (accepted !== undefined) {
      this.attach(accepted);
      this.established();
    }
  }

  /** Open a connection: resolves `host` (an IP literal, or through `lookup`) and connects. */
  static connect(host: HostStack, options: ConnectOptions, lookup?: LookupFn): TcpSocket {
    const s = new TcpSocket(host);
    const port = options.port;
    const name = options.hostname ?? options.host;
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) {
      s.fail(codedError("EINVAL", "connect", name, port), false);
      return s;
    }
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        s.fail(signal.reason, true);
        return s;
      }
      const onAbort = (): void => s.fail(signal.reason, true);
      signal.addEventListener("abort", onAbort, { once: true });
      s.closed.then(
        () => signal.removeEventListener("abort", onAbort),
        () => signal.removeEventListener("abort", onAbort),
      );
    }
    resolveHost(name, lookup).then(
      (remote) => s.start(remote, options),
      (e) => s.fail(e, false),
    );
    return s;
  }

  /** The endpoints (null until established). */
  get address(): SocketInfo | null {
    return this.info;
  }

  get remoteAddress(): string | undefined {
    return this.info?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.info?.remotePort;
  }

  /** The core socket id (null when not open). */
  get socketId(): SocketId | null {
    return this.id;
  }

  /** A snapshot of the TCP connection (state, windows, RTT, ...), null when closed. */
  tcpInfo(): TcpInfo | null {
    return this.id === null ? null : this.host.tcp.info(this.id);
  }

  /** Nagle's algorithm off (true) or on. */
  setNoDelay(on = true): void {
    if (this.id !== null) this.host.tcp.setNoDelay(this.id, on);
  }

  /**
   * Close both directions: a FIN after what was written (a RST if received data is left unread),
   * the readable ends, the writable errors. Resolves once released.
   */
  close(): Promise<void> {
    if (!this.finished) {
      const id = this.id;
      if (!this.readDone) {
        this.readDone = true;
        try {
          this.readCtrl.close();
        } catch {}
      }
      if (!this.writeDone) {
        this.writeDone = true;
        this.writeCtrl.error(codedError("EPIPE", "write"));
        this.rejectPending(codedError("EPIPE", "write"));
      }
      if (id !== null) this.host.tcp.close(id);
      this.release(null);
    }
    return this.closed;
  }

  /** For HostStack.close(): reset. */
  destroy(): void {
    this.fail(codedError("ECONNABORTED", "close"), true);
  }

  // ---- internals ----

  private start(remote: IpAddr, o: ConnectOptions): void {
    if (this.finished) return;
    if (this.host.closed) {
      this.fail(codedError("ESHUTDOWN", "connect"), false);
      return;
    }
    const I = versionFor(remote);
    let local: IpAddr | null = null;
    if (o.localAddress !== undefined) {
      local = parseIp(o.localAddress);
      if (local === null || typeof local !== typeof remote) {
        this.fail(codedError("EINVAL", "connect", o.localAddress, o.localPort), false);
        return;
      }
    }
    const r = this.host.tcp.connect(I, local, remote, o.port, {
      localPort: o.localPort,
      sendBufferSize: o.sendBufferSize,
      recvBufferSize: o.recvBufferSize,
    });
    if (typeof r === "string") {
      this.fail(codedError(r, "connect", formatIp(remote), o.port), false);
      return;
    }
    this.attach(r);
    if (o.noDelay) this.host.tcp.setNoDelay(r, true);
    // Writes queued before the connection existed go into the send buffer now (TCP sends them
    // once established).
    if (this.pendingWrite !== null) this.flushWrite();
  }

  private attach(id: SocketId): void {
    this.id = id;
    this.host.onSocket(id, this.onCoreEvent);
  }

  private established(): void {
    const id = this.id;
    if (id === null) return;
    const tcp = this.host.tcp;
    const l = tcp.address(id);
    const r = tcp.remoteAddress(id);
    this.info = {
      localAddress: l === null ? "" : formatIp(l.address as IpAddr),
      localPort: l?.port ?? 0,
      remoteAddress: r === null ? "" : formatIp(r.address as IpAddr),
      remotePort: r?.port ?? 0,
    };
    this.openedP.resolve(this.info);
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    switch (ev.type) {
      case "connected":
        this.established();
        break;
      case "readable":
        this.drain();
        break;
      case "writable":
        this.flushWrite();
        break;
      case "error":
        this.onCoreError(ev.code);
        break;
      case "closed":
        // Both directions ended cleanly: deliver what is left and the end of the stream.
        this.drain();
        this.maybeRelease();
        break;
    }
  };

  private onCoreError(code: ErrorCode): void {
    const opening = this.info === null;
    const r = this.id === null ? null : this.host.tcp.remoteAddress(this.id);
    const addr = r === null ? undefined : formatIp(r.address as IpAddr);
    this.fail(codedError(code, opening ? "connect" : "read", addr, r?.port), false);
  }

  /** Move data from TCP into the readable while its queue wants more; deliver EOF. */
  private drain(): void {
    const id = this.id;
    if (id === null || this.info === null) return;
    const tcp = this.host.tcp;
    if (this.discarding) {
      while (tcp.readable(id) > 0) tcp.recvInto(id, DISCARD, 0, DISCARD.length);
      return;
    }
    // enqueue() may call pull() synchronously: one drain at a time.
    if (this.readDone || this.draining) return;
    this.draining = true;
    try {
      this.drainLoop(id);
    } finally {
      this.draining = false;
    }
  }

  private drainLoop(id: SocketId): void {
    const tcp = this.host.tcp;
    const ctrl = this.readCtrl;
    for (;;) {
      const avail = tcp.readable(id);
      if (avail === 0) {
        if (!this.eof(id)) return;
        this.readDone = true;
        ctrl.close();
        this.maybeRelease();
        return;
      }
      if ((ctrl.desiredSize ?? 0) <= 0) return;
      const chunk = new Uint8Array(Math.min(avail, READ_MAX));
      const n = tcp.recvInto(id, chunk, 0, chunk.length);
      if (n <= 0) return;
      this.bytesRead += n;
      ctrl.enqueue(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
  }

  /** True once TCP reports the end of the stream (the peer's FIN, or the connection gone). */
  private eof(id: SocketId): boolean {
    return this.host.tcp.recv(id, 0) === null;
  }

  private write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(new TypeError("TcpSocket: write a Uint8Array"));
    }
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.pendingWrite = { chunk, off: 0, resolve, reject };
      if (this.id !== null) this.flushWrite();
    });
  }

  private flushWrite(): void {
    const w = this.pendingWrite;
    const id = this.id;
    if (w === null || id === null) return;
    const n = this.host.tcp.send(id, w.chunk, w.off, w.chunk.length - w.off);
    if (typeof n === "string") {
      this.pendingWrite = null;
      w.reject(codedError(n, "write"));
      return;
    }
    w.off += n;
    this.bytesWritten += n;
    if (w.off >= w.chunk.length) {
      this.pendingWrite = null;
      w.resolve();
    }
    // Otherwise the send buffer is full: the core's `writable` event continues.
  }

  private shutdown(): Promise<void> {
    this.writeDone = true;
    const id = this.id;
    if (this.failure !== null) return Promise.reject(this.failure);
    if (id === null || this.info === null) {
      // Not established yet (a CLOSE in SYN-SENT would delete the connection, RFC 9293 3.10.4):
      // the FIN goes once it is.
      return this.opened.then(() => this.shutdown());
    }
    const e = this.host.tcp.shutdown(id);
    this.maybeRelease();
    if (e !== null && e !== "ENOTCONN") return Promise.reject(codedError(e, "shutdown"));
    return Promise.resolve();
  }

  private rejectPending(e: unknown): void {
    const w = this.pendingWrite;
    this.pendingWrite = null;
    w?.reject(e);
  }

  /** Fail both streams with `err`; `reset`: abort the connection with a RST. */
  private fail(err: unknown, reset: boolean): void {
    if (this.finished) return;
    const e = err as CodedError;
    this.failure = e;
    const id = this.id;
    if (id !== null) {
      if (reset || this.info === null) this.host.tcp.abort(id);
      else this.host.tcp.close(id);
    }
    if (!this.readDone) {
      this.readDone = true;
      this.readCtrl.error(e);
    }
    if (!this.writeDone) {
      this.writeDone = true;
      this.writeCtrl.error(e);
    }
    this.rejectPending(e);
    this.openedP.reject(e);
    this.release(e);
  }

  /** Both directions done: release the core socket (FIN, or already closed) and resolve `closed`. */
  private maybeRelease(): void {
    if (this.finished || !this.readDone || !this.writeDone || this.pendingWrite !== null) return;
    const id = this.id;
    if (id !== null) this.host.tcp.close(id);
    this.release(null);
  }

  private release(err: CodedError | null): void {
    if (this.finished) return;
    this.finished = true;
    if (this.id !== null) this.host.offSocket(this.id);
    this.id = null;
    this.host.untrack(this);
    if (err === null) {
      this.openedP.reject(codedError("ECONNABORTED", "connect"));
      this.closedP.resolve();
    } else this.closedP.reject(err);
  }
}

export interface ListenOptions {
  port?: number;
  /** The local address (default: every address, IPv6 and IPv4). */
  host?: string;
  backlog?: number;
}

/** A listening TCP socket (one per IP version when listening on every address). */
export class TcpListener {
  private ids: SocketId[] = [];
  /** The bound port. */
  readonly port: number;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(
    readonly host: HostStack,
    options: ListenOptions,
    private readonly onConnection: (socket: TcpSocket) => void,
  ) {
    const tcp = host.tcp;
    const port = options.port ?? 0;
    const text = options.host;
    const addr = text === undefined || text === "" ? Ipv6.unspecified : parseIp(text);
    if (addr === null) throw codedError("EADDRNOTAVAIL", "listen", text, port);
    const I = versionFor(addr);
    if (!I.isUnspecified(addr) && !host.stack.ip.isLocal(I, addr)) {
      throw codedError("EADDRNOTAVAIL", "listen", formatIp(addr), port);
    }
    const r = tcp.listen(I, addr, port, options.backlog);
    if (typeof r === "string") throw codedError(r, "listen", formatIp(addr), port);
    this.ids.push(r);
    this.port = (tcp.address(r) as { port: number }).port;
    if (text === undefined || text === "") {
      // Every address: IPv4 too, on the same port (as node:net's "::" does).
      const r4 = tcp.listen(Ipv4, Ipv4.unspecified, this.port, options.backlog);
      if (typeof r4 === "string") {
        tcp.close(r);
        throw codedError(r4, "listen", "0.0.0.0", this.port);
      }
      this.ids.push(r4);
    }
    for (const id of this.ids) host.onSocket(id, this.onCoreEvent);
    host.track(this);
  }

  get listening(): boolean {
    return this.ids.length > 0;
  }

  /** Stop listening (open connections stay open). */
  close(): void {
    for (const id of this.ids) {
      this.host.offSocket(id);
      this.host.tcp.close(id);
    }
    this.ids = [];
    this.host.untrack(this);
  }

  destroy(): void {
    this.close();
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    if (ev.type !== "accepted") return;
    for (;;) {
      const id = this.host.tcp.accept(ev.socket);
      if (id === null) return;
      this.accepted++;
      const s = new TcpSocket(this.host, id);
      try {
        this.onConnection(s);
      } catch (err) {
        this.host.platform.reportError(err);
      }
    }
  };
}

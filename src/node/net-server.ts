/**
 * A listening TCP socket of a stack as node:net's `Server` (RFC 9293 3.10.1 passive OPEN): listen
 * on a port of one address, or of every address of both versions (the default, `::`: an IPv6 and
 * an IPv4 listener on one port; IPv4 peers are then reported as IPv4-mapped IPv6 addresses, as a
 * dual-stack kernel socket reports them, RFC 4291 2.5.5.2; `ipv6Only` leaves the IPv4 listener
 * out), `maxConnections` (an extra connection is closed and `drop` is emitted), the `signal` option,
 * and Node's argument errors. A server holds the event loop while it listens, unless `unref()`ed.
 *
 * `Server.init(self, ...)` initializes an object whose prototype chain includes `Server.prototype`
 * without constructing it: node:http's Server builds itself that way (`net.Server.call(this, ...)`).
 */

import { EventEmitter } from "node:events";
import type { IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { ApiHost } from "./host.ts";
import { codeError, invalidArgType, invalidArgValue, netError, validatePort, validateSignal } from "./net-errors.ts";
import { type AddressInfo, normalizeArgs, Socket } from "./net-socket.ts";
import { StackRef } from "./stack-ref.ts";

/** Options of `createServer` (node:net's that apply). */
export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
}

/** Options of `listen` (node:net's TCP ones). */
export interface ListenOptions {
  port?: number | string | null;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
  exclusive?: boolean;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

type Callback = () => void;
type ConnectionListener = (socket: Socket) => void;

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

/** A listening TCP socket (or a v4 and a v6 one sharing a port), as node:net's `Server`. */
export class Server extends EventEmitter {
  declare readonly stack: ApiHost;
  /** Accepted connections not yet closed (node:net's `_connections`). */
  _connections!: number;
  maxConnections!: number;
  allowHalfOpen!: boolean;
  pauseOnConnect!: boolean;
  noDelay!: boolean;
  keepAlive!: boolean;
  keepAliveInitialDelay!: number;
  highWaterMark!: number | undefined;
  private listenIds!: SocketId[];
  private v4mapped!: SocketId | null;
  private addr!: AddressInfo | null;
  private hold!: StackRef;
  /** Bumped by listen/close: a lookup answer for an earlier listen() is ignored. */
  private listeningId!: number;

  constructor(stack: ApiHost, options?: ServerOptions | ConnectionListener, connectionListener?: ConnectionListener) {
    super();
    Server.init(this, stack, options, connectionListener);
  }

  /** Initialize `self` as a server of `stack` (node:net's Server constructor body). */
  static init(
    self: Server,
    stack: ApiHost,
    options?: ServerOptions | ConnectionListener | null,
    connectionListener?: ConnectionListener,
  ): void {
    if (!Object.hasOwn(self, "_events")) EventEmitter.call(self);
    let o: ServerOptions;
    if (typeof options === "function") {
      o = {};
      self.on("connection", options);
    } else if (options == null || typeof options === "object") {
      o = { ...options };
      if (typeof connectionListener === "function") self.on("connection", connectionListener);
    } else {
      throw invalidArgType("options", "Object", options);
    }
    if (o.keepAliveInitialDelay !== undefined && typeof o.keepAliveInitialDelay !== "number") {
      throw invalidArgType("options.keepAliveInitialDelay", "number", o.keepAliveInitialDelay);
    }
    Object.defineProperty(self, "stack", { value: stack, enumerable: false, configurable: true });
    self._connections = 0;
    self.maxConnections = Number.POSITIVE_INFINITY;
    self.allowHalfOpen = o.allowHalfOpen || false;
    self.pauseOnConnect = Boolean(o.pauseOnConnect);
    self.noDelay = Boolean(o.noDelay);
    self.keepAlive = Boolean(o.keepAlive);
    self.keepAliveInitialDelay = Math.max(0, o.keepAliveInitialDelay ?? 0);
    self.highWaterMark = o.highWaterMark;
    self.listenIds = [];
    self.v4mapped = null;
    self.addr = null;
    self.hold = new StackRef(stack);
    self.listeningId = 1;
  }

  get listening(): boolean {
    return this.listenIds.length > 0;
  }

  listen(options: ListenOptions, cb?: Callback): this;
  listen(port?: number | string | null, host?: string, backlog?: number, cb?: Callback): this;
  listen(port?: number | string | null, host?: string, cb?: Callback): this;
  listen(port?: number | string | null, backlog?: number, cb?: Callback): this;
  listen(port?: number | string | null, cb?: Callback): this;
  listen(cb?: Callback): this;
  listen(...args: unknown[]): this {
    const [o, cb] = normalizeArgs(args) as [ListenOptions & Record<string, unknown>, Callback | null];
    if (this.listening) {
      throw codeError("ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once without closing.");
    }
    if (cb !== null) this.once("listening", cb);
    const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
    this.listeningId++;
    const signal = validateSignal(o.signal, "options.signal");
    if (signal !== undefined) {
      if (signal.aborted) process.nextTick(() => this.close());
      else {
        const onAbort = (): void => void this.close();
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    if (
      args.length === 0 ||
      typeof args[0] === "function" ||
      (o.port === undefined && "port" in o) ||
      o.port === null
    ) {
      o.port = 0;
    }
    if (typeof o.port === "number" || typeof o.port === "string") {
      const port = validatePort(o.port, "options.port");
      const backlog = (o.backlog as number | undefined) || backlogFromArgs || undefined;
      if (o.host) this.lookupAndListen(port, String(o.host), backlog, o.ipv6Only === true);
      else this.setup(null, port, backlog, o.ipv6Only === true);
      return this;
    }
    if (o.path !== undefined) {
      // Unix domain sockets are not TCP/IP.
      const path = String(o.path);
      process.nextTick(() => this.emit("error", netError("EAFNOSUPPORT", "listen", path, undefined, true)));
      return this;
    }
    if (!("port" in o || "path" in o)) {
      throw invalidArgValue("options", o, 'must have the property "port" or "path"');
    }
    throw invalidArgValue("options", o);
  }

  private lookupAndListen(port: number, host: string, backlog: number | undefined, v6only: boolean): void {
    const id = this.listeningId;
    this.stack.lookup(host, {}, (err, ip) => {
      if (id !== this.listeningId) return;
      if (err) this.emit("error", err);
      else this.setup(parseIp(String(ip)), port, backlog, v6only);
    });
  }

  /** Open the listener(s): on `addr` (null: every address, dual-stack unless `v6only`). */
  private setup(addr: IpAddr | null, port: number, backlog: number | undefined, v6only: boolean): void {
    const tcp = this.stack.tcp;
    const a = addr ?? Ipv6.unspecified;
    const I = (typeof a === "number" ? Ipv4 : Ipv6) as unknown as IpVersion<IpAddr>;
    const fail = (code: string, address: string): void => {
      for (const id of this.listenIds) tcp.close(id);
      this.listenIds = [];
      this.v4mapped = null;
      process.nextTick(() => this.emit("error", netError(code, "listen", address, port, true)));
    };
    if (!I.isUnspecified(a) && !this.stack.isLocalAddress(a)) {
      fail("EADDRNOTAVAIL", formatIp(a));
      return;
    }
    const r = tcp.listen(I, a, port, backlog);
    if (typeof r === "string") {
      fail(r, formatIp(a));
      return;
    }
    this.listenIds = [r];
    const bound = (tcp.address(r) as { port: number }).port;
    // node:net: "::" (the default) also accepts IPv4 unless ipv6Only: a second listener on 0.0.0.0.
    if (I === (Ipv6 as unknown) && Ipv6.isUnspecified(a as never) && !v6only) {
      const r4 = tcp.listen(Ipv4, Ipv4.unspecified, bound, backlog);
      if (typeof r4 === "string") {
        fail(r4, formatIp(a));
        return;
      }
      this.listenIds.push(r4);
      this.v4mapped = r4;
    }
    this.addr = { address: formatIp(a), family: I.name, port: bound };
    for (const id of this.listenIds) this.stack.onSocket(id, (ev) => this.onCoreEvent(ev));
    this.stack.track(this);
    this.hold.take();
    process.nextTick(() => {
      // Not when closed in the meantime (node:net's emitListeningNT).
      if (this.listening) this.emit("listening");
    });
  }

  /** The bound address (null when not listening). */
  address(): AddressInfo | null {
    return this.addr === null ? null : { ...this.addr };
  }

  /** Stop accepting; `close` is emitted once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    this.listeningId++;
    if (typeof cb === "function") {
      if (!this.listening) {
        this.once("close", () => cb(codeError("ERR_SERVER_NOT_RUNNING", "Server is not running.")));
      } else this.once("close", cb);
    }
    if (this.listening) {
      for (const id of this.listenIds) {
        this.stack.offSocket(id);
        this.stack.tcp.close(id);
      }
      this.listenIds = [];
      this.v4mapped = null;
      this.addr = null;
      this.hold.drop();
    }
    this._emitCloseIfDrained();
    return this;
  }

  /** node:net's: emit `close` (next tick) once not listening and without connections. */
  _emitCloseIfDrained(): void {
    if (this.listening || this._connections > 0) return;
    this.stack.untrack(this);
    process.nextTick(() => this.emit("close"));
  }

  /** `await using`: closes the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.listening) return;
    await new Promise<void>((resolve, reject) => this.close((e) => (e ? reject(e) : resolve())));
  }

  /** For `NodeStack.close()`: stop listening and destroy the connections. */
  destroy(): void {
    this.close();
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this._connections;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.hold.refed = true;
    if (this.listening) this.hold.take();
    return this;
  }

  unref(): this {
    this.hold.refed = false;
    this.hold.drop();
    return this;
  }

  private onCoreEvent(ev: StackEvent): void {
    if (ev.type !== "accepted") return;
    const tcp = this.stack.tcp;
    for (;;) {
      const id = tcp.accept(ev.socket);
      if (id === null) return;
      const v4mapped = ev.socket === this.v4mapped;
      if (this.maxConnections && this._connections >= this.maxConnections) {
        // node:net: the extra connection is closed (a FIN, not a RST) and `drop` tells who it was.
        const l = tcp.address(id);
        const r = tcp.remoteAddress(id);
        const map = (a: string, f: string) => (v4mapped && f === "IPv4" ? [`::ffff:${a}`, "IPv6"] : [a, f]);
        const data: Record<string, unknown> = { __proto__: null };
        if (l !== null) {
          const [address, family] = map(formatIp(l.address as IpAddr), l.family);
          Object.assign(data, { localAddress: address, localPort: l.port, localFamily: family });
        }
        if (r !== null) {
          const [address, family] = map(formatIp(r.address as IpAddr), r.family);
          Object.assign(data, { remoteAddress: address, remotePort: r.port, remoteFamily: family });
        }
        tcp.close(id);
        this.emit("drop", data);
        continue;
      }
      const s = new Socket(
        this.stack,
        {
          allowHalfOpen: this.allowHalfOpen,
          readableHighWaterMark: this.highWaterMark,
          writableHighWaterMark: this.highWaterMark,
        },
        id,
        !this.pauseOnConnect,
        v4mapped,
      );
      if (this.noDelay) s.setNoDelay(true);
      if (this.keepAlive) s.setKeepAlive(true, this.keepAliveInitialDelay);
      this._connections++;
      s.server = this;
      s._server = this;
      this.emit("connection", s);
    }
  }
}

/** `EventEmitter.captureRejections`: a rejected `connection` listener destroys that socket. */
(Server.prototype as unknown as Record<symbol, unknown>)[EventEmitter.captureRejectionSymbol] = function (
  this: Server,
  err: Error,
  event: string,
  sock: Socket,
): void {
  if (event === "connection") sock.destroy(err);
  else this.emit("error", err);
};

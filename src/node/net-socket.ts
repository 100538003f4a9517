/**
 * A TCP connection of a stack as a node:net `Socket` (a `stream.Duplex`): connect (host names
 * through the `lookup` option or the stack's lookup; Happy Eyeballs, RFC 8305, for names with
 * addresses of both families, as node:net's `autoSelectFamily`), the properties and events of
 * node:net, its argument errors and its hold on the event loop.
 *
 * Backpressure both ways:
 * - Writing: a chunk is handed to the TCP send buffer; what does not fit waits for the core's
 *   `writable` event before the chunk's callback runs, so the stream's buffer grows, `write()`
 *   returns false, and `drain` follows once TCP took everything.
 * - Reading: data is pulled from the TCP receive buffer only while the stream wants it (`push`
 *   returned true, or `_read` was called). When the application stops reading, the data stays in
 *   TCP, the advertised window shrinks to zero (RFC 9293 3.8.6.2), and a window update goes out when
 *   reading resumes.
 *
 * The event loop: like a libuv TCP handle, a socket keeps the process alive while it connects,
 * while it reads (until end-of-stream, or until the application stops consuming: a paused socket
 * whose buffer is full, or one paused before it connected), and while TCP has not taken a write;
 * never after `unref()`.
 */

import type { SocketConnectOpts } from "node:net";
import { addAbortSignal, Duplex } from "node:stream";
import type { ErrorCode, IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { TcpInfo } from "../transport/tcp/tcp-layer.ts";
import type { ApiHost } from "./host.ts";
import {
  codeError,
  invalidAddressFamily,
  invalidArgType,
  invalidArgValue,
  invalidIp,
  missingArgs,
  type NetError,
  netError,
  validateSignal,
} from "./net-errors.ts";
import { familyOf, type LookupAddress, type LookupFunction } from "./net-lookup.ts";
import {
  type AddressInfo,
  checkConnectOptions,
  interleaveFamilies,
  normalizeArgs,
  normalizedArgs,
  type SocketOptions,
  type TcpConnectOptions,
} from "./net-options.ts";

export type { AddressInfo, SocketOptions, TcpConnectOptions } from "./net-options.ts";
export { autoSelectDefaults, normalizeArgs, normalizedArgs } from "./net-options.ts";

import { StackRef } from "./stack-ref.ts";

/** Largest chunk `pull` hands to the stream at once. */
const READ_MAX = 1 << 20;
/** `_writev` joins chunks up to this many bytes into one. */
const WRITEV_JOIN = 64 * 1024;

function versionOf(a: IpAddr): IpVersion<IpAddr> {
  return (typeof a === "number" ? Ipv4 : Ipv6) as unknown as IpVersion<IpAddr>;
}

/** `::ffff:a.b.c.d`: how a dual-stack IPv6 socket names an IPv4 endpoint (RFC 4291 2.5.5.2). */
function mapped(e: AddressInfo): AddressInfo {
  return e.family === "IPv4" ? { address: `::ffff:${e.address}`, family: "IPv6", port: e.port } : e;
}

type Callback = () => void;

/** A write or end waiting for the connection. */
interface Deferred {
  run(): void;
  fail(err: Error): void;
}

/** One connection attempt of Happy Eyeballs. */
interface Attempt {
  id: SocketId;
  address: string;
  family: 4 | 6;
}

/** A TCP connection of a stack, as a node:net `Socket`. */
export class Socket extends Duplex {
  /** The stack (what the socket needs of it). */
  declare readonly stack: ApiHost;
  /** The core socket id (null before connect and after destroy). */
  private id!: SocketId | null;
  connecting!: boolean;
  /** The idle timeout in ms (undefined: never set), as node:net's `socket.timeout`. */
  timeout!: number | undefined;
  /** The server that accepted this socket (null for a client). */
  server!: unknown;
  _server!: unknown;
  /** The host name given to connect (node:net's `_host`). */
  _host!: string | null;
  /**
   * Happy Eyeballs: `address:port` of each attempt, in order; undefined unless more than one address
   * was tried, as node:net's (whose type, like this one, says string[]).
   */
  autoSelectFamilyAttemptedAddresses!: string[];
  private received!: number;
  private written!: number;
  private idleTimer!: NodeJS.Timeout | null;
  private hold!: StackRef;
  private reading!: boolean;
  private eof!: boolean;
  private writeChunk!: Uint8Array | null;
  private writeOff!: number;
  private writeCb!: ((err?: Error | null) => void) | null;
  private deferred!: Deferred[];
  private resetOnDestroy!: boolean;
  private sockname!: AddressInfo | null;
  private peername!: AddressInfo | null;
  /** Accepted by a dual-stack listener: IPv4 endpoints are reported as IPv4-mapped IPv6. */
  private v4mapped!: boolean;
  private noDelayWanted!: boolean | null;
  private keepAliveWanted!: [boolean, number] | null;
  private attempts!: Attempt[];
  private attemptTimer!: NodeJS.Timeout | null;
  private remoteHint!: string;
  private remotePortHint!: number;
  /** The `signal` option: once aborted, the socket is destroyed and does not connect. */
  private signal!: AbortSignal | undefined;

  constructor(
    stack: ApiHost,
    options: SocketOptions = {},
    /** An established connection (from a listener) to wrap. */
    accepted?: SocketId,
    /** false: leave received data in TCP until the application reads (`pauseOnConnect`). */
    startReading = true,
    /** Accepted on the IPv4 side of a dual-stack listener. */
    v4mapped = false,
  ) {
    // node:net: a TCP socket carries bytes, never objects.
    if (options !== null && typeof options === "object") {
      if (options.objectMode) throw invalidArgValue("options.objectMode", options.objectMode, "is not supported");
      const mode = options.readableObjectMode ? "readableObjectMode" : "writableObjectMode";
      if (options[mode]) throw invalidArgValue(`options.${mode}`, options[mode], "is not supported");
    }
    // `signal` is attached once the socket is set up (an aborted one destroys it at once).
    super({
      ...options,
      signal: undefined,
      allowHalfOpen: Boolean(options?.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
    });
    Object.defineProperty(this, "stack", { value: stack, enumerable: false });
    this.id = null;
    this.connecting = false;
    this.timeout = undefined;
    this.server = null;
    this._server = null;
    this._host = null;
    this.received = 0;
    this.written = 0;
    this.idleTimer = null;
    this.hold = new StackRef(stack);
    this.reading = false;
    this.eof = false;
    this.writeChunk = null;
    this.writeOff = 0;
    this.writeCb = null;
    this.deferred = [];
    this.resetOnDestroy = false;
    this.sockname = null;
    this.peername = null;
    this.v4mapped = v4mapped;
    this.noDelayWanted = options?.noDelay ? true : null;
    this.keepAliveWanted = options?.keepAlive ? [true, options.keepAliveInitialDelay ?? 0] : null;
    this.attempts = [];
    this.attemptTimer = null;
    this.remoteHint = "";
    this.remotePortHint = 0;
    stack.track(this);
    // First of the `end` listeners, as node:net's: later writes fail with EPIPE (not half-open).
    this.on("end", writeAfterFinOn);
    this.signal = validateSignal(options?.signal, "options.signal");
    if (this.signal !== undefined) addAbortSignal(this.signal, this);
    if (accepted !== undefined) {
      this.attach(accepted);
      if (startReading) this.read(0);
      else this.pause();
      this.updateHold();
    }
  }

  // ---- properties ----

  get bytesRead(): number {
    return this.received;
  }

  /** Bytes TCP took, plus those still queued in the stream (node:net's `bytesWritten`). */
  get bytesWritten(): number {
    if (this.destroyed) return this.written;
    // The chunk in flight is in `writableLength` whole; its first `writeOff` bytes are in `written`.
    return this.written + this.writableLength - (this.writeChunk !== null ? this.writeOff : 0);
  }

  /**
   * Bytes queued in the stream, not yet taken by TCP; undefined without a connection, as node:net's
   * (whose type, like this one, says number).
   */
  get bufferSize(): number {
    return (this.id !== null || this.connecting ? this.writableLength : undefined) as number;
  }

  /** True until the connection is established. */
  get pending(): boolean {
    return this.id === null || this.connecting;
  }

  get _connecting(): boolean {
    return this.connecting;
  }

  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  get remoteAddress(): string | undefined {
    return this._getpeername().address;
  }
  get remotePort(): number | undefined {
    return this._getpeername().port;
  }
  get remoteFamily(): string | undefined {
    return this._getpeername().family;
  }
  get localAddress(): string | undefined {
    return this._getsockname().address;
  }
  get localPort(): number | undefined {
    return this._getsockname().port;
  }
  get localFamily(): string | undefined {
    return this._getsockname().family;
  }

  /** The local endpoint, as node:net's `address()` ({} without a connection). */
  address(): AddressInfo | Record<string, never> {
    const a = this._getsockname();
    return a.address === undefined ? {} : { ...(a as AddressInfo) };
  }

  /** The core socket id (null when not open). */
  get socketId(): SocketId | null {
    return this.id;
  }

  /** A snapshot of the TCP connection (state, windows, RTT, ...), null when closed. */
  tcpInfo(): TcpInfo | null {
    return this.id === null ? null : this.stack.tcp.info(this.id);
  }

  /**
   * The peer, as node:net's `_getpeername`: read once the connection is established and kept
   * (`remoteAddress` stays readable after close when it was read before); {} while connecting.
   */
  _getpeername(): Partial<AddressInfo> {
    if (this.id === null || this.connecting) return this.peername ?? {};
    if (this.peername === null) {
      const r = this.stack.tcp.remoteAddress(this.id);
      if (r === null) return {};
      const p = { address: formatIp(r.address as IpAddr), family: r.family, port: r.port };
      this.peername = this.v4mapped ? mapped(p) : p;
    }
    return this.peername;
  }

  /** The local endpoint while there is a connection (node:net's `_getsockname`). */
  _getsockname(): Partial<AddressInfo> {
    if (this.id === null) return {};
    if (this.sockname === null) {
      const l = this.stack.tcp.address(this.id);
      if (l === null) return {};
      const s = { address: formatIp(l.address as IpAddr), family: l.family, port: l.port };
      this.sockname = this.v4mapped ? mapped(s) : s;
    }
    return this.sockname;
  }

  // ---- connect ----

  connect(options: TcpConnectOptions | SocketConnectOpts, listener?: Callback): this;
  connect(port: number | string, host?: string, listener?: Callback): this;
  connect(port: number | string, listener?: Callback): this;
  /** A Unix domain socket path: refused with ENOENT (the stack is TCP/IP only). */
  connect(path: string, listener?: Callback): this;
  connect(...args: unknown[]): this {
    const first = args[0] as unknown[] & { [normalizedArgs]?: boolean };
    const [opts, cb] =
      Array.isArray(first) && first[normalizedArgs] === true
        ? (first as unknown as [Record<string, unknown>, Callback | null])
        : normalizeArgs(args);
    if (cb !== null) this.once("connect", cb);
    if (opts.port === undefined && opts.path == null) throw missingArgs(["options", "port", "path"]);
    if (this.write !== Socket.prototype.write) this.write = Socket.prototype.write;
    // Destroyed by its aborted signal (an AbortError is on its way): no connection.
    if (this.signal?.aborted) return this;
    if (this.id !== null || this.connecting) {
      const e = this.connecting ? "EALREADY" : "EISCONN";
      process.nextTick(() => this.destroy(netError(e, "connect")));
      return this;
    }
    // A closed socket connects again (node:net re-creates its handle).
    if (this.destroyed) (this as unknown as { _undestroy(): void })._undestroy();
    this.eof = false;
    this.reading = false;
    this.peername = null;
    this.sockname = null;
    this.received = 0;
    this.written = 0;
    this.stack.track(this);
    this.connecting = true;
    this.updateHold();
    this.touch();
    if (opts.path != null) {
      // Unix domain sockets are not TCP/IP: as connecting to a path that is not there.
      const path = String(opts.path);
      process.nextTick(() => this.destroy(netError("ENOENT", "connect", path)));
      return this;
    }
    try {
      this.lookupAndConnect(opts as TcpConnectOptions);
    } catch (e) {
      this.connecting = false;
      this.updateHold();
      throw e;
    }
    return this;
  }

  private lookupAndConnect(o: TcpConnectOptions): void {
    const { localAddress, port, host, auto, attemptTimeout } = checkConnectOptions(o);
    this.remoteHint = host;
    this.remotePortHint = port;
    const literal = parseIp(host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host);
    if (literal !== null) {
      process.nextTick(() => {
        if (this.connecting) this.connectTo(formatIp(literal), port, o);
      });
      return;
    }
    if (o.lookup != null && typeof o.lookup !== "function")
      throw invalidArgType("options.lookup", "function", o.lookup);
    const lookup = (o.lookup as LookupFunction | undefined) ?? this.stack.lookup;
    const family = familyOf(o.family as never);
    const dnsopts: Record<string, unknown> = { family, hints: o.hints ?? 0 };
    this._host = host;
    if (family === 0 && !localAddress && auto) {
      dnsopts.all = true;
      lookup(host, dnsopts, (err, addresses) => {
        if (!this.connecting) return;
        if (err) {
          this.emit("lookup", err, undefined, undefined, host);
          process.nextTick(() => this.destroy(err));
          return;
        }
        const list = Array.isArray(addresses) ? addresses : [{ address: String(addresses), family: 4 }];
        for (const a of list) {
          this.emit("lookup", null, a.address, a.family, host);
          if (!this.connecting) return;
        }
        this.connectMany(list, port, o, attemptTimeout);
      });
      return;
    }
    lookup(host, dnsopts, (err, ip, addressType) => {
      this.emit("lookup", err, ip, addressType, host);
      if (!this.connecting) return;
      if (err) {
        process.nextTick(() => this.destroy(err));
        return;
      }
      const text = String(ip);
      if (parseIp(text) === null) {
        process.nextTick(() => this.destroy(invalidIp(text)));
      } else if (addressType !== 4 && addressType !== 6) {
        const e = invalidAddressFamily(addressType, o.host, o.port);
        process.nextTick(() => this.destroy(e));
      } else {
        this.touch();
        this.connectTo(text, port, o);
      }
    });
  }

  /** Start one TCP connection; errors destroy the socket (node:net's internalConnect). */
  private connectTo(address: string, port: number, o: TcpConnectOptions): void {
    const r = this.open(address, port, o);
    if (typeof r !== "number") {
      this.destroy(r);
      return;
    }
    this.attach(r);
  }

  /**
   * Open a core connection to `address`:`port` (with `o`'s local address and port), or the error
   * node:net gives: `bind EADDRNOTAVAIL` for a local address that is not ours, `bind EADDRINUSE`
   * for a local port a listener holds, `connect E...` for the rest.
   */
  private open(address: string, port: number, o: TcpConnectOptions): SocketId | NetError {
    const tcp = this.stack.tcp;
    let remote = parseIp(address) as IpAddr;
    const I = versionOf(remote);
    // Linux: connect() to the unspecified address means this host (ip_route_connect takes the
    // loopback address): no listener there is ECONNREFUSED, as node:net gets.
    if (I.isUnspecified(remote)) remote = (I === (Ipv4 as unknown) ? parseIp("127.0.0.1") : parseIp("::1")) as IpAddr;
    const localPort = typeof o.localPort === "number" ? o.localPort : undefined;
    let local: IpAddr | null = null;
    if (o.localAddress) {
      local = parseIp(String(o.localAddress));
      if (local === null || typeof local !== typeof remote)
        return netError("EINVAL", "bind", String(o.localAddress), localPort);
      if (!I.isUnspecified(local) && !this.stack.isLocalAddress(local)) {
        return netError("EADDRNOTAVAIL", "bind", String(o.localAddress), localPort);
      }
      if (I.isUnspecified(local)) local = null;
    }
    this.emit("connectionAttempt", address, port, I === (Ipv4 as unknown) ? 4 : 6);
    const r = tcp.connect(I, local, remote, port, {
      localPort,
      sendBufferSize: o.sendBufferSize,
      recvBufferSize: o.recvBufferSize,
    });
    if (typeof r === "string") {
      if (r === "EADDRINUSE" && localPort !== undefined) {
        const bindAddr = o.localAddress ? String(o.localAddress) : I === (Ipv4 as unknown) ? "0.0.0.0" : "::";
        return netError(r, "bind", bindAddr, localPort);
      }
      return netError(r, "connect", address, port);
    }
    return r;
  }

  /**
   * RFC 8305 Happy Eyeballs over `list`: the addresses interleaved by family, starting with the
   * family of the first (section 4); a new attempt every `delay` ms or as soon as one fails
   * (section 5); the first to connect wins and the others are aborted. Node's events:
   * `connectionAttempt`, `connectionAttemptFailed`, `connectionAttemptTimeout`.
   */
  private connectMany(list: LookupAddress[], port: number, o: TcpConnectOptions, delay: number): void {
    const order = interleaveFamilies(list);
    if (order.length === 0) {
      const f = list[0];
      const e =
        f === undefined || typeof f.address !== "string" || parseIp(f.address) === null
          ? invalidIp(f?.address)
          : invalidAddressFamily(f.family, o.host, o.port);
      process.nextTick(() => this.destroy(e));
      return;
    }
    if (order.length === 1) {
      this.touch();
      this.connectTo(order[0].address, port, o);
      return;
    }
    this.autoSelectFamilyAttemptedAddresses = [];
    const errors: Error[] = [];
    let next = 0;
    const tcp = this.stack.tcp;
    const finish = (): void => {
      if (this.attempts.length > 0 || next < order.length) return;
      const e =
        errors.length === 0
          ? codeError("ERR_SOCKET_CONNECTION_TIMEOUT", "Socket connection timeout")
          : Object.assign(new AggregateError(errors, errors.map((x) => x.message).join("; ")), {
              code: (errors[0] as NetError).code,
            });
      this.destroy(e);
    };
    const launch = (): void => {
      if (this.attemptTimer !== null) clearTimeout(this.attemptTimer);
      this.attemptTimer = null;
      if (!this.connecting || next >= order.length) return;
      const a = order[next++];
      const fam = a.family as 4 | 6;
      this.autoSelectFamilyAttemptedAddresses.push(`${a.address}:${port}`);
      const r = this.open(a.address, port, o);
      if (typeof r !== "number") {
        errors.push(r);
        this.emit("connectionAttemptFailed", a.address, port, fam, r);
        launch();
        finish();
        return;
      }
      const attempt: Attempt = { id: r, address: a.address, family: fam };
      this.attempts.push(attempt);
      this.updateHold();
      this.stack.onSocket(r, (ev) => {
        if (ev.type === "connected") {
          // The first connection wins; every other attempt is aborted.
          if (this.attemptTimer !== null) clearTimeout(this.attemptTimer);
          this.attemptTimer = null;
          for (const other of this.attempts) {
            if (other === attempt) continue;
            this.stack.offSocket(other.id);
            tcp.abort(other.id);
          }
          this.attempts = [];
          this.attach(r);
          this.onConnected();
        } else if (ev.type === "error") {
          this.stack.offSocket(r);
          this.attempts = this.attempts.filter((x) => x !== attempt);
          this.updateHold();
          const err = netError(ev.code, "connect", a.address, port);
          errors.push(err);
          this.emit("connectionAttemptFailed", a.address, port, fam, err);
          if (!this.connecting) return;
          // RFC 8305 5: a failed attempt starts the next one at once.
          launch();
          finish();
        }
      });
      if (next < order.length) {
        this.attemptTimer = setTimeout(() => {
          this.attemptTimer = null;
          this.emit("connectionAttemptTimeout", a.address, port, fam);
          launch();
        }, delay);
      }
    };
    this.touch();
    launch();
  }

  // ---- options ----

  setNoDelay(noDelay?: boolean): this {
    const on = noDelay === undefined ? true : Boolean(noDelay);
    if (this.id === null || this.connecting) this.noDelayWanted = on;
    else this.stack.tcp.setNoDelay(this.id, on);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    const on = Boolean(enable);
    const delay = Math.max(0, Number(initialDelay) || 0);
    if (this.id === null || this.connecting) this.keepAliveWanted = [on, delay];
    else this.stack.tcp.setKeepAlive(this.id, on, delay > 0 ? delay : undefined);
    return this;
  }

  /**
   * Emit `timeout` after `ms` without activity (0 disables); the socket stays open. Activity
   * (data either way, connecting) starts the idle period again, also after a `timeout` event.
   */
  setTimeout(ms: number, callback?: Callback): this {
    if (this.destroyed) return this;
    if (typeof ms !== "number") throw invalidArgType("msecs", "number", ms);
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw codeError(
        "ERR_OUT_OF_RANGE",
        `The value of "msecs" is out of range. It must be a non-negative finite number. Received ${ms}`,
        RangeError,
      );
    }
    if (callback !== undefined && typeof callback !== "function")
      throw invalidArgType("callback", "function", callback);
    this.timeout = ms;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (ms === 0) {
      if (callback !== undefined) this.removeListener("timeout", callback);
      return this;
    }
    // Kept after it fires: `refresh()` on activity arms it again, as node:net's timer.
    this.idleTimer = setTimeout(() => this.emit("timeout"), ms);
    this.idleTimer.unref();
    if (callback !== undefined) this.once("timeout", callback);
    return this;
  }

  ref(): this {
    this.hold.refed = true;
    this.updateHold();
    return this;
  }

  unref(): this {
    this.hold.refed = false;
    this.hold.drop();
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
    if (this.id === null && !this.connecting) {
      this.destroy(codeError("ERR_SOCKET_CLOSED", "Socket is closed"));
      return this;
    }
    if (this.connecting) {
      this.once("connect", () => {
        this.resetOnDestroy = true;
        this.destroy();
      });
      return this;
    }
    this.resetOnDestroy = true;
    this.destroy();
    return this;
  }

  override end(...args: unknown[]): this {
    (Duplex.prototype.end as (...a: unknown[]) => unknown).apply(this, args);
    return this;
  }

  // ---- stream implementation ----

  override _read(_size: number): void {
    if (this.id === null && !this.connecting) return;
    this.reading = true;
    this.updateHold();
    if (!this.connecting) this.pull();
  }

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.deferred.push({ run: () => this._write(chunk, enc, cb), fail: (e) => cb(e) });
      return;
    }
    if (this.id === null) {
      cb(codeError("ERR_SOCKET_CLOSED", "Socket is closed"));
      return;
    }
    this.touch();
    this.writeChunk = chunk;
    this.writeOff = 0;
    this.writeCb = cb;
    this.flushWrite();
    this.updateHold();
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
      this.deferred.push({ run: () => this._final(cb), fail: () => {} });
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
    this.connecting = false;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.attemptTimer !== null) clearTimeout(this.attemptTimer);
    this.attemptTimer = null;
    const tcp = this.stack.tcp;
    for (const a of this.attempts) {
      this.stack.offSocket(a.id);
      tcp.abort(a.id);
    }
    this.attempts = [];
    const id = this.id;
    if (id !== null) {
      this.stack.offSocket(id);
      const state = tcp.state(id);
      if (this.resetOnDestroy || state === "SYN-SENT") tcp.abort(id);
      // Unread data makes the close a RST (RFC 2525 2.17), as the kernel does.
      else tcp.close(id);
      this.id = null;
      this.sockname = null;
    }
    const deferred = this.deferred;
    this.deferred = [];
    if (deferred.length > 0) {
      const e = codeError("ERR_SOCKET_CLOSED_BEFORE_CONNECTION", "Socket closed before the connection was established");
      for (const d of deferred) d.fail(e);
    }
    this.writeCb = null;
    this.writeChunk = null;
    this.hold.drop();
    this.stack.untrack(this);
    const server = this._server as { _connections: number; _emitCloseIfDrained?(): void } | null;
    if (server !== null) {
      server._connections--;
      server._emitCloseIfDrained?.();
    }
    cb(err);
    process.nextTick(() => this.emit("close", err != null));
  }

  // ---- internals ----

  private attach(id: SocketId): void {
    this.id = id;
    this.stack.onSocket(id, this.onCoreEvent);
    this.updateHold();
  }

  /** Whether the socket holds the event loop now (see the header), and take or drop the hold. */
  private updateHold(): void {
    // While the lookup runs nothing is held (a libuv TCP handle is active once connect() started).
    const active =
      !this.destroyed &&
      (this.attempts.length > 0 ||
        (this.id !== null && (this.connecting || (this.reading && !this.eof) || this.writeChunk !== null)));
    if (active) this.hold.take();
    else this.hold.drop();
  }

  /** Activity: restart the idle period (also after a `timeout` event). */
  private touch(): void {
    this.idleTimer?.refresh();
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    switch (ev.type) {
      case "connected":
        this.onConnected();
        break;
      case "readable":
        if (this.reading) this.pull();
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
    this.sockname = null;
    if (this.noDelayWanted !== null) this.stack.tcp.setNoDelay(this.id, this.noDelayWanted);
    if (this.keepAliveWanted !== null) {
      const [on, delay] = this.keepAliveWanted;
      this.stack.tcp.setKeepAlive(this.id, on, delay > 0 ? delay : undefined);
    }
    this.touch();
    this.updateHold();
    this.emit("connect");
    this.emit("ready");
    const later = this.deferred;
    this.deferred = [];
    for (const d of later) d.run();
    // Start reading unless paused before the connection was up (node:net's afterConnect).
    if (this.id !== null && !this.isPaused()) this.read(0);
    else if (this.reading) this.pull();
    this.updateHold();
  }

  private onCoreError(code: ErrorCode): void {
    if (this.destroyed) return;
    let err: NetError;
    if (this.connecting) {
      const r = this.id !== null ? this.stack.tcp.remoteAddress(this.id) : null;
      const address = r !== null ? formatIp(r.address as IpAddr) : this.remoteHint;
      err = netError(code, "connect", address, r?.port ?? this.remotePortHint);
      this.emit("connectionAttemptFailed", err.address, err.port, r?.family === "IPv6" ? 6 : 4, err);
    } else err = netError(code, "read");
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
        this.updateHold();
        this.push(null);
        // As node:net does at EOF: with nothing buffered, `end` follows even if nobody reads.
        this.read(0);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(avail, READ_MAX));
      const n = tcp.recvInto(id, chunk, 0, chunk.length);
      if (n <= 0) return;
      this.received += n;
      this.touch();
      if (!this.push(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        // The application stopped reading: the rest stays in TCP and the window closes.
        this.reading = false;
        this.updateHold();
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
      this.updateHold();
      cb?.(netError(n, "write"));
      return;
    }
    this.writeOff += n;
    this.written += n;
    if (n > 0) this.touch();
    if (this.writeOff >= chunk.length) {
      const cb = this.writeCb;
      this.writeCb = null;
      this.writeChunk = null;
      this.updateHold();
      cb?.();
    }
    // Otherwise the send buffer is full: the core's `writable` event continues.
  }
}

/** After the peer's FIN (without allowHalfOpen) writes fail as node:net's do. */
function writeAfterFinOn(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as Socket["write"];
}

/** node:net's writeAfterFIN: EPIPE once the stream has ended, a normal write before. */
function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) {
    return (Duplex.prototype.write as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
  }
  const done = typeof encoding === "function" ? encoding : cb;
  const er = Object.assign(new Error("This socket has been ended by the other party"), { code: "EPIPE" });
  if (typeof done === "function") process.nextTick(done as (e: Error) => void, er);
  this.destroy(er);
  return false;
}

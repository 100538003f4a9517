/**
 * A node:dgram-compatible UDP socket over a stack's UDP layer (RFC 768): `createSocket`, `bind`,
 * `connect`, `send` (with callback), `message` events with `rinfo` (`{ address, family, port,
 * size }`), `close`, `address`, `remoteAddress`, `setBroadcast`, `setTTL`, `setMulticastTTL`,
 * `setMulticastLoopback`, `addMembership` / `dropMembership`, `ref` / `unref`, the `signal` option,
 * `Symbol.asyncDispose`.
 *
 * As node:dgram's: `bind`, `connect` and `send` complete asynchronously (their addresses go through
 * the stack's lookup); errors of `send` go to its callback (without one they are dropped, as
 * node:dgram drops them), those of `bind` and `connect` to the callback or an `error` event;
 * messages, codes and argument errors are Node's (`send EACCES 10.0.0.255:9`,
 * `bind EADDRINUSE 0.0.0.0:53`, `Not running`, `ERR_SOCKET_BAD_PORT`). Sending to a broadcast
 * address (255.255.255.255 or a local subnet's directed broadcast, RFC 919 / RFC 922) needs
 * `setBroadcast(true)` (EACCES otherwise, as Linux's SO_BROADCAST); TTLs outside 1..255 (multicast
 * 0..255) are EINVAL, as libuv checks them.
 */

import { EventEmitter } from "node:events";
import type { IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { UdpSocketOptions } from "../transport/udp/udp.ts";
import type { ApiHost } from "./host.ts";
import { codeError, invalidArgType, netError, validatePort, validateSignal } from "./net-errors.ts";
import type { LookupFunction } from "./net-lookup.ts";
import { StackRef } from "./stack-ref.ts";

export type DgramType = "udp4" | "udp6";

export interface DgramSocketOptions {
  type: DgramType;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Closes the socket when aborted. */
  signal?: AbortSignal;
  /** Resolves addresses (`dns.lookup`'s shape). Default: the stack's lookup. */
  lookup?: LookupFunction;
}

/** What a `message` listener gets besides the data. */
export interface RemoteInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
  size: number;
}

type SendCallback = (error: Error | null, bytes?: number) => void;
type Msg = string | NodeJS.ArrayBufferView | readonly (string | NodeJS.ArrayBufferView)[];

const BAD_BUFFER = ["Buffer", "TypedArray", "DataView", "string"];

function notRunning(): Error {
  return codeError("ERR_SOCKET_DGRAM_NOT_RUNNING", "Not running");
}

/** The bytes of a string or any ArrayBufferView (node:dgram takes every TypedArray and DataView). */
function viewBytes(m: unknown): Buffer | null {
  if (typeof m === "string") return Buffer.from(m);
  if (ArrayBuffer.isView(m)) return Buffer.from(m.buffer, m.byteOffset, m.byteLength);
  return null;
}

/** node:dgram's sliceBuffer: `offset` / `length` within the message, ERR_BUFFER_OUT_OF_BOUNDS past it. */
function sliceMsg(msg: unknown, offset: unknown, length: unknown): Buffer {
  const b = viewBytes(msg);
  if (b === null) throw invalidArgType("buffer", BAD_BUFFER, msg);
  const off = Number(offset) >>> 0;
  const len = Number(length) >>> 0;
  if (off > b.byteLength)
    throw codeError("ERR_BUFFER_OUT_OF_BOUNDS", '"offset" is outside of buffer bounds', RangeError);
  if (off + len > b.byteLength) {
    throw codeError("ERR_BUFFER_OUT_OF_BOUNDS", '"length" is outside of buffer bounds', RangeError);
  }
  return b.subarray(off, off + len);
}

/** A UDP socket of a stack, as node:dgram's `Socket`. */
export class DgramSocket extends EventEmitter {
  readonly type: DgramType;
  declare readonly stack: ApiHost;
  private readonly I: IpVersion<IpAddr>;
  private id: SocketId | null;
  private bindState: "unbound" | "binding" | "bound" = "unbound";
  private connectState: "disconnected" | "connecting" | "connected" = "disconnected";
  /** Calls waiting for the bind to complete (node:dgram's queue). */
  private queue: (() => void)[] | null = null;
  private broadcast = false;
  private readonly hold: StackRef;
  private readonly lookup: LookupFunction;

  constructor(stack: ApiHost, options: DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    Object.defineProperty(this, "stack", { value: stack, enumerable: false });
    if (options.type !== "udp4" && options.type !== "udp6") {
      throw codeError("ERR_SOCKET_BAD_TYPE", "Bad socket type specified. Valid types are: udp4, udp6", TypeError);
    }
    if (options.lookup !== undefined && typeof options.lookup !== "function") {
      throw invalidArgType("lookup", "function", options.lookup);
    }
    this.lookup = options.lookup ?? stack.lookup;
    this.hold = new StackRef(stack);
    this.type = options.type;
    this.I = (options.type === "udp6" ? Ipv6 : Ipv4) as unknown as IpVersion<IpAddr>;
    const r = stack.udp.open(this.I, { reuseAddr: options.reuseAddr });
    if (typeof r === "string") throw netError(r, "socket");
    this.id = r;
    stack.onSocket(r, this.onCoreEvent);
    stack.track(this);
    if (typeof listener === "function") this.on("message", listener);
    const signal = validateSignal(options.signal, "options.signal");
    if (signal !== undefined) {
      const onAbort = (): void => {
        if (this.id !== null) this.close();
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
  }

  /**
   * Bind to `port` (0 or omitted: ephemeral) and `address` (omitted: any); `bind(cb)` binds an
   * ephemeral port. `listening` follows (and the callback); failures are `error` events.
   */
  bind(
    port?: number | { port?: number; address?: string; exclusive?: boolean } | (() => void),
    address?: string | (() => void),
    cb?: () => void,
  ): this;
  bind(...args: unknown[]): this {
    this.live();
    if (this.bindState !== "unbound") throw codeError("ERR_SOCKET_ALREADY_BOUND", "Socket is already bound");
    this.bindState = "binding";
    const last = args[args.length - 1];
    if (typeof last === "function") {
      const onListening = (): void => {
        this.off("error", onError);
        (last as () => void).call(this);
      };
      const onError = (): void => {
        this.off("listening", onListening);
      };
      this.once("listening", onListening);
      this.once("error", onError);
    }
    let port: unknown = args[0];
    let address: unknown;
    if (port !== null && typeof port === "object") {
      const o = port as { port?: unknown; address?: unknown };
      address = o.address || "";
      port = o.port;
    } else address = typeof args[1] === "function" ? "" : args[1];
    const p = typeof port === "number" ? port : typeof port === "string" && port !== "" ? Number(port) : 0;
    const text = address ? String(address) : this.type === "udp4" ? "0.0.0.0" : "::";
    this.lookup(text, { family: this.type === "udp4" ? 4 : 6 }, (err, ip) => {
      if (this.id === null) return;
      if (err) {
        this.bindState = "unbound";
        this.emit("error", err);
        return;
      }
      const addr = this.parse(String(ip));
      const e = addr === null ? "EINVAL" : this.stack.udp.bind(this.id, addr, p);
      if (e !== null) {
        this.bindState = "unbound";
        this.emit("error", netError(e, "bind", String(ip), p));
        return;
      }
      this.bindState = "bound";
      this.hold.take();
      this.emit("listening");
      const q = this.queue;
      this.queue = null;
      if (q !== null) for (const f of q) f();
    });
    return this;
  }

  /** Fix the remote endpoint (binds an ephemeral port first). `connect` follows, or the callback. */
  connect(port: number, address?: string | ((err?: Error) => void), cb?: (err?: Error) => void): void {
    const p = validatePort(port, "Port", false);
    let text = "";
    if (typeof address === "function") cb = address;
    else if (address !== undefined) {
      if (typeof address !== "string") throw invalidArgType("address", "string", address);
      text = address;
    }
    this.live();
    if (this.connectState !== "disconnected") {
      throw codeError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    }
    this.connectState = "connecting";
    this.whenBound(() => {
      if (cb !== undefined) this.once("connect", cb);
      const host = text || (this.type === "udp6" ? "::1" : "127.0.0.1");
      this.lookup(host, { family: this.type === "udp4" ? 4 : 6 }, (err, ip) => {
        if (this.id === null) return;
        let ex: Error | null = err;
        if (ex === null) {
          const addr = this.parse(String(ip));
          const e = addr === null ? "EINVAL" : this.stack.udp.connect(this.id, addr, p);
          if (e !== null) ex = netError(e, "connect", text || String(ip), p);
        }
        if (ex !== null) {
          this.connectState = "disconnected";
          const error = ex;
          process.nextTick(() => {
            if (cb !== undefined) {
              this.removeListener("connect", cb);
              cb(error);
            } else this.emit("error", error);
          });
          return;
        }
        this.connectState = "connected";
        process.nextTick(() => this.emit("connect"));
      });
    });
  }

  disconnect(): void {
    const id = this.live();
    if (this.connectState !== "connected") {
      throw codeError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    }
    this.stack.udp.disconnect(id);
    this.connectState = "disconnected";
  }

  /**
   * Send one datagram: `send(msg, [offset, length,] [port, address,] [callback])`. An unbound socket
   * is bound to an ephemeral port first (and emits `listening`).
   */
  send(msg: Msg, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Msg, port?: number, callback?: SendCallback): void;
  send(msg: Msg, callback?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, callback?: SendCallback): void;
  send(msg: unknown, ...a: unknown[]): void {
    let [offset, length, port, address, callback] = a;
    let buffer = msg;
    const connected = this.connectState === "connected";
    if (!connected) {
      if (address || (port && typeof port !== "function")) buffer = sliceMsg(buffer, offset, length);
      else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === "number") {
        buffer = sliceMsg(buffer, offset, length);
        if (typeof port === "function") {
          callback = port;
          port = null;
        }
      } else callback = offset;
      if (port || address) throw codeError("ERR_SOCKET_DGRAM_IS_CONNECTED", "Already connected");
    }
    let list: Buffer[];
    if (!Array.isArray(buffer)) {
      const b = viewBytes(buffer);
      if (b === null) throw invalidArgType("buffer", BAD_BUFFER, buffer);
      list = [b];
    } else {
      const l = buffer.map(viewBytes);
      if (l.some((x) => x === null)) throw invalidArgType("buffer list arguments", BAD_BUFFER, buffer);
      list = l as Buffer[];
    }
    const p = connected ? 0 : validatePort(port, "Port", false);
    if (typeof address === "function") {
      callback = address;
      address = undefined;
    } else if (address != null && typeof address !== "string") throw invalidArgType("address", "string", address);
    const cb = typeof callback === "function" ? (callback as SendCallback) : undefined;
    this.live();
    const data = list.length === 1 ? list[0] : Buffer.concat(list);
    this.whenBound(() => this.sendNow(data, p, address as string | undefined, connected, cb));
  }

  private sendNow(
    data: Buffer,
    port: number,
    address: string | undefined,
    connected: boolean,
    cb?: SendCallback,
  ): void {
    const fail = (err: Error): void => {
      // node:dgram: a send error goes to the callback only.
      if (cb !== undefined) process.nextTick(cb, err);
    };
    const go = (text: string | null): void => {
      const id = this.id;
      if (id === null) return;
      let e: string | null;
      if (connected) e = this.stack.udp.send(id, data);
      else {
        const dst = this.parse(text as string);
        if (dst === null) e = "EINVAL";
        // Linux: a broadcast destination without SO_BROADCAST is EACCES (ip_route_output_flow).
        else if (typeof dst === "number" && !this.broadcast && this.stack.isBroadcast4(dst)) e = "EACCES";
        else e = this.stack.udp.sendTo(id, data, dst, port);
      }
      if (e !== null) {
        fail(netError(e, "send", connected ? undefined : (address ?? (text as string)), connected ? undefined : port));
        return;
      }
      if (cb !== undefined) process.nextTick(cb, null, data.length);
    };
    if (connected) {
      go(null);
      return;
    }
    const host = address || (this.type === "udp6" ? "::1" : "127.0.0.1");
    this.lookup(host, { family: this.type === "udp4" ? 4 : 6 }, (err, ip) => {
      if (err === null) go(String(ip));
      // A lookup error goes to the callback, or else to an `error` event (node:dgram's doSend).
      else if (cb !== undefined) process.nextTick(cb, err);
      else process.nextTick(() => this.emit("error", err));
    });
  }

  /** Close: `close` follows. */
  close(cb?: () => void): this {
    if (typeof cb === "function") this.on("close", cb);
    if (this.queue !== null) {
      this.queue.push(() => this.close());
      return this;
    }
    const id = this.live();
    this.id = null;
    this.stack.offSocket(id);
    this.stack.udp.close(id);
    this.hold.drop();
    this.stack.untrack(this);
    process.nextTick(() => this.emit("close"));
    return this;
  }

  /** `await using`: closes the socket. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.id === null) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  /** For `NodeStack.close()`. */
  destroy(): void {
    if (this.id !== null) {
      this.queue = null;
      this.close();
    }
  }

  address(): { address: string; family: string; port: number } {
    const id = this.live();
    const a = this.stack.udp.address(id);
    if (a === null || a.port === 0) throw netError("EBADF", "getsockname");
    return { address: formatIp(a.address), family: a.family, port: a.port };
  }

  remoteAddress(): { address: string; family: string; port: number } {
    const id = this.live();
    const a = this.connectState === "connected" ? this.stack.udp.remoteAddress(id) : null;
    if (a === null) throw codeError("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    return { address: formatIp(a.address), family: a.family, port: a.port };
  }

  setBroadcast(flag: boolean): void {
    this.setOpt("setBroadcast", { broadcast: Boolean(flag) });
    this.broadcast = Boolean(flag);
  }

  /** The TTL / hop limit of unicast datagrams: 1..255 (libuv's range), else EINVAL. */
  setTTL(ttl: number): number {
    if (typeof ttl !== "number") throw invalidArgType("ttl", "number", ttl);
    this.boundOr("setTTL");
    if (!(ttl >= 1 && ttl <= 255)) throw netError("EINVAL", "setTTL");
    this.setOpt("setTTL", { ttl });
    return ttl;
  }

  /** The TTL / hop limit of multicast datagrams: 0..255, else EINVAL. */
  setMulticastTTL(ttl: number): number {
    if (typeof ttl !== "number") throw invalidArgType("ttl", "number", ttl);
    this.boundOr("setMulticastTTL");
    if (!(ttl >= 0 && ttl <= 255)) throw netError("EINVAL", "setMulticastTTL");
    this.setOpt("setMulticastTTL", { multicastTtl: ttl });
    return ttl;
  }

  /**
   * node:dgram's IP_MULTICAST_LOOP switch: recorded and returned as node:dgram returns it. The
   * stack's delivery of its own multicast datagrams does not depend on it (not implemented).
   */
  setMulticastLoopback(flag: boolean): boolean {
    this.boundOr("setMulticastLoopback");
    return flag;
  }

  /** Join `group` (the interface argument is accepted for compatibility; the route's device is used). */
  addMembership(group: string, _iface?: string): void {
    const id = this.live();
    if (group === undefined)
      throw codeError("ERR_MISSING_ARGS", 'The "multicastAddress" argument must be specified', TypeError);
    const g = this.parse(group);
    const e = g === null ? "EINVAL" : this.stack.udp.joinGroup(id, g);
    if (e !== null) throw netError(e, "addMembership");
  }

  dropMembership(group: string, _iface?: string): void {
    const id = this.live();
    if (group === undefined)
      throw codeError("ERR_MISSING_ARGS", 'The "multicastAddress" argument must be specified', TypeError);
    const g = this.parse(group);
    const e = g === null ? "EINVAL" : this.stack.udp.leaveGroup(id, g);
    if (e !== null) throw netError(e, "dropMembership");
  }

  /** Datagrams waiting to be sent: sends go to the stack at once, so none. */
  getSendQueueSize(): number {
    return 0;
  }

  getSendQueueCount(): number {
    return 0;
  }

  ref(): this {
    this.hold.refed = true;
    if (this.bindState === "bound" && this.id !== null) this.hold.take();
    return this;
  }

  unref(): this {
    this.hold.refed = false;
    this.hold.drop();
    return this;
  }

  // ---- internals ----

  /** Run `f` once bound, binding an ephemeral port first when unbound (node:dgram's queue). */
  private whenBound(f: () => void): void {
    if (this.bindState === "bound") {
      f();
      return;
    }
    if (this.queue === null) this.queue = [];
    this.queue.push(f);
    if (this.bindState === "unbound") this.bind({ port: 0 });
  }

  /** Socket options need the kernel socket, which exists once bound (libuv: EBADF before). */
  private boundOr(syscall: string): void {
    this.live();
    if (this.bindState !== "bound") throw netError("EBADF", syscall);
  }

  private setOpt(syscall: string, o: UdpSocketOptions): void {
    this.boundOr(syscall);
    const e = this.stack.udp.setOptions(this.live(), o);
    if (e !== null) throw netError(e, syscall);
  }

  private live(): SocketId {
    if (this.id === null) throw notRunning();
    return this.id;
  }

  private parse(text: string): IpAddr | null {
    const a = text === "localhost" ? parseIp(this.type === "udp6" ? "::1" : "127.0.0.1") : parseIp(text);
    if (a === null || (typeof a === "number") !== (this.type === "udp4")) return null;
    return a;
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    const id = this.id;
    if (id === null) return;
    if (ev.type === "readable") {
      const udp = this.stack.udp;
      for (let d = udp.recv(id); d !== null; d = this.id === null ? null : udp.recv(id)) {
        const msg = Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length);
        const rinfo: RemoteInfo = { address: formatIp(d.address), family: d.family, port: d.port, size: msg.length };
        this.emit("message", msg, rinfo);
      }
    } else if (ev.type === "error") {
      // An ICMP error for a datagram we sent (port unreachable on a connected socket, ...).
      this.emit("error", netError(ev.code, "recvmsg"));
    }
  };
}

/** `stack.dgram.Socket`: callable with or without `new`. */
export interface DgramSocketConstructor {
  new (type: DgramType | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
  (type: DgramType | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
  readonly prototype: DgramSocket;
}

/** What `stack.dgram` holds. */
export interface DgramApi {
  createSocket(type: DgramType | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
  Socket: DgramSocketConstructor;
}

/** node:dgram bound to `stack` (NodeStack builds its `dgram` with this). */
export function createDgram(stack: ApiHost): DgramApi {
  const Bound = function (
    this: unknown,
    type: DgramType | DgramSocketOptions,
    listener?: (msg: Buffer, rinfo: RemoteInfo) => void,
  ): DgramSocket {
    const options = typeof type === "string" ? { type } : (type ?? ({} as DgramSocketOptions));
    if (new.target === undefined) return new Bound(type, listener);
    return Reflect.construct(DgramSocket, [stack, options, listener], new.target) as DgramSocket;
  } as unknown as DgramSocketConstructor & {
    new (type: DgramType | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
  };
  (Bound as { prototype: DgramSocket }).prototype = DgramSocket.prototype;
  Object.setPrototypeOf(Bound, DgramSocket);
  return {
    createSocket: (type, listener) => new Bound(type, listener),
    Socket: Bound,
  };
}

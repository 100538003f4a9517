/**
 * A node:dgram-compatible UDP socket over a NodeStack's UDP layer (RFC 768): `createSocket`,
 * `bind`, `connect`, `send` (with callback), `message` events with `rinfo`
 * (`{ address, family, port, size }`), `close`, `address`, `remoteAddress`, `setBroadcast`,
 * `setTTL`, `setMulticastTTL`, `addMembership` / `dropMembership`, `ref` / `unref`.
 *
 * Errors are Node-shaped (`send EMSGSIZE`, `bind EADDRINUSE 10.0.0.2:53`) and go to the `send`
 * callback when one is given, otherwise to an `error` event, as in node:dgram.
 */

import { EventEmitter } from "node:events";
import type { IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { UdpSocketOptions } from "../transport/udp/udp.ts";
import type { ApiHost } from "./host.ts";
import { netError } from "./net-errors.ts";
import { StackRef } from "./stack-ref.ts";

export type DgramType = "udp4" | "udp6";

export interface DgramSocketOptions {
  type: DgramType;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
}

/** What a `message` listener gets besides the data. */
export interface RemoteInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
  size: number;
}

type SendCallback = (error: Error | null, bytes?: number) => void;
type Msg = string | Uint8Array | readonly (string | Uint8Array)[];

function toBytes(msg: Msg): Uint8Array {
  if (typeof msg === "string") return Buffer.from(msg);
  if (msg instanceof Uint8Array) return msg;
  return Buffer.concat(msg.map((m) => (typeof m === "string" ? Buffer.from(m) : m)));
}

/** A UDP socket of a NodeStack, as node:dgram's `Socket`. */
export class DgramSocket extends EventEmitter {
  readonly type: DgramType;
  private readonly I: IpVersion<IpAddr>;
  private id: SocketId | null;
  private bound = false;
  private connected = false;
  private readonly hold: StackRef;

  constructor(
    readonly stack: ApiHost,
    options: DgramSocketOptions,
  ) {
    super();
    this.hold = new StackRef(stack);
    this.type = options.type;
    this.I = (options.type === "udp6" ? Ipv6 : Ipv4) as unknown as IpVersion<IpAddr>;
    const udpOpts: UdpSocketOptions = { reuseAddr: options.reuseAddr };
    const r = stack.udp.open(this.I, udpOpts);
    if (typeof r === "string") throw netError(r, "socket");
    this.id = r;
    stack.onSocket(r, this.onCoreEvent);
    stack.track(this);
  }

  /**
   * Bind to `port` (0 or omitted: ephemeral) and `address` (omitted: any). `listening` follows;
   * failures are `error` events (`bind EADDRINUSE ...`).
   */
  bind(port?: number | { port?: number; address?: string }, address?: string | (() => void), cb?: () => void): this {
    let p = 0;
    let a: string | undefined;
    if (typeof port === "object" && port !== null) {
      p = port.port ?? 0;
      a = port.address;
      if (typeof address === "function") cb = address;
    } else {
      p = port ?? 0;
      if (typeof address === "function") cb = address;
      else a = address;
    }
    if (cb !== undefined) this.once("listening", cb);
    const id = this.live("bind");
    if (this.bound) throw Object.assign(new Error("Socket is already bound"), { code: "ERR_SOCKET_ALREADY_BOUND" });
    const addr = a === undefined ? this.I.unspecified : this.parse(a);
    if (addr === null) {
      process.nextTick(() => this.emit("error", netError("EINVAL", "bind", a, p)));
      return this;
    }
    const e = this.stack.udp.bind(id, addr, p);
    if (e !== null) {
      process.nextTick(() => this.emit("error", netError(e, "bind", formatIp(addr), p)));
      return this;
    }
    this.bound = true;
    this.hold.take();
    process.nextTick(() => this.emit("listening"));
    return this;
  }

  /** Fix the remote endpoint (binds an ephemeral port first). `connect` follows, or the callback. */
  connect(port: number, address?: string | ((err?: Error) => void), cb?: (err?: Error) => void): void {
    if (typeof address === "function") {
      cb = address;
      address = undefined;
    }
    const id = this.live("connect");
    if (this.connected) {
      throw Object.assign(new Error("Already connected"), { code: "ERR_SOCKET_DGRAM_IS_CONNECTED" });
    }
    const text = address ?? (this.type === "udp6" ? "::1" : "127.0.0.1");
    const addr = this.parse(text);
    const e = addr === null ? "EINVAL" : this.stack.udp.connect(id, addr, port);
    if (e !== null) {
      const err = netError(e, "connect", text, port);
      process.nextTick(() => (cb !== undefined ? cb(err) : this.emit("error", err)));
      return;
    }
    this.connected = true;
    if (!this.bound) {
      this.bound = true;
      this.hold.take();
      process.nextTick(() => this.emit("listening"));
    }
    if (cb !== undefined) process.nextTick(() => cb?.());
    process.nextTick(() => this.emit("connect"));
  }

  disconnect(): void {
    const id = this.live("disconnect");
    if (!this.connected) throw Object.assign(new Error("Not connected"), { code: "ERR_SOCKET_DGRAM_NOT_CONNECTED" });
    this.stack.udp.disconnect(id);
    this.connected = false;
  }

  /**
   * Send one datagram: `send(msg, [offset, length,] [port, address,] [callback])`. Unbound sockets
   * are bound to an ephemeral port first (and emit `listening`).
   */
  send(msg: Msg, port: number, address?: string, callback?: SendCallback): void;
  send(msg: Msg, port: number, callback?: SendCallback): void;
  send(msg: Msg, callback?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, callback?: SendCallback): void;
  send(msg: Msg, ...args: unknown[]): void {
    let cb: SendCallback | undefined;
    if (typeof args[args.length - 1] === "function") cb = args.pop() as SendCallback;
    let data = toBytes(msg);
    // (msg, offset, length, port?, address?) when the first two extra arguments are numbers and more follow
    // or the socket is connected; else (msg, port, address).
    if (typeof args[0] === "number" && typeof args[1] === "number" && (args.length > 2 || this.connected)) {
      const off = args.shift() as number;
      const len = args.shift() as number;
      data = data.subarray(off, off + len);
    }
    const port = args[0] as number | undefined;
    const address = args[1] as string | undefined;
    const id = this.live("send");
    const fail = (e: string, addr?: string, p?: number): void => {
      const err = netError(e, "send", addr, p);
      process.nextTick(() => (cb !== undefined ? cb(err) : this.emit("error", err)));
    };
    const udp = this.stack.udp;
    if (!this.bound) {
      const e = udp.bind(id, this.I.unspecified, 0);
      if (e !== null) {
        fail(e);
        return;
      }
      this.bound = true;
      this.hold.take();
      process.nextTick(() => this.emit("listening"));
    }
    let e: string | null;
    if (this.connected) {
      if (port !== undefined) {
        const err = Object.assign(new Error("Already connected"), { code: "ERR_SOCKET_DGRAM_IS_CONNECTED" });
        throw err;
      }
      e = udp.send(id, data);
      if (e !== null) {
        fail(e);
        return;
      }
    } else {
      if (port === undefined) {
        throw Object.assign(new Error("Destination address required"), { code: "ERR_SOCKET_DGRAM_NOT_CONNECTED" });
      }
      const text = address ?? (this.type === "udp6" ? "::1" : "127.0.0.1");
      const addr = this.parse(text);
      e = addr === null ? "EINVAL" : udp.sendTo(id, data, addr, port);
      if (e !== null) {
        fail(e, text, port);
        return;
      }
    }
    const n = data.length;
    if (cb !== undefined) process.nextTick(() => cb?.(null, n));
  }

  /** Close: `close` follows. */
  close(cb?: () => void): this {
    if (cb !== undefined) this.once("close", cb);
    const id = this.id;
    if (id === null) {
      throw Object.assign(new Error("Not running"), { code: "ERR_SOCKET_DGRAM_NOT_RUNNING" });
    }
    this.id = null;
    this.stack.offSocket(id);
    this.stack.udp.close(id);
    this.hold.drop();
    this.stack.untrack(this);
    process.nextTick(() => this.emit("close"));
    return this;
  }

  /** For `NodeStack.close()`. */
  destroy(): void {
    if (this.id !== null) this.close();
  }

  address(): { address: string; family: string; port: number } {
    const id = this.live("getsockname");
    const a = this.stack.udp.address(id);
    if (a === null || a.port === 0) throw netError("EBADF", "getsockname");
    return { address: formatIp(a.address), family: a.family, port: a.port };
  }

  remoteAddress(): { address: string; family: string; port: number } {
    const id = this.live("getpeername");
    const a = this.stack.udp.remoteAddress(id);
    if (a === null) throw Object.assign(new Error("Not connected"), { code: "ERR_SOCKET_DGRAM_NOT_CONNECTED" });
    return { address: formatIp(a.address), family: a.family, port: a.port };
  }

  setBroadcast(flag: boolean): void {
    this.setOpt({ broadcast: flag });
  }

  setTTL(ttl: number): number {
    this.setOpt({ ttl });
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    this.setOpt({ multicastTtl: ttl });
    return ttl;
  }

  /** Join `group` (the interface argument is accepted for compatibility; the route's device is used). */
  addMembership(group: string, _iface?: string): void {
    const id = this.live("addMembership");
    const g = this.parse(group);
    const e = g === null ? "EINVAL" : this.stack.udp.joinGroup(id, g);
    if (e !== null) throw netError(e, "addMembership");
  }

  dropMembership(group: string, _iface?: string): void {
    const id = this.live("dropMembership");
    const g = this.parse(group);
    const e = g === null ? "EINVAL" : this.stack.udp.leaveGroup(id, g);
    if (e !== null) throw netError(e, "dropMembership");
  }

  ref(): this {
    if (!this.hold.refed) {
      this.hold.refed = true;
      if (this.bound && this.id !== null) this.hold.take();
    }
    return this;
  }

  unref(): this {
    this.hold.refed = false;
    this.hold.drop();
    return this;
  }

  // ---- internals ----

  private setOpt(o: UdpSocketOptions): void {
    const e = this.stack.udp.setOptions(this.live("setsockopt"), o);
    if (e !== null) throw netError(e, "setsockopt");
  }

  private live(syscall: string): SocketId {
    if (this.id === null) {
      throw Object.assign(new Error(`Not running (${syscall})`), { code: "ERR_SOCKET_DGRAM_NOT_RUNNING" });
    }
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

/** What `stack.dgram` holds. */
export interface DgramApi {
  createSocket(type: DgramType | DgramSocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): DgramSocket;
}

/** node:dgram bound to `stack` (NodeStack builds its `dgram` with this). */
export function createDgram(stack: ApiHost): DgramApi {
  return {
    createSocket(type, listener) {
      const s = new DgramSocket(stack, typeof type === "string" ? { type } : type);
      if (listener !== undefined) s.on("message", listener);
      return s;
    },
  };
}

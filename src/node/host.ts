/**
 * What the Node-shaped API modules (net, dgram, ping) need from the stack they run on. NodeStack
 * implements it; the modules depend on this interface, not on NodeStack, so node-stack.ts imports
 * them without an import cycle.
 */
import type { IpAddr, SocketId, StackEvent } from "../context.ts";
import type { IcmpEchoSockets } from "../transport/icmp-echo.ts";
import type { TcpLayer } from "../transport/tcp/tcp-layer.ts";
import type { UdpLayer } from "../transport/udp/udp.ts";
import type { LookupFunction } from "./net-lookup.ts";

/** Something the stack's `close()` must shut down. */
export interface Closable {
  destroy(): void;
}

export interface ApiHost {
  readonly tcp: TcpLayer;
  readonly udp: UdpLayer;
  readonly echo: IcmpEchoSockets;
  /** True once the stack was closed. */
  readonly closed: boolean;
  /** True when `addr` is an address of one of the stack's devices. */
  isLocalAddress(addr: IpAddr): boolean;
  /** True when `addr` is 255.255.255.255 or the directed broadcast of a subnet of a device. */
  isBroadcast4(addr: number): boolean;
  /** Resolve a host name (IP literals, localhost, then the installed resolver). */
  readonly lookup: LookupFunction;
  /** Route the core's events for `socket` to `fn` (replacing any earlier handler). */
  onSocket(socket: SocketId, fn: (ev: StackEvent) => void): void;
  /** Stop routing events of `socket`. */
  offSocket(socket: SocketId): void;
  /** Track an object `close()` must destroy (and stop tracking it with `untrack`). */
  track(c: Closable): void;
  untrack(c: Closable): void;
  /** One more user keeping the process alive (a referenced socket, a listening server). */
  ref(): void;
  /** Drop one user. */
  unref(): void;
}

/**
 * What the core needs from the outside world, and what it tells it.
 *
 * The core is sans-IO and synchronous. Its entry points (a frame received, timers due, a socket
 * call) each process one event completely and return; everything that leaves the core goes through
 * the `Bindings` object the Stack is constructed with. Node bindings (src/node/) implement it with
 * the real clock, one host `setTimeout` and real links; `FakeBindings` (src/testing/) with a virtual
 * clock, a seeded generator and recorded frames.
 *
 * Timers: the core keeps its own queue of any number of protocol timers (`CoreTimers` in timers.ts,
 * a heap of `Timer<TimerId>` handles) and asks the bindings for ONE wake-up, at the earliest
 * deadline (`scheduleTimer(at)`). When it comes, the host calls the Stack's `handleTimers(now)`,
 * which fires every due protocol timer by its `TimerId`. The bindings never see a `TimerId`.
 */

import type { IpAddr, Ipv6Addr } from "./ip/addr.ts";
import type { Buf } from "./packet/buf.ts";

export type { IpAddr } from "./ip/addr.ts";

/** A network device (interface) of one Stack: a small integer the Stack hands out. */
export type DeviceId = number;

/** A socket of one Stack (TCP, UDP or ICMP echo): a small integer the Stack hands out. */
export type SocketId = number;

/**
 * The core's entry points, as whatever hosts it drives them: the Node bindings (src/node/), a
 * simulated network (src/testing/), a test's own loop. The Stack implements them; so may a toy
 * host in a test.
 */
export interface EntryPoints {
  /**
   * A frame arrived on `device`. The buffer is the core's to keep or reuse, unless it is `borrowed`
   * (src/packet/buf.ts): then its memory is only lent until this call returns.
   */
  receiveFrame(device: DeviceId, frame: Buf): void;
  /** Frames that arrived together (one read of a link's queue); optional (TCP ACKs them as a batch). */
  receiveFrames?(device: DeviceId, frames: readonly Buf[]): void;
  /** The requested wake-up time has come: fire every timer due at `now`. */
  handleTimers(now: number): void;
}

/**
 * The states of an address (RFC 4862 5.4: tentative until duplicate address detection passes; 5.5.4:
 * deprecated once its preferred lifetime ends: still ours, not chosen as a source for new traffic).
 */
export type AddressState = "tentative" | "assigned" | "deprecated";

/** How an address came to be: configured, the link-local one (RFC 4862 5.3), or SLAAC (RFC 4862 5.5). */
export type AddressOrigin = "manual" | "link-local" | "slaac";

/**
 * The services the core uses. Every method is called synchronously from inside an entry point and
 * must not call back into the Stack (queue the work instead).
 */
export interface Bindings {
  /** Monotonic time in milliseconds (fractions allowed). Only differences are meaningful. */
  now(): number;
  /**
   * Wake the core at `at` (same clock as `now()`) by calling its `handleTimers(now)`. Replaces any
   * earlier request: there is only ever one pending wake-up. `at` in the past means "as soon as
   * possible" (never synchronously from inside this call). An early or spurious wake-up is harmless.
   */
  scheduleTimer(at: number): void;
  /** Forget the pending wake-up, if any (the core has no timer left). */
  cancelTimer(): void;
  /**
   * Transmit the body of `frame` (a whole link-layer frame) on `device`. The bytes belong to the core
   * again when this returns (it may reuse the buffer): copy or write them before returning.
   */
  sendFrame(device: DeviceId, frame: Buf): void;
  /** Something happened that an application may want to know. The event object is the host's. */
  onEvent(event: StackEvent): void;
  /** A uniformly random 32-bit unsigned integer (ISNs, ephemeral ports, jitter, IIDs). */
  random(): number;
}

/**
 * The timer kinds and what each carries. `TimerId` is derived from this map, so adding a kind is one
 * entry here (or, from another module, `declare module "../context.ts" { interface TimerIdMap { ... } }`).
 *
 * A `TimerId` is plain data created once, when its protocol state is created, and stored as the
 * `data` of that state's `Timer` handle: rescheduling moves the handle in the heap and allocates
 * nothing. When the timer fires, the Stack switches on `kind` and finds the state by the fields.
 */
export interface TimerIdMap {
  /**
   * The neighbour unreachability detection machine (RFC 4861 7.3; ARP, RFC 826 / RFC 1122 2.3.2.1,
   * runs on the same machine): retransmission, probe or expiry of the entry for `addr`.
   */
  neighbor: { device: DeviceId; addr: IpAddr };
  /** Duplicate address detection of `addr` (RFC 4862 5.4). */
  dad: { device: DeviceId; addr: Ipv6Addr };
  /** Router solicitation retransmission (RFC 4861 6.3.7). */
  "router-solicit": { device: DeviceId };
  /** Expiry of a learned router, prefix or address lifetime; `key` is hostconf's own handle. */
  lifetime: { device: DeviceId; key: number };
  /** Reassembly timeout (RFC 791, RFC 8200 4.5): the earliest datagram of one IP version expires. */
  reassembly: { version: 4 | 6 };
  /** All timers of one TCP connection (retransmission, delayed ACK, keepalive, TIME-WAIT). */
  tcp: { socket: SocketId };
}

/** A protocol timer's identity: `{ kind: "neighbor", device, addr }`, `{ kind: "tcp", socket }`, ... */
export type TimerId = { [K in keyof TimerIdMap]: { readonly kind: K } & Readonly<TimerIdMap[K]> }[keyof TimerIdMap];

/** One timer kind's `TimerId`, e.g. `TimerIdOf<"arp">`. */
export type TimerIdOf<K extends keyof TimerIdMap> = Extract<TimerId, { kind: K }>;

/** Node-style error codes carried by `error` events and returned by socket calls. */
export type ErrorCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ECONNABORTED"
  | "ETIMEDOUT"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EMSGSIZE"
  | "EPIPE"
  | (string & {});

/**
 * The events and what each carries. `StackEvent` is derived from this map, so adding an event is one
 * entry here (or a `declare module` augmentation of `StackEventMap` from another module).
 */
export interface StackEventMap {
  /** Data (or a FIN, or a datagram) can be read from `socket`. */
  readable: { socket: SocketId };
  /** `socket` has send buffer space again. */
  writable: { socket: SocketId };
  /** Listener `socket` has a new connection `conn` ready to accept. */
  accepted: { socket: SocketId; conn: SocketId };
  /** An active open on `socket` completed (RFC 9293: ESTABLISHED). */
  connected: { socket: SocketId };
  /** `socket` is closed and its resources are released. */
  closed: { socket: SocketId };
  /** `socket` failed with `code`; a `closed` event follows when it is gone. */
  error: { socket: SocketId; code: ErrorCode };
  /** An address on `device` was added, became usable, was deprecated or was removed. */
  "address-changed": {
    device: DeviceId;
    addr: IpAddr;
    prefixLen: number;
    state: AddressState | "removed";
  };
  /** Duplicate address detection found `addr` in use on `device` (RFC 4862 5.4.5). */
  "dad-failed": { device: DeviceId; addr: Ipv6Addr };
  /** An ICMP echo socket got the reply to its request `seq` from `from`. */
  "icmp-echo-reply": { socket: SocketId; from: IpAddr; id: number; seq: number; rtt: number };
}

/** The event type names. */
export type StackEventType = keyof StackEventMap;

/** What the core tells the host: `{ type: "readable", socket }`, `{ type: "error", socket, code }`, ... */
export type StackEvent = { [K in StackEventType]: { readonly type: K } & Readonly<StackEventMap[K]> }[StackEventType];

/** One event type's object, e.g. `StackEventOf<"error">`. */
export type StackEventOf<K extends StackEventType> = Extract<StackEvent, { type: K }>;

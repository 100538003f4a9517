/**
 * Linux TAP devices as a `Link`, through the small Node-API addon in native/tap.c (built by
 * scripts/build-native.mjs as part of `npm run build`).
 *
 * - Open: /dev/net/tun, `TUNSETIFF` with `IFF_TAP | IFF_NO_PI` (frames without the 4-byte packet
 *   information header), creating the device if it does not exist (a name with `%d`, or "", lets
 *   the kernel pick one). The fd is non-blocking and close-on-exec.
 * - Receive: libuv polls the fd (`uv_poll`); when readable, frames are read until the kernel has no
 *   more or the batch is full, into a pool (no allocation per frame: each frame is a view of its own
 *   range of the pool) and handed to the callback as one batch. With `readerThread: true` a thread of
 *   the addon does the reads into pools fed from here and wakes the event loop (uv_async). Pools are
 *   never reused unless frames are lent (`lendFrames(true)`, as NodeStack does): then the memory is
 *   read into again once the batch callback returned.
 * - Backpressure: `pause()` stops taking frames; up to 1024 wait in the reader's ring, then (or, without
 *   the reader thread, at once) in the device's kernel queue (txqueuelen,
 *   500 by default) and the kernel drops beyond it.
 * - Send: `write(2)` on a TAP device runs the kernel's receive path (IP, TCP, waking the reader) in
 *   the writing thread, so by default frames are copied into a byte ring (1 MiB) and written by a
 *   writer thread of the addon, in order; the JS thread only waits when the ring is full. A write
 *   that fails (device down: EIO) drops the frame, counted in `stats.txDropped` with
 *   `lastWriteError` (after the thread got to it). `writerThread: false` writes on the JS thread.
 *
 * The kernel side of the device (addresses, routes, up/down) is the namespace's business: `setUp()`
 * and `setMtu()` are provided for convenience (CAP_NET_ADMIN, as `ip link set`).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getSystemErrorName } from "node:util";
import { TunOffload, VNET_HDR_LEN } from "../wire/virtio-net.ts";
import { GsoSplitter, type GsoStats } from "./gso.ts";
import type { FramesCallback, Link } from "./link.ts";
import { newLinkStats, sendRange } from "./link.ts";

/**
 * Called with a batch of received frames and their virtio_net_hdr (frame i's 12 bytes at
 * `meta[12 i]`; see src/wire/virtio-net.ts); both are only valid during the call.
 */
export type OffloadFramesCallback = (frames: readonly Uint8Array[], meta: Uint8Array) => void;

/** The offloads offered by default: checksum, TSO for IPv4 and IPv6 (with ECN), USO where the kernel has it. */
export const DEFAULT_OFFLOADS =
  TunOffload.Csum | TunOffload.Tso4 | TunOffload.Tso6 | TunOffload.TsoEcn | TunOffload.Uso4 | TunOffload.Uso6;

interface TapAddon {
  open(
    name: string,
    tun: boolean,
    vnet: boolean,
    offloads: number,
  ): { fd: number; name: string; vnetHdrLen: number; offloads: number };
  read(fd: number, buf: Uint8Array, lens: Uint32Array, frameMax: number, meta: Uint8Array | null): number;
  write(
    fd: number,
    buf: Uint8Array,
    off: number,
    len: number,
    meta: Uint8Array | null,
    metaOff: number,
    vnetHdrLen: number,
  ): number;
  writer(fd: number, ringBytes: number, vnetHdrLen: number): object;
  writerSend(
    w: object,
    buf: Uint8Array,
    off: number,
    len: number,
    direct: boolean,
    meta: Uint8Array | null,
    metaOff: number,
  ): number;
  writerStats(w: object, out: Float64Array): void;
  writerClose(w: object): void;
  reader(fd: number, frameMax: number, callback: (status: number) => void, vnetHdrLen: number): object;
  readerFeed(r: object, pool: Uint8Array): number;
  readerTake(r: object, seqs: Uint32Array, offs: Uint32Array, lens: Uint32Array, meta: Uint8Array | null): number;
  readerNotify(r: object): void;
  readerRef(r: object, on: boolean): void;
  readerClose(r: object): void;
  poller(fd: number, callback: (status: number) => void): object;
  pollStart(h: object): void;
  pollStop(h: object): void;
  ref(h: object, on: boolean): void;
  closeFd(fd: number, h: object | null): void;
  setUp(name: string): void;
  setMtu(name: string, mtu: number): void;
  keepHeap(trim: number, topPad: number, mmapThreshold: number): boolean;
}

/** Why TAP cannot be used here, as a one-line message, or null when it can. */
export type TapAvailability = { ok: true } | { ok: false; reason: string };

/** An error opening or using a TAP device; `code` is the errno name ("EPERM") or a netstack code. */
export class TapError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly errno?: number,
    readonly syscall?: string,
  ) {
    super(message);
    this.name = "TapError";
  }
}

let addon: TapAddon | null = null;
let addonError: string | null = null;

/** Where the built addon is: NETSTACK_TAP_ADDON, else native/build/tap.node above this file. */
function findAddon(): string | null {
  const env = process.env.NETSTACK_TAP_ADDON;
  if (env) return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, "native", "build", "tap.node");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

function loadAddon(): TapAddon {
  if (addon !== null) return addon;
  if (addonError === null) {
    const path = findAddon();
    if (path === null) {
      addonError =
        "the TAP addon is not built (native/build/tap.node): run `npm run build` " +
        "(it needs a C compiler and Node's headers; see the output of scripts/build-native.mjs)";
    } else {
      try {
        const m = { exports: {} as TapAddon };
        process.dlopen(m, path);
        addon = m.exports;
        return addon;
      } catch (err) {
        addonError = `the TAP addon at ${path} does not load: ${(err as Error).message}; rebuild it with \`npm run build\``;
      }
    }
  }
  throw new TapError(`TAP unavailable: ${addonError}`, "ERR_TAP_ADDON");
}

/** Can a TAP device be opened here at all (Linux, addon built, /dev/net/tun present)? */
export function tapAvailable(): TapAvailability {
  if (process.platform !== "linux") {
    return { ok: false, reason: `TAP devices are Linux-only (this is ${process.platform})` };
  }
  try {
    loadAddon();
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (!existsSync("/dev/net/tun")) {
    return { ok: false, reason: "/dev/net/tun does not exist (load the tun module: modprobe tun)" };
  }
  return { ok: true };
}

/** Options of `keepHeapMemory` (glibc's malloc parameters, in bytes). */
export interface KeepHeapOptions {
  /** Free memory at the top of the heap kept before any is returned to the kernel (default 64 MiB). */
  trimThreshold?: number;
  /** Extra memory taken from the kernel whenever the heap grows (default 16 MiB). */
  topPad?: number;
  /** Allocations at least this large get their own mapping (default 4 MiB; glibc's is 128 KiB to 32 MiB). */
  mmapThreshold?: number;
}

const MIB = 1024 * 1024;

/**
 * Keep freed heap memory in the process (glibc `mallopt`; process-wide). A stream consumer gets the
 * received bytes in Buffers allocated per batch and freed by the garbage collector in bulk; by default
 * glibc hands the top of the heap back to the kernel and the next Buffers fault every 4 KiB page in
 * again, zero-filled: on the machine of bench/README.md that was one page fault per page received and
 * a quarter of the throughput of `netstack serve` over TAP. The CLI calls this before opening its TAP
 * devices. Returns false (nothing changed) where the C library is not glibc or the addon is not built.
 */
export function keepHeapMemory(options: KeepHeapOptions = {}): boolean {
  const trim = options.trimThreshold ?? 64 * MIB;
  const pad = options.topPad ?? 16 * MIB;
  const mmap = options.mmapThreshold ?? 4 * MIB;
  for (const [name, v] of [
    ["trimThreshold", trim],
    ["topPad", pad],
    ["mmapThreshold", mmap],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      const err = new RangeError(`keepHeapMemory: ${name} must be an integer from 0 to 2^31 - 1 (got ${v})`);
      (err as RangeError & { code: string }).code = "ERR_OUT_OF_RANGE";
      throw err;
    }
  }
  if (process.platform !== "linux") return false;
  let a: TapAddon;
  try {
    a = loadAddon();
  } catch {
    return false;
  }
  return a.keepHeap(trim, pad, mmap);
}

/** Turn an addon error into a clear `TapError`. */
function explain(err: unknown, name: string, what: string): TapError {
  const e = err as Error & { code?: string; errno?: number; syscall?: string };
  const code = e.code ?? "EUNKNOWN";
  let msg: string;
  if (code === "EPERM" || code === "EACCES") {
    msg = `cannot ${what} TAP device ${name}: permission denied: needs root or CAP_NET_ADMIN (e.g. sudo, or unshare -rn)`;
  } else if (code === "ENOENT" && e.syscall === "open") {
    msg = `cannot ${what} TAP device ${name}: /dev/net/tun does not exist (load the tun module: modprobe tun)`;
  } else if (code === "EBUSY") {
    msg = `cannot ${what} TAP device ${name}: it is in use by another process (or is a TUN device)`;
  } else if (code === "EINVAL" && e.syscall === "ioctl") {
    msg = `cannot ${what} TAP device ${name}: the kernel refused it (is ${name} an existing non-TAP interface?)`;
  } else if (code === "ERR_OUT_OF_RANGE") {
    msg = `cannot ${what} TAP device ${name}: interface names are at most 15 bytes`;
  } else {
    msg = `cannot ${what} TAP device ${name}: ${e.message}`;
  }
  return new TapError(msg, code, e.errno, e.syscall);
}

/** Options of `TapLink.open`. */
export interface TapOptions {
  /** Largest frame read or written (default 65535 + 18: any MTU the device may be given). */
  maxFrameLen?: number;
  /** Most frames per callback (default 64); more wait for the next event-loop turn. */
  batch?: number;
  /** Bytes of each receive pool (default 1 MiB); a new pool is taken when one fills up. */
  poolSize?: number;
  /** Also bring the interface up (like `ip link set NAME up`). */
  up?: boolean;
  /** Also set the interface MTU. */
  mtu?: number;
  /**
   * Read frames on a thread of the addon (default false: libuv polls the fd and frames are read on the
   * JS thread). The thread takes the read(2) calls off the JS thread, at the cost of one more wake-up
   * per batch; on the 2-vCPU machine of bench/README.md it measured no faster, so it is opt-in.
   */
  readerThread?: boolean;
  /** Write frames from a thread of the addon (default true); false: `write(2)` on the JS thread. */
  writerThread?: boolean;
  /** Bytes of the writer thread's ring (default 1 MiB; at least 2 frames of 65600 bytes). */
  writerRingSize?: number;
  /**
   * Offloads (default true): open the device with IFF_VNET_HDR, a 12-byte virtio_net_hdr_v1 per frame,
   * and offer the kernel `offloads` (TUNSETOFFLOAD; what it refuses is dropped, see `offloads`). The
   * kernel then sends TCP super-frames of up to 64 KiB and partial checksums, and takes ours
   * (`sendOffload`). Receivers set with `onFrames` still get MTU-sized frames with complete checksums
   * (split in software: `gsoStats`); `onOffloadFrames` gets them as they came. false: plain frames.
   * The default can be turned off for a whole process with NETSTACK_TAP_OFFLOAD=0.
   */
  offload?: boolean;
  /** TUNSETOFFLOAD flags to offer (`TunOffload` of src/wire/virtio-net.ts; default `DEFAULT_OFFLOADS`). */
  offloads?: number;
}

/** What the writer thread did: frames written, failed, queued now, times the JS thread waited. */
export interface TapWriterStats {
  written: number;
  failed: number;
  queued: number;
  waits: number;
}

/** A Linux TAP device (and, through `TunLink`, a TUN device). */
export class TapLink implements Link {
  readonly stats = newLinkStats();
  closed = false;
  /** Batches handed to the callback (`stats.rxFrames / batches` frames per batch). */
  batches = 0;
  readonly maxFrameLen: number;
  private readonly a: TapAddon;
  /** The poll handle (without the reader thread) or null. */
  private readonly poll: object | null;
  /** The reader thread, or null. */
  private readonly reader: object | null;
  /** Pools fed to the reader: `fed[i]` has sequence number `fedBase + i`. */
  private readonly fed: Uint8Array[] = [];
  private fedBase = 0;
  private readonly seqs: Uint32Array;
  private readonly offs: Uint32Array;
  private refed = true;
  /** Frames are lent (`lendFrames`): pools are reused once their frames were handled. */
  private lending = false;
  /** Pools the reader finished and whose frames were all handled, ready to be fed again. */
  private readonly spare: Uint8Array[] = [];
  /** The writer thread, or null when frames are written on the JS thread. */
  private readonly writer: object | null;
  private readonly writerOut = new Float64Array(5);
  /** Frames dropped by `send` itself (closed, too long, or synchronous write failures). */
  private sendDropped = 0;
  private syncWriteError: string | null = null;
  private readonly lens: Uint32Array;
  private readonly poolSize: number;
  private pool: Uint8Array;
  private poolOff = 0;
  private callback: FramesCallback | null = null;
  private offloadCallback: OffloadFramesCallback | null = null;
  /** Bytes of the virtio_net_hdr in front of each frame on the fd: 12 with offloads, else 0. */
  readonly vnetHdrLen: number;
  /** TUNSETOFFLOAD flags the kernel accepted (`TunOffload`; 0 without offloads). */
  readonly offloads: number;
  /** Received headers of the batch being read: frame i's at `12 i`. */
  private readonly rxMeta: Uint8Array | null;
  /** The software fallback for `onFrames` receivers in vnet mode. */
  private readonly splitter: GsoSplitter | null;
  private paused = false;
  private polling = false;
  private readonly closeCallbacks: ((error: Error | null) => void)[] = [];

  protected constructor(
    a: TapAddon,
    opened: { fd: number; name: string; vnetHdrLen: number; offloads: number },
    options: TapOptions,
    /** Bytes before the IP header of a frame: 14 (Ethernet) on TAP, 0 on TUN. */
    readonly l3Off: number,
  ) {
    this.a = a;
    this.name = opened.name;
    this.fd = opened.fd;
    this.vnetHdrLen = opened.vnetHdrLen;
    this.offloads = opened.offloads;
    this.maxFrameLen = options.maxFrameLen ?? 65535 + l3Off + (l3Off === 0 ? 0 : 4);
    this.lens = new Uint32Array(options.batch ?? 64);
    this.rxMeta = this.vnetHdrLen === 0 ? null : new Uint8Array(this.lens.length * VNET_HDR_LEN);
    this.splitter = this.vnetHdrLen === 0 ? null : new GsoSplitter(l3Off);
    const fd = this.fd;
    this.poolSize = Math.max(options.poolSize ?? 1 << 20, (this.maxFrameLen + 8 + VNET_HDR_LEN) * 2);
    this.pool = new Uint8Array(0);
    this.seqs = new Uint32Array(this.lens.length);
    this.offs = new Uint32Array(this.lens.length);
    const threads = defaultThreads();
    if (!(options.readerThread ?? threads.reader)) {
      this.reader = null;
      this.poll = a.poller(fd, this.onReadable);
    } else {
      this.poll = null;
      this.reader = a.reader(fd, this.maxFrameLen, this.onReady, this.vnetHdrLen);
      this.a.readerRef(this.reader, false); // held only while someone receives
      this.feed();
      this.feed();
    }
    this.writer = !(options.writerThread ?? threads.writer)
      ? null
      : a.writer(fd, options.writerRingSize ?? 1 << 20, this.vnetHdrLen);
    // Failed writes of the thread are counted as drops when read.
    Object.defineProperty(this.stats, "txDropped", {
      enumerable: true,
      get: () => this.sendDropped + (this.writer === null ? 0 : this.readWriterStats()[1]),
      set: (v: number) => {
        this.sendDropped = v - (this.writer === null ? 0 : this.readWriterStats()[1]);
      },
    });
  }

  private readWriterStats(): Float64Array {
    if (this.writer !== null && !this.writerClosed) this.a.writerStats(this.writer, this.writerOut);
    return this.writerOut;
  }

  /** The device's name (as the kernel named it). */
  readonly name: string;
  /** The file descriptor (for diagnostics). */
  readonly fd: number;
  private writerClosed = false;
  private turnStarted = false;
  /** Frames in the batch being delivered (0 outside a receive callback). */
  private rxBatch = 0;
  private readonly endTurn = (): void => {
    this.turnStarted = false;
  };

  /** errno name of the last failed write (e.g. "EIO" while the interface is down), or null. */
  get lastWriteError(): string | null {
    if (this.writer === null) return this.syncWriteError;
    const out = this.readWriterStats();
    return out[1] === 0 ? this.syncWriteError : errnoName(-out[2]);
  }

  /** The writer thread's counters (all zero without one). */
  writerStats(): TapWriterStats {
    if (this.writer === null) return { written: 0, failed: 0, queued: 0, waits: 0 };
    const out = this.readWriterStats();
    return { written: out[0], failed: out[1], queued: out[3], waits: out[4] };
  }

  /**
   * Open (creating if needed) the TAP device `name` in the current network namespace. Throws a
   * `TapError` with a one-line message: not Linux, addon not built, no /dev/net/tun, "needs root
   * or CAP_NET_ADMIN", name too long, device busy.
   */
  static open(name: string, options: TapOptions = {}): TapLink {
    return TapLink.openDevice(name, options, false, (a, opened) => new TapLink(a, opened, options, 14));
  }

  /** Open a TAP (`tun` false) or TUN device and make its link with `make`. */
  protected static openDevice<L extends TapLink>(
    name: string,
    options: TapOptions,
    tun: boolean,
    make: (a: TapAddon, opened: { fd: number; name: string; vnetHdrLen: number; offloads: number }) => L,
  ): L {
    const avail = tapAvailable();
    if (!avail.ok) throw new TapError(avail.reason, "ERR_TAP_UNAVAILABLE");
    const offloads = options.offloads ?? DEFAULT_OFFLOADS;
    if (!Number.isInteger(offloads) || offloads < 0 || offloads > 0xff) {
      const err = new RangeError(`offloads must be TUNSETOFFLOAD flags from 0 to 255 (got ${offloads})`);
      (err as RangeError & { code: string }).code = "ERR_OUT_OF_RANGE";
      throw err;
    }
    const a = loadAddon();
    let opened: { fd: number; name: string; vnetHdrLen: number; offloads: number };
    try {
      opened = a.open(name, tun, options.offload ?? defaultOffload(), offloads);
    } catch (err) {
      throw explain(err, name, "open");
    }
    const link = make(a, opened);
    try {
      if (options.mtu !== undefined) link.setMtu(options.mtu);
      if (options.up) link.setUp();
    } catch (err) {
      link.close();
      throw err;
    }
    return link;
  }

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    this.sendWith(bytes, o, n, null, 0);
  }

  /**
   * Send one frame with its virtio_net_hdr: the 12 bytes at `meta[metaOff]` (a `VirtioNetHdrBuilder`
   * writes them): a GSO super-frame of up to 64 KiB (gso_type, gso_size, hdr_len) that the kernel
   * segments or delivers whole, and/or a partial checksum (NEEDS_CSUM, csum_start/csum_offset) it
   * completes. Without offloads (`vnetHdrLen` 0) this is an error: ERR_OFFLOAD_UNAVAILABLE.
   */
  sendOffload(bytes: Uint8Array, off: number, len: number, meta: Uint8Array, metaOff = 0): void {
    if (this.vnetHdrLen === 0) {
      throw new TapError(`${this.name} was opened without offloads (no virtio_net_hdr)`, "ERR_OFFLOAD_UNAVAILABLE");
    }
    const [o, n] = sendRange(bytes, off, len);
    if (!(metaOff >= 0 && metaOff + VNET_HDR_LEN <= meta.length)) {
      throw new RangeError(
        `sendOffload: header range [${metaOff}, ${metaOff + VNET_HDR_LEN}) outside 0..${meta.length}`,
      );
    }
    this.sendWith(bytes, o, n, meta, metaOff);
  }

  private sendWith(bytes: Uint8Array, o: number, n: number, meta: Uint8Array | null, metaOff: number): void {
    if (this.closed || n > this.maxFrameLen) {
      this.sendDropped++;
      return;
    }
    if (this.writer !== null) {
      // The first frame of an event-loop turn is written here when nothing is queued (a reply goes
      // out without a thread hand-off) unless the turn handles a large batch of received frames (bulk
      // traffic: its ACK, which makes the kernel send more, is written by the thread); the rest of the
      // turn's frames go through the thread.
      let direct = false;
      if (!this.turnStarted) {
        this.turnStarted = true;
        settled.then(this.endTurn);
        direct = this.rxBatch <= 4;
      }
      const r = this.a.writerSend(this.writer, bytes, o, n, direct, meta, metaOff);
      if (r < 0) {
        this.sendDropped++;
        this.syncWriteError = errnoName(-r);
        return;
      }
    } else {
      const r = this.a.write(this.fd, bytes, o, n, meta, metaOff, this.vnetHdrLen);
      if (r < 0) {
        this.sendDropped++;
        this.syncWriteError = errnoName(-r);
        return;
      }
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
  }

  onFrames(callback: FramesCallback | null): void {
    this.callback = callback;
    if (callback !== null) this.offloadCallback = null;
    this.updatePolling();
  }

  /**
   * Receive frames as the kernel sent them, with their virtio_net_hdr (GSO super-frames, partial
   * checksums): replaces an `onFrames` receiver. Without offloads every header is all zeros.
   */
  onOffloadFrames(callback: OffloadFramesCallback | null): void {
    this.offloadCallback = callback;
    this.callback = callback === null ? null : this.viaOffload;
    this.updatePolling();
  }

  /** Stands in for `callback` while an offload receiver is set (never called). */
  private readonly viaOffload: FramesCallback = () => {};

  /** What the software fallback did for `onFrames` receivers (null without offloads). */
  get gsoStats(): GsoStats | null {
    return this.splitter === null ? null : this.splitter.stats;
  }

  /** Lend frames (see `Link.lendFrames`): their memory is reused after the callback returned. */
  lendFrames(on: boolean): void {
    this.lending = on;
    if (!on) this.spare.length = 0;
  }

  pause(): void {
    this.paused = true;
    this.updatePolling();
  }

  resume(): void {
    this.paused = false;
    this.updatePolling();
  }

  /** Keep the event loop alive while receiving (the default). */
  ref(): void {
    this.refed = true;
    this.applyRef();
  }

  /** Let the process exit even while this link waits for frames. */
  unref(): void {
    this.refed = false;
    this.applyRef();
  }

  /** Bring the interface up (`ip link set NAME up`). */
  setUp(): void {
    try {
      this.a.setUp(this.name);
    } catch (err) {
      throw explain(err, this.name, "bring up");
    }
  }

  /** Set the interface MTU (`ip link set NAME mtu N`). */
  setMtu(mtu: number): void {
    try {
      this.a.setMtu(this.name, mtu);
    } catch (err) {
      throw explain(err, this.name, "set the MTU of");
    }
  }

  onClose(callback: (error: Error | null) => void): void {
    if (this.closed) queueMicrotask(() => callback(null));
    else this.closeCallbacks.push(callback);
  }

  close(): Promise<void> {
    this.shutdown(null);
    return Promise.resolve();
  }

  private shutdown(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.callback = null;
    this.polling = false;
    if (this.reader !== null) this.a.readerClose(this.reader);
    this.fed.length = 0;
    if (this.writer !== null) {
      // Write what is queued, then stop the thread: the fd must outlive it.
      this.a.writerClose(this.writer);
      this.a.writerStats(this.writer, this.writerOut);
      this.writerClosed = true;
    }
    try {
      this.a.closeFd(this.fd, this.poll);
    } catch {
      // Closing a TAP fd does not fail in practice; the device is gone either way.
    }
    for (const cb of this.closeCallbacks.splice(0, this.closeCallbacks.length)) cb(error);
  }

  private updatePolling(): void {
    if (this.closed) return;
    const want = this.callback !== null && !this.paused;
    if (want === this.polling) return;
    this.polling = want;
    if (this.reader !== null) {
      this.applyRef();
      if (want) this.a.readerNotify(this.reader); // frames may have waited
    } else if (this.poll !== null) {
      if (want) this.a.pollStart(this.poll);
      else this.a.pollStop(this.poll);
    }
  }

  private applyRef(): void {
    if (this.closed) return;
    if (this.reader !== null) this.a.readerRef(this.reader, this.refed && this.polling);
    else if (this.poll !== null) this.a.ref(this.poll, this.refed);
  }

  /** Give the reader thread one more pool (uninitialized memory: frames are views of what was read). */
  private feed(): void {
    let pool = this.spare.pop();
    if (pool === undefined) {
      const b = Buffer.allocUnsafeSlow(this.poolSize);
      pool = new Uint8Array(b.buffer, b.byteOffset, b.length);
    }
    this.fed.push(pool);
    this.a.readerFeed(this.reader as object, pool);
  }

  private readonly onReady = (status: number): void => {
    if (this.closed) return;
    if (status < 0) {
      this.shutdown(new TapError(`TAP device ${this.name}: read failed: ${errnoName(-status)}`, errnoName(-status)));
      return;
    }
    const cb = this.callback;
    if (cb === null || this.paused) return;
    const r = this.reader as object;
    const n = this.a.readerTake(r, this.seqs, this.offs, this.lens, this.rxMeta);
    if (n === 0) return;
    const frames: Uint8Array[] = new Array(n);
    let bytes = 0;
    const base = this.fedBase;
    for (let i = 0; i < n; i++) {
      const off = this.offs[i];
      const len = this.lens[i];
      frames[i] = this.fed[this.seqs[i] - base].subarray(off, off + len);
      bytes += len;
    }
    // Pools before the last frame's are done (the thread moved on); frames keep them alive, or,
    // when lent, the pools are fed again once the callback returned.
    const last = this.seqs[n - 1];
    let done: Uint8Array[] | null = null;
    if (last > base) {
      done = this.fed.splice(0, last - base);
      this.fedBase = last;
    }
    try {
      this.deliver(cb, frames, bytes);
    } finally {
      if (done !== null && !this.closed) {
        if (this.lending) for (let i = 0; i < done.length; i++) this.spare.push(done[i]);
        // The thread holds the pools from `last` on; keep two ahead of it.
        while (this.fed.length < 2) this.feed();
      }
    }
  };

  private readonly onReadable = (status: number): void => {
    if (this.closed) return;
    if (status < 0) {
      this.shutdown(new TapError(`TAP device ${this.name}: poll failed: ${errnoName(-status)}`, errnoName(-status)));
      return;
    }
    const cb = this.callback;
    if (cb === null || this.paused) return;
    if (this.pool.length - this.poolOff < this.maxFrameLen) {
      // Frames handed out keep the old pool alive; it is never written again.
      this.pool = new Uint8Array(this.poolSize);
      this.poolOff = 0;
    }
    let n: number;
    try {
      n = this.a.read(this.fd, this.pool.subarray(this.poolOff), this.lens, this.maxFrameLen, this.rxMeta);
    } catch (err) {
      this.shutdown(explain(err, this.name, "read from"));
      return;
    }
    if (n === 0) return;
    const frames: Uint8Array[] = new Array(n);
    let off = this.poolOff;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const len = this.lens[i];
      frames[i] = this.pool.subarray(off, off + len);
      off += (len + 7) & ~7;
      bytes += len;
    }
    this.poolOff = off;
    try {
      this.deliver(cb, frames, bytes);
    } finally {
      // Lent frames were handled: the pool's bytes may be read into again.
      if (this.lending) this.poolOff = 0;
    }
  };

  /**
   * Count a batch and hand it to the callback (`rxBatch` tells `send` how large it is); in vnet mode
   * with the headers to an offload receiver, or through the software fallback to a plain one.
   */
  private deliver(cb: FramesCallback, frames: Uint8Array[], bytes: number): void {
    this.stats.rxFrames += frames.length;
    this.stats.rxBytes += bytes;
    this.batches++;
    this.rxBatch = frames.length;
    try {
      const meta = this.rxMeta;
      if (this.offloadCallback !== null) {
        if (meta === null) {
          for (let i = 0; i < frames.length; i += ZERO_META.length / VNET_HDR_LEN) {
            const part = frames.slice(i, i + ZERO_META.length / VNET_HDR_LEN);
            this.offloadCallback(part, ZERO_META);
          }
        } else {
          this.offloadCallback(frames, meta);
        }
      } else if (meta !== null && this.splitter !== null) {
        cb(this.splitter.normalize(frames, meta, this.lending));
      } else {
        cb(frames);
      }
    } finally {
      this.rxBatch = 0;
    }
  }
}

/**
 * The threads used when the options do not say: the writer, unless `NETSTACK_TAP_THREADS` lists others
 * ("reader,writer", "reader", "writer" or "none"; for measurements).
 */
function defaultThreads(): { reader: boolean; writer: boolean } {
  const env = process.env.NETSTACK_TAP_THREADS;
  if (env === undefined || env === "") return { reader: false, writer: true };
  const list = env.split(",").map((x) => x.trim());
  return { reader: list.includes("reader"), writer: list.includes("writer") };
}

/**
 * Offloads when the options do not say: on, unless `NETSTACK_TAP_OFFLOAD` is "0" or "off" (for
 * measurements and for programs that open their links with the defaults, such as the CLI).
 */
function defaultOffload(): boolean {
  const env = process.env.NETSTACK_TAP_OFFLOAD;
  return !(env === "0" || env === "off" || env === "false");
}

/** All-zero headers for offload receivers of a link without offloads. */
const ZERO_META = new Uint8Array(256 * VNET_HDR_LEN);

/** A settled promise: `.then(fn)` runs `fn` at the end of the current turn's microtasks. */
const settled = Promise.resolve();

function errnoName(e: number): string {
  try {
    return getSystemErrorName(-e);
  } catch {
    return `errno ${e}`;
  }
}

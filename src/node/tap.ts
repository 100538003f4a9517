/**
 * Linux TAP devices as a `Link`, through the small Node-API addon in native/tap.c (built by
 * scripts/build-native.mjs as part of `npm run build`).
 *
 * - Open: /dev/net/tun, `TUNSETIFF` with `IFF_TAP | IFF_NO_PI` (frames without the 4-byte packet
 *   information header), creating the device if it does not exist (a name with `%d`, or "", lets
 *   the kernel pick one). The fd is non-blocking and close-on-exec.
 * - Receive: libuv polls the fd (`uv_poll`); when readable, frames are read until the kernel has no
 *   more or the batch is full, into a shared pool (no allocation per frame: each frame is a view of
 *   its own range of the pool, never reused) and handed to the callback as one batch.
 * - Backpressure: `pause()` stops polling; frames wait in the device's kernel queue (txqueuelen,
 *   500 by default) and the kernel drops beyond it.
 * - Send: one `write(2)` per frame; a full queue or a device that is down drops the frame
 *   (`stats.txDropped`, `lastWriteError`).
 *
 * The kernel side of the device (addresses, routes, up/down) is the namespace's business: `setUp()`
 * and `setMtu()` are provided for convenience (CAP_NET_ADMIN, as `ip link set`).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getSystemErrorName } from "node:util";
import type { FramesCallback, Link } from "./link.ts";
import { newLinkStats, sendRange } from "./link.ts";

interface TapAddon {
  open(name: string): { fd: number; name: string };
  read(fd: number, buf: Uint8Array, lens: Uint32Array, frameMax: number): number;
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  poller(fd: number, callback: (status: number) => void): object;
  pollStart(h: object): void;
  pollStop(h: object): void;
  ref(h: object, on: boolean): void;
  closeFd(fd: number, h: object | null): void;
  setUp(name: string): void;
  setMtu(name: string, mtu: number): void;
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
}

/** A Linux TAP device. */
export class TapLink implements Link {
  readonly stats = newLinkStats();
  closed = false;
  /** errno name of the last failed write (e.g. "EIO" while the interface is down), or null. */
  lastWriteError: string | null = null;
  readonly maxFrameLen: number;
  private readonly a: TapAddon;
  private readonly poll: object;
  private readonly lens: Uint32Array;
  private readonly poolSize: number;
  private pool: Uint8Array;
  private poolOff = 0;
  private callback: FramesCallback | null = null;
  private paused = false;
  private polling = false;
  private readonly closeCallbacks: ((error: Error | null) => void)[] = [];

  private constructor(
    a: TapAddon,
    /** The device's name (as the kernel named it). */
    readonly name: string,
    /** The file descriptor (for diagnostics). */
    readonly fd: number,
    options: TapOptions,
  ) {
    this.a = a;
    this.maxFrameLen = options.maxFrameLen ?? 65535 + 18;
    this.lens = new Uint32Array(options.batch ?? 64);
    this.poolSize = Math.max(options.poolSize ?? 1 << 20, this.maxFrameLen * 2);
    this.pool = new Uint8Array(this.poolSize);
    this.poll = a.poller(fd, this.onReadable);
  }

  /**
   * Open (creating if needed) the TAP device `name` in the current network namespace. Throws a
   * `TapError` with a one-line message: not Linux, addon not built, no /dev/net/tun, "needs root
   * or CAP_NET_ADMIN", name too long, device busy.
   */
  static open(name: string, options: TapOptions = {}): TapLink {
    const avail = tapAvailable();
    if (!avail.ok) throw new TapError(avail.reason, "ERR_TAP_UNAVAILABLE");
    const a = loadAddon();
    let opened: { fd: number; name: string };
    try {
      opened = a.open(name);
    } catch (err) {
      throw explain(err, name, "open");
    }
    const link = new TapLink(a, opened.name, opened.fd, options);
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
    if (this.closed || n > this.maxFrameLen) {
      this.stats.txDropped++;
      return;
    }
    const r = this.a.write(this.fd, bytes, o, n);
    if (r < 0) {
      this.stats.txDropped++;
      this.lastWriteError = errnoName(-r);
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
  }

  onFrames(callback: FramesCallback | null): void {
    this.callback = callback;
    this.updatePolling();
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
    if (!this.closed) this.a.ref(this.poll, true);
  }

  /** Let the process exit even while this link waits for frames. */
  unref(): void {
    if (!this.closed) this.a.ref(this.poll, false);
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
    if (want) this.a.pollStart(this.poll);
    else this.a.pollStop(this.poll);
  }

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
      n = this.a.read(this.fd, this.pool.subarray(this.poolOff), this.lens, this.maxFrameLen);
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
    this.stats.rxFrames += n;
    this.stats.rxBytes += bytes;
    cb(frames);
  };
}

function errnoName(e: number): string {
  try {
    return getSystemErrorName(-e);
  } catch {
    return `errno ${e}`;
  }
}

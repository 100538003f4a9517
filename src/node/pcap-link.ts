/**
 * pcapng capture of links: `PcapLink` wraps any `Link` and records both directions (sent frames
 * as outbound, received frames as inbound, in `epb_flags`) with nanosecond timestamps
 * (`if_tsresol` = 9), readable by tcpdump, tshark and Wireshark. One `PcapngCapture` may hold
 * several links, one pcapng interface each (e.g. `serve` with two TAPs and one `--pcap FILE`).
 *
 * Blocks are produced by `PcapngWriter` (src/capture/pcapng.ts). Writes are buffered: flushed when
 * `flushBytes` accumulate, within `flushMs` otherwise, and on `flush()` / `close()`, so a file being
 * captured can be read while the program runs.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { Direction } from "../capture/pcap.ts";
import { PcapngWriter } from "../capture/pcapng.ts";
import type { FramesCallback, Link, LinkStats } from "./link.ts";
import { sendRange } from "./link.ts";

/** Nanoseconds since the Unix epoch, from the wall clock at start plus a monotonic clock since. */
export function wallClockNs(): () => bigint {
  const base = BigInt(Date.now()) * 1_000_000n;
  const hr0 = process.hrtime.bigint();
  return () => base + (process.hrtime.bigint() - hr0);
}

/** Options of a capture. */
export interface PcapngCaptureOptions {
  /** File to write (created or truncated). One of `file` and `write` is required. */
  file?: string;
  /** Or: where the bytes go (called with blocks in file order). */
  write?: (chunk: Uint8Array) => void;
  /** Timestamp source in nanoseconds since the epoch (default `wallClockNs()`). */
  clock?: () => bigint;
  /** Flush once this many bytes are buffered (default 64 KiB). */
  flushBytes?: number;
  /** Flush buffered bytes at most this long after they were captured (default 200 ms). */
  flushMs?: number;
  /** `shb_userappl` (default "netstack"). */
  application?: string;
}

/** Options of one captured link. */
export interface CaptureLinkOptions {
  /** `if_name` (default the link's name). */
  name?: string;
  /** Bytes kept of each frame (default 0: all). */
  snapLen?: number;
}

/** A pcapng file (or byte sink) receiving the frames of one or more links. */
export class PcapngCapture {
  private readonly writer: PcapngWriter;
  private readonly clock: () => bigint;
  private readonly sink: (chunk: Uint8Array) => void;
  private fd: number | null = null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly flushBytes: number;
  private readonly flushMs: number;
  private readonly snapLens: number[] = [];
  /** Packets recorded so far. */
  packets = 0;
  closed = false;

  constructor(options: PcapngCaptureOptions) {
    this.writer = new PcapngWriter({ application: options.application ?? "netstack" });
    this.clock = options.clock ?? wallClockNs();
    this.flushBytes = options.flushBytes ?? 65536;
    this.flushMs = options.flushMs ?? 200;
    if (options.write !== undefined) {
      this.sink = options.write;
    } else if (options.file !== undefined) {
      const fd = openSync(options.file, "w");
      this.fd = fd;
      this.sink = (chunk) => {
        let o = 0;
        while (o < chunk.length) o += writeSync(fd, chunk, o, chunk.length - o);
      };
    } else {
      throw new TypeError("pcapng capture: give `file` or `write`");
    }
    // The section header goes out at once: an idle capture is still a valid (empty) file.
    this.push(this.writer.header());
    this.flush();
  }

  /** Declare an interface; returns its id for `record`. */
  addInterface(name: string, snapLen = 0): number {
    this.snapLens.push(snapLen);
    return this.writer.addInterface({ name, snapLen });
  }

  /** Wrap `link` so that both its directions are recorded on a new interface of this capture. */
  wrap(link: Link, options: CaptureLinkOptions = {}): PcapLink {
    return new PcapLink(link, this, this.addInterface(options.name ?? link.name, options.snapLen ?? 0));
  }

  /** Record one frame seen on interface `iface`, going `direction`. */
  record(iface: number, direction: Direction, bytes: Uint8Array, off = 0, len = bytes.length - off): void {
    if (this.closed) return;
    const snap = this.snapLens[iface];
    const cap = snap > 0 && len > snap ? snap : len;
    this.push(this.writer.packet(iface, this.clock(), bytes.subarray(off, off + cap), direction, len));
    this.packets++;
    if (this.pendingBytes >= this.flushBytes) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Write out everything buffered. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pendingBytes === 0) return;
    const parts = this.pending;
    this.pending = [];
    const n = this.pendingBytes;
    this.pendingBytes = 0;
    if (parts.length === 1) {
      this.sink(parts[0]);
      return;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    this.sink(out);
  }

  /** Flush and close the file. Later frames are not recorded. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }
}

/** A `Link` that records what goes through it, then passes it on to the link it wraps. */
export class PcapLink implements Link {
  private ownsCapture = false;

  constructor(
    readonly inner: Link,
    readonly capture: PcapngCapture,
    /** This link's interface id in the capture. */
    readonly iface: number,
  ) {}

  /** Capture `link` alone into `file`; closing the returned link closes the file too. */
  static toFile(link: Link, file: string, options: CaptureLinkOptions & PcapngCaptureOptions = {}): PcapLink {
    const capture = new PcapngCapture({ ...options, file });
    const l = capture.wrap(link, options);
    l.ownsCapture = true;
    return l;
  }

  get name(): string {
    return this.inner.name;
  }
  get maxFrameLen(): number {
    return this.inner.maxFrameLen;
  }
  get stats(): LinkStats {
    return this.inner.stats;
  }
  get closed(): boolean {
    return this.inner.closed;
  }

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    // Only frames the link accepted go in the capture, as a NIC tap would see them.
    const before = this.inner.stats.txFrames;
    this.inner.send(bytes, o, n);
    if (this.inner.stats.txFrames !== before) this.capture.record(this.iface, Direction.Outbound, bytes, o, n);
  }

  onFrames(callback: FramesCallback | null): void {
    if (callback === null) {
      this.inner.onFrames(null);
      return;
    }
    this.inner.onFrames((frames) => {
      for (let i = 0; i < frames.length; i++) this.capture.record(this.iface, Direction.Inbound, frames[i]);
      callback(frames);
    });
  }

  /** Lend frames when the wrapped link can (`record` copies each frame into the file first). */
  get lendFrames(): ((on: boolean) => void) | undefined {
    const inner = this.inner;
    return inner.lendFrames === undefined ? undefined : (on: boolean) => inner.lendFrames?.(on);
  }

  pause(): void {
    this.inner.pause();
  }

  resume(): void {
    this.inner.resume();
  }

  onClose(callback: (error: Error | null) => void): void {
    this.inner.onClose(callback);
  }

  async close(): Promise<void> {
    await this.inner.close();
    if (this.ownsCapture) this.capture.close();
    else this.capture.flush();
  }
}

/**
 * A link to a QEMU virtual machine over `-netdev stream` (QEMU 7.2+) or the older
 * `-netdev socket,listen=/connect=`: a byte stream (unix or TCP socket) where each Ethernet frame
 * is preceded by its length as a 32-bit big-endian number (QEMU net/stream.c, net_fill_rstate).
 *
 * Either side may listen:
 *   qemu ... -netdev stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/ns.sock -device virtio-net,netdev=n0
 *     with `QemuStreamServer.listen({ path: "/tmp/ns.sock" })` on our side, or
 *   qemu ... -netdev stream,id=n0,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=5555
 *     with `QemuStreamLink.connect({ host: "127.0.0.1", port: 5555 })`.
 *
 * Frames are reassembled across chunk boundaries (a length prefix or a frame may be split
 * anywhere). A length above `maxFrameLen` means the stream is out of step: the link closes with
 * an error rather than guess.
 */
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { BaseLink, sendRange } from "./link.ts";

/** QEMU's largest frame on a stream netdev (NET_BUFSIZE: 4096 + 65536). */
export const QEMU_MAX_FRAME = 4096 + 65536;

/** Where the stream is: a unix socket path, or a TCP host and port. */
export type QemuAddress = { path: string } | { host?: string; port: number };

/** Options of a QEMU stream link. */
export interface QemuLinkOptions {
  /** Link name for logs and captures (default "qemu0"). */
  name?: string;
  /** Largest frame accepted in either direction (default `QEMU_MAX_FRAME`). */
  maxFrameLen?: number;
  /**
   * Frames kept while paused (default 1024). `pause()` pauses the socket too, so only the frames
   * of the last chunk queue up, and the peer is pushed back by the socket's flow control.
   */
  queueLimit?: number;
}

/**
 * Splits a length-prefixed byte stream into frames. `push` takes chunks of any size; each complete
 * frame goes to `onFrame` as fresh memory. Returns an error message when a length is out of range
 * (the decoder is then stuck: the stream cannot be resynchronised).
 */
export class QemuFrameDecoder {
  private readonly head = new Uint8Array(4);
  private headLen = 0;
  private frame: Uint8Array | null = null;
  private frameLen = 0;
  private error: string | null = null;

  constructor(
    private readonly maxFrameLen: number,
    private readonly onFrame: (frame: Uint8Array) => void,
  ) {}

  /** Bytes of an incomplete length prefix or frame held between chunks. */
  get pending(): number {
    return this.frame === null ? this.headLen : 4 + this.frameLen;
  }

  push(chunk: Uint8Array): string | null {
    if (this.error !== null) return this.error;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.frame === null) {
        // Fast path: a whole prefix in the chunk.
        if (this.headLen === 0 && n - i >= 4) {
          const len = ((chunk[i] << 24) | (chunk[i + 1] << 16) | (chunk[i + 2] << 8) | chunk[i + 3]) >>> 0;
          i += 4;
          if (!this.begin(len)) return this.error;
          continue;
        }
        this.head[this.headLen++] = chunk[i++];
        if (this.headLen === 4) {
          const h = this.head;
          const len = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
          this.headLen = 0;
          if (!this.begin(len)) return this.error;
        }
        continue;
      }
      const want = this.frame.length - this.frameLen;
      const take = Math.min(want, n - i);
      this.frame.set(chunk.subarray(i, i + take), this.frameLen);
      this.frameLen += take;
      i += take;
      if (this.frameLen === this.frame.length) this.emit();
    }
    return null;
  }

  private begin(len: number): boolean {
    if (len > this.maxFrameLen) {
      this.error = `frame length ${len} exceeds ${this.maxFrameLen}: the stream is out of step`;
      return false;
    }
    this.frame = new Uint8Array(len);
    this.frameLen = 0;
    // A zero-length frame is complete at once (QEMU never sends one, but it is well-formed).
    if (len === 0) this.emit();
    return true;
  }

  private emit(): void {
    const f = this.frame!;
    this.frame = null;
    this.frameLen = 0;
    this.onFrame(f);
  }
}

/** Prefix `bytes[off, off + len)` with its 32-bit big-endian length, in one new buffer. */
export function qemuFrame(bytes: Uint8Array, off: number, len: number): Uint8Array {
  const out = new Uint8Array(4 + len);
  out[0] = len >>> 24;
  out[1] = (len >>> 16) & 0xff;
  out[2] = (len >>> 8) & 0xff;
  out[3] = len & 0xff;
  out.set(bytes.subarray(off, off + len), 4);
  return out;
}

/** A `Link` over a connected stream socket speaking QEMU's length-prefixed framing. */
export class QemuStreamLink extends BaseLink {
  private readonly decoder: QemuFrameDecoder;
  private readonly closing: Promise<void>;
  private closeError: Error | null = null;
  private closedByUs = false;

  /** Wrap an already connected socket. */
  constructor(
    readonly socket: Socket,
    options: QemuLinkOptions = {},
  ) {
    const max = options.maxFrameLen ?? QEMU_MAX_FRAME;
    super(options.name ?? "qemu0", max, options.queueLimit ?? 1024);
    this.decoder = new QemuFrameDecoder(max, (f) => this.deliver(f));
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      const err = this.decoder.push(chunk);
      if (err !== null) socket.destroy(new Error(`qemu link ${this.name}: ${err}`));
    });
    this.closing = new Promise((resolve) => {
      socket.once("close", () => {
        this.finish(this.closeError ?? (this.closedByUs ? null : new Error(`qemu link ${this.name}: peer closed`)));
        resolve();
      });
    });
    socket.on("error", (err) => {
      this.closeError ??= err;
    });
  }

  /** Connect to a QEMU listening with `-netdev stream,server=on,...`. */
  static connect(address: QemuAddress, options: QemuLinkOptions = {}): Promise<QemuStreamLink> {
    return new Promise((resolve, reject) => {
      const s = "path" in address ? netConnect(address.path) : netConnect(address.port, address.host ?? "127.0.0.1");
      const fail = (err: Error) => reject(connectError(address, err));
      s.once("error", fail);
      s.once("connect", () => {
        s.off("error", fail);
        resolve(new QemuStreamLink(s, options));
      });
    });
  }

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    if (this.closed || n > this.maxFrameLen || this.socket.destroyed) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
    // The socket queues what the kernel does not take yet; write() copies nothing, so hand it
    // a buffer of our own.
    this.socket.write(qemuFrame(bytes, o, n));
  }

  /** Bytes written but not yet taken by the kernel (the socket's own queue). */
  get writeQueueBytes(): number {
    return this.socket.writableLength;
  }

  override pause(): void {
    super.pause();
    this.socket.pause();
  }

  override resume(): void {
    super.resume();
    if (!this.closed) this.socket.resume();
  }

  override close(): Promise<void> {
    if (!this.closed && !this.socket.destroyed) {
      this.closedByUs = true;
      // Flush what is queued, then close without waiting for the peer's side.
      this.socket.end(() => this.socket.destroy());
    }
    return this.closing;
  }
}

/**
 * Listens for QEMU's `-netdev stream,server=off,...` connection. `accept()` resolves with the next
 * connection as a link.
 */
export class QemuStreamServer {
  private readonly waiting: ((link: QemuStreamLink) => void)[] = [];
  private readonly ready: QemuStreamLink[] = [];

  private constructor(
    readonly server: Server,
    options: QemuLinkOptions,
  ) {
    server.on("connection", (s) => {
      const link = new QemuStreamLink(s, options);
      const w = this.waiting.shift();
      if (w !== undefined) w(link);
      else this.ready.push(link);
    });
  }

  /** Listen on a unix socket path or a TCP port (port 0 picks one: see `address()`). */
  static listen(address: QemuAddress, options: QemuLinkOptions = {}): Promise<QemuStreamServer> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      const fail = (err: Error) => reject(connectError(address, err, "listen"));
      server.once("error", fail);
      const done = () => {
        server.off("error", fail);
        resolve(new QemuStreamServer(server, options));
      };
      if ("path" in address) server.listen(address.path, done);
      else server.listen(address.port, address.host ?? "127.0.0.1", done);
    });
  }

  /** The bound address: a path, or `{ address, port }` for TCP. */
  address(): string | AddressInfo {
    const a = this.server.address();
    if (a === null) throw new Error("qemu stream server is not listening");
    return a;
  }

  /** The next connection (one already waiting, or the next to arrive). */
  accept(): Promise<QemuStreamLink> {
    const r = this.ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Stop listening (links already accepted stay open). */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function connectError(address: QemuAddress, err: Error, what = "connect"): Error {
  const where = "path" in address ? address.path : `${address.host ?? "127.0.0.1"}:${address.port}`;
  const e = new Error(`qemu link: cannot ${what} ${where}: ${err.message}`);
  (e as Error & { code?: string }).code = (err as Error & { code?: string }).code;
  return e;
}

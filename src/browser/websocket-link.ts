/**
 * WebSocketLink: a link whose frames are binary WebSocket messages, one Ethernet frame per message,
 * both ways, with no prefix (the convention of v86's network relay and websockproxy, and of
 * `netstack serve --ws`). In a tab it uses the browser's WebSocket; in Node the `ws` package (or
 * Node's own WebSocket where present), or any constructor passed in `options.WebSocket`.
 *
 * Sending copies the frame into the message. When the socket's send buffer holds more than
 * `maxBufferedAmount` bytes, frames are dropped and counted (`stats.txDropped`), as a full NIC
 * queue drops them: TCP recovers, and memory stays bounded. Text messages, and binary messages
 * shorter than an Ethernet header or longer than `maxFrameLen`, are dropped and counted
 * (`stats.rxDropped`). RFC 6455 (WebSocket) is the transport; no netstack framing is added.
 */
import { QueueLink, sendRange } from "../host/link.ts";
import type { HostPlatform } from "../host/platform.ts";
import { browserPlatform } from "./platform.ts";

/** The part of the WebSocket interface the link uses (browsers', `ws`'s and undici's agree on it). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketLinkOptions {
  /** The WebSocket class (default: the global one, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
  protocols?: string | string[];
  name?: string;
  /** Largest frame carried, Ethernet header included (default 1514). */
  maxFrameLen?: number;
  /** Received frames queued while paused (default 1024). */
  queueLimit?: number;
  /** Drop frames to send while the socket buffers more than this many bytes (default 1 MiB). */
  maxBufferedAmount?: number;
  /** Reject `connect` if the socket is not open within this many ms (default 10000). */
  timeoutMs?: number;
}

const OPEN = 1;
const ETHERNET_HEADER = 14;

/** Load the WebSocket class: the option, the global, or the `ws` package (Node). */
async function webSocketClass(o: WebSocketLinkOptions): Promise<WebSocketConstructor> {
  if (o.WebSocket !== undefined) return o.WebSocket;
  const g = globalThis as { WebSocket?: WebSocketConstructor };
  if (typeof g.WebSocket === "function") return g.WebSocket;
  // Node without a global WebSocket: the `ws` package, loaded only here (the name is computed so
  // bundlers leave it alone and the browser bundle keeps no bare import).
  const name = ["w", "s"].join("");
  try {
    const mod = (await import(name)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
    const C = mod.WebSocket ?? mod.default;
    if (typeof C === "function") return C;
  } catch {}
  throw Object.assign(
    new Error("WebSocketLink: no WebSocket here (install the ws package or pass options.WebSocket)"),
    {
      code: "ERR_NO_WEBSOCKET",
    },
  );
}

export class WebSocketLink extends QueueLink {
  private readonly maxBuffered: number;
  /** close() was called: the socket's close event is ours, not an error. */
  private closing = false;

  constructor(
    readonly socket: WebSocketLike,
    options: WebSocketLinkOptions = {},
    platform: HostPlatform = browserPlatform(),
  ) {
    super(platform, options.name ?? "ws0", options.maxFrameLen ?? 1514, options.queueLimit ?? 1024);
    this.maxBuffered = options.maxBufferedAmount ?? 1024 * 1024;
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => {
      const d = ev.data;
      let f: Uint8Array | null = null;
      if (d instanceof ArrayBuffer) f = new Uint8Array(d);
      else if (ArrayBuffer.isView(d)) f = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      if (f === null || f.length < ETHERNET_HEADER || f.length > this.maxFrameLen) {
        this.stats.rxDropped++;
        return;
      }
      this.deliver(f);
    };
    socket.onclose = (ev) => {
      this.finish(this.closing ? null : new Error(`WebSocket closed (code ${ev?.code ?? "?"})`));
    };
    socket.onerror = () => {};
  }

  /** Open a WebSocket to `url` and resolve with the link once it is open. */
  static async connect(url: string, options: WebSocketLinkOptions = {}): Promise<WebSocketLink> {
    const C = await webSocketClass(options);
    const ws = new C(url, options.protocols);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        ws.onopen = ws.onerror = ws.onclose = null;
        try {
          ws.close();
        } catch {}
        reject(Object.assign(new Error(`WebSocketLink: ${url}: ${why}`), { code: "ECONNREFUSED" }));
      };
      const timer = setTimeout(() => fail("timed out"), options.timeoutMs ?? 10_000);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      ws.onerror = () => fail("connection failed");
      ws.onclose = (ev) => fail(`closed (code ${ev?.code ?? "?"})`);
    });
    return new WebSocketLink(ws, options);
  }

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    const ws = this.socket;
    if (this.closed || ws.readyState !== OPEN || n > this.maxFrameLen || ws.bufferedAmount > this.maxBuffered) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
    ws.send(bytes.slice(o, o + n));
  }

  override close(): Promise<void> {
    if (!this.closed) {
      this.closing = true;
      try {
        this.socket.close(1000);
      } catch {}
      this.finish(null);
    }
    return Promise.resolve();
  }
}

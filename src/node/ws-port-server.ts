/**
 * WebSocket clients as ports of the learning switch: `netstack gateway --ws PORT` (issue 15) and
 * `serve --ws PORT` (issue 16). The server listens on 127.0.0.1:PORT and accepts any path; each
 * binary message is exactly one Ethernet frame, both ways, with no prefix or header (the convention
 * of v86's network relay and websockproxy). RFC 6455 framing is the `ws` package's.
 *
 * Bounds: a message larger than `maxFrameLen` closes its client (1009, "message too big": ws's
 * maxPayload); text messages carry no frame and are counted and dropped; the switch's `maxPorts`
 * bounds the clients (one more is closed with 1013, "try again later"); a client whose socket does
 * not drain holds at most `maxQueueBytes` (further frames for it are dropped, counted in its
 * `txDropped`).
 */
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import type { LearningSwitch, SwitchPort } from "../gateway/switch.ts";
import { BaseLink, sendRange } from "./link.ts";
import { type AttachOptions, attachLink } from "./switch-ports.ts";

/** Largest frame by default: a 65535-byte IP packet in an Ethernet frame (VLAN tag included). */
export const WS_MAX_FRAME = 65535 + 18;

/** One WebSocket client as a link: binary messages are frames. */
export class WebSocketServerLink extends BaseLink {
  /** Text messages received (no frame in them: dropped). */
  textMessages = 0;
  private readonly done: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    name: string,
    maxFrameLen = WS_MAX_FRAME,
    queueLimit = 1024,
  ) {
    super(name, maxFrameLen, queueLimit);
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.textMessages++;
        this.stats.rxDropped++;
        return;
      }
      // ws hands each message over as a Buffer of its own: the frame is ours to keep.
      this.deliver(new Uint8Array(data.buffer, data.byteOffset, data.length));
    });
    ws.on("error", () => {});
    this.done = new Promise((resolve) => {
      ws.once("close", (code: number) => {
        this.finish(code === 1000 || code === 1001 || code === 1005 ? null : new Error(`websocket closed (${code})`));
        resolve();
      });
    });
  }

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    if (this.closed || n > this.maxFrameLen || this.ws.readyState !== 1) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
    // ws may keep the buffer queued after send() returns: give it a copy of its own.
    this.ws.send(bytes.slice(o, o + n), { binary: true });
  }

  /** Bytes handed to the socket and not yet written. */
  get writeQueueBytes(): number {
    return this.ws.bufferedAmount;
  }

  override pause(): void {
    super.pause();
    this.ws.pause();
  }

  override resume(): void {
    super.resume();
    if (!this.closed) this.ws.resume();
  }

  override close(): Promise<void> {
    if (this.ws.readyState === 0 || this.ws.readyState === 1) this.ws.close(1001, "going away");
    const t = setTimeout(() => this.ws.terminate(), 1000);
    return this.done.finally(() => clearTimeout(t));
  }
}

/** Options of `WebSocketPortServer.listen`. */
export interface WebSocketPortServerOptions extends AttachOptions {
  /** TCP port (0: any free one; see `address()`). */
  port: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Largest frame (message) accepted (default `WS_MAX_FRAME`). */
  maxFrameLen?: number;
  /** Called for each client attached (or refused: `port` null) — for logs. */
  onConnection?(port: SwitchPort | null, remote: string): void;
}

/** A WebSocket server whose clients are ports of a switch. */
export class WebSocketPortServer {
  private readonly links = new Set<WebSocketServerLink>();
  private count = 0;
  private closed = false;

  private constructor(
    private readonly sw: LearningSwitch,
    readonly server: WebSocketServer,
    private readonly options: WebSocketPortServerOptions,
  ) {
    server.on("connection", (ws, req) => this.accept(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`));
  }

  /** Listen; rejects with the listen error (`code` EADDRINUSE, EACCES, ...). */
  static listen(sw: LearningSwitch, options: WebSocketPortServerOptions): Promise<WebSocketPortServer> {
    return new Promise((resolve, reject) => {
      const server = new WebSocketServer({
        host: options.host ?? "127.0.0.1",
        port: options.port,
        maxPayload: options.maxFrameLen ?? WS_MAX_FRAME,
        perMessageDeflate: false,
        clientTracking: false,
      });
      const fail = (e: Error) => {
        server.close();
        reject(e);
      };
      server.once("error", fail);
      server.once("listening", () => {
        server.off("error", fail);
        server.on("error", () => {});
        resolve(new WebSocketPortServer(sw, server, options));
      });
    });
  }

  /** The bound address. */
  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Clients attached now. */
  get connections(): number {
    return this.links.size;
  }

  /** Stop listening and close every client (their ports are removed). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const links = [...this.links];
    this.links.clear();
    await Promise.all([
      new Promise<void>((resolve) => this.server.close(() => resolve())),
      ...links.map((l) => l.close()),
    ]);
  }

  private accept(ws: WebSocket, remote: string): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const link = new WebSocketServerLink(ws, `ws:${remote}#${this.count++}`, this.options.maxFrameLen ?? WS_MAX_FRAME);
    let port: SwitchPort | null = null;
    try {
      port = attachLink(this.sw, link, { maxQueueBytes: this.options.maxQueueBytes });
    } catch {
      // The switch is full (counted there).
      ws.close(1013, "switch full");
    }
    this.options.onConnection?.(port, remote);
    if (port === null) return;
    this.links.add(link);
    link.onClose(() => this.links.delete(link));
  }
}

/**
 * Node ports of the learning switch (src/gateway/switch.ts), as `netstack gateway` (issue 15) and
 * `serve --ws` (issue 16) use them:
 *
 * - `attachLink(sw, link)`: any `Link` (a QEMU stream connection, a TAP device, a WebSocket client)
 *   as a port: its frames go into the switch, the switch's frames for it go to `link.send`, and
 *   the port is removed (its stations forgotten) when the link closes. A link whose write queue is
 *   over `maxQueueBytes` drops what the switch sends it (counted in the link's `txDropped`), as a
 *   full switch port does: the queue of a slow reader stays bounded.
 * - `SwitchLink`: the switch seen from a stack: a `Link` to hand to `NodeStack.addLink`, so the
 *   gateway's own stack is one more port. Frames for the stack are copied and delivered on a later
 *   turn (never from inside the stack's own send: the core is not re-entered).
 * - `QemuPortServer`: listens for QEMU's `-netdev stream,server=off,...` (unix socket or TCP; the
 *   framing is src/node/qemu-link.ts's): each connection is a port.
 * - `WebSocketPortServer` (src/node/ws-port-server.ts): each WebSocket client is a port.
 */

import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { connect as netConnect } from "node:net";
import type { LearningSwitch, SwitchPort } from "../gateway/switch.ts";
import { BaseLink, FrameSlab, type Link, sendRange } from "./link.ts";
import { QEMU_MAX_FRAME, type QemuAddress, type QemuStreamLink, QemuStreamServer } from "./qemu-link.ts";

/** Default bound of a port's write queue: beyond it, frames for the port are dropped. */
export const DEFAULT_PORT_QUEUE_BYTES = 4 * 1024 * 1024;

/** A link that can tell how many bytes wait to be written (QemuStreamLink, WebSocketServerLink). */
interface QueuedLink {
  readonly writeQueueBytes: number;
}

/** Options of `attachLink`. */
export interface AttachOptions {
  /** The port's name (default the link's). */
  name?: string;
  /** Drop frames for the port while this many bytes wait in the link's write queue (default 4 MiB). */
  maxQueueBytes?: number;
}

/**
 * Make `link` a port of `sw`. Throws the switch's EMFILE error when it has no room (the caller
 * closes the link). The link lends its frames: the switch forwards them before the callback returns,
 * and every port's `send` copies.
 */
export function attachLink(sw: LearningSwitch, link: Link, options: AttachOptions = {}): SwitchPort {
  const max = options.maxQueueBytes ?? DEFAULT_PORT_QUEUE_BYTES;
  const queued = "writeQueueBytes" in link ? (link as unknown as QueuedLink) : null;
  const port = sw.addPort(options.name ?? link.name, (bytes, off, len) => {
    if (queued !== null && queued.writeQueueBytes > max) {
      link.stats.txDropped++;
      return;
    }
    link.send(bytes, off, len);
  });
  link.lendFrames?.(true);
  link.onFrames((frames) => {
    for (let i = 0; i < frames.length; i++) port.input(frames[i], 0, frames[i].length);
  });
  link.onClose(() => port.remove());
  return port;
}

/** Options of `SwitchLink`. */
export interface SwitchLinkOptions {
  /** Port and link name (default "switch"). */
  name?: string;
  /** Largest frame carried either way (default 1514: MTU 1500). */
  maxFrameLen?: number;
  /** Frames kept for the stack while it is paused or busy (default 1024; more are dropped). */
  queueLimit?: number;
}

/** The switch as the link of one stack device: what the stack sends enters the switch on `port`. */
export class SwitchLink extends BaseLink {
  readonly port: SwitchPort;
  private readonly slab = new FrameSlab();

  constructor(sw: LearningSwitch, options: SwitchLinkOptions = {}) {
    super(options.name ?? "switch", options.maxFrameLen ?? 1514, options.queueLimit ?? 1024);
    this.port = sw.addPort(this.name, (bytes, off, len) => {
      if (this.closed || len > this.maxFrameLen) {
        this.stats.rxDropped++;
        return;
      }
      this.deliver(this.slab.copy(bytes, off, len));
    });
  }

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    if (this.closed || n > this.maxFrameLen) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
    this.port.input(bytes, o, n);
  }

  override close(): Promise<void> {
    this.port.remove();
    return super.close();
  }
}

/** Options of `QemuPortServer.listen`. */
export interface QemuPortServerOptions extends AttachOptions {
  /** Largest frame accepted from QEMU (default QEMU's own bound, 69632). */
  maxFrameLen?: number;
  /** Called for each connection attached (or refused: `port` null) — for logs. */
  onConnection?(port: SwitchPort | null, link: QemuStreamLink): void;
}

/** `--qemu unix:PATH` or `--qemu tcp:HOST:PORT` as listening sockets whose connections are ports. */
export class QemuPortServer {
  private readonly links = new Set<QemuStreamLink>();
  private count = 0;
  private closed = false;

  private constructor(
    private readonly sw: LearningSwitch,
    readonly server: QemuStreamServer,
    private readonly label: string,
    private readonly options: QemuPortServerOptions,
  ) {
    void this.acceptLoop();
  }

  /**
   * Listen on a unix socket (a stale socket file nobody listens on is replaced) or a TCP address.
   * Rejects with the listen error (`code` EADDRINUSE, EACCES, ...).
   */
  static async listen(
    sw: LearningSwitch,
    address: QemuAddress,
    options: QemuPortServerOptions = {},
  ): Promise<QemuPortServer> {
    if ("path" in address) await removeStaleSocket(address.path);
    const server = await QemuStreamServer.listen(address, { maxFrameLen: options.maxFrameLen ?? QEMU_MAX_FRAME });
    const label = "path" in address ? `qemu:${address.path}` : `qemu:${address.host ?? "127.0.0.1"}:${address.port}`;
    return new QemuPortServer(sw, server, label, options);
  }

  /** Connections attached now. */
  get connections(): number {
    return this.links.size;
  }

  /** The bound address: a path, or `{ address, port }` for TCP. */
  address(): ReturnType<QemuStreamServer["address"]> {
    return this.server.address();
  }

  /** Stop listening and close every connection (their ports are removed). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const links = [...this.links];
    this.links.clear();
    await Promise.all([this.server.close(), ...links.map((l) => l.close())]);
  }

  private async acceptLoop(): Promise<void> {
    while (!this.closed) {
      const link = await this.server.accept();
      if (this.closed) {
        void link.close();
        return;
      }
      let port: SwitchPort | null = null;
      try {
        port = attachLink(this.sw, link, { ...this.options, name: `${this.label}#${this.count++}` });
      } catch {
        // The switch is full (counted there): refuse the connection.
        void link.close();
      }
      this.options.onConnection?.(port, link);
      if (port === null) continue;
      this.links.add(link);
      link.onClose(() => this.links.delete(link));
    }
  }
}

/**
 * A unix socket file left by a process that is gone would make listen fail with EADDRINUSE: remove
 * it when nothing accepts connections on it. A live listener, or a file that is not a socket, is
 * left alone (listen then reports it).
 */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return;
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = netConnect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (!live) {
    try {
      unlinkSync(path);
    } catch {}
  }
}

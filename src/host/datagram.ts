/**
 * UDP (RFC 768) as WHATWG streams, over the core's `UdpLayer`: `readable` yields
 * `{ data, remoteAddress, remotePort }` messages, `send(data, address, port)` (or the `writable` of
 * the same messages) sends one datagram each. The shape of the Direct Sockets API's UDPSocket.
 *
 * Bound once at open: `port` (0: ephemeral) on `address` (default: every address of both IP
 * versions, one core socket per version on the same port).
 *
 * Backpressure: datagrams are taken from the core socket's queue only while the readable's queue
 * (`readableHighWaterMark` messages) has room; beyond that they wait in the core's bounded receive
 * queue and are dropped there when it is full (counted as `udp.rx.queue-full`), as a kernel's
 * socket buffer does. Sending never queues: a datagram goes out or its error is reported.
 */
import type { IpAddr, SocketId, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import { type CodedError, codedError } from "./errors.ts";
import type { HostStack } from "./host-stack.ts";

export interface DatagramMessage {
  data: Uint8Array;
  remoteAddress: string;
  remotePort: number;
}

export interface DatagramOptions {
  /** Local port (default 0: ephemeral). */
  port?: number;
  /** Local address (default: every address). An IPv4 or IPv6 literal. */
  address?: string;
  /** Only this IP version when no address is given (default: both). */
  family?: 4 | 6;
  /** Messages the readable queues before leaving datagrams in the core socket (default 64). */
  readableHighWaterMark?: number;
  /** Allow sending to broadcast addresses (SO_BROADCAST). */
  broadcast?: boolean;
}

/** A UDP socket of a HostStack. */
export class DatagramSocket {
  readonly readable: ReadableStream<DatagramMessage>;
  readonly writable: WritableStream<DatagramMessage>;
  /** The bound port. */
  readonly localPort: number;
  /** The bound address ("::" / "0.0.0.0" when every address). */
  readonly localAddress: string;
  /** Resolves once closed. */
  readonly closed: Promise<void>;
  private readonly ids = new Map<4 | 6, SocketId>();
  private ctrl!: ReadableStreamDefaultController<DatagramMessage>;
  private done = false;
  private resolveClosed!: () => void;

  constructor(
    readonly host: HostStack,
    options: DatagramOptions = {},
  ) {
    const udp = host.stack.udp;
    let versions: (4 | 6)[];
    let addr: IpAddr | null = null;
    if (options.address !== undefined) {
      addr = parseIp(options.address);
      if (addr === null) throw codedError("EINVAL", "bind", options.address, options.port);
      versions = [typeof addr === "number" ? 4 : 6];
    } else versions = options.family === undefined ? [6, 4] : [options.family];
    let port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw codedError("EINVAL", "bind", options.address, port);
    for (const v of versions) {
      const I = (v === 4 ? Ipv4 : Ipv6) as unknown as IpVersion<IpAddr>;
      const id = udp.open(I, { broadcast: options.broadcast });
      if (typeof id === "string") {
        this.closeIds();
        throw codedError(id, "socket");
      }
      this.ids.set(v, id);
      const a = addr ?? I.unspecified;
      const e = udp.bind(id, a, port);
      if (e !== null) {
        this.closeIds();
        throw codedError(e, "bind", formatIp(a), port);
      }
      port = udp.address(id)?.port ?? port;
    }
    this.localPort = port;
    this.localAddress = addr !== null ? formatIp(addr) : versions[0] === 6 ? "::" : "0.0.0.0";
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.readable = new ReadableStream<DatagramMessage>(
      {
        start: (c) => {
          this.ctrl = c;
        },
        pull: () => this.drain(),
        cancel: () => this.close(),
      },
      new CountQueuingStrategy({ highWaterMark: options.readableHighWaterMark ?? 64 }),
    );
    this.writable = new WritableStream<DatagramMessage>({
      write: (m) => this.send(m.data, m.remoteAddress, m.remotePort),
    });
    for (const id of this.ids.values()) host.onSocket(id, this.onCoreEvent);
    host.track(this);
  }

  /** Send one datagram to `address`:`port`. Rejects with a coded error (EMSGSIZE, ENETUNREACH, ...). */
  send(data: Uint8Array, address: string, port: number): Promise<void> {
    const e = this.sendNow(data, address, port);
    return e === null ? Promise.resolve() : Promise.reject(e);
  }

  /** Close: the readable ends; later sends fail. */
  close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      try {
        this.ctrl.close();
      } catch {}
      this.closeIds();
      this.host.untrack(this);
      this.resolveClosed();
    }
    return this.closed;
  }

  destroy(): void {
    void this.close();
  }

  private sendNow(data: Uint8Array, address: string, port: number): CodedError | null {
    if (this.done) return codedError("EBADF", "send", address, port);
    if (!(data instanceof Uint8Array))
      return Object.assign(new TypeError("send: data must be a Uint8Array"), { code: "EINVAL" });
    const text = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
    const a = parseIp(text);
    if (a === null || !Number.isInteger(port) || port <= 0 || port > 0xffff) {
      return codedError("EINVAL", "send", address, port);
    }
    const id = this.ids.get(typeof a === "number" ? 4 : 6);
    if (id === undefined) return codedError("EAFNOSUPPORT", "send", address, port);
    const e = this.host.stack.udp.sendTo(id, data, a, port);
    return e === null ? null : codedError(e, "send", address, port);
  }

  private closeIds(): void {
    for (const id of this.ids.values()) {
      this.host.offSocket(id);
      this.host.stack.udp.close(id);
    }
    this.ids.clear();
  }

  private readonly onCoreEvent = (ev: StackEvent): void => {
    if (ev.type === "readable") this.drain();
    // ICMP errors for datagrams sent (port unreachable, ...) are not delivered: UDP is unconnected here.
  };

  private drain(): void {
    if (this.done) return;
    const udp = this.host.stack.udp;
    for (const id of this.ids.values()) {
      while ((this.ctrl.desiredSize ?? 0) > 0) {
        const d = udp.recv(id);
        if (d === null) break;
        this.ctrl.enqueue({ data: d.data, remoteAddress: formatIp(d.address), remotePort: d.port });
      }
    }
  }
}

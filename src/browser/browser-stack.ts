/**
 * BrowserStack: the core Stack with browser bindings (HostBindings on `browserPlatform()`:
 * `performance.now()`, one `setTimeout`, `crypto.getRandomValues`) and the web-shaped APIs over it:
 *
 * ```ts
 * const stack = new BrowserStack();
 * stack.addLink(await WebSocketLink.connect("ws://127.0.0.1:8080/"), { addresses: ["10.0.2.15/24"] });
 * stack.gateway("10.0.2.2");
 * await stack.ready();
 * const res = await stack.fetch("http://10.0.2.2/bytes/1000");           // a WHATWG Response
 * const sock = stack.connect({ host: "10.0.2.2", port: 7 });               // { readable, writable, ... }
 * stack.listen(80, (conn) => conn.readable.pipeTo(conn.writable));          // a TCP server
 * const udp = stack.openDatagram({ port: 5353 });                          // UDP as streams
 * ```
 *
 * Host names: IP literals and "localhost" without a resolver; pass `lookup` to resolve others.
 */

import { type DatagramOptions, DatagramSocket } from "../host/datagram.ts";
import type { HostStackOptions } from "../host/host-stack.ts";
import { HostStack } from "../host/host-stack.ts";
import { type LinkPairOptions, linkPair, type PairLink } from "../host/link.ts";
import type { HostPlatform } from "../host/platform.ts";
import { type ConnectOptions, type ListenOptions, type LookupFn, TcpListener, TcpSocket } from "../host/tcp-socket.ts";
import { HttpClient, type HttpClientOptions } from "../http/client.ts";
import { browserPlatform } from "./platform.ts";

export interface BrowserStackOptions extends HostStackOptions {
  /** Resolves host names to IP literals (connect and fetch). Default: literals and "localhost" only. */
  lookup?: LookupFn;
  /** The HTTP client's pool bounds (idle connections per origin and in all, idle timeout). */
  http?: Omit<HttpClientOptions, "dial" | "timers">;
  /** The host platform (default: this realm's browser globals). */
  platform?: HostPlatform;
}

export class BrowserStack extends HostStack {
  /** The HTTP/1.1 client behind `fetch` (its pool and counters). */
  readonly http: HttpClient;
  private readonly lookup: LookupFn | undefined;

  constructor(options: BrowserStackOptions = {}) {
    const platform = options.platform ?? browserPlatform();
    super(platform, options);
    this.lookup = options.lookup;
    this.http = new HttpClient({
      ...options.http,
      dial: (host, port, signal) => this.connect({ host, port, signal, noDelay: true }),
      timers: { setTimer: platform.setTimer, clearTimer: platform.clearTimer },
    });
  }

  /**
   * Open a TCP connection. Returns at once; `opened` resolves once established (or rejects with a
   * coded error: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ...). Accepts "host:port" too.
   */
  connect(options: ConnectOptions | string): TcpSocket {
    let o: ConnectOptions;
    if (typeof options === "string") {
      const i = options.lastIndexOf(":");
      o = { host: options.slice(0, i), port: Number(options.slice(i + 1)) };
    } else o = options;
    return TcpSocket.connect(this, o, this.lookup);
  }

  /**
   * Listen on a TCP port (0: ephemeral; `listener.port` tells which) on every address, or on
   * `host`. Throws a coded error (EADDRINUSE, EADDRNOTAVAIL) at once.
   */
  listen(port: number | ListenOptions, onConnection: (socket: TcpSocket) => void): TcpListener {
    return new TcpListener(this, typeof port === "number" ? { port } : port, onConnection);
  }

  /** `fetch` over this stack's TCP (HTTP/1.1, http: URLs). */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return this.http.fetch(input, init);
  }

  /** A UDP socket as streams. Throws a coded error (EADDRINUSE, ...) at once. */
  openDatagram(options: DatagramOptions = {}): DatagramSocket {
    return new DatagramSocket(this, options);
  }

  override async close(): Promise<void> {
    this.http.closeIdle();
    await super.close();
  }
}

/** Two links joined back to back in this page (two BrowserStacks in one tab, or tests). */
export function inPageLinkPair(options: LinkPairOptions = {}): [PairLink, PairLink] {
  return linkPair(browserPlatform(), options);
}

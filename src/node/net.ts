/**
 * node:net bound to a stack: `stack.net` holds `Socket`, `Stream`, `Server`, `createServer`,
 * `createConnection` / `connect`, `isIP` and the `autoSelectFamily` defaults, shaped as node:net's
 * so unmodified Node libraries (node:http client and server, node:tls) run over the stack.
 *
 * As node:net's, the constructors are callable with or without `new`, can be subclassed, and share
 * one prototype per class (`Socket.prototype` patches apply to every socket; sockets from
 * `createConnection` and from servers are `instanceof stack.net.Socket`). `net.Server.call(this,
 * options)` initializes an object built by a subclass constructor, as node:http's Server does.
 *
 * Errors are shaped like Node's (net-errors.ts). Host names go through the `lookup` option or the
 * stack's lookup (net-lookup.ts).
 */

import nodeNet from "node:net";
import type { ApiHost } from "./host.ts";
import { codeError, invalidArgType } from "./net-errors.ts";
import { Server, type ServerOptions } from "./net-server.ts";
import {
  autoSelectDefaults,
  normalizeArgs,
  normalizedArgs,
  Socket,
  type SocketOptions,
  type TcpConnectOptions,
} from "./net-socket.ts";

export { errnoOf, type NetError, netError } from "./net-errors.ts";
export type { LookupAddress, LookupCallback, LookupFunction, LookupOptions } from "./net-lookup.ts";
export type { ListenOptions, ServerOptions } from "./net-server.ts";
export { Server } from "./net-server.ts";
export type { AddressInfo, SocketOptions, TcpConnectOptions } from "./net-socket.ts";
export { Socket } from "./net-socket.ts";

/** node:net's own isIP, taken when this module loads (node:net's exports may be replaced later). */
const nodeIsIP = nodeNet.isIP;

export function isIP(input: string): 0 | 4 | 6 {
  return nodeIsIP(input) as 0 | 4 | 6;
}
export function isIPv4(input: string): boolean {
  return nodeIsIP(input) === 4;
}
export function isIPv6(input: string): boolean {
  return nodeIsIP(input) === 6;
}

type Callback = () => void;
type ConnectionListener = (socket: Socket) => void;

/** `stack.net.Socket`: a constructor callable with or without `new`. */
export interface SocketConstructor {
  new (options?: SocketOptions): Socket;
  (options?: SocketOptions): Socket;
  readonly prototype: Socket;
}

/** `stack.net.Server`: callable with or without `new`, and `Server.call(this, options)`. */
export interface ServerConstructor {
  new (options?: ServerOptions, listener?: ConnectionListener): Server;
  new (listener?: ConnectionListener): Server;
  (listener?: ConnectionListener): Server;
  // Last: what `Server.call(this, options)` is typed by.
  (options?: ServerOptions, listener?: ConnectionListener): Server;
  readonly prototype: Server;
}

/** What `stack.net` holds: node:net's functions and classes bound to one stack. */
export interface NetApi {
  Socket: SocketConstructor;
  /** node:net's legacy alias of `Socket`. */
  Stream: SocketConstructor;
  Server: ServerConstructor;
  createConnection(options: TcpConnectOptions, listener?: Callback): Socket;
  createConnection(port: number | string, host?: string, listener?: Callback): Socket;
  createConnection(port: number | string, listener?: Callback): Socket;
  connect(options: TcpConnectOptions, listener?: Callback): Socket;
  connect(port: number | string, host?: string, listener?: Callback): Socket;
  connect(port: number | string, listener?: Callback): Socket;
  createServer(listener?: ConnectionListener): Server;
  createServer(options: ServerOptions, listener?: ConnectionListener): Server;
  isIP: typeof isIP;
  isIPv4: typeof isIPv4;
  isIPv6: typeof isIPv6;
  /** Whether `connect` uses Happy Eyeballs by default (process-wide, as node:net's). Default true. */
  getDefaultAutoSelectFamily(): boolean;
  setDefaultAutoSelectFamily(value: boolean): void;
  /** The default delay between Happy Eyeballs attempts, ms. Default 250. */
  getDefaultAutoSelectFamilyAttemptTimeout(): number;
  setDefaultAutoSelectFamilyAttemptTimeout(value: number): void;
}

/** node:net bound to `stack` (NodeStack builds its `net` with this). */
export function createNet(stack: ApiHost): NetApi {
  const BoundSocket = function (this: unknown, options?: SocketOptions): Socket {
    if (new.target === undefined) return new BoundSocket(options);
    return Reflect.construct(Socket, [stack, options ?? {}], new.target) as Socket;
  } as unknown as SocketConstructor & { new (options?: SocketOptions): Socket };
  (BoundSocket as { prototype: Socket }).prototype = Socket.prototype;
  Object.setPrototypeOf(BoundSocket, Socket);

  const BoundServer = function (
    this: unknown,
    options?: ServerOptions | ConnectionListener,
    listener?: ConnectionListener,
  ): Server | undefined {
    if (new.target !== undefined) return Reflect.construct(Server, [stack, options, listener], new.target) as Server;
    // `net.Server.call(this, options)` from a subclass constructor: initialize `this`.
    if (this instanceof Server) {
      Server.init(this, stack, options, listener);
      return undefined;
    }
    return new BoundServer(options as ServerOptions, listener);
  } as unknown as ServerConstructor & { new (options?: ServerOptions, listener?: ConnectionListener): Server };
  (BoundServer as { prototype: Server }).prototype = Server.prototype;
  Object.setPrototypeOf(BoundServer, Server);

  const createConnection = (...args: unknown[]): Socket => {
    const normalized = normalizeArgs(args) as unknown as [Record<string, unknown>, Callback | null] & {
      [normalizedArgs]?: boolean;
    };
    normalized[normalizedArgs] = true;
    const opts = normalized[0];
    const s = new BoundSocket(opts as SocketOptions);
    if (opts.timeout) s.setTimeout(Number(opts.timeout));
    return (s.connect as (...a: unknown[]) => Socket)(normalized);
  };
  const createServer = (options?: ServerOptions | ConnectionListener, listener?: ConnectionListener): Server =>
    new BoundServer(options as ServerOptions, listener);
  return {
    Socket: BoundSocket,
    Stream: BoundSocket,
    Server: BoundServer,
    createConnection: createConnection as NetApi["createConnection"],
    connect: createConnection as NetApi["connect"],
    createServer: createServer as NetApi["createServer"],
    isIP,
    isIPv4,
    isIPv6,
    getDefaultAutoSelectFamily: () => autoSelectDefaults.family,
    setDefaultAutoSelectFamily(value: boolean): void {
      if (typeof value !== "boolean") throw invalidArgType("value", "boolean", value);
      autoSelectDefaults.family = value;
    },
    getDefaultAutoSelectFamilyAttemptTimeout: () => autoSelectDefaults.attemptTimeout,
    setDefaultAutoSelectFamilyAttemptTimeout(value: number): void {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 0x7fffffff) {
        throw codeError(
          "ERR_OUT_OF_RANGE",
          `The value of "value" is out of range. It must be >= 1 && <= 2147483647. Received ${String(value)}`,
          RangeError,
        );
      }
      autoSelectDefaults.attemptTimeout = Math.max(10, value);
    },
  };
}

/**
 * node:http over a stack: `stack.http.agent()` is an `http.Agent` whose connections are the
 * stack's TCP connections, for `http.request(url, { agent })`, `http.get`, and libraries that take
 * an agent. (A server: `stack.net.createServer()` and `httpServer.emit("connection", socket)` for each
 * socket, as `startServices` does.)
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import type { NetApi, TcpConnectOptions } from "./net.ts";

/** `stack.http`. */
export interface HttpApi {
  /** A new `http.Agent` (keep-alive, socket limits: `http.AgentOptions`) connecting over the stack. */
  agent(options?: http.AgentOptions): http.Agent;
}

/** An `http.Agent` whose `createConnection` is the stack's `net.createConnection`. */
export class StackAgent extends http.Agent {
  constructor(
    private readonly net: NetApi,
    options?: http.AgentOptions,
  ) {
    super(options);
  }

  /** Called by the agent for each new connection (http.Agent's hook). */
  override createConnection(options: http.ClientRequestArgs): Duplex {
    return this.net.createConnection(options as unknown as TcpConnectOptions);
  }
}

/** `stack.http` for a stack's `net`. */
export function createHttp(net: NetApi): HttpApi {
  return { agent: (options) => new StackAgent(net, options) };
}

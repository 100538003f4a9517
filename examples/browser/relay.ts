// A Node-side stand-in for `netstack serve --ws` (until the gateway's learning switch lands): a
// WebSocket server on 127.0.0.1 whose clients' binary messages (one Ethernet frame each, no prefix)
// go to a NodeStack over a memory link, and the stack's frames go back to the client. One client at
// a time (a newer client replaces the older). The NodeStack (10.0.0.1/24, fd00::1/64) runs the
// `netstack serve` services (src/node/services.ts). Used by the demo, the browser tests and the
// browser benchmark.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { memoryLinkPair } from "../../src/node/link.ts";
import { NodeStack } from "../../src/node/node-stack.ts";
import { type Services, startServices } from "../../src/node/services.ts";

export interface Relay {
  url: string;
  stack: NodeStack;
  services: Services;
  /** Frames relayed each way. */
  stats: { toStack: number; toClient: number; clients: number };
  close(): Promise<void>;
}

export interface RelayOptions {
  /** Attach to this HTTP server (WebSocket upgrades on `path`) instead of listening on a port of its own. */
  server?: Server;
  path?: string;
}

export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const [stackEnd, relayEnd] = memoryLinkPair({ names: ["srv0", "relay0"], queueLimit: 4096 });
  const stack = new NodeStack({ dad: false });
  stack.addLink(stackEnd, { addresses: ["10.0.0.1/24", "fd00::1/64"], mac: "02:00:00:00:00:01" });
  const services = await startServices(stack);
  const wss =
    options.server !== undefined
      ? new WebSocketServer({ server: options.server, path: options.path })
      : new WebSocketServer({ host: "127.0.0.1", port: 0 });
  if (options.server === undefined) await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const stats = { toStack: 0, toClient: 0, clients: 0 };
  let current: WebSocket | null = null;
  wss.on("connection", (ws) => {
    stats.clients++;
    current?.terminate();
    current = ws;
    relayEnd.onFrames((frames) => {
      for (const f of frames) {
        stats.toClient++;
        ws.send(f);
      }
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      stats.toStack++;
      relayEnd.send(data);
    });
    ws.on("close", () => {
      if (current !== ws) return;
      current = null;
      relayEnd.onFrames(null);
    });
  });
  const addr = (options.server ?? wss).address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${addr.port}${options.path ?? "/"}`,
    stack,
    services,
    stats,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // ws leaves an attached HTTP server to its owner.
      await services.close();
      await stack.close();
    },
  };
}

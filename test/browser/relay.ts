// A Node-side stand-in for `netstack serve --ws` (the gateway's switch is not here yet): a WebSocket
// server on 127.0.0.1 whose clients' binary messages (one Ethernet frame each, no prefix) go to a
// NodeStack over a memory link, and the stack's frames go back to the client. One client at a time.
// The NodeStack (10.0.0.1/24, fd00::1/64) runs the `netstack serve` services (src/node/services.ts).
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
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

export async function startRelay(): Promise<Relay> {
  const [stackEnd, relayEnd] = memoryLinkPair({ names: ["srv0", "relay0"], queueLimit: 4096 });
  const stack = new NodeStack({ dad: false });
  stack.addLink(stackEnd, { addresses: ["10.0.0.1/24", "fd00::1/64"], mac: "02:00:00:00:00:01" });
  const services = await startServices(stack);
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const stats = { toStack: 0, toClient: 0, clients: 0 };
  wss.on("connection", (ws) => {
    stats.clients++;
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
    ws.on("close", () => relayEnd.onFrames(null));
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    stack,
    services,
    stats,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await services.close();
      await stack.close();
    },
  };
}

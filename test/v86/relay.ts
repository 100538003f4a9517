/**
 * STAND-IN for the gateway's learning switch (src/gateway/switch.ts, `netstack gateway --ws`):
 * a WebSocket server on 127.0.0.1 whose one client is joined to one `Link`, frame for frame, in
 * v86's relay convention (each binary message one Ethernet frame, both ways, no prefix). Only for
 * the v86 tests until the switch lands; no learning, no second client, no DHCP.
 */
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { Link } from "../../src/node/link.ts";

export interface Relay {
  /** ws://127.0.0.1:PORT/ */
  readonly url: string;
  /** Frames relayed to the WebSocket client (the guest) and from it. */
  readonly stats: { toClient: number; fromClient: number; toClientBytes: number };
  close(): Promise<void>;
}

/** Serve `link` to one WebSocket client. */
export async function startRelay(link: Link): Promise<Relay> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const stats = { toClient: 0, fromClient: 0, toClientBytes: 0 };
  let client: WebSocket | null = null;
  link.onFrames((frames) => {
    if (client?.readyState !== WebSocket.OPEN) return;
    for (const f of frames) {
      stats.toClient++;
      stats.toClientBytes += f.length;
      client.send(f);
    }
  });
  wss.on("connection", (ws) => {
    client?.close();
    client = ws;
    ws.on("message", (data, isBinary) => {
      if (!isBinary) return;
      const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data);
      stats.fromClient++;
      link.send(frame);
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    stats,
    close: async () => {
      link.onFrames(null);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

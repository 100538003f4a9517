/**
 * STAND-IN for the gateway's learning switch (src/gateway/switch.ts, `netstack gateway --ws`):
 * a WebSocket server on 127.0.0.1 whose one client is joined to one `Link`, frame for frame, in
 * v86's relay convention (each binary message one Ethernet frame, both ways, no prefix). No
 * learning, no second client, no DHCP. Written before the switch landed; still used where exact
 * counts of the frames handed to the guest matter (the ne2k test, bench:v86) and by the example
 * page (one port for the page and its WebSocket). The virtio-net test uses the real switch.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { Link } from "../../src/node/link.ts";

export interface Relay {
  /** ws://127.0.0.1:PORT/ */
  readonly url: string;
  /** Frames relayed to the WebSocket client (the guest) and from it. */
  readonly stats: {
    toClient: number;
    toClientUnicast: number;
    toClientBroadcast: number;
    fromClient: number;
    toClientBytes: number;
  };
  close(): Promise<void>;
}

/**
 * Serve `link` to one WebSocket client: on a port of its own on 127.0.0.1, or at `path` of an HTTP
 * `server` already listening (a page and its relay on one port).
 */
export async function startRelay(link: Link, on?: { server: Server; path: string }): Promise<Relay> {
  const wss = on ? new WebSocketServer(on) : new WebSocketServer({ host: "127.0.0.1", port: 0 });
  if (!on) {
    await new Promise<void>((resolve, reject) => {
      wss.once("listening", resolve);
      wss.once("error", reject);
    });
  }
  const stats = { toClient: 0, toClientUnicast: 0, toClientBroadcast: 0, fromClient: 0, toClientBytes: 0 };
  let client: WebSocket | null = null;
  link.onFrames((frames) => {
    if (client?.readyState !== WebSocket.OPEN) return;
    for (const f of frames) {
      stats.toClient++;
      if ((f[0] & 1) === 0) stats.toClientUnicast++;
      else if (f[0] === 0xff && f[1] === 0xff && f[2] === 0xff && f[3] === 0xff && f[4] === 0xff && f[5] === 0xff) {
        stats.toClientBroadcast++;
      }
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
  const { port } = (on ? on.server.address() : wss.address()) as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}${on ? on.path : "/"}`,
    stats,
    close: async () => {
      link.onFrames(null);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * `npm run demo`: two netstack stacks in one process, joined by an in-memory Ethernet link (no
 * root needed). The server stack runs the `netstack serve` services (src/node/services.ts), among
 * them node:http's own server fed our TCP sockets; the client stack fetches `/` and
 * `/bytes/1000000` with node:http's client, through `client.http.agent()` (an `http.Agent` whose
 * connections are the client stack's). Every frame is captured into demo.pcapng (open it in Wireshark).
 */
import { get, type IncomingMessage } from "node:http";
import { memoryLinkPair } from "../src/node/link.ts";
import type { Socket } from "../src/node/net.ts";
import { NodeStack } from "../src/node/node-stack.ts";
import { PcapngCapture } from "../src/node/pcap-link.ts";
import { bytesBody, readyAlive, startServices } from "../src/node/services.ts";

const PCAP = process.argv[2] ?? "demo.pcapng";
const SERVER = { v4: "10.0.0.1", v6: "fd00::1" };
const CLIENT = { v4: "10.0.0.2", v6: "fd00::2" };

const log = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const t0 = performance.now();
  const ms = () => `${(performance.now() - t0).toFixed(1).padStart(7)} ms`;

  // 1. Two stacks on an in-memory link; both ends captured into one pcapng file.
  const [linkA, linkB] = memoryLinkPair({ names: ["server0", "client0"] });
  const capture = new PcapngCapture({ file: PCAP });
  const server = new NodeStack();
  const client = new NodeStack();
  server.addLink(capture.wrap(linkA), { addresses: [`${SERVER.v4}/24`, `${SERVER.v6}/64`], mac: "02:00:00:00:00:01" });
  client.addLink(linkB, { addresses: [`${CLIENT.v4}/24`, `${CLIENT.v6}/64`], mac: "02:00:00:00:00:02" });
  log(`${ms()}  server stack ${SERVER.v4} ${SERVER.v6}  <- memory link ->  client stack ${CLIENT.v4} ${CLIENT.v6}`);
  await Promise.all([readyAlive(server), readyAlive(client)]);
  log(`${ms()}  IPv6 duplicate address detection done on both stacks`);

  // 2. The services of `netstack serve` on the server stack.
  const services = await startServices(server, {
    onRequest: (r) => log(`${ms()}  server: ${r.remote} ${r.method} ${r.path} -> ${r.status}, ${r.bytes} body bytes`),
  });
  log(`${ms()}  server listening: ${services.listening.join(" ")}`);

  // 3. node:http's client over the client stack.
  const agent = client.http.agent({ keepAlive: true, maxSockets: 1 });
  let lastSocket: Socket | null = null;
  // The agent's sockets are the client stack's (`instanceof client.net.Socket`).
  const onSocket = (s: unknown) => {
    if (!(s instanceof client.net.Socket) || s === lastSocket) return;
    lastSocket = s;
    s.once("connect", () =>
      log(`${ms()}  client: TCP connected ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort}`),
    );
  };
  const fetch = (host: string, path: string) =>
    new Promise<{ res: IncomingMessage; body: Buffer; secs: number }>((resolve, reject) => {
      const t = performance.now();
      const req = get({ host, port: 80, path, agent }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ res, body: Buffer.concat(parts), secs: (performance.now() - t) / 1000 }));
        res.on("error", reject);
      });
      req.on("socket", onSocket).on("error", reject);
    });

  const page = await fetch(SERVER.v4, "/");
  log(
    `${ms()}  client: GET http://${SERVER.v4}/ -> ${page.res.statusCode} ${page.res.headers["content-type"]}, ` +
      `${page.body.length} bytes: ${JSON.stringify(page.body.toString().split("\n")[2])}`,
  );
  const big = await fetch(SERVER.v4, "/bytes/1000000");
  const ok = big.body.length === 1_000_000 && big.body.equals(Buffer.from(bytesBody(1_000_000)));
  log(
    `${ms()}  client: GET /bytes/1000000 -> ${big.res.statusCode}, Content-Length ${big.res.headers["content-length"]}, ` +
      `${big.body.length} bytes ${ok ? "(verified)" : "(WRONG BYTES)"} in ${(big.secs * 1000).toFixed(1)} ms = ` +
      `${((big.body.length * 8) / big.secs / 1e6).toFixed(1)} Mbit/s (same keep-alive connection)`,
  );
  const info = (lastSocket as Socket | null)?.tcpInfo();
  if (info) {
    log(
      `${ms()}  client TCP: state ${info.state}, MSS ${info.smss}, window scale ${info.wscale.join("/")}, ` +
        `SACK ${info.sack}, timestamps ${info.timestamps}, ${info.congestion} cwnd ${info.cwnd}, ` +
        `srtt ${info.srtt.toFixed(2)} ms, rto ${info.rto} ms`,
    );
  }
  const v6 = await fetch(SERVER.v6, "/bytes/1000");
  log(
    `${ms()}  client: GET http://[${SERVER.v6}]/bytes/1000 over IPv6 -> ${v6.res.statusCode}, ${v6.body.length} bytes`,
  );

  // 4. Ping both ways, and the services' and links' counters.
  const p = await client.ping(SERVER.v6, { count: 3, interval: 20 });
  log(`${ms()}  client: ping ${SERVER.v6}: ${p.received}/${p.sent} replies, avg ${p.avg.toFixed(3)} ms`);
  agent.destroy();
  await services.close();
  const s = services.stats;
  log(
    `${ms()}  server: ${s.tcpConnections} TCP connections, ${s.httpRequests} HTTP requests, ${s.httpBodyBytes} body bytes`,
  );
  log(
    `${ms()}  link: ${linkA.stats.txFrames} frames / ${linkA.stats.txBytes} bytes server->client, ` +
      `${linkB.stats.txFrames} frames / ${linkB.stats.txBytes} bytes client->server`,
  );
  await client.close();
  await server.close();
  capture.close();
  log(
    `${ms()}  wrote ${PCAP}: ${capture.packets} frames (open it in Wireshark, or: npx netstack decode ${PCAP} | head)`,
  );
  if (!ok || page.res.statusCode !== 200) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

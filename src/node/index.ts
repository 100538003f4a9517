/**
 * netstack/node: the stack with real time and real links, and Node-shaped APIs over it.
 *
 * ```ts
 * const stack = new NodeStack();
 * stack.addLink(link, { addresses: ["10.0.0.2/24", "fd00::2/64"] });
 * stack.gateway("10.0.0.1");
 * const sock = stack.net.createConnection({ host: "10.0.0.1", port: 80 });   // a node:net Socket
 * stack.net.createServer((s) => s.pipe(s)).listen(7);                         // a node:net Server
 * stack.dgram.createSocket("udp4").bind(53);                                  // a node:dgram Socket
 * await stack.ping("10.0.0.1", { count: 3 });
 * ```
 */

// The curated face of the Node side: the stack and its options, the socket and server types its
// `net` / `dgram` / `http` hand out, links and capture, errors. (Factories that take the stack's
// internal host interface, the bindings and frame decoders stay internal.)
export type { EntryPoints } from "../context.ts";
export {
  type DgramApi,
  DgramSocket,
  type DgramSocketConstructor,
  type DgramSocketOptions,
  type DgramType,
  type RemoteInfo,
} from "./dgram.ts";
export { type GatewayHost, GatewayStartError, type OpenGatewayOptions, openGateway } from "./gateway-host.ts";
export type { GsoStats } from "./gso.ts";
export { type HttpApi, StackAgent } from "./http.ts";
export {
  BaseLink,
  type FramesCallback,
  type Link,
  type LinkStats,
  MemoryLink,
  type MemoryLinkOptions,
  memoryLinkPair,
} from "./link.ts";
export {
  type AddressInfo,
  errnoOf,
  isIP,
  isIPv4,
  isIPv6,
  type ListenOptions,
  type LookupAddress,
  type LookupCallback,
  type LookupFunction,
  type LookupOptions,
  type NetApi,
  type NetError,
  netError,
  Server,
  type ServerConstructor,
  type ServerOptions,
  Socket,
  type SocketConstructor,
  type SocketOptions,
  type TcpConnectOptions,
} from "./net.ts";
export { lookupError } from "./net-lookup.ts";
export { type AddLinkOptions, NodeStack, type NodeStackOptions, randomMac } from "./node-stack.ts";
export {
  type CaptureLinkOptions,
  PcapLink,
  PcapngCapture,
  type PcapngCaptureOptions,
} from "./pcap-link.ts";
export type { PingOptions, PingReply, PingResult } from "./ping.ts";
export {
  QEMU_MAX_FRAME,
  type QemuAddress,
  type QemuLinkOptions,
  QemuStreamLink,
  QemuStreamServer,
} from "./qemu-link.ts";
export { type ServiceStats, type Services, type ServicesOptions, startServices } from "./services.ts";
export {
  type AttachOptions,
  attachLink,
  DEFAULT_PORT_QUEUE_BYTES,
  QemuPortServer,
  type QemuPortServerOptions,
  SwitchLink,
  type SwitchLinkOptions,
} from "./switch-ports.ts";
export {
  DEFAULT_OFFLOADS,
  type KeepHeapOptions,
  keepHeapMemory,
  type OffloadFramesCallback,
  type TapAvailability,
  TapError,
  TapLink,
  type TapOptions,
  tapAvailable,
} from "./tap.ts";
export { TunLink, type TunOptions } from "./tun.ts";
export { connectWeb, toWebStreams, type WebConnection } from "./web-streams.ts";
export {
  WebSocketPortServer,
  type WebSocketPortServerOptions,
  WebSocketServerLink,
  WS_MAX_FRAME,
} from "./ws-port-server.ts";

/**
 * netstack/browser: the stack in a browser tab (or a worker, or Node: the same globals), with a
 * WebSocket link and web-shaped APIs (WHATWG streams, fetch). `dist/browser/netstack.js` is this
 * module bundled into one ES module file with no imports.
 */

export type { Bindings, DeviceId, SocketId, StackEvent } from "../context.ts";
export { HostBindings } from "../host/bindings.ts";
export { type DatagramMessage, type DatagramOptions, DatagramSocket } from "../host/datagram.ts";
export { type CodedError, codedError } from "../host/errors.ts";
export { type AddLinkOptions, HostStack, type HostStackOptions } from "../host/host-stack.ts";
export {
  type FrameDirection,
  type FramesCallback,
  type Link,
  type LinkPairOptions,
  type LinkStats,
  linkPair,
  observeLink,
  PairLink,
  QueueLink,
} from "../host/link.ts";
export type { HostPlatform } from "../host/platform.ts";
export {
  type ConnectOptions,
  type ListenOptions,
  type LookupFn,
  type SocketInfo,
  TcpListener,
  TcpSocket,
} from "../host/tcp-socket.ts";
export { type Dial, HttpClient, type HttpClientOptions, type HttpConnection } from "../http/client.ts";
export { formatIp, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
export { Stack, type StackOptions } from "../stack.ts";
export { pretty } from "../wire/decode.ts";
export { BrowserStack, type BrowserStackOptions, inPageLinkPair } from "./browser-stack.ts";
export { browserPlatform } from "./platform.ts";
export {
  type WebSocketConstructor,
  type WebSocketLike,
  WebSocketLink,
  type WebSocketLinkOptions,
} from "./websocket-link.ts";

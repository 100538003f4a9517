/**
 * netstack: a user-space TCP/IP stack (the recovery_netstack / netstack3 design in TypeScript).
 *
 * The public face of the platform-neutral core: the `Stack`, its options and reports; what it
 * needs from its host (`Bindings`, `EntryPoints`) and tells it (events, timer ids); the socket
 * layers its `tcp`, `udp` and `icmpEcho` fields are, with their options; the interface a transport
 * of one's own plugs in through (`registerTransport`); packet buffers and serializers for bodies;
 * IP address helpers; and every wire format as a namespace (`wire.ipv4.Ipv4View`, ...). The
 * layers inside the Stack (devices, neighbour tables, routing tables, reassembly, path MTU, rate
 * limits) are not part of it. Node bindings live in `netstack/node`, the deterministic simulation
 * toolkit in `netstack/testing`.
 */

// ---- the stack, its host and its events ----
export type {
  AddressOrigin,
  AddressState,
  Bindings,
  DeviceId,
  EntryPoints,
  ErrorCode,
  IpAddr,
  SocketId,
  StackEvent,
  StackEventMap,
  StackEventOf,
  StackEventType,
  TimerId,
  TimerIdMap,
  TimerIdOf,
} from "./context.ts";
export { type CounterId, type Counters, counterNames } from "./counters.ts";
// ---- addresses ----
// ---- gateway ----
export {
  LearningSwitch,
  type MacEntry,
  type PortSend,
  SwitchError,
  type SwitchOptions,
  SwitchPort,
  type SwitchPortStats,
} from "./gateway/switch.ts";
export {
  formatMac,
  formatV4,
  formatV6,
  type Ipv4Addr,
  type Ipv6Addr,
  MAC_BROADCAST,
  MAC_ZERO,
  type MacAddr,
  parseMac,
  parseV4,
  parseV6,
  v4,
} from "./ip/addr.ts";
// ---- a transport of one's own ----
export type { IcmpEchoHandler } from "./ip/icmp.ts";
export type { RouterAdvertConfig } from "./ip/ndp.ts";
export type { RouteError } from "./ip/route.ts";
export type {
  IcmpErrorInfo,
  IpRxInfo,
  IpSendError,
  IpSender,
  IpSendOptions,
  TransportProtocol,
} from "./ip/transport-api.ts";
export {
  formatIp,
  type IpVersion,
  Ipv4,
  type Ipv4Version,
  Ipv6,
  type Ipv6Version,
  isUnicast,
  parseIp,
  versionOf,
} from "./ip/version.ts";
// ---- packets ----
export { Buf } from "./packet/buf.ts";
export {
  BufBody,
  BytesBody,
  EMPTY_BODY,
  type PacketBuilder,
  type SerializeOptions,
  Serializer,
  TooBig,
} from "./packet/serialize.ts";
export {
  DEFAULT_STACK_LIMITS,
  type EthernetDeviceOptions,
  type HostconfOptions,
  type NeighborInfo,
  type RouteOptions,
  Stack,
  type StackLimits,
  type StackOptions,
  type StackUsage,
} from "./stack.ts";
export { type CoreTimers, Timer } from "./timers.ts";
// ---- the socket layers ----
export {
  DEFAULT_ICMP_ECHO_LIMITS,
  type IcmpEchoLimits,
  type IcmpEchoSocketOptions,
  type IcmpEchoSockets,
} from "./transport/icmp-echo.ts";
export {
  type CongestionName,
  DEFAULT_TCP_CONFIG,
  type TcpConfig,
  type TcpSocketOptions,
} from "./transport/tcp/config.ts";
export type { TcpEndpoint, TcpInfo, TcpLayer } from "./transport/tcp/tcp-layer.ts";
export {
  DEFAULT_UDP_LIMITS,
  type UdpDatagram,
  type UdpEndpoint,
  type UdpLayer,
  type UdpLimits,
  type UdpSocketOptions,
} from "./transport/udp/udp.ts";

// ---- wire formats, one namespace each ----
export * as arp from "./wire/arp.ts";
export * as checksum from "./wire/checksum.ts";
export { isError, ParseError, parseError } from "./wire/errors.ts";
export * as ethernet from "./wire/ethernet.ts";
export * as icmpv4 from "./wire/icmpv4.ts";
export * as icmpv6 from "./wire/icmpv6.ts";
export * as igmp from "./wire/igmp.ts";
export { IpProto } from "./wire/ipproto.ts";
export * as ipv4 from "./wire/ipv4.ts";
export * as ipv6 from "./wire/ipv6.ts";
export * as ipv6ext from "./wire/ipv6-ext.ts";
export * as mld from "./wire/mld.ts";
export * as ndp from "./wire/ndp.ts";
export * as tcp from "./wire/tcp.ts";
export * as tcpOptions from "./wire/tcp-options.ts";
export * as udp from "./wire/udp.ts";
export * as virtioNet from "./wire/virtio-net.ts";

/**
 * netstack: a user-space TCP/IP stack (the recovery_netstack / netstack3 design in TypeScript).
 *
 * The public barrel of the platform-neutral core: the `Stack`, what it needs from its host
 * (`Bindings`, timer ids, events), packet buffers and serializers, IP address and subnet helpers,
 * and every wire format as a namespace (`wire.ipv4.Ipv4View`, ...). Node bindings live in
 * `netstack/node`, the deterministic simulation toolkit in `netstack/testing`.
 */

// ---- the stack and its context ----
export type {
  Bindings,
  DeviceId,
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
export { type CounterId, Counters, counter, counterNames } from "./counters.ts";
export { type AddressState, Device, type DeviceKind } from "./device/device.ts";
export { NEIGHBOR_STATE_NAMES, NeighborState } from "./device/neighbor.ts";
export {
  LearningSwitch,
  type MacEntry,
  type PortSend,
  SwitchError,
  type SwitchOptions,
  SwitchPort,
  type SwitchPortStats,
} from "./gateway/switch.ts";
// ---- IP helpers ----
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
export type { IcmpEchoHandler } from "./ip/icmp.ts";
export { PathMtuCache } from "./ip/pmtu.ts";
export { KeyedRateLimiter, TokenBucket } from "./ip/ratelimit.ts";
export { MAX_REASSEMBLED, Reassembler } from "./ip/reassembly.ts";
export { type Route, type RouteError, RoutingTable } from "./ip/route.ts";
export { AddrSubnet, isV4BroadcastFor, parseCidr, parseSubnet, Subnet, v4Broadcast } from "./ip/subnet.ts";
// ---- transports ----
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
export { BufPool } from "./packet/pool.ts";
export {
  type BodySource,
  BufBody,
  BytesBody,
  EMPTY_BODY,
  Nested,
  type PacketBuilder,
  type SerializeOptions,
  Serializer,
  TooBig,
} from "./packet/serialize.ts";
export {
  DEFAULT_STACK_LIMITS,
  type EthernetDeviceOptions,
  type NeighborInfo,
  type RouteOptions,
  Stack,
  type StackLimits,
  type StackOptions,
} from "./stack.ts";
export { CoreTimers, Timer, TimerQueue, type WakeUp } from "./timers.ts";
export {
  DEFAULT_UDP_LIMITS,
  type UdpDatagram,
  type UdpEndpoint,
  UdpLayer,
  type UdpLayerOptions,
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
export { IpProto } from "./wire/ipproto.ts";
export * as ipv4 from "./wire/ipv4.ts";
export * as ipv6 from "./wire/ipv6.ts";
export * as ipv6ext from "./wire/ipv6-ext.ts";
export * as ndp from "./wire/ndp.ts";
export * as tcp from "./wire/tcp.ts";
export * as tcpOptions from "./wire/tcp-options.ts";
export * as udp from "./wire/udp.ts";
export * as virtioNet from "./wire/virtio-net.ts";

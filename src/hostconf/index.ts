/**
 * Host configuration for IPv6 and multicast membership, as sans-IO state machines the Stack plugs
 * in: link-local addresses (RFC 4862 5.3, RFC 4291 appendix A, RFC 7217), duplicate address
 * detection (RFC 4862 5.4, RFC 7527), router discovery (RFC 4861 6.3), SLAAC (RFC 4862 5.5), MLDv2
 * with MLDv1 compatibility (RFC 3810, RFC 2710) and IGMPv2 (RFC 2236).
 *
 * ## Integration guide (for src/stack.ts)
 *
 * What the Stack uses today: `Mld` and `Igmp` (with its own `TimerRegistry`, `stack.mld` /
 * `stack.igmp`) for the groups UDP sockets join, through a `HostconfContext` adapter
 * (`Stack.hostconfContext`). DAD, router discovery, SLAAC and their lifetimes are still the
 * Stack's own code (same rules: RFC 4862 5.4.2 random delay, 5.5.3 e two-hour rule, 5.5.4
 * deprecation). The table below is the contract for moving the rest onto `Hostconf`.
 *
 * Construct one `Hostconf` per Stack with a `HostconfContext` adapter (context.ts) over the Stack:
 * `schedule`/`cancel` on the Stack's `CoreTimers`; `sendIcmpv6` builds an `Ipv6Builder` (adding
 * a Hop-by-Hop Router Alert option, RFC 2711 value 0, when asked) around `EMPTY_BODY.wrapIn(msg)`;
 * `sendIgmp` an `Ipv4Builder` with TTL 1 and `ROUTER_ALERT_V4` as options; `addAddress` pushes a
 * `DeviceAddr` (origin as given, `state` tentative), joins its solicited-node group on the device
 * (receive filter only: hostconf sends the MLD reports) and adds the on-link route for its
 * prefix; `removeAddress` undoes that; `emit` is the Stack's `emit`. Hostconf emits every
 * `address-changed` / `dad-failed` event for IPv6 addresses itself.
 *
 * | Stack hook                                   | Call                                                    |
 * |----------------------------------------------|---------------------------------------------------------|
 * | Ethernet device added up / set up            | `hostconf.deviceUp(dev, mac, linkMaxMtu)`               |
 * | device set down / removed                    | `hostconf.deviceDown(dev)`                              |
 * | `addAddress(dev, "x/len")` for IPv6          | `hostconf.addAddress(dev, addr, len)` instead of assigning it: DAD runs |
 * | `removeAddress` of an IPv6 address           | `hostconf.removeAddress(dev, addr)`, then remove it     |
 * | socket joins / leaves an IPv6 group          | `hostconf.joinGroup6(dev, g)` / `leaveGroup6(dev, g)`    |
 * | socket joins / leaves an IPv4 group          | `hostconf.joinGroup4(dev, g)` / `leaveGroup4(dev, g)`    |
 * | ICMPv6 NS received (after RFC 4861 7.1.1 checks) | `hostconf.onNeighborSolicitation(dev, src, nsView)`: unless "not-tentative", do not answer it or update the cache |
 * | ICMPv6 NA received (after 7.1.2 checks)      | `hostconf.onNeighborAdvertisement(dev, naView)`: "duplicate" ends processing |
 * | ICMPv6 RS received                           | nothing (hosts ignore them, RFC 4861 6.2.6)             |
 * | ICMPv6 RA received (checksum + parse ok)     | `hostconf.onRouterAdvertisement(dev, src, hopLimit, raView)`; count a verdict other than "ok"; the SLLA option still goes to the neighbour cache |
 * | ICMPv6 type 130/131/132/143 received         | `hostconf.onMld(dev, src, hopLimit, parseMld(...))`     |
 * | IGMP (IPv4 proto 2) received                 | `hostconf.onIgmp(dev, IgmpView.parse(...))`             |
 * | timer of kind dad, router-solicit, lifetime, mld or igmp fired | `hostconf.handleTimer(id)` (register it with `stack.setTimerHandler` for each of `HOSTCONF_TIMER_KINDS`) |
 *
 * The Stack must not loop its own multicast NS back into `onNeighborSolicitation` (the RFC 7527
 * nonce makes it harmless if it does). Addresses in the "tentative" state must not be used as
 * sources nor accepted as destinations (RFC 4862 5.4); "deprecated" ones are not chosen as sources
 * for new connections (RFC 4862 5.5.4).
 */
export {
  type AddrOrigin,
  type AddrState,
  HOSTCONF_TIMER_KINDS,
  type HostconfContext,
  INFINITE_LIFETIME,
  randomBelow,
  TimerRegistry,
} from "./context.ts";
export { Dad, type DadConfig, type DadVerdict, DEFAULT_DAD_CONFIG } from "./dad.ts";
export {
  DEFAULT_DHCP_CLIENT_CONFIG,
  DhcpClient,
  type DhcpClientConfig,
  type DhcpClientContext,
  type DhcpClientState,
  type DhcpLease,
  type DhcpLeaseEvent,
} from "./dhcp-client.ts";
export { FakeHostconfContext, serializeMessage } from "./fake-context.ts";
export { FakeDhcpClientContext, type SentDhcp } from "./fake-dhcp-context.ts";
export { DEFAULT_HOSTCONF_CONFIG, Hostconf, type HostconfConfig } from "./hostconf.ts";
export { Igmp, type IgmpVerdict } from "./igmp.ts";
export {
  addrFromPrefix,
  eui64,
  eui64Into,
  isLinkLocal,
  isReservedIid,
  linkLocalAddr,
  maskPrefix,
  StableIidGenerator,
  solicitedNodeGroup,
} from "./iid.ts";
export { Mld, type MldVerdict, mldReportable } from "./mld.ts";
export {
  type AutonomousPrefix,
  DEFAULT_ROUTER_DISCOVERY_CONFIG,
  type PrefixEntry,
  type RaVerdict,
  RouterDiscovery,
  type RouterDiscoveryConfig,
  type RouterEntry,
} from "./routers.ts";
export { DEFAULT_SLAAC_CONFIG, Slaac, type SlaacAddress, type SlaacConfig, TWO_HOURS_MS } from "./slaac.ts";

/**
 * IP protocol numbers (IANA "Assigned Internet Protocol Numbers"; RFC 791 "Protocol", RFC 8200
 * "Next Header"). An open set: values not listed here pass through as plain numbers.
 */
export const IpProto = {
  HopByHop: 0,
  Icmp: 1,
  Igmp: 2,
  Tcp: 6,
  Udp: 17,
  Ipv6Route: 43,
  Ipv6Frag: 44,
  Icmpv6: 58,
  Ipv6NoNext: 59,
  Ipv6Opts: 60,
} as const;
export type IpProto = (typeof IpProto)[keyof typeof IpProto];

/**
 * ICMP glue between the IP layer and the transports.
 * RFC 1122 3.2.2.1 (destination unreachable codes passed to the transport), RFC 4443 section 3
 * and 2.4 (ICMPv6 errors), RFC 5927 (what a transport may learn from an ICMP error), RFC 1191 /
 * RFC 8201 (fragmentation needed and packet too big feed path MTU discovery).
 *
 * Maps ICMP error types and codes to the Node-style codes of `IcmpErrorInfo` (the ones Linux
 * reports to sockets), and defines the interface the IP layer calls on the ICMP echo (ping) sockets.
 */

import type { ErrorCode } from "../context.ts";
import { Icmpv4Type, Icmpv4UnreachableCode } from "../wire/icmpv4.ts";
import { Icmpv6DestUnreachableCode, Icmpv6Type } from "../wire/icmpv6.ts";
import type { IcmpErrorInfo, IpRxInfo } from "./transport-api.ts";

/**
 * What the IP layer calls on the ICMP echo sockets (src/transport/icmp-echo.ts). The IP layer
 * answers echo requests itself; replies, and errors that quote our echo requests, go here.
 * For errors, `IcmpErrorInfo.srcPort` is the quoted echo identifier and `seq` its sequence number.
 */
export interface IcmpEchoHandler {
  receiveEchoReply<A>(info: IpRxInfo<A>, id: number, seq: number, payload: Uint8Array): void;
  receiveIcmpError?<A>(err: IcmpErrorInfo<A>): void;
}

/** The socket error of an ICMPv4 error message (Linux's icmp_err_convert), null when it carries none. */
export function icmpv4ErrorCode(type: number, code: number): ErrorCode | null {
  switch (type) {
    case Icmpv4Type.DestUnreachable:
      switch (code) {
        case Icmpv4UnreachableCode.Net:
        case Icmpv4UnreachableCode.NetUnknown:
        case Icmpv4UnreachableCode.NetTos:
          return "ENETUNREACH";
        case Icmpv4UnreachableCode.Proto:
          return "ENOPROTOOPT";
        case Icmpv4UnreachableCode.Port:
          return "ECONNREFUSED";
        case Icmpv4UnreachableCode.FragNeeded:
          return "EMSGSIZE";
        case Icmpv4UnreachableCode.NetProhibited:
        case Icmpv4UnreachableCode.HostProhibited:
        case Icmpv4UnreachableCode.AdminProhibited:
          return "EACCES";
        default:
          return "EHOSTUNREACH";
      }
    case Icmpv4Type.TimeExceeded:
      return "EHOSTUNREACH";
    case Icmpv4Type.ParamProblem:
      return "EPROTO";
    default:
      return null;
  }
}

/** The socket error of an ICMPv6 error message (Linux's icmpv6_err_convert), null when none. */
export function icmpv6ErrorCode(type: number, code: number): ErrorCode | null {
  switch (type) {
    case Icmpv6Type.DestUnreachable:
      switch (code) {
        case Icmpv6DestUnreachableCode.NoRoute:
          return "ENETUNREACH";
        case Icmpv6DestUnreachableCode.AdminProhibited:
        case Icmpv6DestUnreachableCode.SourcePolicyFailed:
        case Icmpv6DestUnreachableCode.RejectRoute:
          return "EACCES";
        case Icmpv6DestUnreachableCode.PortUnreachable:
          return "ECONNREFUSED";
        default:
          return "EHOSTUNREACH";
      }
    case Icmpv6Type.PacketTooBig:
      return "EMSGSIZE";
    case Icmpv6Type.TimeExceeded:
      return "EHOSTUNREACH";
    case Icmpv6Type.ParamProblem:
      return "EPROTO";
    default:
      return null;
  }
}

/** A mutable `IcmpErrorInfo` the IP layer fills and reuses. */
export class MutableIcmpErrorInfo<A> implements IcmpErrorInfo<A> {
  I!: IcmpErrorInfo<A>["I"];
  src!: A;
  dst!: A;
  srcPort = 0;
  dstPort = 0;
  code: ErrorCode = "EHOSTUNREACH";
  mtu = 0;
  seq = 0;
}

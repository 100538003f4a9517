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
import { v4At } from "./addr.ts";
import type { IcmpErrorInfo, IpRxInfo, TransportProtocol } from "./transport-api.ts";

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

/**
 * Hand an ICMP error to whoever sent the quoted packet (RFC 1122 3.2.2.1, RFC 4443 3, RFC 5927):
 * its upper-layer header starts at `b[p]` with `have` bytes quoted, and its protocol is `proto`.
 * Transports get the ports and (TCP) the sequence number; an error about our echo request
 * (`proto` is the version's ICMP, the quoted type `echoRequest`) goes to the echo handler with
 * its identifier in `srcPort` and its sequence number in `seq`.
 */
export function dispatchQuoted<A>(
  info: MutableIcmpErrorInfo<A>,
  b: Uint8Array,
  p: number,
  have: number,
  proto: number,
  icmpProto: number,
  echoRequest: number,
  transports: readonly (TransportProtocol | undefined)[],
  echo: IcmpEchoHandler | null,
): void {
  info.srcPort = have >= 2 ? (b[p] << 8) | b[p + 1] : 0;
  info.dstPort = have >= 4 ? (b[p + 2] << 8) | b[p + 3] : 0;
  info.seq = have >= 8 ? v4At(b, p + 4) : 0;
  if (proto === icmpProto) {
    if (have >= 8 && b[p] === echoRequest) {
      info.srcPort = (b[p + 4] << 8) | b[p + 5];
      info.dstPort = 0;
      info.seq = (b[p + 6] << 8) | b[p + 7];
      echo?.receiveIcmpError?.(info);
    }
    return;
  }
  transports[proto]?.receiveIcmpError(info);
}

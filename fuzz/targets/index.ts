/**
 * Every fuzz target, by name. To add one (a new wire format, `decode`, the whole stack), write
 * `targets/<name>.ts` exporting a `FuzzTarget` and list it here: the runner, the seeded test and
 * the regression replay pick it up.
 */
import type { FuzzTarget } from "../target.ts";
import { arpTarget } from "./arp.ts";
import { pcapngTarget, pcapTarget } from "./capture.ts";
import { decodeTarget } from "./decode.ts";
import { dhcpTarget } from "./dhcp.ts";
import { dnsTarget } from "./dns.ts";
import { ethernetTarget } from "./ethernet.ts";
import { icmpv4Target } from "./icmpv4.ts";
import { icmpv6Target } from "./icmpv6.ts";
import { ipv4Target } from "./ipv4.ts";
import { ipv6Target } from "./ipv6.ts";
import { ndpTarget } from "./ndp.ts";
import { stackTarget } from "./stack.ts";
import { tcpTarget } from "./tcp.ts";
import { udpTarget } from "./udp.ts";

export const TARGETS: readonly FuzzTarget[] = [
  ethernetTarget,
  arpTarget,
  ipv4Target,
  icmpv4Target,
  ipv6Target,
  icmpv6Target,
  ndpTarget,
  udpTarget,
  tcpTarget,
  dhcpTarget,
  dnsTarget,
  pcapTarget,
  pcapngTarget,
  decodeTarget,
  stackTarget,
];

/** The target named `name`, or undefined. */
export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}

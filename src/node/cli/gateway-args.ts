/**
 * The options of `netstack gateway` (issue 15's fixed contract), parsed and validated without
 * touching the system, so a mistake is one line and exit 2 before anything is opened:
 *
 *   netstack gateway [--qemu unix:PATH | --qemu tcp:HOST:PORT]... [--ws PORT] [--tap NAME]...
 *                    [--net 10.0.2.0/24] [--no-ipv6] [--forward tcp|udp:HOSTPORT:GUESTIP:GUESTPORT]...
 *                    [--no-map-host-loopback] [--mtu N] [--pcap FILE]
 *
 * The addresses follow QEMU's user networking (slirp), so guests configured for it work unchanged:
 * in NET the gateway is the second address (.2), DNS the third (.3), DHCP leases start at the
 * fifteenth (.15); IPv6 uses fec0::/64 with the gateway fec0::2 and DNS fec0::3.
 */
import {
  formatV4 as formatIpv4,
  type Ipv4Addr,
  type Ipv6Addr,
  parseV4 as parseIpv4,
  parseV6 as parseIpv6,
} from "../../ip/addr.ts";
import { parseCidr } from "../../ip/subnet.ts";
import { ParseError } from "../../wire/errors.ts";
import type { QemuAddress } from "../qemu-link.ts";

/** One `--forward`: host 127.0.0.1:hostPort to guestIp:guestPort, like QEMU's hostfwd. */
export interface ForwardSpec {
  proto: "tcp" | "udp";
  hostPort: number;
  /** The guest's address as text (IPv4, or IPv6 without brackets). */
  guestIp: string;
  guestPort: number;
}

/** The gateway's network, from `--net` and `--no-ipv6`. */
export interface GatewayNetwork {
  /** "10.0.2.0/24" */
  cidr: string;
  prefixLen: number;
  /** The gateway's own address (network + 2). */
  gateway: string;
  /** The DNS server's address (network + 3). */
  dns: string;
  /** The first address the DHCP server leases (network + 15). */
  dhcpStart: string;
  /** The last address the DHCP server may lease (the broadcast address - 1). */
  dhcpEnd: string;
  /** IPv6 (absent with --no-ipv6): the prefix advertised, the gateway, DNS. */
  v6: { prefix: string; gateway: string; dns: string } | null;
}

/** Everything `netstack gateway` was asked for. */
export interface GatewayConfig {
  qemu: { spec: string; address: QemuAddress }[];
  ws: number | null;
  taps: string[];
  net: GatewayNetwork;
  forwards: ForwardSpec[];
  mapHostLoopback: boolean;
  mtu: number;
  pcap: string | null;
}

/** The values node:util parseArgs gives for the options. */
export interface GatewayValues {
  qemu?: string[];
  ws?: string;
  tap?: string[];
  net?: string;
  "no-ipv6"?: boolean;
  forward?: string[];
  "no-map-host-loopback"?: boolean;
  mtu?: string;
  pcap?: string;
}

/** The options for node:util parseArgs. */
export const GATEWAY_OPTIONS = {
  qemu: { type: "string", multiple: true },
  ws: { type: "string" },
  tap: { type: "string", multiple: true },
  net: { type: "string" },
  "no-ipv6": { type: "boolean", default: false },
  forward: { type: "string", multiple: true },
  "no-map-host-loopback": { type: "boolean", default: false },
  mtu: { type: "string" },
  pcap: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** A port number: 0..65535, or 1..65535 without `allowZero`. */
function parsePort(text: string, allowZero: boolean): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n > 65535 || (n === 0 && !allowZero) ? null : n;
}

/** Linux interface names: 1-15 bytes, no '/', ':', whitespace (dev_valid_name()). */
const IFNAME = /^[^/:\s]{1,15}$/;
/** sun_path holds 108 bytes with the terminating NUL. */
const UNIX_PATH_MAX = 107;

/** `unix:PATH` or `tcp:HOST:PORT` (HOST an address, `[v6]`, or a name; PORT 0 picks one). */
export function parseQemuSpec(text: string): QemuAddress | string {
  const what = `--qemu ${text}`;
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (path === "") return `${what}: no path after 'unix:'`;
    if (new TextEncoder().encode(path).length > UNIX_PATH_MAX) {
      return `${what}: the path is longer than a unix socket allows (${UNIX_PATH_MAX} bytes)`;
    }
    return { path };
  }
  if (text.startsWith("tcp:")) {
    const rest = text.slice(4);
    const colon = rest.lastIndexOf(":");
    if (colon < 0) return `${what}: expected tcp:HOST:PORT (e.g. tcp:127.0.0.1:5555)`;
    let host = rest.slice(0, colon);
    const port = parsePort(rest.slice(colon + 1), true);
    if (port === null) return `${what}: '${rest.slice(colon + 1)}' is not a port (0-65535)`;
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.slice(1, -1);
      if (parseIpv6(host) === null) return `${what}: '${host}' is not an IPv6 address`;
    } else if (host.includes(":")) {
      return `${what}: write an IPv6 host in brackets (tcp:[::1]:${rest.slice(colon + 1)})`;
    } else if (host === "" || !/^[A-Za-z0-9.-]{1,253}$/.test(host)) {
      return `${what}: '${host}' is not a host name or address`;
    }
    return { host, port };
  }
  return `${what}: expected unix:PATH or tcp:HOST:PORT`;
}

/** `--net A.B.C.D/N`: an IPv4 network with room for the gateway, DNS and leases from .15. */
export function parseNet(text: string, ipv6: boolean): GatewayNetwork | string {
  const what = `--net ${text}`;
  const p = parseCidr(text);
  if (p instanceof ParseError || !text.includes("/")) {
    return `${what}: expected an IPv4 network with prefix length (e.g. 10.0.2.0/24)`;
  }
  if (p.ip.version !== 4) return `${what}: the network is IPv4 (IPv6 uses fec0::/64; --no-ipv6 turns it off)`;
  const len = p.prefixLen;
  // .15 must be a host address: below the broadcast address of the network.
  if (len > 27) return `${what}: too small: the gateway is .2, DNS .3 and leases start at .15 (need /27 or larger)`;
  if (len < 8) return `${what}: too large (at most /8)`;
  const addr = p.addr as Ipv4Addr;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const base = (addr & mask) >>> 0;
  if (base !== addr) return `${what}: host bits are set (the network is ${formatIpv4(base as Ipv4Addr)}/${len})`;
  const at = (n: number) => formatIpv4(((base + n) >>> 0) as Ipv4Addr);
  const size = 2 ** (32 - len);
  return {
    cidr: `${formatIpv4(base as Ipv4Addr)}/${len}`,
    prefixLen: len,
    gateway: at(2),
    dns: at(3),
    dhcpStart: at(15),
    dhcpEnd: at(size - 2),
    v6: ipv6 ? { prefix: "fec0::/64", gateway: "fec0::2", dns: "fec0::3" } : null,
  };
}

/** Whether `a` (text) is a host address of the network other than the gateway's and DNS's. */
function guestAddressProblem(net: GatewayNetwork, ip: string): string | null {
  const v4 = parseIpv4(ip);
  if (v4 !== null) {
    const [base] = net.cidr.split("/");
    const mask = (0xffffffff << (32 - net.prefixLen)) >>> 0;
    const b = parseIpv4(base) as Ipv4Addr;
    if ((v4 & mask) >>> 0 !== b) return `${ip} is not in the guest network ${net.cidr}`;
    const host = (v4 & ~mask) >>> 0;
    if (host === 0 || host === ~mask >>> 0) return `${ip} is the network's own or broadcast address`;
    if (ip === net.gateway || ip === net.dns) return `${ip} is the gateway's own address`;
    return null;
  }
  const v6 = parseIpv6(ip);
  if (v6 === null) return `'${ip}' is not an IP address`;
  if (net.v6 === null) return `${ip} is IPv6 but --no-ipv6 is given`;
  if (!inFec0(v6)) return `${ip} is not in the guest prefix ${net.v6.prefix}`;
  const g = parseIpv6(net.v6.gateway) as Ipv6Addr;
  const d = parseIpv6(net.v6.dns) as Ipv6Addr;
  if (sameV6(v6, g) || sameV6(v6, d)) return `${ip} is the gateway's own address`;
  return null;
}

function inFec0(a: Ipv6Addr): boolean {
  return a[0] === 0xfe && a[1] === 0xc0 && a.subarray(2, 8).every((b) => b === 0);
}

function sameV6(a: Ipv6Addr, b: Ipv6Addr): boolean {
  return a.every((x, i) => x === b[i]);
}

/** `tcp|udp:HOSTPORT:GUESTIP:GUESTPORT` (an IPv6 GUESTIP in brackets). */
export function parseForward(text: string, net: GatewayNetwork): ForwardSpec | string {
  const what = `--forward ${text}`;
  const m = /^(tcp|udp):(\d+):(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d+)$/.exec(text);
  if (m === null) return `${what}: expected tcp|udp:HOSTPORT:GUESTIP:GUESTPORT (e.g. tcp:8080:10.0.2.15:80)`;
  const hostPort = parsePort(m[2], false);
  if (hostPort === null) return `${what}: host port '${m[2]}' is not a port (1-65535)`;
  const guestPort = parsePort(m[4], false);
  if (guestPort === null) return `${what}: guest port '${m[4]}' is not a port (1-65535)`;
  const guestIp = m[3].startsWith("[") ? m[3].slice(1, -1) : m[3];
  const problem = guestAddressProblem(net, guestIp);
  if (problem !== null) return `${what}: ${problem}`;
  return { proto: m[1] as "tcp" | "udp", hostPort, guestIp, guestPort };
}

/** `--mtu N`: IPv4 needs 68 (RFC 791), IPv6 1280 (RFC 8200 5); frames carry at most 65535. */
export function parseGatewayMtu(text: string | undefined, ipv6: boolean): number | string {
  if (text === undefined) return 1500;
  const min = ipv6 ? 1280 : 68;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 65535) {
    return `--mtu ${text}: expected a whole number from ${min} to 65535${ipv6 ? " (IPv6 needs 1280; --no-ipv6 allows less)" : ""}`;
  }
  return Number(text);
}

/** All options, validated: the configuration, or the one-line message of the first mistake. */
export function parseGatewayArgs(v: GatewayValues): GatewayConfig | string {
  const ipv6 = v["no-ipv6"] !== true;
  const net = parseNet(v.net ?? "10.0.2.0/24", ipv6);
  if (typeof net === "string") return net;
  const qemu: GatewayConfig["qemu"] = [];
  for (const q of v.qemu ?? []) {
    const address = parseQemuSpec(q);
    if (typeof address === "string") return address;
    if (qemu.some((o) => o.spec === q)) return `--qemu ${q} given twice`;
    qemu.push({ spec: q, address });
  }
  let ws: number | null = null;
  if (v.ws !== undefined) {
    ws = parsePort(v.ws, true);
    if (ws === null) return `--ws ${v.ws}: expected a TCP port (0-65535; 0 picks a free one)`;
  }
  const taps: string[] = [];
  for (const t of v.tap ?? []) {
    if (!IFNAME.test(t) || t === "." || t === "..") {
      return `--tap ${t}: not a valid interface name (1-15 characters, no '/', ':' or spaces)`;
    }
    if (taps.includes(t)) return `--tap ${t} given twice`;
    taps.push(t);
  }
  if (qemu.length === 0 && ws === null && taps.length === 0) {
    return "no ports: give --qemu unix:PATH, --qemu tcp:HOST:PORT, --ws PORT or --tap NAME (see --help)";
  }
  const forwards: ForwardSpec[] = [];
  for (const f of v.forward ?? []) {
    const spec = parseForward(f, net);
    if (typeof spec === "string") return spec;
    if (forwards.some((o) => o.proto === spec.proto && o.hostPort === spec.hostPort)) {
      return `--forward ${f}: host port ${spec.proto}/${spec.hostPort} is already forwarded`;
    }
    forwards.push(spec);
  }
  const mtu = parseGatewayMtu(v.mtu, ipv6);
  if (typeof mtu === "string") return mtu;
  if (v.pcap === "") return "--pcap needs a file name";
  return {
    qemu,
    ws,
    taps,
    net,
    forwards,
    mapHostLoopback: v["no-map-host-loopback"] !== true,
    mtu,
    pcap: v.pcap ?? null,
  };
}

/** The gateway's MAC, as slirp makes it: 52:55 and the gateway's IPv4 address. */
export function gatewayMac(net: GatewayNetwork): string {
  const a = parseIpv4(net.gateway) as Ipv4Addr;
  const b = [0x52, 0x55, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

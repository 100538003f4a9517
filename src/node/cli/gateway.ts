/**
 * `netstack gateway`: give virtual machines and emulators a network (issue 15). Every QEMU stream
 * connection, WebSocket client and TAP device is a port of one learning switch; the gateway's own
 * stack is one more port (src/node/gateway-host.ts). Prints one line containing `ready` once
 * listening; exits 0 on SIGTERM or SIGINT. The options are src/node/cli/gateway-args.ts's.
 */
import { parseArgs } from "node:util";
import { type GatewayHost, GatewayStartError, openGateway } from "../gateway-host.ts";
import { GATEWAY_OPTIONS, parseGatewayArgs } from "./gateway-args.ts";

/** What the command needs of the CLI (structurally the CliContext of src/node/cli.ts). */
interface Context {
  out(text: string): void;
  err(line: string): void;
  usage(message: string): never;
}

const HELP = `Usage: netstack gateway [--qemu unix:PATH | --qemu tcp:HOST:PORT]... [--ws PORT] [--tap NAME]...
                        [--net 10.0.2.0/24] [--no-ipv6] [--forward tcp|udp:HOSTPORT:GUESTIP:GUESTPORT]...
                        [--no-map-host-loopback] [--mtu N] [--pcap FILE]

Give virtual machines and emulators a network, with no root and no TAP on the host. Every port below
is a port of one learning switch; the gateway itself is one more port, with QEMU user networking's
addresses: gateway 10.0.2.2, DNS 10.0.2.3, leases from 10.0.2.15; IPv6 fec0::/64 by router
advertisement, gateway fec0::2, DNS fec0::3. Prints a line with "ready" once listening; exits 0 on
SIGTERM or SIGINT.

Ports:
  --qemu unix:PATH        listen on a unix socket; QEMU connects with
                          -netdev stream,id=n0,server=off,addr.type=unix,addr.path=PATH
  --qemu tcp:HOST:PORT    the same over TCP (addr.type=inet,addr.host=HOST,addr.port=PORT); repeatable
  --ws PORT               WebSocket server on 127.0.0.1:PORT (any path): each binary message is one
                          Ethernet frame, both ways (v86's relay convention)
  --tap NAME              a TAP device as one more port (needs CAP_NET_ADMIN); repeatable

Network:
  --net CIDR              the IPv4 network (default 10.0.2.0/24): gateway .2, DNS .3, leases from .15
  --no-ipv6               no IPv6 (no fec0::/64 advertisement)
  --mtu N                 the network's MTU (default 1500), advertised to guests
  --pcap FILE             capture the gateway's port of the switch (pcapng)

Phase 2 of the gateway (parsed and checked now, not active yet):
  --forward tcp|udp:HOSTPORT:GUESTIP:GUESTPORT
                          listen on the host's 127.0.0.1:HOSTPORT and connect into the guest
  --no-map-host-loopback  do not map connections to the gateway's address to the host's loopback

Until then the gateway answers ARP, neighbour discovery and ping on its addresses and runs the test
services (echo 7, discard 9, chargen 19, HTTP 80) itself; guests need a static address
(ip addr add 10.0.2.15/24 dev eth0): the DHCP server, DNS forwarder and NAT are not there yet.

Exit status: 0 stopped by a signal, 1 could not listen or open a device, 2 a usage error.
`;

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(s);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

async function run(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: GATEWAY_OPTIONS, strict: true, allowPositionals: true });
  if (values.help) {
    ctx.out(HELP);
    return 0;
  }
  if (positionals.length > 0) ctx.usage(`unexpected argument '${positionals[0]}' (see --help)`);
  const cfg = parseGatewayArgs(values);
  if (typeof cfg === "string") return ctx.usage(cfg);

  const signal = untilSignal();
  let gw: GatewayHost;
  try {
    gw = await openGateway(cfg, { log: (line) => ctx.err(`netstack gateway: ${line}`) });
  } catch (e) {
    if (e instanceof GatewayStartError && e.usage) return ctx.usage(e.message);
    ctx.err(`netstack gateway: ${(e as Error).message}`);
    return 1;
  }
  // Written at once (not through the CLI's buffered output): tooling waits for this line.
  process.stdout.write(`netstack gateway: ready on ${gw.describe()}\n`);
  const inactive = [
    ...(cfg.forwards.length > 0 ? [`${cfg.forwards.length} --forward`] : []),
    "DHCP server",
    "DNS forwarder",
    "NAT",
  ];
  ctx.err(`netstack gateway: not active yet (phase 2 of issue 15): ${inactive.join(", ")}`);
  const why = await signal;
  // A second signal while shutting down must not kill us before the capture is flushed.
  const ignore = () => {};
  process.on("SIGTERM", ignore);
  process.on("SIGINT", ignore);
  const ports = gw.switch.ports.length - 1;
  ctx.err(`netstack gateway: ${why}: stopping (${ports} port${ports === 1 ? "" : "s"} connected)`);
  await gw.close();
  process.off("SIGTERM", ignore);
  process.off("SIGINT", ignore);
  // Everything is closed; should a handle linger anyway, do not outlive the signal.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

export const command = {
  name: "gateway",
  summary: "give VMs and emulators a network: a switch of QEMU, WebSocket and TAP ports with a gateway",
  help: HELP,
  run,
};

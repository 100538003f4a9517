/**
 * `netstack serve --tap NAME:ADDR[,ADDR...] [--tap ...] [--gateway IP] [--mtu N] [--pcap FILE] [--forward]`
 *
 * Opens the TAP devices (creating them if needed) in the current network namespace, gives the
 * stack the addresses, runs the services of src/node/services.ts (echo 7, discard 9, chargen 19,
 * HTTP 80), prints one line containing `ready` on stdout, and runs until SIGTERM or SIGINT (exit 0).
 * With `--forward` and two or more TAPs it also routes between them. The fixed contract is issue 5's.
 */
import { parseArgs } from "node:util";
import type { CliCommand, CliContext } from "../cli.ts";
import { startServices } from "../services.ts";
import {
  formatBytes,
  hasV6,
  openStack,
  parseGateways,
  parseMtu,
  parseTapSpecs,
  SetupError,
  untilSignal,
} from "./tap-args.ts";

const HELP = `Usage: netstack serve --tap NAME:ADDR[,ADDR...] [--tap NAME:ADDR...] [--gateway IP]
                     [--mtu N] [--pcap FILE] [--forward]

Run the stack on Linux TAP devices with the test services: echo (TCP+UDP 7), discard (TCP+UDP 9),
chargen (TCP 19) and HTTP/1.1 (TCP 80: GET / and GET /bytes/N). It answers ARP, ICMP and ICMPv6
echo and neighbour discovery. Prints a line with "ready" once the devices are open and the
addresses usable; exits 0 on SIGTERM or SIGINT.

Options:
  --tap NAME:ADDR[,ADDR...]  open (creating if needed) TAP device NAME in this network namespace and
                             give the stack these addresses on it, e.g. tap0:10.0.0.2/24,fd00::2/64;
                             repeat for more devices. The kernel configures its own side of NAME.
  --gateway IP               default route via IP (one per IP version; repeatable)
  --mtu N                    device MTU (default 1500)
  --pcap FILE                capture every device's frames into FILE (pcapng)
  --forward                  route between the devices (needs two or more --tap)
  -h, --help                 show this help

Needs root or CAP_NET_ADMIN (e.g. sudo, or inside \`unshare -rn\`).
Exit status: 0 stopped by a signal, 1 the devices could not be opened, 2 a usage error.
`;

async function run(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      tap: { type: "string", multiple: true },
      gateway: { type: "string", multiple: true },
      mtu: { type: "string" },
      pcap: { type: "string" },
      forward: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    ctx.out(HELP);
    return 0;
  }
  if (positionals.length > 0) ctx.usage(`unexpected argument '${positionals[0]}' (see --help)`);
  const taps = parseTapSpecs(values.tap);
  if (typeof taps === "string") return ctx.usage(taps);
  const mtu = parseMtu(values.mtu, hasV6(taps));
  if (mtu !== null && typeof mtu === "object") return ctx.usage(mtu.error);
  const gateways = parseGateways(values.gateway);
  if (!Array.isArray(gateways)) return ctx.usage(gateways.error);
  if (values.forward && taps.length < 2) ctx.usage("--forward needs two or more --tap devices to route between");
  if (values.pcap === "") ctx.usage("--pcap needs a file name");

  let opened: Awaited<ReturnType<typeof openStack>>;
  try {
    opened = await openStack({
      taps,
      gateways,
      mtu,
      pcap: values.pcap ?? null,
      forward: values.forward,
    });
  } catch (e) {
    ctx.err(`netstack serve: ${e instanceof SetupError ? e.message : (e as Error).message}`);
    return 1;
  }
  const { stack } = opened;
  const signal = untilSignal();
  let services: Awaited<ReturnType<typeof startServices>>;
  try {
    services = await startServices(stack);
  } catch (e) {
    signal.cancel();
    await opened.close();
    ctx.err(`netstack serve: cannot start the services: ${(e as Error).message}`);
    return 1;
  }
  const devices = taps.map((t) => `${t.name} ${t.addresses.join(" ")}`).join("; ");
  // Written at once (not through the CLI's buffered output): tooling waits for this line.
  process.stdout.write(
    `netstack serve: ready on ${devices}${values.forward ? " (forwarding)" : ""}: ${services.listening.join(" ")}\n`,
  );
  const why = await signal.promise;
  // A second signal while shutting down (a supervisor signalling the whole process group) must
  // not kill us before the capture is flushed.
  const ignore = () => {};
  process.on("SIGTERM", ignore);
  process.on("SIGINT", ignore);
  const s = services.stats;
  ctx.err(
    `netstack serve: ${why}: stopping after ${s.tcpConnections} TCP connections, ${s.udpDatagrams} UDP datagrams, ` +
      `${s.httpRequests} HTTP requests (${formatBytes(s.httpBodyBytes)} of bodies)`,
  );
  await services.close();
  await opened.close();
  process.off("SIGTERM", ignore);
  process.off("SIGINT", ignore);
  // Everything is closed; should a handle linger anyway, do not outlive the signal.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

export const command: CliCommand = {
  name: "serve",
  summary: "run echo, discard, chargen and HTTP on Linux TAP devices (optionally routing between them)",
  help: HELP,
  run,
};

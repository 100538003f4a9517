/**
 * `netstack ping --tap NAME:ADDR [--gateway IP] [-c COUNT] TARGET`: ICMP / ICMPv6 echo from the
 * stack through a TAP device, printed like ping(8): one line per reply, then the statistics.
 */
import { parseArgs } from "node:util";
import { parseIp } from "../../ip/version.ts";
import type { CliCommand, CliContext } from "../cli.ts";
import { openStack, parseGateways, parsePositiveInt, parseTapSpecs, SetupError, untilSignal } from "./tap-args.ts";

const HELP = `Usage: netstack ping --tap NAME:ADDR [--gateway IP] [-c COUNT] TARGET

Send ICMP (IPv4) or ICMPv6 echo requests to TARGET (an IP address) from the stack, through TAP
device NAME (opened, or created, in this network namespace with the stack's address ADDR).

Options:
  --tap NAME:ADDR[,ADDR...]  the device and the stack's addresses on it (e.g. tap0:10.0.0.2/24)
  --gateway IP               default route via IP (repeatable: one per IP version)
  -c, --count COUNT          requests to send (default 4)
  -s, --size BYTES           echo data bytes (default 56; larger ones are fragmented)
  -i, --interval MS          time between requests in milliseconds (default 1000)
  -W, --timeout MS           how long to wait for each reply in milliseconds (default 2000)
  -h, --help                 show this help

Exit status: 0 at least one reply, 1 no reply (or the device could not be opened), 2 a usage error.
`;

async function run(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      tap: { type: "string", multiple: true },
      gateway: { type: "string", multiple: true },
      count: { type: "string", short: "c" },
      size: { type: "string", short: "s" },
      interval: { type: "string", short: "i" },
      timeout: { type: "string", short: "W" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    ctx.out(HELP);
    return 0;
  }
  if (positionals.length === 0) ctx.usage("missing TARGET (an IPv4 or IPv6 address)");
  if (positionals.length > 1) ctx.usage(`expected one TARGET, got ${positionals.length}: ${positionals.join(" ")}`);
  const target = positionals[0];
  const dst = parseIp(target);
  if (dst === null) ctx.usage(`TARGET '${target}' is not an IP address (the stack has no resolver)`);
  const taps = parseTapSpecs(values.tap);
  if (typeof taps === "string") return ctx.usage(taps);
  const gateways = parseGateways(values.gateway);
  if (!Array.isArray(gateways)) return ctx.usage(gateways.error);
  const num = (opt: string, v: string | undefined, max: number, dflt: number): number => {
    const n = parsePositiveInt(opt, v, max);
    if (n !== null && typeof n === "object") return ctx.usage(n.error);
    return n ?? dflt;
  };
  const count = num("-c", values.count, 1_000_000, 4);
  // IPv4's largest echo: 65535 - 20 (IP) - 8 (ICMP).
  const size = values.size === "0" ? 0 : num("-s", values.size, 65507, 56);
  const interval = num("-i", values.interval, 3_600_000, 1000);
  const timeout = num("-W", values.timeout, 3_600_000, 2000);

  let opened: Awaited<ReturnType<typeof openStack>>;
  try {
    opened = await openStack({ taps, gateways });
  } catch (e) {
    ctx.err(`netstack ping: ${e instanceof SetupError ? e.message : (e as Error).message}`);
    return 1;
  }
  const { stack } = opened;
  const v6 = typeof dst !== "number";
  const header = v6 ? 40 + 8 : 20 + 8;
  process.stdout.write(`PING ${target} (${target}) ${size}(${size + header}) bytes of data.\n`);
  const signal = untilSignal();
  const t0 = performance.now();
  let interrupted = false;
  const pinging = stack.ping(target, {
    count,
    size,
    interval,
    timeout,
    onReply: (r) => {
      process.stdout.write(`${r.bytes + 8} bytes from ${r.from}: icmp_seq=${r.seq} time=${r.rtt.toFixed(3)} ms\n`);
    },
  });
  const result = await Promise.race([
    pinging,
    signal.promise.then(async () => {
      interrupted = true;
      await opened.close();
      return null;
    }),
  ]);
  signal.cancel();
  const elapsed = Math.round(performance.now() - t0);
  if (!interrupted) await opened.close();
  if (result === null) {
    process.stdout.write(`\n--- ${target} ping statistics ---\ninterrupted after ${elapsed}ms\n`);
    return 1;
  }
  const errors =
    result.errors.length > 0 ? `, +${result.errors.length} errors (${[...new Set(result.errors)].join(", ")})` : "";
  let text = `\n--- ${target} ping statistics ---\n`;
  text += `${result.sent} packets transmitted, ${result.received} received${errors}, ${round(result.loss)}% packet loss, time ${elapsed}ms\n`;
  if (result.received > 0) {
    const got = result.rtts.filter((r): r is number => r !== null);
    const mdev = Math.sqrt(got.reduce((a, r) => a + (r - result.avg) ** 2, 0) / got.length);
    text += `rtt min/avg/max/mdev = ${[result.min, result.avg, result.max, mdev].map((x) => x.toFixed(3)).join("/")} ms\n`;
  }
  process.stdout.write(text);
  return result.received > 0 ? 0 : 1;
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

export const command: CliCommand = {
  name: "ping",
  summary: "send ICMP/ICMPv6 echo requests from the stack through a Linux TAP device, like ping(8)",
  help: HELP,
  run,
};

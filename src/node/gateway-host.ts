/**
 * The gateway on a Node host (issue 15): one learning switch (src/gateway/switch.ts) whose ports
 * are QEMU stream connections, WebSocket clients and TAP devices (src/node/switch-ports.ts,
 * ws-port-server.ts), and the gateway's own NodeStack as one more port, holding the network's
 * gateway and DNS addresses (10.0.2.2 and 10.0.2.3, fec0::2 and fec0::3 by default) behind slirp's
 * MAC convention (52:55 + the gateway's IPv4 address). With IPv6 the stack advertises fec0::/64 as
 * a router (RFC 4861 6.2, with the MTU option) so guests configure themselves by SLAAC.
 *
 * Phase 1 of the issue: the gateway's stack runs the test services of src/node/services.ts (echo,
 * discard, chargen, HTTP on port 80). The DHCP server, the DNS forwarder, NAT to host sockets, the
 * host-loopback mapping and `--forward` come with phase 2: the configuration carries them already.
 */
import type { DeviceId } from "../context.ts";
import { LearningSwitch, type SwitchPort } from "../gateway/switch.ts";
import type { GatewayConfig } from "./cli/gateway-args.ts";
import { gatewayMac } from "./cli/gateway-args.ts";
import type { Link } from "./link.ts";
import { NodeStack } from "./node-stack.ts";
import { PcapngCapture } from "./pcap-link.ts";
import { type Services, startServices } from "./services.ts";
import { attachLink, QemuPortServer, SwitchLink } from "./switch-ports.ts";
import { TapLink } from "./tap.ts";
import { WebSocketPortServer } from "./ws-port-server.ts";

/** Why the gateway could not start; `usage` when it is the user's mistake (an unwritable --pcap). */
export class GatewayStartError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = "GatewayStartError";
  }
}

/** Options of `openGateway` besides the configuration. */
export interface OpenGatewayOptions {
  /** Run the test services on the gateway's stack (default true). */
  services?: boolean;
  /** Told about ports coming and going (the CLI logs them on stderr). */
  log?(line: string): void;
}

/** A running gateway. */
export interface GatewayHost {
  readonly config: GatewayConfig;
  readonly switch: LearningSwitch;
  readonly stack: NodeStack;
  /** The stack's device on the switch. */
  readonly device: DeviceId;
  readonly qemu: QemuPortServer[];
  readonly ws: WebSocketPortServer | null;
  readonly taps: { name: string; link: Link; port: SwitchPort }[];
  readonly capture: PcapngCapture | null;
  readonly services: Services | null;
  /** Where the gateway listens, for the `ready` line. */
  describe(): string;
  /** Stop listening, close every port, the stack and the capture. */
  close(): Promise<void>;
}

/** Start the switch, its ports and the gateway's stack. Throws `GatewayStartError` (one line). */
export async function openGateway(cfg: GatewayConfig, o: OpenGatewayOptions = {}): Promise<GatewayHost> {
  const log = o.log ?? (() => {});
  const sw = new LearningSwitch({ now: () => performance.now() });
  const stack = new NodeStack({
    mtu: cfg.mtu,
    // The gateway owns its addresses on a network it runs: no duplicate address detection (slirp
    // and passt do none either), so it is ready at once.
    dad: false,
    // RFC 4861 6.2.2: only a router advertises; IPv4 stays a host until NAT (phase 2).
    stack: { forwarding: { v4: false, v6: cfg.net.v6 !== null } },
  });
  const qemu: QemuPortServer[] = [];
  const taps: { name: string; link: Link; port: SwitchPort }[] = [];
  let ws: WebSocketPortServer | null = null;
  let capture: PcapngCapture | null = null;
  let services: Services | null = null;
  const close = async () => {
    await services?.close();
    await Promise.all([ws?.close(), ...qemu.map((q) => q.close()), ...taps.map((t) => t.link.close())]);
    await stack.close();
    capture?.close();
  };
  const fail = async (message: string, usage = false): Promise<never> => {
    await close();
    throw new GatewayStartError(message, usage);
  };

  if (cfg.pcap !== null) {
    try {
      capture = new PcapngCapture({ file: cfg.pcap });
    } catch (e) {
      return fail(
        `--pcap ${cfg.pcap}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        true,
      );
    }
  }
  const own = new SwitchLink(sw, { name: "gateway", maxFrameLen: cfg.mtu + 14 });
  const n = cfg.net;
  const prefix = n.prefixLen;
  const addresses = [`${n.gateway}/${prefix}`, `${n.dns}/${prefix}`];
  if (n.v6 !== null) addresses.push(`${n.v6.gateway}/64`, `${n.v6.dns}/64`);
  const device = stack.addLink(capture !== null ? capture.wrap(own) : own, {
    mac: gatewayMac(n),
    mtu: cfg.mtu,
    name: "gateway",
    addresses,
  });
  if (n.v6 !== null) {
    const e = stack.core.advertiseRouter(device, { prefixes: [n.v6.prefix], mtu: cfg.mtu });
    if (e !== null) return fail(`cannot advertise ${n.v6.prefix}: ${e}`);
  }

  const portLog = (kind: string) => (port: SwitchPort | null, who: string) => {
    if (port === null) {
      log(`${kind} ${who} refused: the switch has ${sw.maxPorts} ports`);
      return;
    }
    log(`${port.name} connected`);
  };
  for (const q of cfg.qemu) {
    try {
      const server = await QemuPortServer.listen(sw, q.address, {
        maxFrameLen: Math.max(cfg.mtu + 14, 1514),
        onConnection: (port, link) => {
          portLog("qemu")(port, link.name);
          link.onClose((err) => log(`${port?.name ?? link.name} disconnected${err ? `: ${err.message}` : ""}`));
        },
      });
      qemu.push(server);
    } catch (e) {
      return fail(`--qemu ${q.spec}: ${(e as Error).message}`);
    }
  }
  if (cfg.ws !== null) {
    try {
      ws = await WebSocketPortServer.listen(sw, {
        port: cfg.ws,
        onConnection: (port, who) => portLog("ws")(port, who),
      });
    } catch (e) {
      return fail(
        `--ws ${cfg.ws}: cannot listen on 127.0.0.1:${cfg.ws}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }
  for (const name of cfg.taps) {
    let link: TapLink;
    try {
      link = TapLink.open(name, { up: true, mtu: cfg.mtu });
    } catch (e) {
      return fail(`--tap ${name}: ${(e as Error).message}`);
    }
    try {
      taps.push({ name, link, port: attachLink(sw, link, { name: `tap:${name}` }) });
    } catch (e) {
      await link.close();
      return fail(`--tap ${name}: ${(e as Error).message}`);
    }
  }
  if (o.services !== false) {
    try {
      services = await startServices(stack);
    } catch (e) {
      return fail(`cannot start the services: ${(e as Error).message}`);
    }
  }

  const describe = () => {
    const where: string[] = [];
    for (const q of qemu) {
      const a = q.address();
      where.push(typeof a === "string" ? `qemu unix:${a}` : `qemu tcp:${a.address}:${a.port}`);
    }
    if (ws !== null) where.push(`ws ws://127.0.0.1:${ws.address().port}/`);
    for (const t of taps) where.push(`tap ${t.name}`);
    const v6 = n.v6 !== null ? `, ${n.v6.prefix} gateway ${n.v6.gateway} dns ${n.v6.dns}` : "";
    return `${n.cidr} gateway ${n.gateway} dns ${n.dns}${v6}, mtu ${cfg.mtu}; ports: ${where.join(", ")}`;
  };
  return { config: cfg, switch: sw, stack, device, qemu, ws, taps, capture, services, describe, close };
}

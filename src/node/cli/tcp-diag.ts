/**
 * One-line diagnostics of a TCP connection for the CLI's failure messages (`netstack fetch` when
 * nothing arrives): the RFC 9293 state, the send and receive sequence variables, windows,
 * retransmissions and the RTO, and the neighbour (ARP / NDP) entry of the next hop.
 *
 * Sequence numbers are shown relative to the initial ones (ISS, IRS) like tcpdump does.
 */
import type { DeviceId } from "../../context.ts";
import { formatIp, parseIp } from "../../ip/version.ts";
import type { Socket } from "../net.ts";
import type { NodeStack } from "../node-stack.ts";

/** `a - b` in 32-bit sequence space (0 .. 2^32-1). */
const seqRel = (a: number, base: number | null): number => (base === null ? a : (a - base) >>> 0);

/** Milliseconds as "850 ms" / "3.0 s". */
function ms(v: number): string {
  return v < 10_000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`;
}

/**
 * The TCP part: `TCP state ESTABLISHED, snd.una/nxt 78/78, rcv.nxt 1449, snd.wnd 64256, rcv.wnd
 * 65535, retransmitted 0 segments (0 timeouts, 0 unanswered), RTO 1000 ms, srtt 2 ms, last segment
 * 30.0 s ago`. Retransmitted segments and unanswered timeouts are the connection's, timeouts the stack's. "no TCP
 * connection" when the socket has none (not yet opened, or closed).
 */
export function tcpDiagnostics(stack: NodeStack, socket: Socket | null): string {
  const id = socket?.socketId ?? null;
  const info = id === null ? null : stack.tcp.info(id);
  if (id === null || info === null) return "no TCP connection";
  const iss = info.iss;
  const irs = info.irs;
  // Before the SYN-ACK, IRS is meaningless: show RCV.NXT as it is.
  const synSent = info.state === "SYN-SENT";
  const parts = [
    `TCP state ${info.state}`,
    `snd.una/nxt ${seqRel(info.sndUna, iss)}/${seqRel(info.sndNxt, iss)}`,
    `rcv.nxt ${synSent ? info.rcvNxt : seqRel(info.rcvNxt, irs)}`,
    `snd.wnd ${info.sndWnd}`,
    `rcv.wnd ${info.rcvWnd}`,
  ];
  if (info.recvBuffered > 0 || info.sendBuffered > 0) {
    parts.push(`buffered ${info.sendBuffered} out ${info.recvBuffered} in`);
  }
  const rtx = info.retransmits;
  const rto = stack.stack.counters.get("tcp.rto");
  parts.push(
    `retransmitted ${rtx} segment${rtx === 1 ? "" : "s"} (${rto} timeout${rto === 1 ? "" : "s"}` +
      `, ${info.retries} unanswered)`,
  );
  parts.push(`RTO ${ms(info.rto)}`);
  if (info.srtt > 0) parts.push(`srtt ${ms(info.srtt)}`);
  const last = info.lastRecvAt;
  if (last > 0 && !synSent) parts.push(`last segment ${ms(stack.bindings.now() - last)} ago`);
  return parts.join(", ");
}

/**
 * The neighbour entry of the next hop towards `peer` (the peer itself when on-link, else the
 * gateways of the default routes): `neighbour fd00::1 reachable 02:00:00:00:00:01`, `neighbour
 * 10.0.0.1 incomplete (2 packets queued)`, or `no neighbour entry for 10.0.0.1`.
 */
export function neighbourDiagnostics(stack: NodeStack, peer: string): string {
  const addr = parseIp(peer);
  if (addr === null) return `no neighbour entry for ${peer}`;
  const version = typeof addr === "number" ? 4 : 6;
  const canonical = formatIp(addr);
  const core = stack.stack;
  const devices: DeviceId[] = core.deviceIds().filter((d) => d !== core.loopback);
  const wanted = [canonical];
  for (const r of core.routes(version)) if (r.gateway !== null && !wanted.includes(r.gateway)) wanted.push(r.gateway);
  for (const a of wanted) {
    for (const d of devices) {
      const e = core.neighbors(d, version).find((n) => n.addr === a);
      if (e === undefined) continue;
      const mac = e.mac !== null ? ` ${e.mac}` : "";
      const queued = e.pending > 0 ? ` (${e.pending} packet${e.pending === 1 ? "" : "s"} queued)` : "";
      return `neighbour ${a} ${e.state}${mac}${queued}`;
    }
  }
  return `no neighbour entry for ${canonical}`;
}

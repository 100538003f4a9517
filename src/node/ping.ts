/**
 * `stack.ping(target, { count, timeout, size, interval })`: ICMP / ICMPv6 echo (RFC 792, RFC 4443
 * 4.1-4.2) over the stack's echo sockets, with round-trip times from the bindings' clock.
 *
 * Requests go out every `interval` ms; each waits up to `timeout` ms for its reply. The result
 * lists every request (its RTT, or null when lost) and ping(8)-style statistics.
 */
import type { ErrorCode, IpAddr, StackEvent } from "../context.ts";
import { formatIp, type IpVersion, Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import type { ApiHost } from "./host.ts";
import { netError } from "./net-errors.ts";

export interface PingOptions {
  /** Requests to send (default 1). */
  count?: number;
  /** How long to wait for each reply, ms (default 1000). */
  timeout?: number;
  /** Bytes of echo data (default 56, as ping(8)). */
  size?: number;
  /** Time between requests, ms (default 100 when count > 1). */
  interval?: number;
  /** Called for each reply as it arrives. */
  onReply?(reply: PingReply): void;
}

export interface PingReply {
  seq: number;
  from: string;
  /** Round-trip time, ms. */
  rtt: number;
  /** Echo data bytes (the request's size). */
  bytes: number;
}

export interface PingResult {
  target: string;
  family: "IPv4" | "IPv6";
  sent: number;
  received: number;
  /** Per request, by sequence number: the RTT in ms, or null when no reply came in time. */
  rtts: (number | null)[];
  replies: PingReply[];
  /** Errors reported for requests (ICMP unreachable, no route, ...): the Node error codes. */
  errors: string[];
  min: number;
  avg: number;
  max: number;
  /** Percent of requests without a reply. */
  loss: number;
}

/** Ping `target` (an IP literal) from `stack`. Rejects only on a bad target or an unusable socket. */
export async function ping(stack: ApiHost, target: string, options: PingOptions = {}): Promise<PingResult> {
  const dst = parseIp(target);
  if (dst === null) throw netError("EINVAL", "ping", target);
  const I = (typeof dst === "number" ? Ipv4 : Ipv6) as unknown as IpVersion<IpAddr>;
  const count = options.count ?? 1;
  const timeout = options.timeout ?? 1000;
  const size = options.size ?? 56;
  const interval = options.interval ?? 100;
  const echo = stack.echo;
  const sock = echo.open(I);
  if (typeof sock === "string") throw netError(sock, "socket");

  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = i & 0xff;
  const rtts: (number | null)[] = new Array(count).fill(null);
  const replies: PingReply[] = [];
  const errors: ErrorCode[] = [];
  const waiting = new Map<number, () => void>();
  stack.onSocket(sock, (ev: StackEvent) => {
    if (ev.type === "icmp-echo-reply") {
      if (ev.seq >= count || rtts[ev.seq] !== null) return;
      const reply: PingReply = { seq: ev.seq, from: formatIp(ev.from), rtt: ev.rtt, bytes: size };
      rtts[ev.seq] = ev.rtt;
      replies.push(reply);
      options.onReply?.(reply);
      waiting.get(ev.seq)?.();
    } else if (ev.type === "error") {
      errors.push(ev.code);
    }
  });
  stack.ref();
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const waits: Promise<void>[] = [];
  try {
    for (let seq = 0; seq < count; seq++) {
      if (seq > 0) await sleep(interval);
      if (stack.closed) break;
      const e = echo.send(sock, dst, seq, payload);
      if (e !== null) {
        errors.push(e);
        continue;
      }
      waits.push(
        new Promise<void>((resolve) => {
          const t = setTimeout(done, timeout);
          function done(): void {
            clearTimeout(t);
            waiting.delete(seq);
            resolve();
          }
          waiting.set(seq, done);
        }),
      );
    }
    await Promise.all(waits);
  } finally {
    stack.offSocket(sock);
    if (!stack.closed) echo.close(sock);
    stack.unref();
  }
  const got = rtts.filter((r): r is number => r !== null);
  const sum = got.reduce((a, b) => a + b, 0);
  return {
    target: formatIp(dst),
    family: I.name as "IPv4" | "IPv6",
    sent: count,
    received: got.length,
    rtts,
    replies,
    errors,
    min: got.length > 0 ? Math.min(...got) : 0,
    avg: got.length > 0 ? sum / got.length : 0,
    max: got.length > 0 ? Math.max(...got) : 0,
    loss: count > 0 ? (100 * (count - got.length)) / count : 0,
  };
}

/**
 * Shared helpers for the scenario tests: hosts built on a FakeNetwork, pings sent through the IP
 * layer's `IpSender`, and echo replies and ICMP errors recorded.
 */
import { test } from "node:test";
import type { IpAddr } from "../../src/context.ts";
import type { Ipv4Addr, Ipv6Addr } from "../../src/ip/addr.ts";
import type { IcmpErrorInfo, IpRxInfo } from "../../src/ip/transport-api.ts";
import { Ipv4, Ipv6, parseIp } from "../../src/ip/version.ts";
import { BytesBody } from "../../src/packet/serialize.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import type { FakeNetwork, LinkOptions } from "../../src/testing/fake-network.ts";
import { Icmpv4EchoBuilder, Icmpv4Type } from "../../src/wire/icmpv4.ts";
import { Icmpv6EchoBuilder, Icmpv6Type } from "../../src/wire/icmpv6.ts";
import { IpProto } from "../../src/wire/ipproto.ts";

export interface EchoRecord {
  from: string;
  id: number;
  seq: number;
  payload: Uint8Array;
}

export interface HostSpec {
  /** MACs of the Ethernet devices, in order (device ids 1, 2, ...; 0 is loopback). */
  macs: string[];
  /** Addresses per device index (0 = the first Ethernet device). */
  addrs: string[][];
  options?: StackOptions;
  mtus?: number[];
}

/** A Stack plus what its echo handler saw. */
export interface TestHost {
  stack: Stack;
  replies: EchoRecord[];
  errors: IcmpErrorInfo<IpAddr>[];
}

export function addHost(net: FakeNetwork<Stack>, name: string, spec: HostSpec): TestHost {
  const replies: EchoRecord[] = [];
  const errors: IcmpErrorInfo<IpAddr>[] = [];
  const stack = net.addHost(name, (b) => {
    const s = new Stack(b, spec.options);
    spec.macs.forEach((mac, i) => {
      const dev = s.addEthernetDevice({ mac, mtu: spec.mtus?.[i] });
      for (const a of spec.addrs[i] ?? []) {
        const e = s.addAddress(dev, a);
        if (e !== null) throw new Error(`addAddress ${a}: ${e}`);
      }
    });
    s.registerEcho({
      receiveEchoReply<A>(info: IpRxInfo<A>, id: number, seq: number, payload: Uint8Array) {
        replies.push({ from: info.I.format(info.src), id, seq, payload: payload.slice() });
      },
      receiveIcmpError<A>(err: IcmpErrorInfo<A>) {
        errors.push({ ...err, src: err.I.copy(err.src), dst: err.I.copy(err.dst) } as IcmpErrorInfo<IpAddr>);
      },
    });
    return s;
  });
  return { stack, replies, errors };
}

/** Send an echo request through `stack.ip`; returns the send error (null when sent or queued). */
export function ping(stack: Stack, dst: string, id: number, seq: number, payload: Uint8Array) {
  const a = parseIp(dst);
  if (a === null) throw new Error(`bad address ${dst}`);
  if (typeof a === "number") {
    const body = new BytesBody(payload).wrapIn(new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, id, seq));
    return stack.ip.send(Ipv4, { src: null, dst: a as Ipv4Addr, proto: IpProto.Icmp }, body);
  }
  const src = stack.ip.selectSource(Ipv6, a as Ipv6Addr);
  if (src === null) return "EADDRNOTAVAIL";
  const body = new BytesBody(payload).wrapIn(new Icmpv6EchoBuilder(src, a, Icmpv6Type.EchoRequest, id, seq));
  return stack.ip.send(Ipv6, { src, dst: a as Ipv6Addr, proto: IpProto.Icmpv6 }, body);
}

/** Bytes from hex text (spaces ignored). */
export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Hex text of bytes. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A deterministic payload of `n` bytes. */
export function pattern(n: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 7 + 3) & 0xff;
  return p;
}

/**
 * Let address configuration finish: duplicate address detection (1 s) and router solicitation
 * (three, 4 s apart) run to completion before a test starts watching the wire.
 */
export function settle(net: FakeNetwork<Stack>): void {
  net.advance(10_000);
}

/** Whether the scenario running now lends its frames (FakeNetwork `lendFrames`); set by `testBothModes`. */
export const mode = { lend: false };

/**
 * Register `fn` twice: with frames the stacks may keep, and (name suffixed "(lent frames)") with
 * frames only lent to them and poisoned once each entry point returned (`Buf.borrowed`). The
 * scenario builds its network with `lendFrames: mode.lend`; its assertions must hold both ways.
 */
export function testBothModes(name: string, fn: () => void | Promise<void>): void {
  for (const lend of [false, true]) {
    test(lend ? `${name} (lent frames)` : name, async () => {
      mode.lend = lend;
      try {
        await fn();
      } finally {
        mode.lend = false;
      }
    });
  }
}

/**
 * a (10.0.1.2, 2001:db8:1::2) -- r (forwarding) -- b (10.0.2.2, 2001:db8:2::2) on `net`, default
 * routes through r, links of 2 ms; `link` (loss, reordering, ...) applies once address configuration
 * has settled.
 */
export function routerTopology(net: FakeNetwork<Stack>, link: LinkOptions = {}) {
  const a = addHost(net, "a", { macs: ["02:00:00:00:01:0a"], addrs: [["10.0.1.2/24", "2001:db8:1::2/64"]] });
  const r = addHost(net, "r", {
    macs: ["02:00:00:00:01:01", "02:00:00:00:02:01"],
    addrs: [
      ["10.0.1.1/24", "2001:db8:1::1/64"],
      ["10.0.2.1/24", "2001:db8:2::1/64"],
    ],
    options: { forwarding: { v4: true, v6: true } },
  });
  const b = addHost(net, "b", { macs: ["02:00:00:00:02:0b"], addrs: [["10.0.2.2/24", "2001:db8:2::2/64"]] });
  a.stack.addRoute("0.0.0.0/0", { gateway: "10.0.1.1" });
  a.stack.addRoute("::/0", { gateway: "2001:db8:1::1" });
  b.stack.addRoute("0.0.0.0/0", { gateway: "10.0.2.1" });
  b.stack.addRoute("::/0", { gateway: "2001:db8:2::1" });
  const l1 = net.link(["a", 1], ["r", 1], { latency: 2 });
  const l2 = net.link(["r", 2], ["b", 1], { latency: 2 });
  settle(net);
  // Impair the links only after address configuration has settled.
  Object.assign(l1.options, link);
  Object.assign(l2.options, link);
  return { a, r, b };
}

/**
 * Shared option handling of `netstack serve|fetch|ping`: `--tap NAME:ADDR[,ADDR...]`, `--gateway`,
 * `--mtu`, and `openStack` which opens the TAP devices, configures a NodeStack on them (optionally
 * captured to pcapng) and waits until its addresses are usable.
 *
 * Parsing is pure and returns a message for a user mistake (the caller turns it into `ctx.usage`),
 * so the syntax is testable without TAP devices.
 */

import { parseCidr } from "../../ip/subnet.ts";
import { parseIp } from "../../ip/version.ts";
import { ParseError } from "../../wire/errors.ts";
import type { Link } from "../link.ts";
import { NodeStack } from "../node-stack.ts";
import { PcapngCapture } from "../pcap-link.ts";
import { keepHeapMemory, TapError, TapLink } from "../tap.ts";

/** One `--tap NAME:ADDR[,ADDR...]`. */
export interface TapSpec {
  /** The TAP device name (1-15 bytes, as Linux allows). */
  name: string;
  /** Addresses with prefix length ("10.0.0.2/24", "fd00::2/64"); at least one. */
  addresses: string[];
}

/** Linux interface names: 1-15 bytes, no '/', ':', whitespace (dev_valid_name()). */
const IFNAME = /^[^/:\s]{1,15}$/;

/** Parse one `--tap` value, or return a one-line reason it is wrong. */
export function parseTapSpec(text: string): TapSpec | string {
  const colon = text.indexOf(":");
  if (colon < 0) return `--tap ${text}: expected NAME:ADDR[,ADDR...] (e.g. tap0:10.0.0.2/24,fd00::2/64)`;
  const name = text.slice(0, colon);
  if (!IFNAME.test(name) || name === "." || name === "..") {
    return `--tap ${text}: '${name}' is not a valid interface name (1-15 characters, no '/', ':' or spaces)`;
  }
  const rest = text.slice(colon + 1);
  if (rest === "") return `--tap ${text}: no address after '${name}:' (e.g. ${name}:10.0.0.2/24)`;
  const addresses: string[] = [];
  for (const a of rest.split(",")) {
    if (!a.includes("/")) return `--tap ${text}: address '${a}' needs a prefix length (e.g. ${a}/24 or ${a}/64)`;
    const p = parseCidr(a);
    if (p instanceof ParseError) return `--tap ${text}: '${a}' is not an address with prefix length`;
    addresses.push(a);
  }
  return { name, addresses };
}

/** Parse every `--tap`, rejecting a device named twice. */
export function parseTapSpecs(values: readonly string[] | undefined): TapSpec[] | string {
  if (values === undefined || values.length === 0) {
    return "missing --tap NAME:ADDR[,ADDR...] (e.g. --tap tap0:10.0.0.2/24,fd00::2/64)";
  }
  const out: TapSpec[] = [];
  for (const v of values) {
    const s = parseTapSpec(v);
    if (typeof s === "string") return s;
    if (out.some((o) => o.name === s.name)) return `--tap ${s.name} given twice (list its addresses after one colon)`;
    out.push(s);
  }
  return out;
}

/** Parse `--gateway IP` (an address, no prefix). */
export function parseGateway(text: string | undefined): string | null | { error: string } {
  if (text === undefined) return null;
  if (parseIp(text) === null) return { error: `--gateway ${text}: not an IPv4 or IPv6 address` };
  return text;
}

/** Parse every `--gateway IP` given (one default route per IP version). */
export function parseGateways(texts: readonly string[] | undefined): string[] | { error: string } {
  const out: string[] = [];
  for (const t of texts ?? []) {
    const p = parseGateway(t);
    if (p !== null && typeof p === "object") return p;
    if (p !== null) out.push(p);
  }
  return out;
}

/** Parse `--mtu N`: IPv4 needs 68 (RFC 791), IPv6 1280 (RFC 8200 5); TAP carries up to 65535. */
export function parseMtu(text: string | undefined, needV6: boolean): number | null | { error: string } {
  if (text === undefined) return null;
  if (!/^\d+$/.test(text)) return { error: `--mtu ${text}: not a number` };
  const n = Number(text);
  const min = needV6 ? 1280 : 68;
  if (n < min || n > 65535) {
    return { error: `--mtu ${text}: must be between ${min} and 65535${needV6 ? " (IPv6 needs at least 1280)" : ""}` };
  }
  return n;
}

/** Parse a positive integer option (`-c 3`). */
export function parsePositiveInt(
  opt: string,
  text: string | undefined,
  max: number,
): number | null | { error: string } {
  if (text === undefined) return null;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    return { error: `${opt} ${text}: expected a whole number from 1 to ${max}` };
  }
  return Number(text);
}

/** Is any address of the specs IPv6? */
export function hasV6(specs: readonly TapSpec[]): boolean {
  return specs.some((s) => s.addresses.some((a) => a.includes(":")));
}

/** Options of `openStack`. */
export interface OpenStackOptions {
  taps: TapSpec[];
  /** Default routes: one gateway per IP version. */
  gateways?: string[];
  mtu?: number | null;
  /** Capture every TAP into this pcapng file. */
  pcap?: string | null;
  forward?: boolean;
  /** Wait for IPv6 duplicate address detection (default true). */
  waitReady?: boolean;
  /** Give up (SetupError) when that wait takes longer than this many ms (default: no limit). */
  readyTimeoutMs?: number;
  /** For tests and embedding: open links some other way than TapLink.open. */
  openLink?: (spec: TapSpec, mtu: number | null) => Link;
}

/** What `openStack` returns. */
export interface OpenedStack {
  stack: NodeStack;
  links: Link[];
  capture: PcapngCapture | null;
  /** Close the stack, its links and the capture. */
  close(): Promise<void>;
}

/** A failure opening or configuring the stack: one line for the user. */
export class SetupError extends Error {}

/**
 * Open every TAP (creating it if needed, bringing it up), attach it to a new NodeStack with its
 * addresses, add the default route, and wait until the addresses are usable. Throws `SetupError`
 * with one line (TAP unavailable, permission, bad configuration).
 */
export async function openStack(o: OpenStackOptions): Promise<OpenedStack> {
  const links: Link[] = [];
  let capture: PcapngCapture | null = null;
  // The CLI owns its process: keep freed Buffer memory instead of faulting it in again per batch.
  if (o.openLink === undefined) keepHeapMemory();
  const stack = new NodeStack({ mtu: o.mtu ?? 1500, forwarding: o.forward === true });
  const fail = async (message: string): Promise<never> => {
    await stack.close();
    for (const l of links) await l.close();
    capture?.close();
    throw new SetupError(message);
  };
  try {
    if (o.pcap) capture = new PcapngCapture({ file: o.pcap });
  } catch (e) {
    return fail(`cannot write ${o.pcap}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  for (const spec of o.taps) {
    let link: Link;
    try {
      link =
        o.openLink !== undefined
          ? o.openLink(spec, o.mtu ?? null)
          : TapLink.open(spec.name, { up: true, ...(o.mtu ? { mtu: o.mtu } : {}) });
    } catch (e) {
      return fail(e instanceof TapError ? e.message : `cannot open ${spec.name}: ${(e as Error).message}`);
    }
    links.push(link);
    const attached = capture !== null ? capture.wrap(link) : link;
    try {
      stack.addLink(attached, { addresses: spec.addresses, name: spec.name, ...(o.mtu ? { mtu: o.mtu } : {}) });
    } catch (e) {
      return fail(`${spec.name}: ${(e as Error).message}`);
    }
  }
  for (const g of o.gateways ?? []) {
    try {
      stack.gateway(g);
    } catch (e) {
      return fail(`--gateway ${g}: cannot add the default route (${(e as Error).message})`);
    }
  }
  if (o.waitReady !== false) {
    // Like readyAlive (an interval holds the event loop open: the core's DAD timer does not), but
    // bounded: a stack that never becomes ready must not keep the process alive either.
    let timer: NodeJS.Timeout | undefined;
    const keep = setInterval(() => {}, 1 << 30);
    const limit = o.readyTimeoutMs;
    const late = await Promise.race([
      stack.ready().then(() => false),
      new Promise<boolean>((resolve) => {
        if (limit !== undefined) timer = setTimeout(() => resolve(true), limit);
      }),
    ]);
    clearTimeout(timer);
    clearInterval(keep);
    if (late) {
      const secs = Number(((limit ?? 0) / 1000).toFixed(3));
      return fail(`IPv6 duplicate address detection of the stack's addresses did not finish in ${secs} s`);
    }
  }
  return {
    stack,
    links,
    capture,
    close: async () => {
      await stack.close();
      capture?.close();
    },
  };
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
export function untilSignal(): { promise: Promise<NodeJS.Signals>; cancel(): void } {
  let done: (s: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((r) => {
    done = r;
  });
  const on = (s: NodeJS.Signals) => {
    cancel();
    done(s);
  };
  const cancel = () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return { promise, cancel };
}

/** "12.3 MB", "512 B". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** "94.1 Mbit/s". */
export function formatRate(bytes: number, seconds: number): string {
  const bits = seconds > 0 ? (bytes * 8) / seconds : 0;
  if (bits >= 1e9) return `${(bits / 1e9).toFixed(2)} Gbit/s`;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(1)} Mbit/s`;
  if (bits >= 1e3) return `${(bits / 1e3).toFixed(1)} kbit/s`;
  return `${bits.toFixed(0)} bit/s`;
}

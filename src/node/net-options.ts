/**
 * The options of node:net's `Socket` and `connect()` as the stack takes them: their types, node:net's
 * argument normalization (`(options[, cb])`, `(port[, host][, cb])`, `(path[, cb])`) and checks
 * (the errors node:net throws for them), and the address order of Happy Eyeballs (RFC 8305 4:
 * families interleaved, starting with the first address's). No RFC otherwise: Node semantics.
 */
import type { DuplexOptions } from "node:stream";
import { parseIp } from "../ip/version.ts";
import { codeError, invalidArgType, invalidIp, validatePort } from "./net-errors.ts";
import type { LookupAddress, LookupFunction } from "./net-lookup.ts";

/** The `address()` object Node returns. */
export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

/** Options of `new Socket()` (node:net's, those that apply). */
export interface SocketOptions extends DuplexOptions {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Destroys the socket (with an AbortError) when aborted. */
  signal?: AbortSignal;
}

/** Options of `connect()` (node:net's TCP ones). */
export interface TcpConnectOptions extends SocketOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** 4 or 6: only that family; 0 / undefined: both. */
  family?: number;
  /** getaddrinfo hints, passed to the lookup. */
  hints?: number;
  /** Resolves `host` (`dns.lookup`'s shape). Default: the stack's lookup. */
  lookup?: LookupFunction;
  /** RFC 8305 Happy Eyeballs over the lookup's addresses. Default: `getDefaultAutoSelectFamily()`. */
  autoSelectFamily?: boolean;
  /** Delay before the next address is tried, ms (at least 10). Default 250. */
  autoSelectFamilyAttemptTimeout?: number;
  timeout?: number;
  /** TCP send / receive buffer sizes for this connection. */
  sendBufferSize?: number;
  recvBufferSize?: number;
  [key: string]: unknown;
}

type Callback = () => void;

/** Process-wide defaults of `autoSelectFamily`, as node:net's `setDefaultAutoSelectFamily*`. */
export const autoSelectDefaults = { family: true, attemptTimeout: 250 };

/** Marks an argument array already normalized (node:net's `normalizedArgsSymbol`). */
export const normalizedArgs = Symbol("normalizedArgs");

/**
 * node:net's normalizeArgs: `(options[, cb])`, `(port[, host][, cb])`, `(path[, cb])` to
 * `[options, cb | null]`.
 */
export function normalizeArgs(args: unknown[]): [Record<string, unknown>, Callback | null] {
  if (args.length === 0) return [{}, null];
  const a0 = args[0];
  let options: Record<string, unknown> = {};
  if (typeof a0 === "object" && a0 !== null) options = a0 as Record<string, unknown>;
  else if (typeof a0 === "string" && !/^\s*\d*\s*$/.test(a0) && Number.isNaN(Number(a0))) options.path = a0;
  else {
    options.port = a0;
    if (args.length > 1 && typeof args[1] === "string") options.host = args[1];
  }
  const cb = args[args.length - 1];
  return [options, typeof cb === "function" ? (cb as Callback) : null];
}

/** What `connect()` needs from its options once they passed node:net's checks. */
export interface CheckedConnectOptions {
  localAddress: string | undefined;
  port: number;
  host: string;
  auto: boolean;
  attemptTimeout: number;
}

/** node:net's checks of `connect()` options (lookupAndConnect): throws its argument errors. */
export function checkConnectOptions(o: TcpConnectOptions): CheckedConnectOptions {
  const { localAddress, localPort } = o;
  const host = typeof o.host === "string" && o.host !== "" ? o.host : "localhost";
  if (localAddress && parseIp(String(localAddress)) === null) throw invalidIp(localAddress);
  if (localPort && typeof localPort !== "number") throw invalidArgType("options.localPort", "number", localPort);
  let port = 0;
  if (o.port !== undefined) {
    if (typeof o.port !== "number" && typeof o.port !== "string") {
      throw invalidArgType("options.port", ["number", "string"], o.port);
    }
    port = validatePort(o.port);
  }
  let auto = autoSelectDefaults.family;
  if (o.autoSelectFamily != null) {
    if (typeof o.autoSelectFamily !== "boolean") {
      throw invalidArgType("options.autoSelectFamily", "boolean", o.autoSelectFamily);
    }
    auto = o.autoSelectFamily;
  }
  let attemptTimeout = autoSelectDefaults.attemptTimeout;
  if (o.autoSelectFamilyAttemptTimeout != null) {
    const t = o.autoSelectFamilyAttemptTimeout;
    if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > 0x7fffffff) {
      throw codeError(
        typeof t === "number" ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE",
        `The value of "options.autoSelectFamilyAttemptTimeout" is out of range. It must be >= 1 && <= 2147483647. Received ${String(t)}`,
        typeof t === "number" ? RangeError : TypeError,
      );
    }
    attemptTimeout = Math.max(10, t);
  }
  return { localAddress: localAddress ? String(localAddress) : undefined, port, host, auto, attemptTimeout };
}

/**
 * RFC 8305 4: the usable addresses of a lookup (IP literals of family 4 or 6, each once), the two
 * families alternating, starting with the family of the first. Empty when none is usable.
 */
export function interleaveFamilies(list: readonly LookupAddress[]): LookupAddress[] {
  const byFamily: [LookupAddress[], LookupAddress[]] = [[], []];
  const seen = new Set<string>();
  let firstFamily = 0;
  for (const a of list) {
    if (typeof a.address !== "string" || (a.family !== 4 && a.family !== 6) || parseIp(a.address) === null) continue;
    if (seen.has(a.address)) continue;
    if (firstFamily === 0) firstFamily = a.family;
    seen.add(a.address);
    byFamily[a.family === firstFamily ? 0 : 1].push(a);
  }
  const order: LookupAddress[] = [];
  for (let i = 0; i < Math.max(byFamily[0].length, byFamily[1].length); i++) {
    if (i < byFamily[0].length) order.push(byFamily[0][i]);
    if (i < byFamily[1].length) order.push(byFamily[1][i]);
  }
  return order;
}

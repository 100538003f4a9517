/**
 * Host names for the Node-shaped APIs: the `lookup` function node:net's `connect` takes (the shape
 * of `dns.lookup`: `(hostname, { family, hints, all }, callback)`), and the stack's default one.
 *
 * The default lookup answers IP literals and `localhost` (RFC 6761 6.3: `localhost` and names under
 * it are the loopback addresses, 127.0.0.1 and ::1) itself, and hands every other name to the
 * resolver installed on the stack (`new NodeStack({ lookup })` or `stack.setLookup(fn)`, a function
 * of `dns.lookup`'s shape). Without one, names fail as getaddrinfo fails for an unknown name:
 * `getaddrinfo ENOTFOUND name` (`code` ENOTFOUND, `syscall` getaddrinfo, `hostname`).
 */
import nodeNet from "node:net";
import { invalidArgValue } from "./net-errors.ts";

/** node:net's own isIP, taken when this module loads (node:net's exports may be replaced later). */
const isIP = nodeNet.isIP;

/** getaddrinfo hint flags, as node:dns's `ADDRCONFIG`, `V4MAPPED`, `ALL`. */
const ADDRCONFIG = 32;
const V4MAPPED = 8;
const ALL = 16;

/** The options of a lookup (those of `dns.lookup` that apply). */
export interface LookupOptions {
  /** 4, 6, or 0 / undefined: both. "IPv4" / "IPv6" are accepted as node:net does. */
  family?: number | "IPv4" | "IPv6";
  /** getaddrinfo flags (`dns.ADDRCONFIG`, ...); passed through to the resolver. */
  hints?: number;
  /** Every address, as `{ address, family }[]`, instead of the first one. */
  all?: boolean;
  [key: string]: unknown;
}

/** One address of a lookup with `all: true`. */
export interface LookupAddress {
  address: string;
  family: number;
}

/** The callback of a lookup: `(err, address, family)`, or `(err, addresses)` with `all: true`. */
export type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A function of `dns.lookup`'s shape (what the `lookup` option of `connect` takes). */
export type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/** The getaddrinfo-shaped error of a failed lookup (`getaddrinfo ENOTFOUND example.test`). */
export function lookupError(code: "ENOTFOUND" | "EAI_AGAIN" | "EAI_FAIL", hostname: string): NodeJS.ErrnoException {
  // The errno values are libuv's UV_EAI_NONAME / UV_EAI_AGAIN / UV_EAI_FAIL, as node:dns reports them.
  const errno = { ENOTFOUND: -3008, EAI_AGAIN: -3001, EAI_FAIL: -3007 }[code];
  const e = new Error(`getaddrinfo ${code} ${hostname}`) as NodeJS.ErrnoException & { hostname: string };
  e.errno = errno;
  e.code = code;
  e.syscall = "getaddrinfo";
  e.hostname = hostname;
  return e;
}

/** 4, 6 or 0 from a lookup's `family` option. */
export function familyOf(family: LookupOptions["family"]): 0 | 4 | 6 {
  if (family === 4 || family === "IPv4") return 4;
  if (family === 6 || family === "IPv6") return 6;
  return 0;
}

/** RFC 6761 6.3: `localhost` and names ending in `.localhost`. */
function isLocalhost(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return n === "localhost" || n.endsWith(".localhost");
}

/**
 * The stack's lookup: literals and localhost here, other names through `resolver()` (the installed
 * one, or null: ENOTFOUND). Calls back asynchronously, as `dns.lookup` does.
 */
export function stackLookup(resolver: () => LookupFunction | null): LookupFunction {
  return (hostname, options, callback) => {
    const opts = typeof options === "object" && options !== null ? options : {};
    // As dns.lookup: hints other than ADDRCONFIG | V4MAPPED | ALL are refused.
    if (opts.hints !== undefined && (Number(opts.hints) & ~(ADDRCONFIG | V4MAPPED | ALL)) !== 0) {
      throw invalidArgValue("hints", opts.hints);
    }
    const family = familyOf(opts.family);
    const all = opts.all === true;
    const answer = (list: LookupAddress[]): void => {
      if (all) process.nextTick(callback, null, list);
      else process.nextTick(callback, null, list[0].address, list[0].family);
    };
    const text = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
    const literal = isIP(text);
    if (literal !== 0 && (family === 0 || family === literal)) {
      answer([{ address: text, family: literal }]);
      return;
    }
    if (literal === 0 && isLocalhost(text)) {
      const list: LookupAddress[] = [];
      if (family !== 6) list.push({ address: "127.0.0.1", family: 4 });
      if (family !== 4) list.push({ address: "::1", family: 6 });
      answer(list);
      return;
    }
    const r = literal === 0 ? resolver() : null;
    if (r === null) {
      process.nextTick(callback, lookupError("ENOTFOUND", hostname), all ? [] : "");
      return;
    }
    r(hostname, { ...opts, family, all }, callback);
  };
}

/**
 * Errors of the Node-shaped APIs, worded and coded as Node's own: system errors (`code`, `errno`,
 * `syscall`, `address`, `port`: `connect ECONNREFUSED 10.0.0.1:80`) and argument errors
 * (`ERR_SOCKET_BAD_PORT`, `ERR_MISSING_ARGS`, `ERR_INVALID_ARG_TYPE`, ...) with the class
 * (TypeError, RangeError) and message node:net and node:dgram use. No RFC: Node semantics.
 */
import { constants as osConstants } from "node:os";
import { getSystemErrorMap, inspect } from "node:util";

/** A Node-style system error (`err.code`, `err.errno`, `err.syscall`, ...). */
export interface NetError extends Error {
  code: string;
  errno?: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** The negative errno Node reports for `code` (undefined for codes without one). */
export function errnoOf(code: string): number | undefined {
  const n = (osConstants.errno as Record<string, number | undefined>)[code];
  return n === undefined ? undefined : -n;
}

/**
 * A Node-shaped system error. `described` adds the system message as `uvExceptionWithHostPort` does
 * (`listen EADDRINUSE: address already in use 10.0.0.1:80`); otherwise the form of
 * `exceptionWithHostPort` (`connect ECONNREFUSED 10.0.0.1:80`) or `errnoException` (`read ECONNRESET`).
 */
export function netError(code: string, syscall: string, address?: string, port?: number, described = false): NetError {
  const errno = errnoOf(code);
  let msg = `${syscall} ${code}`;
  if (described && errno !== undefined) {
    const d = getSystemErrorMap().get(errno);
    if (d !== undefined) msg += `: ${d[1]}`;
  }
  if (address !== undefined) msg += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const e = new Error(msg) as NetError;
  e.errno = errno;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (address !== undefined && port !== undefined && port > 0) e.port = port;
  return e;
}

/** An error with a Node `code` (`ERR_...`), of class `Ctor`, whose `toString()` reads as Node's. */
export function codeError(
  code: string,
  message: string,
  Ctor: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor = Error,
): Error & { code: string } {
  const e = new Ctor(message) as Error & { code: string };
  e.code = code;
  // Node's errors print as `TypeError [ERR_X]: message`.
  Object.defineProperty(e, "toString", {
    value: () => `${e.name} [${code}]: ${e.message}`,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  e.stack = `${e.name} [${code}]: ${message}${(e.stack ?? "").slice((e.stack ?? "").indexOf("\n"))}`;
  return e;
}

/** How Node's messages show a received value (`type number (-1)`, `type string ('x')`, ...). */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "number":
      return Object.is(value, -0) ? "type number (-0)" : `type number (${value})`;
    case "bigint":
      return `type bigint (${value}n)`;
    case "boolean":
      return `type boolean (${value})`;
    case "symbol":
      return `type symbol (${String(value)})`;
    case "function":
      return `function ${(value as { name: string }).name}`;
    case "string": {
      const s = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`;
    }
    default: {
      const c = (value as { constructor?: { name?: string } }).constructor;
      return c?.name !== undefined ? `an instance of ${c.name}` : inspect(value, { depth: -1 });
    }
  }
}

/** ERR_INVALID_ARG_TYPE: `The "name" argument must be of type number. Received ...` (Node's wording). */
export function invalidArgType(name: string, expected: string | string[], actual: unknown): Error {
  const list = Array.isArray(expected) ? expected : [expected];
  // Node writes the type "Object" in lower case.
  const types = list.filter((t) => !/^[A-Z]/.test(t) || t === "Object").map((t) => (t === "Object" ? "object" : t));
  const classes = list.filter((t) => /^[A-Z]/.test(t) && t !== "Object");
  const or = (xs: string[]) =>
    xs.length > 2 ? `${xs.slice(0, -1).join(", ")}, or ${xs[xs.length - 1]}` : xs.join(" or ");
  const parts: string[] = [];
  if (types.length > 0) parts.push(`${types.length > 1 ? "one of type" : "of type"} ${or(types)}`);
  if (classes.length > 0) parts.push(`an instance of ${or(classes)}`);
  const what = name.endsWith(" argument") ? name : `"${name}" ${name.includes(".") ? "property" : "argument"}`;
  return codeError(
    "ERR_INVALID_ARG_TYPE",
    `The ${what} must be ${parts.join(" or ")}. Received ${describeValue(actual)}`,
    TypeError,
  );
}

/** ERR_INVALID_ARG_VALUE: `The argument 'name' is invalid. Received ...`. */
export function invalidArgValue(name: string, value: unknown, reason = "is invalid"): Error {
  const what = name.includes(".") ? "property" : "argument";
  return codeError("ERR_INVALID_ARG_VALUE", `The ${what} '${name}' ${reason}. Received ${inspect(value)}`, TypeError);
}

/** ERR_MISSING_ARGS: `The "options" or "port" or "path" argument must be specified`. */
export function missingArgs(...names: (string | string[])[]): Error {
  const wrap = (a: string | string[]) => (Array.isArray(a) ? a.map((x) => `"${x}"`).join(" or ") : `"${a}"`);
  const list = names.map(wrap);
  const joined = list.length < 3 ? list.join(" and ") : `${list.slice(0, -1).join(", ")}, and ${list[list.length - 1]}`;
  return codeError(
    "ERR_MISSING_ARGS",
    `The ${joined} argument${names.length > 1 ? "s" : ""} must be specified`,
    TypeError,
  );
}

/** ERR_SOCKET_BAD_PORT: `Port should be >= 0 and < 65536. Received type number (-1).` */
export function badPort(name: string, port: unknown, allowZero = true): Error {
  return codeError(
    "ERR_SOCKET_BAD_PORT",
    `${name} should be ${allowZero ? ">=" : ">"} 0 and < 65536. Received ${describeValue(port)}.`,
    RangeError,
  );
}

/**
 * node's validatePort: a number or a non-empty numeric string in 0..65535 (1.. without `allowZero`).
 * Returns the port as a number; throws ERR_SOCKET_BAD_PORT.
 */
export function validatePort(port: unknown, name = "Port", allowZero = true): number {
  const ok =
    (typeof port === "number" || (typeof port === "string" && port.trim().length !== 0)) &&
    +port === +port >>> 0 &&
    +port <= 0xffff &&
    (allowZero || +port !== 0);
  if (!ok) throw badPort(name, port, allowZero);
  return +port | 0;
}

/** ERR_INVALID_ADDRESS_FAMILY: `Invalid address family: 100 localhost:80` (with `host`, `port`). */
export function invalidAddressFamily(family: unknown, host: unknown, port: unknown): Error {
  const e = codeError("ERR_INVALID_ADDRESS_FAMILY", `Invalid address family: ${family} ${host}:${port}`, RangeError);
  return Object.assign(e, { host, port });
}

/** ERR_INVALID_IP_ADDRESS: `Invalid IP address: x`. */
export function invalidIp(address: unknown): Error {
  return codeError("ERR_INVALID_IP_ADDRESS", `Invalid IP address: ${String(address)}`, TypeError);
}

/** An `AbortError` as Node's `signal` options give (`code: 'ABORT_ERR'`, `cause`: the reason). */
export function abortError(reason?: unknown): Error {
  const e = new Error("The operation was aborted", reason === undefined ? undefined : { cause: reason });
  e.name = "AbortError";
  (e as Error & { code: string }).code = "ABORT_ERR";
  return e;
}

/** Node's validateAbortSignal: undefined or an AbortSignal, else ERR_INVALID_ARG_TYPE. */
export function validateSignal(signal: unknown, name: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== "object" || !("aborted" in signal)) {
    throw invalidArgType(name, "AbortSignal", signal);
  }
  return signal as AbortSignal;
}

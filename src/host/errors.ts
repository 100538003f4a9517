/**
 * Errors of the host APIs: an `Error` with a Node-style `code` (ECONNREFUSED, EADDRINUSE, ...) and
 * the call that failed, so browser code and Node code check failures the same way. No RFC.
 */

export interface CodedError extends Error {
  code: string;
  syscall?: string;
  address?: string;
  port?: number;
}

const MESSAGES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ECONNABORTED: "connection aborted",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host is unreachable",
  ENETUNREACH: "network is unreachable",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  EMSGSIZE: "message too long",
  EPIPE: "broken pipe",
  EINVAL: "invalid argument",
  ENOTFOUND: "name not found",
  ESHUTDOWN: "stack is closed",
  EMFILE: "too many open sockets",
};

/** `connect ECONNREFUSED 10.0.0.1:80 (connection refused)`, with `code`, `syscall`, `address`, `port`. */
export function codedError(code: string, syscall: string, address?: string, port?: number): CodedError {
  let msg = `${syscall} ${code}`;
  if (address !== undefined) msg += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const d = MESSAGES[code];
  if (d !== undefined) msg += ` (${d})`;
  const e = new Error(msg) as CodedError;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined && port > 0) e.port = port;
  return e;
}

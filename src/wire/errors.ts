/**
 * Parse errors as values. A wire parser returns either a view or a `ParseError`; it never throws on
 * malformed input. Errors are preallocated where they carry no per-packet data, so rejecting a
 * packet allocates nothing.
 */

export class ParseError {
  constructor(
    /** Which format rejected the bytes: "ethernet", "ipv4", "tcp", ... */
    readonly layer: string,
    /** Short machine-readable reason: "too-short", "bad-checksum", "bad-version", ... */
    readonly reason: string,
  ) {}

  toString(): string {
    return `${this.layer}: ${this.reason}`;
  }
}

/** A cache of `ParseError`s so each (layer, reason) pair is allocated once. */
const cache = new Map<string, ParseError>();

/** The shared `ParseError` for a layer and reason. */
export function parseError(layer: string, reason: string): ParseError {
  const key = `${layer}\u0000${reason}`;
  let e = cache.get(key);
  if (e === undefined) {
    e = new ParseError(layer, reason);
    cache.set(key, e);
  }
  return e;
}

/** True when a parse result is an error. */
export function isError(x: unknown): x is ParseError {
  return x instanceof ParseError;
}

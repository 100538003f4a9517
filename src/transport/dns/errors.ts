/**
 * The errors of the DNS resolver, worded as Node's `dns` module words them: `lookup` (getaddrinfo)
 * fails with `ENOTFOUND` (errno -3008, EAI_NONAME) when the name has no address of the family
 * asked for and `EAI_AGAIN` (errno -3001) when the servers could not be asked; `resolve4` and
 * `resolve6` (c-ares in Node) with `ENOTFOUND`, `ENODATA`, `ESERVFAIL`, `EREFUSED`, `ENOTIMP`,
 * `EFORMERR`, `ETIMEOUT`, `ECONNREFUSED`, `EBADNAME`, `ENOMEM`, `ECANCELLED`. The message is
 * Node's: "`syscall` `code` `hostname`".
 */

/** Error codes of `lookup`. */
export type LookupErrorCode = "ENOTFOUND" | "EAI_AGAIN" | "ECANCELLED";

/** Error codes of `resolve4` / `resolve6`. */
export type ResolveErrorCode =
  | "ENOTFOUND"
  | "ENODATA"
  | "ESERVFAIL"
  | "EREFUSED"
  | "ENOTIMP"
  | "EFORMERR"
  | "ETIMEOUT"
  | "ECONNREFUSED"
  | "EBADNAME"
  | "ENOMEM"
  | "ECANCELLED";

export type DnsErrorCode = LookupErrorCode | ResolveErrorCode;

/** getaddrinfo's numbers for the codes that have one (libuv's UV_EAI_*). */
const ERRNO: Partial<Record<DnsErrorCode, number>> = { ENOTFOUND: -3008, EAI_AGAIN: -3001 };

/** A failed DNS lookup or query, shaped like Node's. */
export class DnsError extends Error {
  readonly errno: number | undefined;
  constructor(
    readonly code: DnsErrorCode,
    /** "getaddrinfo", "queryA", "queryAaaa". */
    readonly syscall: string,
    readonly hostname: string,
  ) {
    super(`${syscall} ${code} ${hostname}`);
    this.name = "Error";
    this.errno = syscall === "getaddrinfo" ? ERRNO[code] : undefined;
  }
}

/**
 * The input format of targets whose parser needs the IP addresses (UDP, TCP, ICMPv6): a context
 * prefix, then the message. The prefix is fuzzed like the rest, so addresses vary too.
 *
 *   byte 0: bit 0 = IPv6 (else IPv4); bit 1 = skip checksum verification (`SKIP_CHECKSUM`)
 *   IPv4: 4-byte source, 4-byte destination      IPv6: 16-byte source, 16-byte destination
 *   then the message
 *
 * An input too short for its prefix is run as an empty message with zero addresses.
 */
import { v4At } from "../src/ip/addr.ts";
import type { Rng } from "../src/testing/rng.ts";
import { pseudoSum } from "../src/wire/checksum.ts";

export interface AddrCtx {
  v6: boolean;
  skipChecksum: boolean;
  /** A number (IPv4) or 16 bytes (IPv6), as the builders and `pseudoSum` take them. */
  src: number | Uint8Array;
  dst: number | Uint8Array;
  /** Where the message starts in the input. */
  msgOff: number;
}

/** Split an input into its address context and the offset of the message (`v6Only`: bit 0 ignored). */
export function readCtx(input: Uint8Array, v6Only = false): AddrCtx {
  const flags = input.length > 0 ? input[0] : 0;
  const v6 = v6Only || (flags & 1) !== 0;
  const skipChecksum = (flags & 2) !== 0;
  const alen = v6 ? 16 : 4;
  const msgOff = 1 + 2 * alen;
  if (input.length < msgOff) {
    return {
      v6,
      skipChecksum,
      src: v6 ? new Uint8Array(16) : 0,
      dst: v6 ? new Uint8Array(16) : 0,
      msgOff: input.length,
    };
  }
  if (v6) return { v6, skipChecksum, src: input.slice(1, 17), dst: input.slice(17, 33), msgOff };
  return { v6, skipChecksum, src: v4At(input, 1) as number, dst: v4At(input, 5) as number, msgOff };
}

/** An input from a context and a message. */
export function withCtx(
  src: number | Uint8Array,
  dst: number | Uint8Array,
  msg: Uint8Array,
  skipChecksum = false,
): Uint8Array {
  const v6 = typeof src !== "number";
  const alen = v6 ? 16 : 4;
  const out = new Uint8Array(1 + 2 * alen + msg.length);
  out[0] = (v6 ? 1 : 0) | (skipChecksum ? 2 : 0);
  const put = (o: number, a: number | Uint8Array): void => {
    if (typeof a === "number") {
      out[o] = a >>> 24;
      out[o + 1] = (a >>> 16) & 0xff;
      out[o + 2] = (a >>> 8) & 0xff;
      out[o + 3] = a & 0xff;
    } else out.set(a.subarray(0, 16), o);
  };
  put(1, src);
  put(1 + alen, dst);
  out.set(msg, 1 + 2 * alen);
  return out;
}

/** The pseudo-header sum for a message of `len` bytes of protocol `proto` in this context. */
export function ctxPseudo(c: AddrCtx, proto: number, len: number): number {
  return pseudoSum(c.src, c.dst, proto, len);
}

/** A random context prefix followed by `msg` (IPv6 addresses when `v6`). */
export function randomCtx(rng: Rng, v6: boolean, msg: Uint8Array, skipChecksum = false): Uint8Array {
  const addr = (): number | Uint8Array => {
    if (!v6) return rng.uint32();
    const a = rng.fill(new Uint8Array(16));
    if (rng.chance(0.3)) {
      a[0] = 0xfe;
      a[1] = 0x80;
    }
    return a;
  };
  return withCtx(addr(), addr(), msg, skipChecksum);
}

/**
 * Initial sequence numbers, RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey).
 *
 * M is a timer that ticks every 4 microseconds (RFC 9293 3.4.1's clock), derived from an explicit
 * `now` in milliseconds; F is SipHash-2-4 keyed with 128 bits drawn once from the injected random
 * source, over the connection's 4-tuple. A fixed tuple's ISNs therefore advance with time (so a new
 * incarnation starts above an old one's sequence space) while an off-path attacker who does not know
 * the key cannot predict another tuple's ISN.
 */
import { SipHash } from "./siphash.ts";

/** An address as the transport layer sees it: an IPv4 address (uint32) or IPv6 bytes (16). */
export type TcpAddr = number | Uint8Array;

/** 2^32, for reducing a time count modulo the sequence space. */
const SEQ_SPACE = 4294967296;

/**
 * Write (local, localPort, remote, remotePort) into `out` and return the length written (12 bytes
 * for IPv4, 36 for IPv6). Shared by ISN generation and SYN cookies.
 */
export function writeTuple(
  out: Uint8Array,
  local: TcpAddr,
  localPort: number,
  remote: TcpAddr,
  remotePort: number,
): number {
  let o = putAddr(out, 0, local);
  o = putAddr(out, o, remote);
  out[o] = localPort >>> 8;
  out[o + 1] = localPort & 0xff;
  out[o + 2] = remotePort >>> 8;
  out[o + 3] = remotePort & 0xff;
  return o + 4;
}

function putAddr(out: Uint8Array, o: number, a: TcpAddr): number {
  if (typeof a === "number") {
    out[o] = a >>> 24;
    out[o + 1] = (a >>> 16) & 0xff;
    out[o + 2] = (a >>> 8) & 0xff;
    out[o + 3] = a & 0xff;
    return o + 4;
  }
  out.set(a.subarray(0, 16), o);
  return o + 16;
}

/** Room for the largest tuple (two IPv6 addresses, two ports) plus a trailing word. */
export const TUPLE_SCRATCH_LEN = 40;

/** The 4-microsecond clock M of RFC 6528 at `now` milliseconds, modulo 2^32. */
export function isnClock(now: number): number {
  // RFC 6528 3 / RFC 9293 3.4.1: M is a timer that increments every 4 microseconds.
  return (Math.floor(now * 250) % SEQ_SPACE) >>> 0;
}

/** RFC 6528 ISN generator for one stack. */
export class IsnGenerator {
  private readonly key: SipHash;
  private readonly scratch = new Uint8Array(TUPLE_SCRATCH_LEN);

  /** `random` returns uniformly random 32-bit words; four are drawn for the secret key. */
  constructor(random: () => number) {
    this.key = SipHash.fromRandom(random);
  }

  /** The ISN for a new connection on this tuple at time `now` (ms). Allocates nothing. */
  isn(now: number, local: TcpAddr, localPort: number, remote: TcpAddr, remotePort: number): number {
    const n = writeTuple(this.scratch, local, localPort, remote, remotePort);
    // RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey).
    const f = this.key.hash(this.scratch, 0, n);
    return (isnClock(now) + f) >>> 0;
  }
}

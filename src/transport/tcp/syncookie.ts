/**
 * SYN cookies (RFC 4987 3.6), with Linux's encoding.
 *
 * When the SYN queue is full a listener answers a SYN statelessly: its ISN (the cookie) is
 *
 *   cookie = H1(tuple) + peerIsn + (count << 24) + ((H2(tuple, count) + mssIndex) & 0xffffff)
 *
 * where `count` is a coarse clock (one tick per `periodMs`, a minute by default), H1 and H2 are
 * SipHash-2-4 under two secret keys, and `mssIndex` picks the client's MSS from a small table. The
 * ACK that completes the handshake acknowledges cookie + 1; the listener recomputes and checks the
 * hash, accepts a counter at most `maxAge - 1` ticks old, and recovers the MSS.
 *
 * With timestamps, the low 6 bits of our TSval carry the options a cookie cannot: the peer's window
 * scale (4 bits, 15 = none), SACK-permitted and ECN; the peer echoes them back in TSecr.
 */
import { type TcpAddr, TUPLE_SCRATCH_LEN, writeTuple } from "./isn.ts";
import { SipHash } from "./siphash.ts";

const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Linux's IPv4 table (net/ipv4/syncookies.c): common MSS values, smallest first. */
export const MSS_TABLE_V4: readonly number[] = [536, 1300, 1440, 1460];
/** Linux's IPv6 table: 1280, 1480, 1500 and 9000 byte MTUs less 60 bytes of headers. */
export const MSS_TABLE_V6: readonly number[] = [1220, 1420, 1440, 8940];

/** Timestamp option bits (TSval's low 6 bits). */
const TS_BITS = 6;
const TS_MASK = (1 << TS_BITS) - 1;
const TS_WSCALE_NONE = 0xf;
const TS_SACK = 0x10;
const TS_ECN = 0x20;

export interface SynCookieOptions {
  /** MSS values the cookie can encode, ascending (at most 256). Default `MSS_TABLE_V4`. */
  mssTable?: readonly number[];
  /** Length of one counter tick in ms. Default 60 000 (Linux: one minute). */
  periodMs?: number;
  /** A cookie is valid while its counter is less than this many ticks old. Default 2 (Linux). */
  maxAge?: number;
}

export class SynCookies {
  private readonly h1: SipHash;
  private readonly h2: SipHash;
  private readonly scratch = new Uint8Array(TUPLE_SCRATCH_LEN + 4);
  readonly mssTable: readonly number[];
  readonly periodMs: number;
  readonly maxAge: number;
  /** Options decoded by the last `decodeTimestamp`. */
  wscale = -1;
  sackOk = false;
  ecn = false;

  /** `random` returns uniformly random 32-bit words; eight are drawn for the two keys. */
  constructor(random: () => number, options: SynCookieOptions = {}) {
    this.h1 = SipHash.fromRandom(random);
    this.h2 = SipHash.fromRandom(random);
    this.mssTable = options.mssTable ?? MSS_TABLE_V4;
    this.periodMs = options.periodMs ?? 60_000;
    this.maxAge = options.maxAge ?? 2;
    if (this.mssTable.length < 1 || this.mssTable.length > 256) throw new RangeError("bad MSS table");
  }

  /** The coarse counter at `now`. */
  counter(now: number): number {
    return Math.floor(now / this.periodMs) >>> 0;
  }

  /** The table index encoding `mss`: the largest entry not above it (index 0 when all are). */
  mssIndex(mss: number): number {
    let i = this.mssTable.length - 1;
    while (i > 0 && mss < this.mssTable[i]) i--;
    return i;
  }

  /**
   * The ISN for a SYN-ACK answering a SYN from `remote` (whose ISN is `peerIsn`, MSS option
   * `peerMss`) to `local`. The MSS the connection will use is `mssTable[mssIndex(peerMss)]`.
   */
  encode(
    now: number,
    local: TcpAddr,
    localPort: number,
    remote: TcpAddr,
    remotePort: number,
    peerIsn: number,
    peerMss: number,
  ): number {
    const count = this.counter(now);
    const n = writeTuple(this.scratch, local, localPort, remote, remotePort);
    const h1 = this.h1.hash(this.scratch, 0, n);
    const h2 = this.hash2(n, count);
    // RFC 4987 3.6 / Linux secure_tcp_syn_cookie: hash, client ISN, counter in the top 8 bits, and
    // the MSS index hidden under the second hash in the low 24.
    return (h1 + peerIsn + ((count << COOKIE_BITS) >>> 0) + ((h2 + this.mssIndex(peerMss)) & COOKIE_MASK)) >>> 0;
  }

  /**
   * Check the ACK completing a cookie handshake (`segSeq` and `segAck` are the ACK's sequence and
   * acknowledgment numbers: the peer's ISN + 1 and the cookie + 1). Returns the MSS to use, or 0
   * when the cookie is forged, tampered with or expired.
   */
  check(
    now: number,
    local: TcpAddr,
    localPort: number,
    remote: TcpAddr,
    remotePort: number,
    segSeq: number,
    segAck: number,
  ): number {
    const peerIsn = (segSeq - 1) >>> 0;
    const cookie = (segAck - 1) >>> 0;
    const n = writeTuple(this.scratch, local, localPort, remote, remotePort);
    const h1 = this.h1.hash(this.scratch, 0, n);
    const rest = (cookie - h1 - peerIsn) >>> 0;
    const count = this.counter(now);
    // The counter's low 8 bits travel in the cookie; its age is their difference modulo 256.
    const age = (count - (rest >>> COOKIE_BITS)) & 0xff;
    if (age >= this.maxAge) return 0;
    const h2 = this.hash2(n, (count - age) >>> 0);
    const index = (rest - h2) & COOKIE_MASK;
    return index < this.mssTable.length ? this.mssTable[index] : 0;
  }

  /**
   * Linux's cookie_init_timestamp: our TSval for the SYN-ACK with the options in its low 6 bits.
   * `wscale` is the peer's window scale (-1 when it sent none). The result is never above `tsNow`.
   */
  encodeTimestamp(tsNow: number, wscale: number, sackOk: boolean, ecn = false): number {
    let opts = wscale >= 0 && wscale <= 14 ? wscale : TS_WSCALE_NONE;
    if (sackOk) opts |= TS_SACK;
    if (ecn) opts |= TS_ECN;
    let ts = ((tsNow & ~TS_MASK) | opts) >>> 0;
    // Keep TSval from running ahead of the clock (it would fail the peer's PAWS later).
    if (((ts - tsNow) | 0) > 0) ts = (ts - (1 << TS_BITS)) >>> 0;
    return ts;
  }

  /** Recover the options from the TSecr of the completing ACK into `wscale`, `sackOk` and `ecn`. */
  decodeTimestamp(tsEcr: number): void {
    const ws = tsEcr & 0xf;
    this.wscale = ws === TS_WSCALE_NONE ? -1 : ws;
    this.sackOk = (tsEcr & TS_SACK) !== 0;
    this.ecn = (tsEcr & TS_ECN) !== 0;
  }

  private hash2(n: number, count: number): number {
    const b = this.scratch;
    b[n] = count >>> 24;
    b[n + 1] = (count >>> 16) & 0xff;
    b[n + 2] = (count >>> 8) & 0xff;
    b[n + 3] = count & 0xff;
    return this.h2.hash(b, 0, n + 4);
  }
}

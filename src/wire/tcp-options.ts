/**
 * TCP options: RFC 9293 section 3.1 (option format, EOL, NOP, MSS), RFC 7323 (window scale,
 * timestamps), RFC 2018 (SACK-permitted, SACK blocks).
 *
 * Options are read into a reusable `TcpOptions` struct (`readTcpOptions`), which allocates nothing,
 * and written in the order and alignment Linux uses (`tcp_options_write`): every option starts on
 * the byte Linux puts it on, so a Linux segment re-serialized from its parsed options is
 * byte-identical. Layouts other stacks use are kept verbatim by the TCP repr (`rawOptions`).
 */
import { type ParseError, parseError } from "./errors.ts";

/** Option kinds (IANA "TCP Option Kind Numbers"). An open set: other kinds are skipped by length. */
export const TcpOptionKind = {
  End: 0,
  Nop: 1,
  Mss: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamp: 8,
} as const;
export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind];

/** Most option bytes a TCP header can hold (data offset 15 words minus the 5-word fixed header). */
export const TCP_MAX_OPTIONS_LEN = 40;
/** Most SACK blocks an option can carry (2 + 4 * 8 = 34 bytes; a fifth would not fit in 40). */
export const TCP_MAX_SACK_BLOCKS = 4;

const LEN_MSS = 4;
const LEN_WS = 3;
const LEN_SACK_PERM = 2;
const LEN_TS = 10;
const LEN_SACK_BASE = 2;
const LEN_SACK_BLOCK = 8;

const E_OPT_LEN = parseError("tcp", "bad-option-length");
const E_OPT_TRUNC = parseError("tcp", "option-truncated");

/** Parsed options of one segment. Reused: `readTcpOptions` overwrites every field. */
export class TcpOptions {
  /** Maximum segment size (RFC 9293 3.7.1), -1 when absent. */
  mss = -1;
  /** Window scale shift count as sent (RFC 7323 2.3; the receiver clamps values above 14), -1 when absent. */
  wscale = -1;
  /** SACK-permitted (RFC 2018 section 2). */
  sackPermitted = false;
  /** Number of SACK blocks in `sack`. */
  sackCount = 0;
  /** SACK blocks as pairs [left0, right0, left1, right1, ...] of sequence numbers (RFC 2018 section 3). */
  readonly sack = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);
  /** True when a timestamps option was present (RFC 7323 section 3). */
  hasTs = false;
  /** TSval. */
  tsVal = 0;
  /** TSecr. */
  tsEcr = 0;

  /** Reset to "no options". */
  clear(): this {
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.sackCount = 0;
    this.hasTs = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    return this;
  }

  /** Append a SACK block; false when four are already held. */
  addSack(left: number, right: number): boolean {
    const n = this.sackCount;
    if (n >= TCP_MAX_SACK_BLOCKS) return false;
    this.sack[2 * n] = left;
    this.sack[2 * n + 1] = right;
    this.sackCount = n + 1;
    return true;
  }

  /** Set the timestamps option. */
  setTs(tsVal: number, tsEcr: number): this {
    this.hasTs = true;
    this.tsVal = tsVal >>> 0;
    this.tsEcr = tsEcr >>> 0;
    return this;
  }

  /** Copy every field of `o` into this. */
  copyFrom(o: TcpOptions): this {
    this.mss = o.mss;
    this.wscale = o.wscale;
    this.sackPermitted = o.sackPermitted;
    this.sackCount = o.sackCount;
    this.sack.set(o.sack);
    this.hasTs = o.hasTs;
    this.tsVal = o.tsVal;
    this.tsEcr = o.tsEcr;
    return this;
  }

  /** True when no option is set. */
  get empty(): boolean {
    return this.mss < 0 && this.wscale < 0 && !this.sackPermitted && this.sackCount === 0 && !this.hasTs;
  }
}

/**
 * Read the options in `bytes[off, off + len)` into `out` (cleared first). Returns null, or an error
 * when an option's length is below 2 or runs past the end, or a known option has the wrong length.
 * Unknown kinds are skipped by their length; a repeated option overwrites the earlier one; bytes
 * after End of Option List are ignored. Pass `out = null` to validate only. Allocates nothing.
 */
export function readTcpOptions(bytes: Uint8Array, off: number, len: number, out: TcpOptions | null): ParseError | null {
  out?.clear();
  let i = off;
  const end = off + len;
  while (i < end) {
    const kind = bytes[i];
    // RFC 9293 3.1: End of Option List; what follows is padding.
    if (kind === 0) break;
    // RFC 9293 3.1: No-Operation, one byte.
    if (kind === 1) {
      i++;
      continue;
    }
    // RFC 9293 3.1: every other option has a length octet counting kind and length (MUST-7: an
    // illegal length, e.g. zero, must be handled: here the segment is rejected).
    if (i + 1 >= end) return E_OPT_TRUNC;
    const olen = bytes[i + 1];
    if (olen < 2) return E_OPT_LEN;
    if (i + olen > end) return E_OPT_TRUNC;
    switch (kind) {
      case 2: // MSS
        if (olen !== LEN_MSS) return E_OPT_LEN;
        if (out !== null) out.mss = (bytes[i + 2] << 8) | bytes[i + 3];
        break;
      case 3: // window scale
        if (olen !== LEN_WS) return E_OPT_LEN;
        if (out !== null) out.wscale = bytes[i + 2];
        break;
      case 4: // SACK-permitted
        if (olen !== LEN_SACK_PERM) return E_OPT_LEN;
        if (out !== null) out.sackPermitted = true;
        break;
      case 5: {
        // RFC 2018 section 3: 2 + 8n bytes, n >= 1 (n <= 4 follows from the 40-byte limit).
        const blocks = (olen - LEN_SACK_BASE) >> 3;
        if (blocks < 1 || olen !== LEN_SACK_BASE + blocks * LEN_SACK_BLOCK) return E_OPT_LEN;
        if (out !== null) {
          const s = out.sack;
          const n = Math.min(blocks, TCP_MAX_SACK_BLOCKS);
          for (let k = 0, p = i + 2; k < 2 * n; k++, p += 4) {
            s[k] = ((bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3]) >>> 0;
          }
          out.sackCount = n;
        }
        break;
      }
      case 8: // timestamps
        if (olen !== LEN_TS) return E_OPT_LEN;
        if (out !== null) {
          out.hasTs = true;
          out.tsVal = ((bytes[i + 2] << 24) | (bytes[i + 3] << 16) | (bytes[i + 4] << 8) | bytes[i + 5]) >>> 0;
          out.tsEcr = ((bytes[i + 6] << 24) | (bytes[i + 7] << 16) | (bytes[i + 8] << 8) | bytes[i + 9]) >>> 0;
        }
        break;
      default:
        // RFC 9293 3.1 (MUST-6): unknown options are ignored, skipped by their length.
        break;
    }
    i += olen;
  }
  return null;
}

/**
 * Visit each option with a length octet in an already validated options range (EOL and NOP are not
 * visited): `fn(kind, dataOff, dataLen)` with the option's data after its kind and length bytes.
 * For printing unknown options; the stack itself uses `readTcpOptions`.
 */
export function forEachTcpOption(
  bytes: Uint8Array,
  off: number,
  len: number,
  fn: (kind: number, dataOff: number, dataLen: number) => void,
): void {
  let i = off;
  const end = off + len;
  while (i < end) {
    const kind = bytes[i];
    if (kind === 0) return;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return;
    const olen = bytes[i + 1];
    if (olen < 2 || i + olen > end) return;
    fn(kind, i + 2, olen - 2);
    i += olen;
  }
}

/** Bytes `writeTcpOptions` uses before any SACK blocks: MSS, TS (with SACK-permitted), WS. */
function fixedLen(o: TcpOptions): number {
  let n = 0;
  if (o.mss >= 0) n += 4;
  if (o.hasTs) n += 12;
  else if (o.sackPermitted) n += 4;
  if (o.wscale >= 0) n += 4;
  return n;
}

/**
 * SACK blocks that will be written: all of them, or as many as fit in the 40 option bytes after the
 * other options (Linux `tcp_established_options` does the same: 3 blocks beside timestamps).
 */
export function tcpSackBlocksWritten(o: TcpOptions): number {
  const n = o.sackCount;
  if (n === 0) return 0;
  const room = ((TCP_MAX_OPTIONS_LEN - fixedLen(o) - 4) / LEN_SACK_BLOCK) | 0;
  return Math.min(n, room);
}

/** Length in bytes (a multiple of 4) of the options `writeTcpOptions` writes for `o`. */
export function tcpOptionsLen(o: TcpOptions): number {
  const blocks = tcpSackBlocksWritten(o);
  return fixedLen(o) + (blocks > 0 ? 4 + blocks * LEN_SACK_BLOCK : 0);
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

/**
 * Write `o` at `bytes[off]` laid out as Linux does, each option on a 4-byte boundary:
 * MSS; SACK-permitted + TS (or NOP NOP TS, or NOP NOP SACK-permitted); NOP WS; NOP NOP SACK.
 * So a SYN reads `02 04 mss, 04 02 08 0a tsval tsecr, 01 03 03 ws` and an ACK with SACK
 * `01 01 08 0a tsval tsecr, 01 01 05 len blocks`. Returns the length written (`tcpOptionsLen(o)`);
 * every byte in it is written.
 */
export function writeTcpOptions(bytes: Uint8Array, off: number, o: TcpOptions): number {
  let i = off;
  if (o.mss >= 0) {
    bytes[i] = 2;
    bytes[i + 1] = LEN_MSS;
    bytes[i + 2] = (o.mss >>> 8) & 0xff;
    bytes[i + 3] = o.mss & 0xff;
    i += 4;
  }
  if (o.hasTs) {
    if (o.sackPermitted) {
      bytes[i] = 4;
      bytes[i + 1] = LEN_SACK_PERM;
    } else {
      bytes[i] = 1;
      bytes[i + 1] = 1;
    }
    bytes[i + 2] = 8;
    bytes[i + 3] = LEN_TS;
    put32(bytes, i + 4, o.tsVal);
    put32(bytes, i + 8, o.tsEcr);
    i += 12;
  } else if (o.sackPermitted) {
    bytes[i] = 1;
    bytes[i + 1] = 1;
    bytes[i + 2] = 4;
    bytes[i + 3] = LEN_SACK_PERM;
    i += 4;
  }
  if (o.wscale >= 0) {
    bytes[i] = 1;
    bytes[i + 1] = 3;
    bytes[i + 2] = LEN_WS;
    bytes[i + 3] = o.wscale & 0xff;
    i += 4;
  }
  const blocks = tcpSackBlocksWritten(o);
  if (blocks > 0) {
    bytes[i] = 1;
    bytes[i + 1] = 1;
    bytes[i + 2] = 5;
    bytes[i + 3] = LEN_SACK_BASE + blocks * LEN_SACK_BLOCK;
    i += 4;
    const s = o.sack;
    for (let k = 0; k < 2 * blocks; k++, i += 4) put32(bytes, i, s[k]);
  }
  return i - off;
}

/** Readable options, in the shape of `netstack decode --json`: only the options present appear. */
export interface TcpOptionsRepr {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  sack?: [number, number][];
  ts?: [number, number];
}

/** The repr of parsed options. */
export function tcpOptionsToRepr(o: TcpOptions): TcpOptionsRepr {
  const r: TcpOptionsRepr = {};
  if (o.mss >= 0) r.mss = o.mss;
  if (o.wscale >= 0) r.wscale = o.wscale;
  if (o.sackPermitted) r.sackPermitted = true;
  if (o.sackCount > 0) {
    const sack: [number, number][] = [];
    for (let k = 0; k < o.sackCount; k++) sack.push([o.sack[2 * k], o.sack[2 * k + 1]]);
    r.sack = sack;
  }
  if (o.hasTs) r.ts = [o.tsVal, o.tsEcr];
  return r;
}

/** Set `out` (cleared first) from a repr. SACK blocks past the fourth are dropped. */
export function tcpOptionsFromRepr(r: TcpOptionsRepr, out: TcpOptions = new TcpOptions()): TcpOptions {
  out.clear();
  if (r.mss !== undefined) out.mss = r.mss & 0xffff;
  if (r.wscale !== undefined) out.wscale = r.wscale & 0xff;
  if (r.sackPermitted === true) out.sackPermitted = true;
  if (r.sack !== undefined) for (const [l, rr] of r.sack) out.addSack(l, rr);
  if (r.ts !== undefined) out.setTs(r.ts[0], r.ts[1]);
  return out;
}

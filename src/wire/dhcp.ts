/**
 * DHCPv4 messages: RFC 2131 (the BOOTP message of RFC 951 with the DHCP magic cookie), options of
 * RFC 2132 (and its option overload, option 52), long options split over several instances
 * (RFC 3396) on the sending side, the client identifier of RFC 2132 9.14.
 *
 * A message is 236 bytes of fixed fields, the 4-byte magic cookie 99.130.83.99 (RFC 2131 3) and
 * the options. `DhcpView` checks the fixed part and walks every option once at parse time: the
 * options field, then, when option 52 says so, the `file` field and the `sname` field (RFC 2131
 * 4.1 gives that order). Every option must lie inside its field; an option of a known code with a
 * length that does not fit its type is kept (the cursor and `option()` see it) but the typed
 * getters report it absent. Unknown options pass through. The first instance of each code is
 * indexed, so typed getters are O(1) and allocate nothing (they never concatenate RFC 3396 split
 * options: the first instance is what they read).
 *
 * `DhcpBuilder` writes every byte of the message: fixed fields, `sname` and `file` (zero padded),
 * the cookie, the options, End, and zero padding up to `minLen` (300 bytes by default: the
 * minimum BOOTP message of RFC 1542 2.1, which some relays and servers insist on).
 */
import { formatV4, type Ipv4Addr, parseV4, v4At, v4Put } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type ParseError, parseError } from "./errors.ts";

/** UDP port of DHCP servers (RFC 2131 4.1). */
export const DHCP_SERVER_PORT = 67;
/** UDP port of DHCP clients (RFC 2131 4.1). */
export const DHCP_CLIENT_PORT = 68;
/** The magic cookie 99.130.83.99 (RFC 2131 3, RFC 2132 2). */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Length of the fixed fields and the cookie: options start here. */
export const DHCP_OPTIONS_OFF = 240;
/** Smallest message a BOOTP relay must accept (RFC 1542 2.1): builders pad to it by default. */
export const BOOTP_MIN_LEN = 300;
/** Smallest maximum message size a DHCP participant must accept (RFC 2131 2, RFC 2132 9.10). */
export const DHCP_MIN_MAX_MESSAGE = 576;
/** The broadcast bit of `flags` (RFC 2131 2, figure 2). */
export const DHCP_FLAG_BROADCAST = 0x8000;

/** BOOTP `op` (RFC 951). */
export const DhcpOp = { Request: 1, Reply: 2 } as const;

/** DHCP message types, option 53 (RFC 2132 9.6). An open set. */
export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type DhcpMessageType = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

/** Option codes (RFC 2132, RFC 3397 for 119). An open set: other codes pass through. */
export const DhcpOption = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainNameServer: 6,
  HostName: 12,
  DomainName: 15,
  InterfaceMtu: 26,
  BroadcastAddress: 28,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassId: 60,
  ClientId: 61,
  DomainSearch: 119,
  End: 255,
} as const;

/** RFC 2132 9.3 option overload values: which of `file` (1) and `sname` (2) hold options. */
export const DhcpOverload = { File: 1, Sname: 2, Both: 3 } as const;

// Fixed field offsets (RFC 2131 2, figure 1).
const OP = 0;
const HTYPE = 1;
const HLEN = 2;
const HOPS = 3;
const XID = 4;
const SECS = 8;
const FLAGS = 10;
const CIADDR = 12;
const YIADDR = 16;
const SIADDR = 20;
const GIADDR = 24;
const CHADDR = 28;
const SNAME = 44;
const FILE = 108;
const COOKIE = 236;
const CHADDR_LEN = 16;
const SNAME_LEN = 64;
const FILE_LEN = 128;

const E_SHORT = parseError("dhcp", "too-short");
const E_OP = parseError("dhcp", "bad-op");
const E_HLEN = parseError("dhcp", "bad-hlen");
const E_COOKIE = parseError("dhcp", "bad-cookie");
const E_OPTION = parseError("dhcp", "option-overflow");

const EMPTY = new Uint8Array(0);

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Check the options in `b[start, end)`: every option other than Pad and End has its length byte
 * and its data inside the area. Calls `index` for each. Returns the error or null (an area
 * without End is accepted: it ends with the field).
 */
function walkArea(
  b: Uint8Array,
  start: number,
  end: number,
  index: ((code: number, dataOff: number, len: number) => void) | null,
): ParseError | null {
  let p = start;
  while (p < end) {
    const code = b[p];
    if (code === DhcpOption.Pad) {
      p++;
      continue;
    }
    if (code === DhcpOption.End) return null;
    if (p + 2 > end) return E_OPTION;
    const l = b[p + 1];
    if (p + 2 + l > end) return E_OPTION;
    if (index !== null) index(code, p + 2, l);
    p += 2 + l;
  }
  return null;
}

/** The data length a known option must have to be read by the typed getters (-1: any; -4: multiple of 4). */
function expectedLen(code: number): number {
  switch (code) {
    case DhcpOption.SubnetMask:
    case DhcpOption.BroadcastAddress:
    case DhcpOption.RequestedIp:
    case DhcpOption.ServerId:
    case DhcpOption.LeaseTime:
    case DhcpOption.RenewalTime:
    case DhcpOption.RebindingTime:
      return 4;
    case DhcpOption.InterfaceMtu:
    case DhcpOption.MaxMessageSize:
      return 2;
    case DhcpOption.MessageType:
    case DhcpOption.Overload:
      return 1;
    case DhcpOption.Router:
    case DhcpOption.DomainNameServer:
      return -4;
    default:
      return -1;
  }
}

/** A DHCP message in a byte buffer. After a successful parse `len` covers the whole message. */
export class DhcpView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;
  /** The option overload value (RFC 2132 9.3) in force: 0, 1 (file), 2 (sname) or 3 (both). */
  overload = 0;
  /** Data offset of the first instance of each option code, -1 when absent. */
  private readonly optOff = new Int32Array(256);
  /** Data length of the first instance of each option code. */
  private readonly optLen = new Uint8Array(256);
  private readonly indexFn = (code: number, dataOff: number, l: number): void => {
    if (this.optOff[code] < 0) {
      this.optOff[code] = dataOff;
      this.optLen[code] = l;
    }
  };

  /** Parse the message at `bytes[off, off + len)` (the UDP payload). Allocates the view. */
  static parse(bytes: Uint8Array, off: number, len: number): DhcpView | ParseError {
    const v = new DhcpView();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /** Re-point this view at a message and validate it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < DHCP_OPTIONS_OFF || off + len > bytes.length) return E_SHORT;
    const op = bytes[off + OP];
    // RFC 951: BOOTREQUEST or BOOTREPLY; nothing else is a BOOTP message.
    if (op !== DhcpOp.Request && op !== DhcpOp.Reply) return E_OP;
    if (bytes[off + HLEN] > CHADDR_LEN) return E_HLEN;
    // RFC 2131 3: DHCP messages carry the magic cookie; plain BOOTP is not served here.
    if (u32(bytes, off + COOKIE) !== DHCP_MAGIC_COOKIE) return E_COOKIE;
    this.optOff.fill(-1);
    const end = off + len;
    let e = walkArea(bytes, off + DHCP_OPTIONS_OFF, end, this.indexFn);
    if (e !== null) return e;
    // RFC 2132 9.3: option 52 in the options field says whether `file` and `sname` hold options.
    let overload = 0;
    const o52 = this.optOff[DhcpOption.Overload];
    if (o52 >= 0 && this.optLen[DhcpOption.Overload] === 1) {
      const v = bytes[o52];
      if (v >= 1 && v <= 3) overload = v;
    }
    // Option 52 is only meaningful in the options field (RFC 2132 9.3); an instance inside `file`
    // or `sname` is indexed only when the options field had none, and then changes nothing.
    if (overload & DhcpOverload.File) {
      e = walkArea(bytes, off + FILE, off + FILE + FILE_LEN, this.indexFn);
      if (e !== null) return e;
    }
    if (overload & DhcpOverload.Sname) {
      e = walkArea(bytes, off + SNAME, off + SNAME + SNAME_LEN, this.indexFn);
      if (e !== null) return e;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    this.overload = overload;
    return null;
  }

  get op(): number {
    return this.bytes[this.off + OP];
  }
  get htype(): number {
    return this.bytes[this.off + HTYPE];
  }
  get hlen(): number {
    return this.bytes[this.off + HLEN];
  }
  get hops(): number {
    return this.bytes[this.off + HOPS];
  }
  get xid(): number {
    return u32(this.bytes, this.off + XID);
  }
  get secs(): number {
    return u16(this.bytes, this.off + SECS);
  }
  get flags(): number {
    return u16(this.bytes, this.off + FLAGS);
  }
  /** The broadcast flag (RFC 2131 4.1). */
  get broadcast(): boolean {
    return (this.flags & DHCP_FLAG_BROADCAST) !== 0;
  }
  get ciaddr(): Ipv4Addr {
    return v4At(this.bytes, this.off + CIADDR);
  }
  get yiaddr(): Ipv4Addr {
    return v4At(this.bytes, this.off + YIADDR);
  }
  get siaddr(): Ipv4Addr {
    return v4At(this.bytes, this.off + SIADDR);
  }
  get giaddr(): Ipv4Addr {
    return v4At(this.bytes, this.off + GIADDR);
  }
  /** The 16-byte `chaddr` field, borrowed (the first `hlen` bytes are the hardware address). */
  get chaddr(): Uint8Array {
    return this.bytes.subarray(this.off + CHADDR, this.off + CHADDR + CHADDR_LEN);
  }
  /** True when the first 6 bytes of `chaddr` are `mac` (and `hlen` is 6). */
  chaddrIs(mac: Uint8Array): boolean {
    if (this.hlen !== 6) return false;
    const b = this.bytes;
    const o = this.off + CHADDR;
    for (let i = 0; i < 6; i++) if (b[o + i] !== mac[i]) return false;
    return true;
  }
  /** The 64-byte `sname` field, borrowed. */
  get sname(): Uint8Array {
    return this.bytes.subarray(this.off + SNAME, this.off + SNAME + SNAME_LEN);
  }
  /** The 128-byte `file` field, borrowed. */
  get file(): Uint8Array {
    return this.bytes.subarray(this.off + FILE, this.off + FILE + FILE_LEN);
  }

  /** True when option `code` is present (any length). */
  has(code: number): boolean {
    return this.optOff[code & 0xff] >= 0;
  }
  /** The data of the first instance of option `code` (borrowed), or null when absent. */
  option(code: number): Uint8Array | null {
    const o = this.optOff[code & 0xff];
    return o < 0 ? null : this.bytes.subarray(o, o + this.optLen[code & 0xff]);
  }
  /** Data offset of the first instance of `code` when present with the length its type needs, else -1. */
  private typed(code: number): number {
    const o = this.optOff[code];
    if (o < 0) return -1;
    const want = expectedLen(code);
    const l = this.optLen[code];
    if (want > 0 ? l !== want : want === -4 ? l === 0 || (l & 3) !== 0 : false) return -1;
    return o;
  }
  private addr(code: number): Ipv4Addr | null {
    const o = this.typed(code);
    return o < 0 ? null : v4At(this.bytes, o);
  }
  private num32(code: number): number {
    const o = this.typed(code);
    return o < 0 ? -1 : u32(this.bytes, o);
  }
  private num16(code: number): number {
    const o = this.typed(code);
    return o < 0 ? -1 : u16(this.bytes, o);
  }

  /** Option 53 (RFC 2132 9.6); 0 when absent or malformed. */
  get messageType(): number {
    const o = this.typed(DhcpOption.MessageType);
    return o < 0 ? 0 : this.bytes[o];
  }
  /** Option 1 (RFC 2132 3.3). */
  get subnetMask(): Ipv4Addr | null {
    return this.addr(DhcpOption.SubnetMask);
  }
  /** Option 28 (RFC 2132 5.3). */
  get broadcastAddress(): Ipv4Addr | null {
    return this.addr(DhcpOption.BroadcastAddress);
  }
  /** Option 50 (RFC 2132 9.1). */
  get requestedIp(): Ipv4Addr | null {
    return this.addr(DhcpOption.RequestedIp);
  }
  /** Option 54 (RFC 2132 9.7). */
  get serverId(): Ipv4Addr | null {
    return this.addr(DhcpOption.ServerId);
  }
  /** Option 51 in seconds (RFC 2132 9.2; 0xffffffff is infinite); -1 when absent. */
  get leaseTime(): number {
    return this.num32(DhcpOption.LeaseTime);
  }
  /** Option 58, T1 in seconds (RFC 2132 9.11); -1 when absent. */
  get renewalTime(): number {
    return this.num32(DhcpOption.RenewalTime);
  }
  /** Option 59, T2 in seconds (RFC 2132 9.12); -1 when absent. */
  get rebindingTime(): number {
    return this.num32(DhcpOption.RebindingTime);
  }
  /** Option 26 (RFC 2132 5.1); -1 when absent. */
  get interfaceMtu(): number {
    return this.num16(DhcpOption.InterfaceMtu);
  }
  /** Option 57 (RFC 2132 9.10); -1 when absent. */
  get maxMessageSize(): number {
    return this.num16(DhcpOption.MaxMessageSize);
  }
  /** Number of addresses in an address-list option (3 routers, 6 name servers); 0 when absent or malformed. */
  addrCount(code: number): number {
    const o = this.typed(code & 0xff);
    return o < 0 ? 0 : this.optLen[code & 0xff] >>> 2;
  }
  /** Address `i` of an address-list option (check `addrCount` first). */
  addrAt(code: number, i: number): Ipv4Addr {
    return v4At(this.bytes, this.optOff[code & 0xff] + 4 * i);
  }
  /**
   * The option's data as text (host name 12, domain name 15, message 56): bytes as Latin-1
   * characters up to the first NUL (some senders terminate strings); null when absent.
   */
  text(code: number): string | null {
    const d = this.option(code);
    if (d === null) return null;
    let s = "";
    for (let i = 0; i < d.length && d[i] !== 0; i++) s += String.fromCharCode(d[i]);
    return s;
  }

  /** A cursor over every option in order: the options field, then `file`, then `sname`. */
  options(cursor: DhcpOptionCursor = new DhcpOptionCursor()): DhcpOptionCursor {
    return cursor.start(this);
  }
}

/** Where an option was found. */
export type DhcpOptionArea = "options" | "file" | "sname";

/** Walks the options of a parsed message (Pad skipped, End stops an area). */
export class DhcpOptionCursor {
  bytes: Uint8Array = EMPTY;
  /** The current option's code. */
  code = 0;
  /** Offset of the current option's data. */
  dataOff = 0;
  /** Length of the current option's data. */
  len = 0;
  /** The area the current option is in. */
  area: DhcpOptionArea = "options";
  private pos = 0;
  private end = 0;
  private base = 0;
  private overload = 0;

  start(view: DhcpView): this {
    this.bytes = view.bytes;
    this.base = view.off;
    this.overload = view.overload;
    this.area = "options";
    this.pos = view.off + DHCP_OPTIONS_OFF;
    this.end = view.off + view.len;
    return this;
  }

  private nextArea(): boolean {
    if (this.area === "options" && this.overload & DhcpOverload.File) {
      this.area = "file";
      this.pos = this.base + FILE;
      this.end = this.pos + FILE_LEN;
      return true;
    }
    if (this.area !== "sname" && this.overload & DhcpOverload.Sname) {
      this.area = "sname";
      this.pos = this.base + SNAME;
      this.end = this.pos + SNAME_LEN;
      return true;
    }
    this.pos = this.end;
    this.overload = 0;
    return false;
  }

  /** Move to the next option; false when there are no more. */
  next(): boolean {
    const b = this.bytes;
    for (;;) {
      while (this.pos < this.end && b[this.pos] === DhcpOption.Pad) this.pos++;
      if (this.pos >= this.end || b[this.pos] === DhcpOption.End) {
        if (!this.nextArea()) return false;
        continue;
      }
      // Lengths were checked by the parse.
      this.code = b[this.pos];
      this.len = b[this.pos + 1];
      this.dataOff = this.pos + 2;
      this.pos += 2 + this.len;
      return true;
    }
  }

  /** The current option's data (a subarray). */
  data(): Uint8Array {
    return this.bytes.subarray(this.dataOff, this.dataOff + this.len);
  }
}

// ---- building ----

/** One option to write: its code and data (more than 255 bytes are split, RFC 3396). */
export interface DhcpOptionData {
  code: number;
  data: Uint8Array;
}

/** Option constructors for builders. */
export const dhcpOpt = {
  bytes(code: number, data: Uint8Array): DhcpOptionData {
    return { code, data };
  },
  u8(code: number, v: number): DhcpOptionData {
    return { code, data: Uint8Array.of(v & 0xff) };
  },
  u16(code: number, v: number): DhcpOptionData {
    const d = new Uint8Array(2);
    put16(d, 0, v);
    return { code, data: d };
  },
  u32(code: number, v: number): DhcpOptionData {
    const d = new Uint8Array(4);
    put32(d, 0, v >>> 0);
    return { code, data: d };
  },
  addrs(code: number, addrs: readonly Ipv4Addr[]): DhcpOptionData {
    const d = new Uint8Array(4 * addrs.length);
    for (let i = 0; i < addrs.length; i++) v4Put(d, 4 * i, addrs[i]);
    return { code, data: d };
  },
  /** Text as Latin-1 bytes (characters above 0xff are cut to their low byte). */
  text(code: number, s: string): DhcpOptionData {
    const d = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) d[i] = s.charCodeAt(i) & 0xff;
    return { code, data: d };
  },
  messageType(t: number): DhcpOptionData {
    return dhcpOpt.u8(DhcpOption.MessageType, t);
  },
};

/** Bytes an option list takes on the wire (long options split in 255-byte instances). */
function optionsLen(options: readonly DhcpOptionData[]): number {
  let n = 0;
  for (let i = 0; i < options.length; i++) {
    const l = options[i].data.length;
    // RFC 3396: an option longer than 255 bytes is sent as several instances of the same code.
    n += l === 0 ? 2 : l + 2 * Math.ceil(l / 255);
  }
  return n;
}

/** The fields of a DHCP message other than its options. */
export interface DhcpFields {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: Ipv4Addr;
  yiaddr: Ipv4Addr;
  siaddr: Ipv4Addr;
  giaddr: Ipv4Addr;
  /** Up to 16 bytes; the rest of the field is zero. */
  chaddr: Uint8Array;
  /** Up to 64 bytes; the rest of the field is zero. */
  sname: Uint8Array;
  /** Up to 128 bytes; the rest of the field is zero. */
  file: Uint8Array;
}

const ZERO_ADDR = 0 as Ipv4Addr;

/** Writes a whole DHCP message; serialize it around an empty body (it is all header). */
export class DhcpBuilder implements PacketBuilder, DhcpFields {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;
  op: number = DhcpOp.Request;
  htype = 1;
  hlen = 6;
  hops = 0;
  xid = 0;
  secs = 0;
  flags = 0;
  ciaddr: Ipv4Addr = ZERO_ADDR;
  yiaddr: Ipv4Addr = ZERO_ADDR;
  siaddr: Ipv4Addr = ZERO_ADDR;
  giaddr: Ipv4Addr = ZERO_ADDR;
  chaddr: Uint8Array = EMPTY;
  sname: Uint8Array = EMPTY;
  file: Uint8Array = EMPTY;
  /** Options in the order written; End is added. */
  options: DhcpOptionData[];
  /** Zero-pad the message to at least this many bytes. */
  minLen = BOOTP_MIN_LEN;

  constructor(fields: Partial<DhcpFields> = {}, options: DhcpOptionData[] = []) {
    Object.assign(this, fields);
    this.options = options;
  }

  get headerLen(): number {
    return Math.max(this.minLen, DHCP_OPTIONS_OFF + optionsLen(this.options) + 1);
  }

  serialize(b: Uint8Array, off: number, _bodyLen: number, headerLen?: number): void {
    const total = headerLen ?? this.headerLen;
    b[off + OP] = this.op;
    b[off + HTYPE] = this.htype;
    b[off + HLEN] = this.hlen;
    b[off + HOPS] = this.hops;
    put32(b, off + XID, this.xid >>> 0);
    put16(b, off + SECS, this.secs);
    put16(b, off + FLAGS, this.flags);
    v4Put(b, off + CIADDR, this.ciaddr);
    v4Put(b, off + YIADDR, this.yiaddr);
    v4Put(b, off + SIADDR, this.siaddr);
    v4Put(b, off + GIADDR, this.giaddr);
    writeField(b, off + CHADDR, CHADDR_LEN, this.chaddr);
    writeField(b, off + SNAME, SNAME_LEN, this.sname);
    writeField(b, off + FILE, FILE_LEN, this.file);
    put32(b, off + COOKIE, DHCP_MAGIC_COOKIE);
    let p = off + DHCP_OPTIONS_OFF;
    for (let i = 0; i < this.options.length; i++) {
      const { code, data } = this.options[i];
      let rest = data.length;
      let from = 0;
      do {
        const n = Math.min(255, rest);
        b[p] = code;
        b[p + 1] = n;
        for (let k = 0; k < n; k++) b[p + 2 + k] = data[from + k];
        p += 2 + n;
        from += n;
        rest -= n;
      } while (rest > 0);
    }
    b[p++] = DhcpOption.End;
    // RFC 2131 4.1: Pad (zero) fills the rest.
    b.fill(0, p, off + total);
  }
}

function writeField(b: Uint8Array, off: number, size: number, src: Uint8Array): void {
  const n = Math.min(size, src.length);
  for (let i = 0; i < n; i++) b[off + i] = src[i];
  b.fill(0, off + n, off + size);
}

// ---- reprs ----

/** The readable form of one option. `data` (hex) is what re-serializes; `value` is for reading. */
export interface DhcpOptionRepr {
  code: number;
  data: string;
  /** Decoded value of a known option: a number, an address, a list of addresses, or text. */
  value?: number | string | string[];
  /** Present when the option was in the `file` or `sname` field (option overload). */
  area?: "file" | "sname";
}

/** The readable form of a DHCP message. */
export interface DhcpRepr {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** `chaddr` as colon-separated hex, trailing zero bytes left out ("52:54:00:12:34:56"). */
  chaddr: string;
  /** `sname` and `file` as hex without trailing zeros; absent when all zero. */
  sname?: string;
  file?: string;
  options: DhcpOptionRepr[];
  /** Length of the whole message (the builder pads to it). */
  length: number;
}

function hex(b: Uint8Array, sep = "", minLen = 0): string {
  let end = b.length;
  while (end > minLen && b[end - 1] === 0) end--;
  let s = "";
  for (let i = 0; i < end; i++) s += (i > 0 ? sep : "") + (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function unhex(s: string): Uint8Array {
  const t = s.replace(/:/g, "");
  const out = new Uint8Array(t.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fullHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function optionValue(view: DhcpView, c: DhcpOptionCursor): number | string | string[] | undefined {
  const d = c.data();
  const b = view.bytes;
  switch (expectedLen(c.code)) {
    case 1:
      return d.length === 1 ? d[0] : undefined;
    case 2:
      return d.length === 2 ? u16(d, 0) : undefined;
    case 4:
      if (d.length !== 4) return undefined;
      return c.code === DhcpOption.LeaseTime || c.code === DhcpOption.RenewalTime || c.code === DhcpOption.RebindingTime
        ? u32(b, c.dataOff)
        : formatV4(v4At(b, c.dataOff));
    case -4: {
      if (d.length === 0 || (d.length & 3) !== 0) return undefined;
      const out: string[] = [];
      for (let i = 0; i < d.length; i += 4) out.push(formatV4(v4At(b, c.dataOff + i)));
      return out;
    }
  }
  if (c.code === DhcpOption.HostName || c.code === DhcpOption.DomainName || c.code === DhcpOption.Message) {
    let s = "";
    for (let i = 0; i < d.length; i++) s += String.fromCharCode(d[i]);
    return s;
  }
  if (c.code === DhcpOption.ParameterRequestList) return [...d].map(String);
  return undefined;
}

/** The repr of a parsed message. */
export function toRepr(v: DhcpView): DhcpRepr {
  const options: DhcpOptionRepr[] = [];
  const c = v.options();
  while (c.next()) {
    const o: DhcpOptionRepr = { code: c.code, data: fullHex(c.data()) };
    const value = optionValue(v, c);
    if (value !== undefined) o.value = value;
    if (c.area !== "options") o.area = c.area;
    options.push(o);
  }
  const r: DhcpRepr = {
    op: v.op,
    htype: v.htype,
    hlen: v.hlen,
    hops: v.hops,
    xid: v.xid,
    secs: v.secs,
    flags: v.flags,
    ciaddr: formatV4(v.ciaddr),
    yiaddr: formatV4(v.yiaddr),
    siaddr: formatV4(v.siaddr),
    giaddr: formatV4(v.giaddr),
    chaddr: hex(v.chaddr, ":", Math.min(v.hlen, 16)),
    options,
    length: v.len,
  };
  const sname = hex(v.sname);
  if (sname !== "") r.sname = sname;
  const file = hex(v.file);
  if (file !== "") r.file = file;
  return r;
}

/**
 * A builder that re-serializes `r`: options of the options field from their `data`, `sname` and
 * `file` as given (overloaded options travel inside them), padded to `r.length`. Throws
 * `RangeError` on malformed address text (not network input).
 */
export function builderFromRepr(r: DhcpRepr): DhcpBuilder {
  const addr = (s: string): Ipv4Addr => {
    const a = parseV4(s);
    if (a === null) throw new RangeError(`bad address ${s}`);
    return a;
  };
  const b = new DhcpBuilder(
    {
      op: r.op,
      htype: r.htype,
      hlen: r.hlen,
      hops: r.hops,
      xid: r.xid,
      secs: r.secs,
      flags: r.flags,
      ciaddr: addr(r.ciaddr),
      yiaddr: addr(r.yiaddr),
      siaddr: addr(r.siaddr),
      giaddr: addr(r.giaddr),
      chaddr: unhex(r.chaddr),
      sname: unhex(r.sname ?? ""),
      file: unhex(r.file ?? ""),
    },
    r.options.filter((o) => o.area === undefined).map((o) => ({ code: o.code, data: unhex(o.data) })),
  );
  b.minLen = r.length;
  return b;
}

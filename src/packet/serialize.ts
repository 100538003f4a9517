/**
 * Packet builders and nested serializers (after netstack3's `packet` crate).
 *
 * A `PacketBuilder` knows one layer: how many header and footer bytes it writes, the smallest body
 * it accepts (shorter bodies are padded with zeroes by the nesting logic) and the largest (an MTU).
 * `body.wrapIn(tcp).wrapIn(ipv4).wrapIn(ethernet)` composes layers; `serialize()` measures the
 * whole chain once, then either writes into the buffer it was given (no allocation when it fits)
 * or allocates exactly one buffer, and writes the layers from the innermost outwards, each header
 * just before its body. A body too large for a layer is reported as a `TooBig` value, not thrown:
 * the IP layer uses it to decide to fragment.
 *
 * Every byte that reaches the wire is written: bodies by their source, headers and footers by their
 * builder, padding zeroed here. A reused buffer never leaks an old packet.
 */
import { Buf } from "./buf.ts";

/**
 * Brand of `Nested`, tested by `serialize` instead of `instanceof Nested` (a class declared later
 * in the module is not a constant to the optimizer, and a generic `instanceof` costs more than
 * writing an Ethernet header).
 */
const NESTED: unique symbol = Symbol("Nested");
type MaybeNested = { readonly [NESTED]?: true };

/** Bodies up to this many bytes are copied with a loop rather than `Uint8Array.set`. */
const SMALL_COPY = 32;

/** One layer's serializer. */
export interface PacketBuilder {
  /** Bytes written before the body. */
  readonly headerLen: number;
  /** Bytes written after the body. */
  readonly footerLen: number;
  /** Shorter bodies are padded with zero bytes up to this length. */
  readonly minBodyLen: number;
  /** Longer bodies are refused (`TooBig`). `Infinity` for no limit. */
  readonly maxBodyLen: number;
  /**
   * Write the header at `bytes[off, off + headerLen)` and the footer at
   * `bytes[off + headerLen + bodyLen, ... + footerLen)`. The body (including any padding) is already
   * in place between them and may be read (checksums). Every header and footer byte must be written.
   * The serializers pass `headerLen`, the value of the `headerLen` getter they read for this very
   * call (the builder unchanged since), so a builder whose length takes work need not redo it.
   */
  serialize(bytes: Uint8Array, off: number, bodyLen: number, headerLen?: number): void;
}

/** A body larger than some layer's `maxBodyLen`. */
export class TooBig {
  readonly kind = "too-big" as const;
  constructor(
    /** The builder whose limit was exceeded. */
    readonly builder: PacketBuilder,
    /** The body length that layer would have had. */
    readonly bodyLen: number,
    /** That layer's limit. */
    readonly maxBodyLen: number,
  ) {}
}

/** Extra room a caller wants around the serialized packet (for layers added later). */
export interface SerializeOptions {
  /** Serialize into this buffer when it is large enough. */
  target?: Buf;
  /** Bytes of prefix to leave before the outermost header. */
  prefix?: number;
  /** Bytes of suffix to leave after the outermost footer. */
  suffix?: number;
}

/** Something that can be serialized: a body, or a body nested in layers. */
export abstract class Serializer {
  /** Nest this inside `outer`: the result serializes `outer`'s header, this, and `outer`'s footer. */
  wrapIn(outer: PacketBuilder): Nested {
    return new Nested(this, outer);
  }

  /** Total length of the serialized packet, or -1 when some layer's maximum is exceeded. */
  abstract measure(): number;
  /** Sum of the header lengths of every layer. */
  abstract headersLen(): number;
  /** The first limit exceeded (only meaningful when `measure()` is -1). */
  abstract tooBig(): TooBig | null;
  /** Write the packet into `buf`, whose body range holds what is written so far. */
  abstract writeInto(buf: Buf): void;
  /** True when the body already lives in a buffer (serialized in place around it). */
  abstract inPlace(): Buf | null;

  /**
   * Serialize the whole chain. Returns the buffer whose body is the packet, or `TooBig`.
   * When the innermost body is a `Buf`, that buffer is reused (grown once if its prefix or suffix
   * is too small). Otherwise `options.target` is reused when its store is large enough, or one
   * buffer of exactly the needed size is allocated.
   */
  serialize(options?: SerializeOptions): Buf | TooBig {
    // One layer around a leaf body (a TCP or UDP segment, the usual case): no walk, no stack.
    if ((this as MaybeNested)[NESTED] === true) {
      const one = this as unknown as Nested;
      const inner = one.inner;
      if ((inner as MaybeNested)[NESTED] !== true) return this.serializeOne(inner, one.outer, options);
    }
    // One walk down the chain collects the layers (outermost first) on a reused stack; then one
    // pass from the innermost body outwards reads each builder's constraints once, and the write
    // pass uses those figures. Equivalent to `measure()`, `headersLen()` and `writeInto()`, with
    // no recursion, no repeated getters, and no allocation. `stackTop` keeps a serialization
    // started from inside a builder or body source (unusual, but legal) off this one's entries.
    const base = stackTop;
    let top = base;
    let node: Serializer = this;
    while ((node as MaybeNested)[NESTED] === true) {
      layerStack[top++] = (node as Nested).outer;
      node = (node as Nested).inner;
    }
    stackTop = top;
    try {
      const body = node;
      let total = body.measure();
      if (total < 0) return this.tooBig() as TooBig;
      let headers = 0;
      for (let k = top - 1; k >= base; k--) {
        const o = layerStack[k] as PacketBuilder;
        if (total > o.maxBodyLen) return this.tooBig() as TooBig;
        const h = o.headerLen;
        const m = o.minBodyLen;
        const f = o.footerLen;
        headerStack[k] = h;
        minStack[k] = m;
        footerStack[k] = f;
        total = h + Math.max(total, m) + f;
        headers += h;
      }
      const prefix = (options?.prefix ?? 0) + headers;
      // Everything after the innermost body's start: body, padding, footers, extra suffix.
      const afterStart = total - headers + (options?.suffix ?? 0);
      const buf = bodyBuffer(body, prefix, afterStart, options);
      for (let k = top - 1; k >= base; k--) {
        const pad = minStack[k] - buf.length;
        // Seed, "Zeroing Buffers": padding bytes are zeroed by the layer that adds them.
        if (pad > 0) buf.growBackZero(pad);
        const bodyLen = buf.length;
        buf.growFront(headerStack[k]);
        const f = footerStack[k];
        if (f > 0) buf.growBack(f);
        (layerStack[k] as PacketBuilder).serialize(buf.bytes, buf.start, bodyLen, headerStack[k]);
      }
      return buf;
    } finally {
      // Drop the references so the stack does not keep builders alive.
      for (let k = base; k < top; k++) layerStack[k] = null;
      stackTop = base;
    }
  }

  /** `serialize` of `body.wrapIn(o)` when `body` is not nested: the same steps for one layer. */
  private serializeOne(body: Serializer, o: PacketBuilder, options: SerializeOptions | undefined): Buf | TooBig {
    const len = body.measure();
    if (len < 0 || len > o.maxBodyLen) return this.tooBig() as TooBig;
    const h = o.headerLen;
    const m = o.minBodyLen;
    const f = o.footerLen;
    const prefix = (options?.prefix ?? 0) + h;
    const afterStart = Math.max(len, m) + f + (options?.suffix ?? 0);
    const buf = bodyBuffer(body, prefix, afterStart, options);
    const pad = m - buf.length;
    // Seed, "Zeroing Buffers": padding bytes are zeroed by the layer that adds them.
    if (pad > 0) buf.growBackZero(pad);
    const bodyLen = buf.length;
    buf.growFront(h);
    if (f > 0) buf.growBack(f);
    o.serialize(buf.bytes, buf.start, bodyLen, h);
    return buf;
  }
}

/**
 * Scratch stack of `Serializer.serialize`: the layers of the chain being serialized and each
 * one's header, minimum body and footer lengths. Reused by every call (grown once to the deepest
 * chain seen), so serializing allocates nothing.
 */
const layerStack: (PacketBuilder | null)[] = [];
const headerStack: number[] = [];
const minStack: number[] = [];
const footerStack: number[] = [];
let stackTop = 0;

/** A body already in a buffer: layers are written around it in place. */
export class BufBody extends Serializer {
  constructor(readonly buf: Buf) {
    super();
  }
  measure(): number {
    return this.buf.length;
  }
  headersLen(): number {
    return 0;
  }
  tooBig(): TooBig | null {
    return null;
  }
  writeInto(_buf: Buf): void {}
  inPlace(): Buf | null {
    return this.buf;
  }
}

/** A body written by a callback (e.g. from a socket's send buffer): the one copy of payload. */
export interface BodySource {
  readonly length: number;
  /** Write exactly `length` bytes at `bytes[off]`. */
  write(bytes: Uint8Array, off: number): void;
}

/** A body copied from bytes or a `BodySource` into the buffer being serialized. */
export class BytesBody extends Serializer implements BodySource {
  /** `source` when it is bytes (tested once here: `instanceof` per packet costs a header's work). */
  private readonly raw: Uint8Array | null;
  constructor(readonly source: Uint8Array | BodySource) {
    super();
    this.raw = source instanceof Uint8Array ? source : null;
  }
  get length(): number {
    return this.source.length;
  }
  write(bytes: Uint8Array, off: number): void {
    const s = this.raw;
    if (s !== null) {
      const n = s.length;
      // `set` is a builtin call that costs more than copying a few bytes (or none: a bare ACK).
      if (n > SMALL_COPY) bytes.set(s, off);
      else for (let i = 0; i < n; i++) bytes[off + i] = s[i];
    } else (this.source as BodySource).write(bytes, off);
  }
  measure(): number {
    return this.source.length;
  }
  headersLen(): number {
    return 0;
  }
  tooBig(): TooBig | null {
    return null;
  }
  writeInto(buf: Buf): void {
    const at = buf.growBack(this.source.length);
    this.write(buf.bytes, at);
  }
  inPlace(): Buf | null {
    return null;
  }
}

/** An empty body (a bare ACK, an ARP packet with no upper layer). */
export const EMPTY_BODY: Serializer = new BytesBody(new Uint8Array(0));

/** `inner` wrapped in the layer `outer`. */
export class Nested extends Serializer {
  readonly [NESTED] = true as const;
  constructor(
    readonly inner: Serializer,
    readonly outer: PacketBuilder,
  ) {
    super();
  }
  measure(): number {
    const body = this.inner.measure();
    if (body < 0 || body > this.outer.maxBodyLen) return -1;
    const o = this.outer;
    return o.headerLen + Math.max(body, o.minBodyLen) + o.footerLen;
  }
  headersLen(): number {
    return this.inner.headersLen() + this.outer.headerLen;
  }
  tooBig(): TooBig | null {
    const inner = this.inner.tooBig();
    if (inner !== null) return inner;
    const body = this.inner.measure();
    return body > this.outer.maxBodyLen ? new TooBig(this.outer, body, this.outer.maxBodyLen) : null;
  }
  writeInto(buf: Buf): void {
    this.inner.writeInto(buf);
    const o = this.outer;
    const pad = o.minBodyLen - buf.length;
    // Seed, "Zeroing Buffers": padding bytes are zeroed by the layer that adds them.
    if (pad > 0) buf.growBackZero(pad);
    const bodyLen = buf.length;
    const h = o.headerLen;
    buf.growFront(h);
    if (o.footerLen > 0) buf.growBack(o.footerLen);
    o.serialize(buf.bytes, buf.start, bodyLen, h);
  }
  inPlace(): Buf | null {
    return this.inner.inPlace();
  }
}

/**
 * The buffer a serialization writes into, with the innermost body already in it: the body's own
 * buffer when it can be serialized in place (grown only if the room around it is short), else the
 * caller's `target`, else a new one. `prefix` bytes go before the body's start, `afterStart` from it.
 */
function bodyBuffer(body: Serializer, prefix: number, afterStart: number, options: SerializeOptions | undefined): Buf {
  const own = body.inPlace();
  let buf: Buf;
  if (own !== null) {
    own.ensure(prefix, afterStart - own.length);
    buf = own;
  } else if (options?.target !== undefined) {
    buf = options.target;
    buf.reset(prefix, afterStart);
  } else {
    buf = Buf.alloc(prefix, 0, afterStart);
  }
  body.writeInto(buf);
  return buf;
}

/**
 * DNS over TCP framing: RFC 1035 4.2.2 and RFC 7766 8 (each message preceded by its length as a
 * two-byte big-endian number). `DnsTcpFramer` cuts a byte stream into messages with a bounded
 * buffer: it never holds more than one message and its prefix (at most 65537 bytes, less when a
 * smaller `maxMessage` is given), and a zero or oversized length poisons the stream (the caller
 * closes the connection).
 */

/** `msg` with its RFC 1035 4.2.2 length prefix. Throws `RangeError` for more than 65535 bytes (not network input). */
export function frameDnsMessage(msg: Uint8Array): Uint8Array {
  if (msg.length > 0xffff) throw new RangeError(`DNS message of ${msg.length} bytes cannot be framed`);
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >>> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/** Reassembles framed DNS messages from a TCP byte stream. */
export class DnsTcpFramer {
  private buf: Uint8Array;
  private have = 0;
  /** Set when the stream carried a zero length or one above `maxMessage`: nothing more is taken. */
  error = false;

  constructor(readonly maxMessage = 0xffff) {
    // Grown as messages need it, up to the bound.
    this.buf = new Uint8Array(Math.min(514, maxMessage + 2));
  }

  /** Bytes buffered and not yet returned as a message. */
  get buffered(): number {
    return this.have;
  }

  /**
   * Take `data` from the stream; calls `onMessage` for each complete message (the bytes are only
   * valid during the call). Returns false once the stream is in error.
   */
  push(data: Uint8Array, onMessage: (msg: Uint8Array) => void): boolean {
    let i = 0;
    while (!this.error && i < data.length) {
      // Fill the length prefix first, then the message it announces.
      const need = this.have < 2 ? 2 : 2 + ((this.buf[0] << 8) | this.buf[1]);
      const n = Math.min(need - this.have, data.length - i);
      if (this.have + n > this.buf.length) this.grow(need);
      this.buf.set(data.subarray(i, i + n), this.have);
      this.have += n;
      i += n;
      if (this.have === 2) {
        const len = (this.buf[0] << 8) | this.buf[1];
        if (len === 0 || len > this.maxMessage) {
          this.error = true;
          break;
        }
        continue;
      }
      if (this.have === need && need > 2) {
        this.have = 0;
        onMessage(this.buf.subarray(2, need));
      }
    }
    return !this.error;
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.min(this.maxMessage + 2, Math.max(need, this.buf.length * 2)));
    next.set(this.buf.subarray(0, this.have));
    this.buf = next;
  }
}

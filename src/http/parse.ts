/**
 * HTTP/1.1 message syntax for the client (RFC 9112): the response head (status line and header
 * fields, 2-4 and 5), the message body length rules (6.3) and an incremental chunked transfer
 * coding decoder (7.1). Pure functions over bytes; nothing here does I/O. Limits bound every
 * buffer a hostile server could grow.
 */

/** A parsed response head. */
export interface ResponseHead {
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: number;
  status: number;
  statusText: string;
  /** Header fields in order, names lower-cased. */
  fields: [string, string][];
  /** Bytes of the head, terminating blank line included. */
  length: number;
}

/** Largest response head accepted (status line + fields), bytes. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Most header fields accepted in one head. */
export const MAX_FIELDS = 256;

export class HttpParseError extends Error {
  readonly code = "HPE_INVALID";
}

/** Where the head ends (index just past CRLF CRLF, or LF LF), or -1 when not yet complete. */
export function headEnd(b: Uint8Array, from = 0): number {
  for (let i = Math.max(0, from); i < b.length; i++) {
    if (b[i] !== 10) continue;
    // RFC 9112 2.2: a recipient may accept a bare LF as a line terminator.
    if (i + 1 < b.length && b[i + 1] === 10) return i + 2;
    if (i + 2 < b.length && b[i + 1] === 13 && b[i + 2] === 10) return i + 3;
  }
  return -1;
}

const decoder = new TextDecoder("latin1");

/** A field-name token (RFC 9110 5.1, 5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse a complete head `b[0, end)` (as `headEnd` found it). Throws HttpParseError when malformed. */
export function parseHead(b: Uint8Array, end: number): ResponseHead {
  const text = decoder.decode(b.subarray(0, end));
  const lines = text.split(/\r?\n/);
  // RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
  const m = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/.exec(lines[0]);
  if (m === null) throw new HttpParseError(`bad status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
  const fields: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") break;
    // RFC 9112 5.2: obsolete line folding is rejected (a recipient may reject it).
    if (line[0] === " " || line[0] === "\t") throw new HttpParseError("obsolete line folding");
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    // RFC 9112 5.1: no whitespace between the field name and the colon.
    if (!TOKEN.test(name)) throw new HttpParseError(`bad field name: ${JSON.stringify(line.slice(0, 40))}`);
    if (fields.length >= MAX_FIELDS) throw new HttpParseError("too many header fields");
    fields.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { minor: Number(m[1]), status: Number(m[2]), statusText: m[3] ?? "", fields, length: end };
}

/** How the body of a response is delimited (RFC 9112 6.3). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

/** The values of a field, comma-separated lists split (RFC 9110 5.3), lower-cased. */
export function listValues(fields: [string, string][], name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of fields) {
    if (n !== name) continue;
    for (const part of v.split(",")) {
      const t = part.trim().toLowerCase();
      if (t !== "") out.push(t);
    }
  }
  return out;
}

/** The body framing of a response to `method`. Throws HttpParseError on conflicting lengths. */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  const s = head.status;
  // RFC 9112 6.3 rule 1: HEAD responses, 1xx, 204 and 304 have no body.
  if (method === "HEAD" || (s >= 100 && s < 200) || s === 204 || s === 304) return { kind: "none" };
  const te = listValues(head.fields, "transfer-encoding");
  if (te.length > 0) {
    // Rule 4: chunked as the final coding delimits the body; any other: read until close.
    return te[te.length - 1] === "chunked" ? { kind: "chunked" } : { kind: "close" };
  }
  const cl = listValues(head.fields, "content-length");
  if (cl.length > 0) {
    // Rule 5: several identical values are one; differing or invalid values are an error.
    const first = cl[0];
    if (!/^\d{1,15}$/.test(first) || cl.some((v) => v !== first)) {
      throw new HttpParseError(`bad Content-Length: ${cl.join(", ")}`);
    }
    return { kind: "length", length: Number(first) };
  }
  return { kind: "close" };
}

/** Whether the connection may carry another request after this response (RFC 9112 9.3). */
export function keepAlive(head: ResponseHead): boolean {
  const conn = listValues(head.fields, "connection");
  if (conn.includes("close")) return false;
  return head.minor === 1 || conn.includes("keep-alive");
}

/** Longest chunk-size line or trailer line accepted, bytes. */
const MAX_LINE = 4096;
/** Most trailer bytes accepted. */
const MAX_TRAILERS = 16 * 1024;

const ST_SIZE = 0;
const ST_DATA = 1;
const ST_DATA_CRLF = 2;
const ST_TRAILERS = 3;
const ST_DONE = 4;

/**
 * Incremental decoder of the chunked transfer coding (RFC 9112 7.1). `push(bytes)` returns the
 * body data found in them (views into `bytes`, no copy); `done` becomes true after the last chunk
 * and the trailer section; `rest` is then where the bytes after the message start.
 */
export class ChunkedDecoder {
  private state = ST_SIZE;
  private remaining = 0;
  private line = "";
  private trailerBytes = 0;
  private sawCr = false;
  /** Offset in the last pushed buffer where the message ended (valid once `done`). */
  rest = 0;

  get done(): boolean {
    return this.state === ST_DONE;
  }

  push(b: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < b.length && this.state !== ST_DONE) {
      switch (this.state) {
        case ST_SIZE:
        case ST_TRAILERS: {
          const c = b[i++];
          if (c === 10) {
            this.endLine();
            continue;
          }
          if (c === 13) {
            this.sawCr = true;
            continue;
          }
          if (this.sawCr) throw new HttpParseError("CR without LF in chunked coding");
          this.line += String.fromCharCode(c);
          if (this.line.length > MAX_LINE) throw new HttpParseError("chunk line too long");
          if (this.state === ST_TRAILERS && ++this.trailerBytes > MAX_TRAILERS) {
            throw new HttpParseError("trailer section too long");
          }
          break;
        }
        case ST_DATA: {
          const n = Math.min(this.remaining, b.length - i);
          out.push(b.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = ST_DATA_CRLF;
          break;
        }
        case ST_DATA_CRLF: {
          const c = b[i++];
          if (c === 13 && !this.sawCr) this.sawCr = true;
          else if (c === 10) {
            this.sawCr = false;
            this.state = ST_SIZE;
          } else throw new HttpParseError("chunk data not followed by CRLF");
          break;
        }
      }
    }
    this.rest = i;
    return out;
  }

  private endLine(): void {
    const line = this.line;
    this.line = "";
    this.sawCr = false;
    if (this.state === ST_TRAILERS) {
      // RFC 9112 7.1.2: trailer fields are read and discarded here; an empty line ends the message.
      if (line === "") this.state = ST_DONE;
      return;
    }
    // chunk-size [ chunk-ext ]: hex digits, then optional extensions (ignored, RFC 9112 7.1.1).
    const m = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
    if (m === null) throw new HttpParseError(`bad chunk size: ${JSON.stringify(line.slice(0, 40))}`);
    const size = Number.parseInt(m[1], 16);
    if (size === 0) this.state = ST_TRAILERS;
    else {
      this.remaining = size;
      this.state = ST_DATA;
    }
  }
}

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { bodyFraming, ChunkedDecoder, HttpParseError, headEnd, keepAlive, parseHead } from "./parse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function head(text: string) {
  const b = enc.encode(text);
  const end = headEnd(b);
  assert.ok(end > 0, "head complete");
  return parseHead(b, end);
}

test("parseHead: status line, fields in order with lower-cased names, head length", () => {
  const text = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-A:  1 \r\nx-a: 2\r\n\r\nbody";
  const h = head(text);
  assert.equal(h.minor, 1);
  assert.equal(h.status, 404);
  assert.equal(h.statusText, "Not Found");
  assert.deepEqual(h.fields, [
    ["content-type", "text/plain"],
    ["x-a", "1"],
    ["x-a", "2"],
  ]);
  assert.equal(h.length, text.length - 4);
});

test("parseHead: bare LF line ends and an empty reason phrase are accepted (RFC 9112 2.2, 4)", () => {
  const h = head("HTTP/1.0 200\nContent-Length: 3\n\nabc");
  assert.equal(h.minor, 0);
  assert.equal(h.status, 200);
  assert.equal(h.statusText, "");
  assert.deepEqual(h.fields, [["content-length", "3"]]);
});

test("headEnd: -1 until the blank line has arrived, whatever the split", () => {
  const b = enc.encode("HTTP/1.1 200 OK\r\nA: b\r\n\r\n");
  for (let n = 0; n < b.length; n++) assert.equal(headEnd(b.subarray(0, n)), -1, `prefix ${n}`);
  assert.equal(headEnd(b), b.length);
});

test("parseHead: malformed heads are errors, never crashes", () => {
  for (const bad of [
    "HTTP/2 200 OK\r\n\r\n",
    "HTTP/1.1 20 OK\r\n\r\n",
    "FOO\r\n\r\n",
    "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
    "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
  ]) {
    assert.throws(() => head(bad), HttpParseError, bad);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const end = headEnd(b);
      if (end < 0) return;
      try {
        parseHead(b, end);
      } catch (e) {
        assert.ok(e instanceof HttpParseError);
      }
    }),
  );
});

test("bodyFraming: RFC 9112 6.3 rules", () => {
  const h = (s: string) => head(`HTTP/1.1 ${s}\r\n\r\n`);
  assert.deepEqual(bodyFraming("HEAD", h("200 OK\r\nContent-Length: 5")), { kind: "none" });
  assert.deepEqual(bodyFraming("GET", h("204 No Content")), { kind: "none" });
  assert.deepEqual(bodyFraming("GET", h("304 Not Modified\r\nContent-Length: 5")), { kind: "none" });
  assert.deepEqual(bodyFraming("GET", h("200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5")), {
    kind: "chunked",
  });
  assert.deepEqual(bodyFraming("GET", h("200 OK\r\nTransfer-Encoding: gzip")), { kind: "close" });
  assert.deepEqual(bodyFraming("GET", h("200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5")), {
    kind: "length",
    length: 5,
  });
  assert.deepEqual(bodyFraming("GET", h("200 OK")), { kind: "close" });
  assert.throws(() => bodyFraming("GET", h("200 OK\r\nContent-Length: 5\r\nContent-Length: 6")), HttpParseError);
  assert.throws(() => bodyFraming("GET", h("200 OK\r\nContent-Length: -1")), HttpParseError);
  assert.throws(() => bodyFraming("GET", h("200 OK\r\nContent-Length: 1e3")), HttpParseError);
});

test("keepAlive: HTTP/1.1 unless Connection: close; HTTP/1.0 only with keep-alive", () => {
  assert.equal(keepAlive(head("HTTP/1.1 200 OK\r\n\r\n")), true);
  assert.equal(keepAlive(head("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n")), false);
  assert.equal(keepAlive(head("HTTP/1.0 200 OK\r\n\r\n")), false);
  assert.equal(keepAlive(head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")), true);
});

const CHUNKED = "5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nNEXT";

test("ChunkedDecoder: data, extensions and trailers, split at every byte boundary", () => {
  const all = enc.encode(CHUNKED);
  for (let cut = 0; cut <= all.length - 4; cut++) {
    const d = new ChunkedDecoder();
    const out = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
    assert.equal(out.map((p) => dec.decode(p)).join(""), "helloabcdefghijklmnopqrstuvwxyz", `cut ${cut}`);
    assert.ok(d.done);
    // The bytes after the message are left for the next one.
    assert.equal(dec.decode(all.subarray(cut).subarray(d.rest)), "NEXT", `cut ${cut}`);
  }
  // One byte at a time.
  const d = new ChunkedDecoder();
  let s = "";
  for (let i = 0; i < all.length - 4; i++) for (const p of d.push(all.subarray(i, i + 1))) s += dec.decode(p);
  assert.equal(s, "helloabcdefghijklmnopqrstuvwxyz");
  assert.ok(d.done);
});

test("ChunkedDecoder: data is returned as views of the input (no copy)", () => {
  const all = enc.encode("3\r\nabc\r\n0\r\n\r\n");
  const [p] = new ChunkedDecoder().push(all);
  assert.equal(p.buffer, all.buffer);
  assert.equal(p.byteOffset, 3);
});

test("ChunkedDecoder: malformed codings and unbounded lines are errors", () => {
  for (const bad of ["zz\r\n", "5\r\nhelloX", "-1\r\n", "5\rX", "1234567890123\r\n"]) {
    assert.throws(() => new ChunkedDecoder().push(enc.encode(bad)), HttpParseError, bad);
  }
  const d = new ChunkedDecoder();
  assert.throws(() => {
    for (let i = 0; i < 10; i++) d.push(enc.encode("0".repeat(1000)));
  }, HttpParseError);
  const t = new ChunkedDecoder();
  t.push(enc.encode("0\r\n"));
  assert.throws(() => {
    for (let i = 0; i < 100; i++)
      t.push(enc.encode("X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(10)));
  }, HttpParseError);
});

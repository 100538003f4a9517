import assert from "node:assert/strict";
import { test } from "node:test";
import { Counters, counter, counterNames } from "./counters.ts";

const BAD_CSUM = counter("test.ipv4.rx.bad-checksum");
const SHORT = counter("test.ipv4.rx.too-short");
const ECHO = counter("test.icmp.tx.echo-reply");

test("counter() gives one slot per name, the same slot for the same name", () => {
  assert.equal(counter("test.ipv4.rx.bad-checksum"), BAD_CSUM);
  assert.notEqual(BAD_CSUM, SHORT);
  assert.equal(counterNames()[SHORT], "test.ipv4.rx.too-short");
});

test("inc counts per slot; get by id or by name; unknown names read 0", () => {
  const c = new Counters();
  c.inc(BAD_CSUM);
  c.inc(BAD_CSUM);
  c.inc(ECHO, 5);
  assert.equal(c.get(BAD_CSUM), 2);
  assert.equal(c.get("test.icmp.tx.echo-reply"), 5);
  assert.equal(c.get(SHORT), 0);
  assert.equal(c.get("no.such.counter"), 0);
});

test("two Counters objects (two stacks) are independent", () => {
  const a = new Counters();
  const b = new Counters();
  a.inc(SHORT);
  assert.equal(a.get(SHORT), 1);
  assert.equal(b.get(SHORT), 0);
});

test("snapshot is a plain object sorted by name: non-zero by default, all or by prefix on request", () => {
  const c = new Counters();
  c.inc(ECHO);
  c.inc(BAD_CSUM, 3);
  const snap = c.snapshot({ prefix: "test." });
  assert.deepEqual(snap, { "test.icmp.tx.echo-reply": 1, "test.ipv4.rx.bad-checksum": 3 });
  assert.deepEqual(Object.keys(snap), ["test.icmp.tx.echo-reply", "test.ipv4.rx.bad-checksum"]);
  assert.deepEqual(c.snapshot({ prefix: "test.ipv4." }), { "test.ipv4.rx.bad-checksum": 3 });
  const all = c.snapshot({ all: true, prefix: "test." });
  assert.equal(all["test.ipv4.rx.too-short"], 0);
  assert.equal(Object.getPrototypeOf(all), Object.prototype);
  c.reset();
  assert.deepEqual(c.snapshot({ prefix: "test." }), {});
});

test("counters declared after a Counters was created still count", () => {
  const c = new Counters();
  const ids = [];
  for (let i = 0; i < 100; i++) ids.push(counter(`test.late.${i}`));
  for (const id of ids) c.inc(id);
  assert.equal(c.get("test.late.99"), 1);
  assert.equal(Object.keys(c.snapshot({ prefix: "test.late." })).length, 100);
});

/**
 * Preloaded (`node --require shim.cjs`, bundled by run.mjs) into each child that runs one of Node's
 * own test files: node:net and node:dgram become one NodeStack's `net` and `dgram`, so the file's
 * `require('net')` / `require('dgram')` get the stack's, and node:http (loaded after this) builds its
 * Server over the stack's net.Server (`net.Server.call(this, ...)`) and its Agent over the stack's
 * `createConnection`. The stack has only its loopback device (127.0.0.1/8, ::1): Node's tests talk
 * to localhost.
 *
 * The builtin modules' objects are patched in place, because node:http reaches `net.Server` and
 * `net.createConnection` through the builtin module object, not through `require`; node:http took
 * `net.Server.prototype` (its Server's prototype) and `net.createConnection` (its Agent's) when it
 * was loaded, so those two are pointed at the stack's too. The standard streams are created first,
 * with the real net.
 */
import dgram from "node:dgram";
import http from "node:http";
import net from "node:net";
import { NodeStack } from "../../src/node/node-stack.ts";

void process.stdout;
void process.stderr;

const stack = new NodeStack({ dad: false });
const stackNet = stack.net as unknown as Record<string, unknown>;
const realNet = net as unknown as Record<string, unknown>;
for (const k of ["Socket", "Stream", "Server", "createServer", "createConnection", "connect"]) realNet[k] = stackNet[k];
for (const k of Object.keys(stackNet)) if (k.includes("AutoSelectFamily")) realNet[k] = stackNet[k];
const stackDgram = stack.dgram as unknown as Record<string, unknown>;
const realDgram = dgram as unknown as Record<string, unknown>;
for (const k of Object.keys(stackDgram)) realDgram[k] = stackDgram[k];
// node:http (already loaded by the stack's modules) builds its Server with `net.Server.call(this)`
// and inherits listen/close/address from `net.Server.prototype`; its Agent connects with
// `net.createConnection`.
Object.setPrototypeOf(http.Server.prototype, stack.net.Server.prototype);
Object.setPrototypeOf(http.Server, stack.net.Server);
(http.Agent.prototype as unknown as Record<string, unknown>).createConnection = stack.net.createConnection;

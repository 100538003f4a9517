/**
 * `netstack fetch --tap NAME:ADDR [--gateway IP] URL [-o FILE]`: an HTTP/1.1 GET over the stack's
 * own TCP (node:http's client with an Agent whose `createConnection` returns our socket), the body
 * written to FILE or discarded. Progress on stderr; size and throughput at the end.
 *
 * Optional flags beyond the issue's contract: `--timeout SECONDS` (the idle limit, default 30: when
 * nothing arrives for that long, including while connecting, the one-line failure shows the TCP
 * connection's state and counters and the peer's ARP/NDP entry) and `--pcap FILE`.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { Agent, request } from "node:http";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { parseIp } from "../../ip/version.ts";
import type { CliCommand, CliContext } from "../cli.ts";
import type { Socket } from "../net.ts";
import type { NodeStack } from "../node-stack.ts";
import { formatBytes, formatRate, openStack, parseGateways, parseTapSpecs, SetupError } from "./tap-args.ts";
import { neighbourDiagnostics, tcpDiagnostics } from "./tcp-diag.ts";

const HELP = `Usage: netstack fetch --tap NAME:ADDR [--gateway IP] URL [-o FILE] [--timeout SECONDS] [--pcap FILE]

HTTP/1.1 GET of URL over the stack's own TCP, through TAP device NAME (opened, or created, in this
network namespace, with the stack's address ADDR on it). The URL's host must be an IP address
(there is no resolver): http://10.0.0.1:8000/file or http://[fd00::1]/.

Options:
  --tap NAME:ADDR[,ADDR...]  the device and the stack's addresses on it (e.g. tap0:10.0.0.2/24)
  --gateway IP               default route via IP (repeatable: one per IP version)
  -o, --output FILE          write the body to FILE (default: discard it)
  --timeout SECONDS          give up when nothing arrives for this long (default 30); the message
                             then shows the TCP connection's state and the peer's ARP/NDP entry
  --pcap FILE                capture the TAP traffic into a pcapng file
  -q, --quiet                no progress on stderr
  -h, --help                 show this help

Exit status: 0 a 2xx response fully received, 1 a failure (no connection, HTTP error status,
short body), 2 a usage error.
`;

async function run(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      tap: { type: "string", multiple: true },
      gateway: { type: "string", multiple: true },
      output: { type: "string", short: "o" },
      timeout: { type: "string" },
      pcap: { type: "string" },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    ctx.out(HELP);
    return 0;
  }
  if (positionals.length === 0) ctx.usage("missing URL (e.g. http://10.0.0.1:8000/file)");
  if (positionals.length > 1) ctx.usage(`expected one URL, got ${positionals.length}: ${positionals.join(" ")}`);
  const taps = parseTapSpecs(values.tap);
  if (typeof taps === "string") return ctx.usage(taps);
  const gateways = parseGateways(values.gateway);
  if (!Array.isArray(gateways)) return ctx.usage(gateways.error);
  let url: URL;
  try {
    url = new URL(positionals[0]);
  } catch {
    return ctx.usage(`'${positionals[0]}' is not a URL (e.g. http://10.0.0.1:8000/file)`);
  }
  if (url.protocol !== "http:") ctx.usage(`${url.protocol} URLs are not supported: only http://`);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (parseIp(host) === null) ctx.usage(`the host '${url.hostname}' must be an IP address (the stack has no resolver)`);
  const port = url.port === "" ? 80 : Number(url.port);
  let timeoutMs = 30_000;
  if (values.timeout !== undefined) {
    const t = Number(values.timeout);
    if (!Number.isFinite(t) || t <= 0) ctx.usage(`--timeout ${values.timeout}: expected a number of seconds > 0`);
    timeoutMs = t * 1000;
  }
  if (values.pcap === "") ctx.usage("--pcap needs a file name");
  let out: WriteStream | null = null;
  if (values.output !== undefined && values.output !== "-") {
    const file = values.output;
    const opened = await new Promise<WriteStream | NodeJS.ErrnoException>((resolve) => {
      const w = createWriteStream(file);
      w.once("open", () => resolve(w));
      w.once("error", (e: NodeJS.ErrnoException) => resolve(e));
    });
    if (opened instanceof Error) return ctx.usage(`cannot write ${file}: ${opened.code ?? opened.message}`);
    out = opened;
  }

  let opened: Awaited<ReturnType<typeof openStack>>;
  try {
    opened = await openStack({
      taps,
      gateways,
      pcap: values.pcap ?? null,
      readyTimeoutMs: Math.max(timeoutMs, 10_000),
    });
  } catch (e) {
    out?.destroy();
    ctx.err(`netstack fetch: ${e instanceof SetupError ? e.message : (e as Error).message}`);
    lingerGuard(1, ctx);
    return 1;
  }
  const { stack } = opened;
  const t0 = performance.now();
  let lastProgress = t0;
  let progressShown = false;
  const progress = (received: number, total: number | null, final: boolean) => {
    if (values.quiet) return;
    const now = performance.now();
    if (!final && now - lastProgress < 500) return;
    lastProgress = now;
    const pct = total !== null && total > 0 ? ` (${((100 * received) / total).toFixed(0)}%)` : "";
    const rate = formatRate(received, (now - t0) / 1000);
    process.stderr.write(`\r${formatBytes(received)}${pct} ${rate}   ${final ? "\n" : ""}`);
    progressShown = !final;
  };
  const result = await httpGet(stack, {
    host,
    port,
    path: `${url.pathname}${url.search}`,
    hostHeader: url.host,
    idleTimeoutMs: timeoutMs,
    out,
    progress,
  });
  const received = result.received;
  const secs = (performance.now() - t0) / 1000;
  if (out !== null) await new Promise<void>((r) => out.end(r));
  lingerGuard(result.ok ? 0 : 1, ctx);
  await opened.close();
  if (!result.ok) {
    // End a progress line first, so the failure is a line of its own.
    if (progressShown) process.stderr.write("\n");
    ctx.err(`netstack fetch: ${result.stalled ? "" : `${url.href}: `}${result.message}`);
    return 1;
  }
  ctx.out(
    `fetched ${url.href}: ${received} bytes (${formatBytes(received)}) in ${secs.toFixed(3)} s, ` +
      `${formatRate(received, secs)}${values.output !== undefined ? ` -> ${values.output}` : ""}\n`,
  );
  return 0;
}

/**
 * The work is done and everything is being closed: the event loop should drain and the process exit. If something still
 * holds it open (a bug: a handle not closed), say what after a few seconds and exit anyway rather
 * than hang a script. The timer is unref'd, so it never delays a normal exit.
 */
export function lingerGuard(code: number, ctx: Pick<CliContext, "err">, ms = 5000): void {
  setTimeout(() => {
    const active = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap");
    const secs = Number((ms / 1000).toFixed(3));
    ctx.err(`netstack fetch: internal error: still running ${secs} s after finishing (active: ${active.join(", ")})`);
    process.exit(code === 0 ? 1 : code);
  }, ms).unref();
}

/** Options of `httpGet`. */
export interface HttpGetOptions {
  /** The server's IP address (text, no brackets). */
  host: string;
  port: number;
  /** Path and query ("/file?x=1"). */
  path: string;
  /** The Host header (default `host:port`). */
  hostHeader?: string;
  /** Give up when no byte arrives from the server for this long (ms), including while connecting. */
  idleTimeoutMs: number;
  /** Where the body goes (default: discarded). */
  out?: Writable | null;
  /** Called as the body arrives (`final` once at the end). */
  progress?: (received: number, total: number | null, final: boolean) => void;
}

/** What `httpGet` found. */
export interface HttpGetResult {
  /** A 2xx response with its whole body. */
  ok: boolean;
  /** Why not (empty when ok). */
  message: string;
  /** The failure is the idle timeout: `message` is the whole line (server, TCP state, neighbour). */
  stalled: boolean;
  /** HTTP status (0 when no response arrived). */
  status: number;
  /** Body bytes received. */
  received: number;
}

/**
 * HTTP/1.1 GET over `stack`'s TCP (node:http's client, with an Agent whose `createConnection` returns
 * the stack's socket). An idle watchdog checks the socket's received byte count; when it has not
 * moved for `idleTimeoutMs` (from the start, so a connection that never completes counts too) the
 * request is abandoned and the message names the server, the TCP connection's state and counters
 * and the next hop's neighbour entry, read before the socket is destroyed.
 */
export function httpGet(stack: NodeStack, o: HttpGetOptions): Promise<HttpGetResult> {
  const v6 = o.host.includes(":");
  const peer = `${v6 ? `[${o.host}]` : o.host}:${o.port}`;
  const agent = new Agent({ keepAlive: false });
  let socket: Socket | null = null;
  (agent as unknown as { createConnection: (c: { host: string; port: number }) => Socket }).createConnection = (c) => {
    socket = stack.net.createConnection({ host: c.host, port: c.port });
    return socket;
  };
  let received = 0;
  let status = 0;
  let watchdog: NodeJS.Timeout | null = null;
  return new Promise<HttpGetResult>((resolve) => {
    let settled = false;
    const finish = (ok: boolean, message: string, stalled = false) => {
      if (settled) return;
      settled = true;
      if (watchdog !== null) clearInterval(watchdog);
      agent.destroy();
      resolve({ ok, message, stalled, status, received });
    };
    const req = request(
      { host: o.host, port: o.port, path: o.path, method: "GET", agent, headers: { Host: o.hostHeader ?? peer } },
      (res) => {
        status = res.statusCode ?? 0;
        const total = res.headers["content-length"] !== undefined ? Number(res.headers["content-length"]) : null;
        const out = o.out ?? null;
        res.on("data", (d: Buffer) => {
          received += d.length;
          if (out !== null && !out.write(d)) {
            res.pause();
            out.once("drain", () => res.resume());
          }
          o.progress?.(received, total, false);
        });
        res.on("end", () => {
          o.progress?.(received, total, true);
          if (status < 200 || status > 299) finish(false, `HTTP ${status} ${res.statusMessage ?? ""}`.trim());
          else if (total !== null && received !== total) finish(false, `short body: ${received} of ${total} bytes`);
          else finish(true, "");
        });
        res.on("error", (e) => finish(false, `connection lost: ${e.message}`));
        res.on("aborted", () => finish(false, `connection lost after ${received} bytes`));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      finish(false, e.code === "ECONNREFUSED" ? `connection refused by ${peer}` : e.message);
    });
    // The idle watchdog. node:http's req.setTimeout does not run while the socket is connecting.
    let lastBytes = 0;
    let lastAt = performance.now();
    const tick = Math.max(20, Math.min(1000, o.idleTimeoutMs / 10));
    watchdog = setInterval(() => {
      const now = performance.now();
      const bytes = (socket as Socket | null)?.bytesRead ?? 0;
      if (bytes !== lastBytes) {
        lastBytes = bytes;
        lastAt = now;
        return;
      }
      if (now - lastAt < o.idleTimeoutMs) return;
      const secs = Number((o.idleTimeoutMs / 1000).toFixed(3));
      const what = `no data from ${peer} for ${secs} s (${tcpDiagnostics(stack, socket)}; ${neighbourDiagnostics(stack, o.host)})`;
      finish(false, what, true);
      req.destroy();
    }, tick);
    req.end();
  });
}

export const command: CliCommand = {
  name: "fetch",
  summary: "HTTP GET a URL over the stack's own TCP through a Linux TAP device",
  help: HELP,
  run,
};

/**
 * `netstack fetch --tap NAME:ADDR [--gateway IP] URL [-o FILE]`: an HTTP/1.1 GET over the stack's
 * own TCP (node:http's client with an Agent whose `createConnection` returns our socket), the body
 * written to FILE or discarded. Progress on stderr; size and throughput at the end.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { parseIp } from "../../ip/version.ts";
import type { CliCommand, CliContext } from "../cli.ts";
import type { Socket } from "../net.ts";
import { formatBytes, formatRate, openStack, parseGateway, parseTapSpecs, SetupError } from "./tap-args.ts";

const HELP = `Usage: netstack fetch --tap NAME:ADDR [--gateway IP] URL [-o FILE]

HTTP/1.1 GET of URL over the stack's own TCP, through TAP device NAME (opened, or created, in this
network namespace, with the stack's address ADDR on it). The URL's host must be an IP address
(there is no resolver): http://10.0.0.1:8000/file or http://[fd00::1]/.

Options:
  --tap NAME:ADDR[,ADDR...]  the device and the stack's addresses on it (e.g. tap0:10.0.0.2/24)
  --gateway IP               default route via IP (repeatable: one per IP version)
  -o, --output FILE          write the body to FILE (default: discard it)
  --timeout SECONDS          give up when nothing arrives for this long (default 30)
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
  const gateways: string[] = [];
  for (const g of values.gateway ?? []) {
    const p = parseGateway(g);
    if (p !== null && typeof p === "object") return ctx.usage(p.error);
    if (p !== null) gateways.push(p);
  }
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
    opened = await openStack({ taps, gateways });
  } catch (e) {
    out?.destroy();
    ctx.err(`netstack fetch: ${e instanceof SetupError ? e.message : (e as Error).message}`);
    return 1;
  }
  const { stack } = opened;
  const agent = new Agent({ keepAlive: false });
  (agent as unknown as { createConnection: (o: { host: string; port: number }) => Socket }).createConnection = (o) =>
    stack.net.createConnection({ host: o.host, port: o.port });
  const t0 = performance.now();
  let received = 0;
  let lastProgress = t0;
  const progress = (final: boolean, total: number | null) => {
    if (values.quiet) return;
    const now = performance.now();
    if (!final && now - lastProgress < 500) return;
    lastProgress = now;
    const pct = total !== null && total > 0 ? ` (${((100 * received) / total).toFixed(0)}%)` : "";
    const rate = formatRate(received, (now - t0) / 1000);
    process.stderr.write(`\r${formatBytes(received)}${pct} ${rate}   ${final ? "\n" : ""}`);
  };
  const result = await new Promise<{ ok: boolean; message: string }>((resolve) => {
    const req = request(
      { host, port, path: `${url.pathname}${url.search}`, method: "GET", agent, headers: { Host: url.host } },
      (res) => {
        const total = res.headers["content-length"] !== undefined ? Number(res.headers["content-length"]) : null;
        res.on("data", (d: Buffer) => {
          received += d.length;
          if (out !== null && !out.write(d)) {
            res.pause();
            out.once("drain", () => res.resume());
          }
          progress(false, total);
        });
        res.on("end", () => {
          progress(true, total);
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            resolve({ ok: false, message: `HTTP ${status} ${res.statusMessage ?? ""}`.trim() });
          } else if (total !== null && received !== total) {
            resolve({ ok: false, message: `short body: ${received} of ${total} bytes` });
          } else resolve({ ok: true, message: "" });
        });
        res.on("error", (e) => resolve({ ok: false, message: `connection lost: ${e.message}` }));
        res.on("aborted", () => resolve({ ok: false, message: `connection lost after ${received} bytes` }));
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`no data for ${timeoutMs / 1000} s`));
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      const what = e.code === "ECONNREFUSED" ? `connection refused by ${url.host}` : e.message;
      resolve({ ok: false, message: what });
    });
    req.end();
  });
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  if (out !== null) await new Promise<void>((r) => out.end(r));
  await opened.close();
  if (!result.ok) {
    ctx.err(`netstack fetch: ${url.href}: ${result.message}`);
    return 1;
  }
  ctx.out(
    `fetched ${url.href}: ${received} bytes (${formatBytes(received)}) in ${secs.toFixed(3)} s, ` +
      `${formatRate(received, secs)}${values.output !== undefined ? ` -> ${values.output}` : ""}\n`,
  );
  return 0;
}

export const command: CliCommand = {
  name: "fetch",
  summary: "HTTP GET a URL over the stack's own TCP through a Linux TAP device",
  help: HELP,
  run,
};

/**
 * A TCP echo with the Linux kernel through the impairing relay of test/interop/relay.ts, for the
 * lossy-link interop test and `npm run bench:lossy` (issue 18).
 *
 *   client namespace            relay namespace              server namespace
 *   kernel, python client  --  rc0 [relay.ts] rs0  --  br0 (bridge) -- kernel: python echo server
 *   10.9.0.1 on rc0             impairs both ways            or  tn0 -- `netstack serve` (10.9.0.2)
 *
 * The relay creates both TAP devices in its own namespace and they are moved to the client's and
 * the server's; in the server namespace the relay's device is a port of a bridge, and the server is
 * either the kernel (10.9.0.2 on the bridge) or `netstack serve` on a TAP device that is the
 * bridge's other port. So both servers sit behind the same relay and the same bridge, and the
 * client (the kernel) is the same. The client sends `size` random bytes while reading the echo and
 * times from the end of the handshake to the echo's end of stream; the hashes prove the data intact.
 * IPv6 is off in the namespaces (no neighbour discovery or MLD traffic in the measurement).
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { Netns, root, Serve, skipReason, sleep } from "./helpers.ts";

export type Target = "linux" | "netstack";
export type Mode = "echo" | "upload" | "download";
const PORTS: Record<Mode, number> = { echo: 7, upload: 9, download: 19 };

export interface LossyResult {
  target: Target;
  impair: string;
  /** Best of `runs` (Infinity: did not finish). */
  seconds: number;
  /** Seconds from connected to the echo's end of stream, of each measured echo (after the warm-up). */
  runs: number[];
  /** Bytes echoed in all (warm-up included). */
  bytes: number;
  /** Every echo came back whole and equal to what was sent. */
  intact: boolean;
  /** Relay counters of each direction (client -> server: ab). */
  relay: unknown;
  error?: string;
}

/** The client: send `size` random bytes, read the echo to EOF, print hashes, count and seconds. */
const PY_CLIENT = `
import hashlib, os, socket, sys, threading, time, json
host, port, size, limit, rounds, mode, cc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
def echo():
    data = os.urandom(size) if mode != "download" else b""
    s = socket.socket(); s.settimeout(limit)
    if cc: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    s.connect((host, port))
    t0 = time.monotonic()
    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    if mode != "download": t.start()
    h = hashlib.sha256(); n = 0
    while mode != "upload" and n < size:
        b = s.recv(262144)
        if not b: break
        h.update(b); n += len(b)
    if mode == "upload":
        t.join()
        while s.recv(65536): pass
        n = size
    t1 = time.monotonic()
    if mode != "download": t.join()
    s.close()
    sent = hashlib.sha256(data).hexdigest() if mode == "echo" else "-"
    got = h.hexdigest() if mode == "echo" else "-"
    return {"sent": sent, "got": got, "n": n, "seconds": t1 - t0}
runs = [echo() for _ in range(rounds)]
print(json.dumps(runs))
`;

/**
 * The kernel's servers: echo (7), discard (9, closes after the client's end of stream) and
 * chargen (19, streams until the client closes).
 */
const PY_SERVER = `
import socket, sys, threading
def listen(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sys.argv[2]: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, sys.argv[2].encode())
    s.bind((sys.argv[1], port)); s.listen(16); return s
def echo(c):
    while True:
        b = c.recv(262144)
        if not b: break
        c.sendall(b)
    c.shutdown(socket.SHUT_WR); c.close()
def discard(c):
    while c.recv(262144): pass
    c.shutdown(socket.SHUT_WR); c.close()
def chargen(c):
    line = bytes(range(32, 127)) * 700
    try:
        while True: c.sendall(line)
    except OSError: pass
    c.close()
def serve(s, fn):
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
for port, fn in ((9, discard), (19, chargen)):
    threading.Thread(target=serve, args=(listen(port), fn), daemon=True).start()
e = listen(7)
print("ready", flush=True)
serve(e, echo)
`;

/** Lines a child printed, and a wait for one matching `re`. */
class Child {
  out = "";
  err = "";
  readonly exit: Promise<number | null>;
  constructor(readonly proc: ChildProcess) {
    proc.stdout?.on("data", (d: Buffer) => {
      this.out += d.toString();
    });
    proc.stderr?.on("data", (d: Buffer) => {
      this.err += d.toString();
    });
    this.exit = new Promise((r) => proc.on("exit", (code) => r(code)));
  }
  async waitFor(re: RegExp, ms: number, what: string): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.out)) {
      if (this.proc.exitCode !== null) throw new Error(`${what} exited ${this.proc.exitCode}: ${this.err}`);
      if (Date.now() - t0 > ms) throw new Error(`${what}: no ${re} in ${ms} ms: ${this.out} ${this.err}`);
      await sleep(20);
    }
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await this.exit;
    clearTimeout(t);
  }
}

function noIpv6(ns: Netns): void {
  for (const k of ["all", "default"]) ns.run("sh", ["-c", `echo 1 > /proc/sys/net/ipv6/conf/${k}/disable_ipv6`]);
}

/** Why the lossy-link interop cannot run here (false: it can): the interop reasons, python3, bridges. */
export function lossySkipReason(): string | false {
  const base = skipReason("python3", "ping");
  if (base !== false) return base;
  const ns = new Netns("lbr");
  try {
    ns.ip("link", "add", "br0", "type", "bridge");
    return false;
  } catch (e) {
    return `the kernel cannot make a bridge (${(e as Error).message.split("\n")[0]})`;
  } finally {
    ns.destroy();
  }
}

/**
 * One echo of `size` bytes from the kernel to `target` through the relay with `impair` (see
 * parseImpairment). Never throws for a failed transfer: `seconds` is Infinity and `error` says why.
 */
export async function lossyEcho(o: {
  target: Target;
  impair: string;
  size: number;
  seed?: number;
  /** Echoes before the measured ones (the same connection setup; warms up the JIT of netstack). */
  warmup?: number;
  /** Measured echoes (default 1). */
  rounds?: number;
  /** Give up on one echo after this many seconds (default 60). */
  limitSeconds?: number;
  /**
   * "echo" (default): both directions at once; "upload": only the client sends (discard, port 9);
   * "download": only the server sends (chargen, port 19). The data of the last two is not checked.
   */
  mode?: Mode;
  /**
   * Congestion control of the kernel's sockets (TCP_CONGESTION; "" or absent: the namespace's
   * default, e.g. bbr). With "cubic" the kernel compares like for like with netstack's CUBIC.
   */
  linuxCc?: string;
}): Promise<LossyResult> {
  const res: LossyResult = {
    target: o.target,
    impair: o.impair,
    seconds: Number.POSITIVE_INFINITY,
    runs: [],
    bytes: 0,
    intact: false,
    relay: null,
  };
  const limit = o.limitSeconds ?? 60;
  const nsR = new Netns("lr");
  let nsC: Netns | null = null;
  let nsS: Netns | null = null;
  let relay: Child | null = null;
  let server: Child | null = null;
  let serve: Serve | null = null;
  try {
    nsC = new Netns("lc");
    nsS = new Netns("ls");
    noIpv6(nsC);
    noIpv6(nsS);
    noIpv6(nsR);
    relay = new Child(
      nsR.spawn(process.execPath, [
        "--import",
        "tsx",
        join(root, "test/interop/relay.ts"),
        "--a",
        "rc0",
        "--b",
        "rs0",
        "--impair",
        o.impair,
        "--seed",
        String(o.seed ?? 1),
      ]),
    );
    await relay.waitFor(/relay: ready/, 20_000, "relay");
    nsR.ip("link", "set", "rc0", "netns", nsC.name);
    nsR.ip("link", "set", "rs0", "netns", nsS.name);
    nsC.configure("rc0", ["10.9.0.1/24"]);
    nsS.ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0");
    nsS.ip("link", "set", "rs0", "master", "br0");
    nsS.ip("link", "set", "rs0", "up");
    if (o.target === "linux") {
      nsS.configure("br0", ["10.9.0.2/24"]);
      server = new Child(nsS.spawn("python3", ["-c", PY_SERVER, "10.9.0.2", o.linuxCc ?? ""]));
      await server.waitFor(/ready/, 10_000, "echo server");
    } else {
      nsS.ip("link", "set", "br0", "up");
      if (process.env.LOSSY_SERVE_SCRIPT) {
        // Diagnostics: an instrumented server script instead of `netstack serve`.
        server = new Child(
          nsS.spawn(process.execPath, ["--import", "tsx", process.env.LOSSY_SERVE_SCRIPT, "tn0:10.9.0.2/24"]),
        );
        await server.waitFor(/ready/, 20_000, "server script");
      } else {
        serve = new Serve(nsS, ["--tap", "tn0:10.9.0.2/24"]);
        await serve.ready();
      }
      nsS.ip("link", "set", "tn0", "master", "br0");
      nsS.ip("link", "set", "tn0", "up");
    }
    // The path works (ARP passes the relay unimpaired; the pings may be lost).
    let reachable = false;
    for (let i = 0; i < 20 && !reachable; i++) {
      reachable = nsC.run("ping", ["-c", "1", "-W", "1", "10.9.0.2"], 5000).status === 0;
    }
    if (!reachable) throw new Error("10.9.0.2 unreachable through the relay");
    // Diagnostics: a kernel's view of its connections (cwnd, ssthresh, ...) every 10 ms: the
    // server's, or with LOSSY_SS=client the client's.
    const ssNs = process.env.LOSSY_SS === "client" ? nsC : nsS;
    const sampler = process.env.LOSSY_SS
      ? new Child(ssNs.spawn("sh", ["-c", "while true; do ss -tin; sleep 0.01; done"]))
      : null;
    const rounds = (o.warmup ?? 0) + (o.rounds ?? 1);
    const mode = o.mode ?? "echo";
    const r = nsC.run(
      "python3",
      [
        "-c",
        PY_CLIENT,
        "10.9.0.2",
        String(PORTS[mode]),
        String(o.size),
        String(limit),
        String(rounds),
        mode,
        o.linuxCc ?? "",
      ],
      rounds * limit * 1000 + 5000,
    );
    if (r.status !== 0) throw new Error(`client failed (${r.status}): ${r.stderr.trim().split("\n").pop()}`);
    const runs = JSON.parse(r.stdout.trim().split("\n").pop() as string) as {
      sent: string;
      got: string;
      n: number;
      seconds: number;
    }[];
    res.intact = runs.every((j) => j.n === o.size && j.sent === j.got);
    res.bytes = runs.reduce((a, j) => a + j.n, 0);
    res.runs = runs.slice(o.warmup ?? 0).map((j) => j.seconds);
    res.seconds = Math.min(...res.runs);
    if (sampler !== null) {
      await sampler.stop();
      console.log(sampler.out);
    }
    if (process.env.LOSSY_NSTAT) {
      // Diagnostics: the kernels' TCP counters (nstat) after the run.
      for (const ns of [nsC, nsS]) console.log(ns.name, ns.run("nstat", ["-a", "-s"]).stdout);
    }
  } catch (e) {
    res.error = (e as Error).message;
  } finally {
    await relay?.stop();
    if (relay !== null) {
      const line = relay.out.trim().split("\n").pop() ?? "";
      try {
        res.relay = JSON.parse(line);
      } catch {}
    }
    await server?.stop();
    if (process.env.LOSSY_SERVE_SCRIPT && server !== null) console.log(server.err);
    if (serve !== null) {
      serve.kill();
      await serve.exit;
    }
    nsC?.destroy();
    nsS?.destroy();
    nsR.destroy();
  }
  return res;
}

/** The impairments of issue 18's table. */
export const ISSUE_TABLE: { label: string; impair: string }[] = [
  { label: "5% of frames dropped", impair: "loss=0.05" },
  { label: "20 ms delay, 10 ms jitter, 25% reordered", impair: "delay=20,jitter=10,reorder=0.25" },
  { label: "2% of frames duplicated", impair: "duplicate=0.02" },
  { label: "1% of frames corrupted", impair: "corrupt=0.01" },
];

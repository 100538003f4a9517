/**
 * Helpers of the interop tests: the real Linux kernel talks to `netstack serve|fetch|ping` through
 * TAP devices, each test in network namespaces of its own (unique names, always removed).
 *
 * Every test is skipped with the reason when it cannot run here: not root, no /dev/net/tun, no
 * `ip netns`, the TAP addon not built, or a tool it needs missing. Children are killed and the
 * namespaces deleted in `finally`, whatever happened.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { tapAvailable } from "../../src/node/tap.ts";

export const root = new URL("../..", import.meta.url).pathname;
export const cli = join(root, "bin", "netstack.js");

let cachedBase: string | false | undefined;

/** Why the interop tests cannot run here (false: they can). */
export function baseSkipReason(): string | false {
  if (cachedBase !== undefined) return cachedBase;
  cachedBase = computeBase();
  return cachedBase;
}

function computeBase(): string | false {
  if (process.platform !== "linux") return `interop tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "interop tests need root (network namespaces and TAP devices)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun (load the tun module: modprobe tun)";
  if (spawnSync("ip", ["-V"], { stdio: "ignore" }).status !== 0) return "`ip` (iproute2) is not installed";
  // Build the addon if `npm run build` has not (it never fails; it may just not produce it).
  if (!existsSync(join(root, "native", "build", "tap.node"))) {
    spawnSync(process.execPath, [join(root, "scripts", "build-native.mjs"), "--quiet"], { stdio: "ignore" });
  }
  const avail = tapAvailable();
  if (!avail.ok) return avail.reason;
  const ns = `nsprobe-${randomBytes(4).toString("hex")}`;
  const r = spawnSync("ip", ["netns", "add", ns], { encoding: "utf8" });
  if (r.status !== 0) return `\`ip netns add\` fails here: ${r.stderr.trim()}`;
  spawnSync("ip", ["netns", "del", ns]);
  return false;
}

/** The base reason, or that one of `tools` is missing. */
export function skipReason(...tools: string[]): string | false {
  const base = baseSkipReason();
  if (base !== false) return base;
  for (const t of tools) {
    if (spawnSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" }).status !== 0) return `${t} is not installed`;
  }
  return false;
}

/** Run a command, throwing with its stderr when it fails. */
export function sh(cmd: string, args: string[], timeout = 30_000): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** A network namespace of this test. */
export class Netns {
  readonly name: string;
  constructor(tag: string) {
    this.name = `ns-${tag}-${randomBytes(3).toString("hex")}`;
    sh("ip", ["netns", "add", this.name]);
    sh("ip", ["-n", this.name, "link", "set", "lo", "up"]);
  }
  /** `ip -n NS ...` */
  ip(...args: string[]): string {
    return sh("ip", ["-n", this.name, ...args]);
  }
  /** Run a command inside, waiting for it. */
  run(cmd: string, args: string[], timeout = 30_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("ip", ["netns", "exec", this.name, cmd, ...args], { encoding: "utf8", timeout, cwd: root });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }
  /** Start a command inside. */
  spawn(cmd: string, args: string[]): ChildProcess {
    return spawn("ip", ["netns", "exec", this.name, cmd, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  }
  /** A persistent TAP device created by the kernel side, configured and up. */
  tap(name: string, addresses: string[]): void {
    this.ip("tuntap", "add", "dev", name, "mode", "tap");
    this.configure(name, addresses);
  }
  /** Give the kernel's side of `dev` addresses (IPv6 without DAD) and bring it up. */
  configure(dev: string, addresses: string[]): void {
    for (const a of addresses) this.ip("addr", "add", a, "dev", dev, ...(a.includes(":") ? ["nodad"] : []));
    this.ip("link", "set", dev, "up");
  }
  /** Kill whatever still runs in the namespace (only this test's processes), then delete it. */
  destroy(): void {
    const pids = spawnSync("ip", ["netns", "pids", this.name], { encoding: "utf8" }).stdout ?? "";
    for (const p of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), "SIGKILL");
      } catch {}
    }
    spawnSync("ip", ["netns", "del", this.name]);
  }
}

/** A running `netstack serve`: its output so far, and how to stop it. */
export class Serve {
  stdout = "";
  stderr = "";
  exit: Promise<number | null>;
  private readonly child: ChildProcess;
  constructor(ns: Netns, args: string[]) {
    this.child = ns.spawn(process.execPath, [cli, "serve", ...args]);
    this.child.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exit = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }
  /** Wait for the `ready` line (rejects on exit or after `ms`). */
  async ready(ms = 20_000): Promise<string> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const line = this.stdout.split("\n").find((l) => /\bready\b/.test(l));
      if (line !== undefined) return line;
      if (this.child.exitCode !== null) throw new Error(`serve exited ${this.child.exitCode}: ${this.stderr}`);
      await sleep(50);
    }
    throw new Error(`serve printed no ready line in ${ms} ms: ${this.stdout} ${this.stderr}`);
  }
  /** SIGTERM, and the exit code (SIGKILL after `ms`). */
  async stop(ms = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), ms);
    const code = await this.exit;
    clearTimeout(t);
    return code;
  }
  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP client run by python3 inside a namespace: send `size` random bytes, read the echo, print both SHA-256s. */
export const PY_ECHO_CLIENT = `
import hashlib, os, socket, sys, threading
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(size)
s = socket.create_connection((host, port), timeout=20)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
h = hashlib.sha256(); n = 0
while True:
    b = s.recv(65536)
    if not b: break
    h.update(b); n += len(b)
t.join(); s.close()
print(hashlib.sha256(data).hexdigest(), h.hexdigest(), n)
`;

/**
 * The QEMU harness of the guest tests and benchmarks: boots the tiny Linux guest of
 * scripts/guest/build.mjs (built on demand, cached in .cache/guest/) with `qemu-system-x86_64`, a
 * virtio-net NIC on the network given (QEMU's own user networking, or a `-netdev stream` socket that
 * our gateway or passt listens on), no graphics, and runs shell commands in it:
 *
 *   const guest = await Guest.boot({ net: { type: "user" } });
 *   const { status, stdout } = await guest.run("udhcpc -i eth0 -n -q");
 *   await guest.close();   // always: kills QEMU
 *
 * Serial ports: ttyS0 is the kernel's console (kept in `guest.console` for failure messages); ttyS1
 * carries the command protocol of scripts/guest/init.sh, over a unix socket this harness listens on
 * and QEMU connects to. Commands run one at a time, in order.
 *
 * Acceleration: KVM when /dev/kvm opens and a probe boot prints the kernel's banner in a few seconds
 * (the result is kept per machine boot in .cache/guest/), else TCG; NETSTACK_QEMU_ACCEL=tcg|kvm
 * overrides. Every QEMU this module started is killed when the process exits.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = new URL("../..", import.meta.url).pathname;
const buildScript = join(root, "scripts", "guest", "build.mjs");
export const QEMU = process.env.NETSTACK_QEMU ?? "qemu-system-x86_64";

/** What scripts/guest/build.mjs produced. */
export interface GuestImage {
  kernel: string;
  initrd: string;
  /** The host's copy of nsperf (the benchmark's server side), or null when it was not built. */
  nsperf: string | null;
  /** The kernel release ("6.1.0-57-amd64"). */
  release: string;
  kernelPackage: string;
  /** Which host binaries the guest has (curl, socat, iperf3, nsperf). */
  tools: Record<string, boolean>;
  initrdBytes: number;
}

let image: GuestImage | { error: string } | undefined;

/** Build the guest (or find it cached): the image, or why it cannot be built. */
export function guestImage(): GuestImage | { error: string } {
  if (image !== undefined) return image;
  const r = spawnSync(process.execPath, [buildScript, "--json"], { encoding: "utf8", timeout: 15 * 60_000 });
  const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    image = JSON.parse(last) as GuestImage | { error: string };
  } catch {
    image = {
      error: `scripts/guest/build.mjs failed (${r.status ?? r.signal}): ${(r.stderr ?? "").trim().slice(-300)}`,
    };
  }
  return image;
}

let qemuReason: string | false | undefined;

/** Why guest tests cannot run here (false: they can). Builds the guest on first use. */
export function guestSkipReason(...tools: string[]): string | false {
  if (qemuReason === undefined) {
    if (process.platform !== "linux" || process.arch !== "x64") {
      qemuReason = `the test guest is x86-64 Linux (this is ${process.platform}/${process.arch})`;
    } else if (spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status !== 0) {
      qemuReason = `${QEMU} is not installed (Debian: qemu-system-x86)`;
    } else {
      const img = guestImage();
      qemuReason = "error" in img ? `the test guest cannot be built: ${img.error}` : false;
    }
  }
  if (qemuReason !== false) return qemuReason;
  const img = guestImage() as GuestImage;
  for (const t of tools) if (!img.tools[t]) return `the test guest has no ${t} (not on the host when it was built)`;
  return false;
}

// ---- acceleration ----

let accelChoice: "kvm" | "tcg" | undefined;

/** KVM if it opens and boots a kernel here, else TCG (cached per machine boot). */
export function chooseAccel(): "kvm" | "tcg" {
  if (accelChoice !== undefined) return accelChoice;
  const env = process.env.NETSTACK_QEMU_ACCEL;
  if (env === "kvm" || env === "tcg") {
    accelChoice = env;
    return env;
  }
  accelChoice = "tcg";
  try {
    closeSync(openSync("/dev/kvm", "r+"));
  } catch {
    return accelChoice;
  }
  const img = guestImage();
  if ("error" in img) return accelChoice;
  let bootId = "";
  try {
    bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {}
  const cache = join(root, ".cache", "guest", "accel.json");
  const key = `${bootId}|${img.release}`;
  try {
    const c = JSON.parse(readFileSync(cache, "utf8")) as { key: string; accel: "kvm" | "tcg" };
    if (c.key === key) {
      accelChoice = c.accel;
      return c.accel;
    }
  } catch {}
  // Some hosts open /dev/kvm but hang the guest's kernel: with KVM the banner takes milliseconds.
  const probe = spawnSync(
    "sh",
    [
      "-c",
      `timeout -s KILL 5 ${QEMU} -accel kvm -cpu host -nodefaults -display none -no-reboot -m 64 -serial stdio ` +
        `-kernel "$1" -append "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1" </dev/null 2>&1 | head -c 4096`,
      "probe",
      img.kernel,
    ],
    { encoding: "utf8", timeout: 15_000 },
  );
  accelChoice = /Linux version/.test(probe.stdout ?? "") ? "kvm" : "tcg";
  try {
    mkdirSync(join(root, ".cache", "guest"), { recursive: true });
    writeFileSync(cache, JSON.stringify({ key, accel: accelChoice }));
  } catch {}
  return accelChoice;
}

// ---- the guest ----

/** The guest's network. */
export type GuestNet =
  /** QEMU's user networking (libslirp): 10.0.2.15 by DHCP, gateway 10.0.2.2, DNS 10.0.2.3. */
  | { type: "user"; hostfwd?: string[]; extra?: string }
  /** `-netdev stream` connecting to a unix socket (our gateway, passt) or a TCP listener. */
  | { type: "stream"; path: string }
  | { type: "stream"; host: string; port: number }
  /** No NIC. */
  | { type: "none" };

/** Options of `Guest.boot`. */
export interface BootOptions {
  net?: GuestNet;
  /** The NIC's MAC (default QEMU's 52:54:00:12:34:56). */
  mac?: string;
  /** Guest memory (default 256 MiB). */
  memoryMiB?: number;
  /** Give up booting after this long (default 120 s: TCG on a busy machine is slow). */
  bootTimeoutMs?: number;
  accel?: "auto" | "kvm" | "tcg";
  /** Name in error messages (default "guest"). */
  name?: string;
  /** Extra kernel command line. */
  append?: string;
}

/** The result of a command. */
export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHook = false;

function killAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const c of live) {
      try {
        c.kill("SIGKILL");
      } catch {}
    }
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

/** Command line of the NIC. */
function netArgs(net: GuestNet, mac: string): string[] {
  if (net.type === "none") return [];
  let netdev: string;
  if (net.type === "user") {
    netdev = `user,id=n0${(net.hostfwd ?? []).map((f) => `,hostfwd=${f}`).join("")}${net.extra ? `,${net.extra}` : ""}`;
  } else if ("path" in net) {
    netdev = `stream,id=n0,server=off,addr.type=unix,addr.path=${net.path}`;
  } else {
    netdev = `stream,id=n0,server=off,addr.type=inet,addr.host=${net.host},addr.port=${net.port}`;
  }
  // romfile= : no PXE ROM (unused with -kernel, and its package may be missing).
  return ["-netdev", netdev, "-device", `virtio-net-pci,netdev=n0,mac=${mac},romfile=`];
}

interface Pending {
  id: number;
  resolve(r: RunResult): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | null;
}

export class Guest {
  /** Milliseconds from starting QEMU to the guest's command loop. */
  bootMs = 0;
  /** The kernel console so far (ttyS0). */
  console = "";
  readonly accel: "kvm" | "tcg";
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly server: Server;
  private readonly dir: string;
  private sock: Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private ready = false;
  private exited: string | null = null;
  private readonly queue: { cmd: string; p: Pending }[] = [];
  private current: Pending | null = null;
  private nextId = 1;
  private onReady: ((e: Error | null) => void) | null = null;
  private closed = false;

  private constructor(img: GuestImage, o: BootOptions) {
    killAllOnExit();
    this.name = o.name ?? "guest";
    const want = o.accel ?? "auto";
    this.accel = want === "auto" ? chooseAccel() : want;
    this.dir = join(tmpdir(), `nsguest-${randomBytes(4).toString("hex")}`);
    mkdirSync(this.dir, { recursive: true });
    liveDirs.add(this.dir);
    const cmdPath = join(this.dir, "cmd.sock");
    this.server = createServer((s) => this.attach(s));
    this.server.listen(cmdPath);
    const args = [
      "-accel",
      this.accel,
      ...(this.accel === "kvm" ? ["-cpu", "host"] : []),
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-no-user-config",
      "-m",
      String(o.memoryMiB ?? 256),
      "-kernel",
      img.kernel,
      "-initrd",
      img.initrd,
      "-append",
      `console=ttyS0 quiet panic=-1 ${o.append ?? ""}`.trim(),
      "-chardev",
      "stdio,id=con,signal=off",
      "-serial",
      "chardev:con",
      "-chardev",
      `socket,id=cmd,path=${cmdPath}`,
      "-serial",
      "chardev:cmd",
      ...netArgs(o.net ?? { type: "user" }, o.mac ?? "52:54:00:12:34:56"),
    ];
    this.child = spawn(QEMU, args, { stdio: ["pipe", "pipe", "pipe"] });
    live.add(this.child);
    const keep = (d: Buffer) => {
      this.console += d.toString("latin1");
      if (this.console.length > 200_000) this.console = this.console.slice(-100_000);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.child.on("error", (e) => this.gone(`cannot start ${QEMU}: ${e.message}`));
    this.child.on("exit", (code, sig) => this.gone(`QEMU exited (${code ?? sig})`));
  }

  /** Boot a guest and wait for its command loop. Rejects (QEMU killed) when it does not come up. */
  static async boot(o: BootOptions = {}): Promise<Guest> {
    const img = guestImage();
    if ("error" in img) throw new Error(`the test guest cannot be built: ${img.error}`);
    // QEMU 7.2 boots without a word when its stream cannot connect: check first.
    const net = o.net;
    if (net?.type === "stream" && "path" in net && !isSocket(net.path)) {
      throw new Error(`no unix socket at ${net.path} for the guest's -netdev stream`);
    }
    const t0 = performance.now();
    const g = new Guest(img, o);
    const limit = o.bootTimeoutMs ?? 120_000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no command loop after ${limit} ms`)), limit);
        g.onReady = (e) => {
          clearTimeout(timer);
          if (e === null) resolve();
          else reject(e);
        };
      });
    } catch (e) {
      await g.close();
      throw new Error(`${g.name} did not boot (${g.accel}): ${(e as Error).message}\n${g.tail()}`);
    }
    g.bootMs = performance.now() - t0;
    return g;
  }

  /** Run a shell command in the guest; resolves with its status and output. */
  run(cmd: string, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      if (this.exited !== null || this.closed) {
        reject(new Error(`${this.name}: ${this.exited ?? "closed"}`));
        return;
      }
      const p: Pending = { id: this.nextId++, resolve, reject, timer: null };
      const limit = opts.timeoutMs ?? 60_000;
      p.timer = setTimeout(() => {
        // The guest's shell is stuck in this command: the channel cannot be trusted any more.
        this.fail(new Error(`${this.name}: command timed out after ${limit} ms: ${cmd}`));
      }, limit);
      this.queue.push({ cmd, p });
      this.pump();
    });
  }

  /** Run a command that must succeed; resolves with its stdout, or rejects with status and output. */
  async sh(cmd: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(cmd, opts);
    if (r.status !== 0) {
      throw new Error(`${this.name}: \`${cmd}\` exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-500)}`);
    }
    return r.stdout;
  }

  /** Kill QEMU and remove the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error(`${this.name}: closed`));
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exit = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGKILL");
      await exit;
    }
    live.delete(this.child);
    this.sock?.destroy();
    await new Promise((r) => this.server.close(r));
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }

  /** The last lines of the console, for error messages. */
  tail(lines = 15): string {
    return this.console.trim().split("\n").slice(-lines).join("\n");
  }

  private attach(s: Socket): void {
    if (this.sock !== null) {
      s.destroy();
      return;
    }
    this.sock = s;
    s.on("data", (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.parse();
    });
    s.on("error", () => {});
    s.on("close", () => this.gone("the command channel closed"));
  }

  private gone(why: string): void {
    if (this.exited === null) this.exited = why;
    this.fail(new Error(`${this.name}: ${why}${this.closed ? "" : `\n${this.tail()}`}`));
  }

  /** Reject everything waiting (the boot and the commands). */
  private fail(e: Error): void {
    const r = this.onReady;
    this.onReady = null;
    r?.(e);
    const all = [...(this.current ? [this.current] : []), ...this.queue.map((q) => q.p)];
    this.current = null;
    this.queue.length = 0;
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    if (!this.closed && this.exited === null) {
      this.exited = e.message;
      this.child.kill("SIGKILL");
    }
  }

  private pump(): void {
    if (!this.ready || this.current !== null || this.sock === null) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.current = next.p;
    this.sock.write(`${next.p.id} ${Buffer.from(next.cmd).toString("base64")}\n`);
  }

  private parse(): void {
    for (;;) {
      if (!this.ready) {
        const i = this.buf.indexOf("@@READY");
        const nl = i < 0 ? -1 : this.buf.indexOf(10, i);
        if (nl < 0) return;
        this.buf = this.buf.subarray(nl + 1);
        this.ready = true;
        const r = this.onReady;
        this.onReady = null;
        r?.(null);
        this.pump();
        continue;
      }
      const p = this.current;
      if (p === null) return;
      const i = this.buf.indexOf("@@OUT ");
      if (i < 0) return;
      const nl = this.buf.indexOf(10, i);
      if (nl < 0) return;
      const [, id, nout, nerr] = this.buf.subarray(i, nl).toString("latin1").trim().split(" ");
      const outLen = Number(nout);
      const errLen = Number(nerr);
      const start = nl + 1;
      const endLine = start + outLen + errLen;
      const endNl = this.buf.indexOf(10, endLine);
      if (endNl < 0) return;
      const end = this.buf.subarray(endLine, endNl).toString("latin1").trim().split(" ");
      if (Number(id) !== p.id || end[0] !== "@@END" || Number(end[1]) !== p.id) {
        this.fail(new Error(`${this.name}: the command channel is out of step`));
        return;
      }
      const stdout = this.buf.subarray(start, start + outLen).toString("utf8");
      const stderr = this.buf.subarray(start + outLen, endLine).toString("utf8");
      this.buf = this.buf.subarray(endNl + 1);
      this.current = null;
      if (p.timer) clearTimeout(p.timer);
      p.resolve({ status: Number(end[2]), stdout, stderr });
      this.pump();
    }
  }
}

/** A unix socket path in a fresh temporary directory (removed by the returned cleanup). */
export function tempSocketPath(name = "net.sock"): { path: string; cleanup(): void } {
  const dir = join(tmpdir(), `nsgw-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return { path: join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether a path exists and is a socket. */
export function isSocket(path: string): boolean {
  return existsSync(path) && statSync(path).isSocket();
}

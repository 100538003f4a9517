/**
 * The host side of the v86 test guest's serial command protocol (init.sh in this directory), for
 * Node (test/v86/harness.ts) and the browser page (examples/browser/v86/) alike: no Node APIs.
 *
 *   host -> guest   "@@CMD <id> <base64 of a shell command>\n"
 *   guest -> host   "@@BEGIN <id>\n" <output> "\n@@END <id> <exit status>\n"
 *
 * and once at boot "@@READY <kernel release> <interfaces...>". Also the kernel command line every
 * host boots the guest with.
 */

/** Kernel command line: the serial console, and boot-time work the tests do not need skipped. */
export const GUEST_CMDLINE = [
  "console=ttyS0",
  "quiet",
  "loglevel=3",
  // The crypto self-tests take a third of the boot under emulation.
  "cryptomgr.notests",
  // No ISA PnP / PnP BIOS probing (v86 has neither; probing them costs seconds).
  "noisapnp",
  "pnpbios=off",
  "mitigations=off",
  "lsm=capability",
  "init_on_alloc=0",
  "audit=0",
  "nowatchdog",
  "tsc=reliable",
  // Tracing's tracefs files (thousands of event directories) and the built-in X.509 certificates
  // (for module signatures: build.mjs strips those) cost about a seventh of what is left.
  "initcall_blacklist=init_kprobe_trace,event_trace_init,tracer_init_tracefs,init_blk_tracer,load_system_certificate_list",
].join(" ");

/** The result of one command. */
export interface RunResult {
  /** Exit status of `sh -c CMD` in the guest. */
  status: number;
  /** Its stdout and stderr, interleaved as written ("\r" removed). */
  output: string;
}

/** What the READY line says. */
export interface GuestReady {
  release: string;
  interfaces: string[];
}

interface Pending {
  id: number;
  begun: boolean;
  out: string[];
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Base64 of the UTF-8 bytes of `s` (btoa exists in browsers and in Node). */
function base64(s: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Speaks the protocol over a serial port: feed it the guest's bytes, give it a way to send. */
export class GuestConsole {
  /** Resolves when the guest's init takes commands. */
  readonly ready: Promise<GuestReady>;
  private readyResolve!: (r: GuestReady) => void;
  private line = "";
  private nextId = 1;
  private pending: Pending | null = null;
  private queue: (() => void)[] = [];
  private closed = false;

  constructor(private readonly send: (text: string) => void) {
    this.ready = new Promise((resolve) => {
      this.readyResolve = resolve;
    });
  }

  /** One byte the guest wrote on the serial port. */
  byte(b: number): void {
    const c = String.fromCharCode(b);
    if (c === "\r") return;
    if (c !== "\n") {
      this.line += c;
      return;
    }
    const line = this.line;
    this.line = "";
    this.lineDone(line);
  }

  /**
   * Run `cmd` with `sh -c` in the guest (stdin /dev/null, stderr into stdout). Commands run one at
   * a time, in call order. Rejects when the guest does not finish it in `timeoutMs`.
   */
  run(cmd: string, timeoutMs = 60_000): Promise<RunResult> {
    if (this.closed) return Promise.reject(new Error("the guest is closed"));
    return new Promise<RunResult>((resolve, reject) => {
      const start = () => {
        const id = this.nextId++;
        const timer = setTimeout(() => {
          this.pending = null;
          reject(new Error(`guest command timed out after ${timeoutMs} ms: ${cmd}`));
          this.startNext();
        }, timeoutMs);
        this.pending = { id, begun: false, out: [], resolve, reject, timer };
        this.send(`@@CMD ${id} ${base64(cmd)}\n`);
      };
      if (this.pending === null) start();
      else this.queue.push(start);
    });
  }

  /** Reject the command running and those waiting; later `run`s reject at once. */
  close(): void {
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    this.queue = [];
    if (p) {
      clearTimeout(p.timer);
      p.reject(new Error("the guest was closed"));
    }
  }

  private startNext(): void {
    const next = this.queue.shift();
    if (next) next();
  }

  private lineDone(line: string): void {
    if (line.startsWith("@@READY ")) {
      const words = line.trim().split(/\s+/);
      this.readyResolve({ release: words[1] ?? "", interfaces: words.slice(2) });
      return;
    }
    const p = this.pending;
    if (p === null) return;
    if (!p.begun) {
      if (line === `@@BEGIN ${p.id}`) p.begun = true;
      return;
    }
    const end = /^@@END (\d+) (\d+)$/.exec(line);
    if (end && Number(end[1]) === p.id) {
      clearTimeout(p.timer);
      this.pending = null;
      // init.sh prints "\n" before @@END so that output without a final newline ends cleanly:
      // that newline is the last line's terminator, not output.
      p.resolve({ status: Number(end[2]), output: p.out.join("\n") });
      this.startNext();
      return;
    }
    p.out.push(line);
  }
}

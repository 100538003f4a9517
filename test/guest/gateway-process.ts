/**
 * `netstack gateway` as a child process, for the guest tests and bench:gateway: started with the
 * given arguments, ready once it prints its `ready` line, stopped with SIGTERM (its exit code
 * returned), killed when the test process exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { root } from "./qemu.ts";

const cli = join(root, "bin", "netstack.js");
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export class GatewayProcess {
  stdout = "";
  stderr = "";
  readonly exit: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [cli, "gateway", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    live.add(this.child);
    this.child.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exit = new Promise((resolve) =>
      this.child.on("exit", (code) => {
        live.delete(this.child);
        resolve(code);
      }),
    );
  }

  /** The `ready` line (rejects when the gateway exits first or after `ms`). */
  async ready(ms = 30_000): Promise<string> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const line = this.stdout.split("\n").find((l) => /\bready\b/.test(l));
      if (line !== undefined) return line;
      if (this.child.exitCode !== null) throw new Error(`gateway exited ${this.child.exitCode}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`gateway printed no ready line in ${ms} ms: ${this.stdout} ${this.stderr}`);
  }

  /** SIGTERM, then the exit code (SIGKILL after `ms`). */
  async stop(ms = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), ms);
    const code = await this.exit;
    clearTimeout(t);
    return code;
  }
}

/**
 * The `netstack` command line: a subcommand dispatcher. `bin/netstack.js` imports this module,
 * which runs the command named by `process.argv` and sets the exit code.
 *
 * Each subcommand lives in `src/node/cli/<name>.ts` and exports `command: CliCommand`; add it to
 * `COMMANDS` below (loaded lazily, so one command's dependencies do not slow the others). A
 * command parses its own arguments (node:util `parseArgs`) and reports a user mistake with
 * `ctx.usage(message)`: the CLI prints one line, `netstack <cmd>: <message>`, and exits 2, never
 * a stack trace. Exit codes: 0 success, 1 the command ran and found a problem, 2 a usage error.
 */
import { parseArgs } from "node:util";

/** What a command gets besides its arguments. */
export interface CliContext {
  /** Write text to standard output (buffered; flushed before exit). */
  out(text: string): void;
  /** Write a line to standard error. */
  err(line: string): void;
  /** Report a user mistake: throws, and the CLI prints the message and exits 2. */
  usage(message: string): never;
}

/** A subcommand. */
export interface CliCommand {
  readonly name: string;
  /** One line for `netstack --help`. */
  readonly summary: string;
  /** The full text of `netstack <name> --help`. */
  readonly help: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(args: string[], ctx: CliContext): Promise<number> | number;
}

/** A user mistake (bad option, missing file): one line on stderr, exit 2. */
class UsageError extends Error {}

/** The commands, loaded on demand. Add `serve`, `fetch`, `ping` here as `./cli/<name>.ts`. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  decode: {
    summary: "print the frames of a pcap/pcapng capture (tcpdump-style lines or --json), --verify them",
    load: async () => (await import("./cli/decode.ts")).command,
  },
  serve: {
    summary: "run echo, discard, chargen and HTTP on Linux TAP devices (optionally routing between them)",
    load: async () => (await import("./cli/serve.ts")).command,
  },
  fetch: {
    summary: "HTTP GET a URL over the stack's own TCP through a Linux TAP device",
    load: async () => (await import("./cli/fetch.ts")).command,
  },
  ping: {
    summary: "send ICMP/ICMPv6 echo requests from the stack through a Linux TAP device, like ping(8)",
    load: async () => (await import("./cli/ping.ts")).command,
  },
  gateway: {
    summary: "give VMs and emulators a network: a switch of QEMU, WebSocket and TAP ports with a gateway",
    load: async () => (await import("./cli/gateway.ts")).command,
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: netstack <command> [options]",
    "",
    "A user-space TCP/IP stack in TypeScript.",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `netstack <command> --help` for a command's options.",
    "",
  ].join("\n");
}

/** Output buffered in chunks so that decoding a large capture makes few write calls. */
class Output {
  private parts: string[] = [];
  private size = 0;
  out(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.parts.length === 0) return;
    process.stdout.write(this.parts.join(""));
    this.parts = [];
    this.size = 0;
  }
}

/** One line for the terminal: control characters (a newline in an argument, say) escaped as \n, \x1b. */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Run the CLI with `argv` (the arguments after the program name). Resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const output = new Output();
  let current = "netstack";
  const ctx: CliContext = {
    out: (t) => output.out(t),
    err: (line) => {
      output.flush();
      process.stderr.write(`${oneLine(line)}\n`);
    },
    usage: (message) => {
      throw new UsageError(message);
    },
  };
  try {
    const first = argv[0];
    if (first === undefined) {
      throw new UsageError(`missing command: one of ${Object.keys(COMMANDS).join(", ")} (see netstack --help)`);
    }
    if (first === "-h" || first === "--help" || first === "help") {
      const topic = first === "help" ? argv[1] : undefined;
      if (topic === undefined) {
        output.out(mainHelp());
        output.flush();
        return 0;
      }
      const entry = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
      if (entry === undefined) throw new UsageError(`unknown command '${topic}' (see netstack --help)`);
      output.out((await entry.load()).help);
      output.flush();
      return 0;
    }
    if (first === "--version" || first === "-v") {
      output.out("netstack 0.1.0\n");
      output.flush();
      return 0;
    }
    if (first.startsWith("-")) {
      // Reject global options we do not know with parseArgs' own wording.
      parseArgs({ args: [first], options: {}, strict: true, allowPositionals: true });
    }
    const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (entry === undefined) throw new UsageError(`unknown command '${first}' (see netstack --help)`);
    current = `netstack ${first}`;
    const cmd = await entry.load();
    const code = await cmd.run(argv.slice(1), ctx);
    output.flush();
    return code;
  } catch (e) {
    output.flush();
    if (e instanceof UsageError || isParseArgsError(e)) {
      let message = (e as Error).message;
      const unknown = /^Unknown option '([^']*)'/.exec(message);
      if (unknown !== null) message = `unknown option '${unknown[1]}' (see --help)`;
      process.stderr.write(`${current}: ${oneLine(message)}\n`);
      return 2;
    }
    // A bug, not a user mistake: still one line by default; NETSTACK_DEBUG=1 shows the stack.
    const detail = process.env.NETSTACK_DEBUG ? String((e as Error).stack ?? e) : String((e as Error).message ?? e);
    process.stderr.write(`${current}: internal error: ${detail}\n`);
    return 1;
  }
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for bad options. */
function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/**
 * Run the command line (bin/netstack.js calls this): `main` on `argv`, the exit code into
 * `process.exitCode`. Importing this module runs nothing.
 */
export function run(argv: string[] = process.argv.slice(2)): void {
  // A reader that goes away (`netstack decode x.pcap | head`) is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`netstack: internal error: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

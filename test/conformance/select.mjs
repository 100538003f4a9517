// Which of Node's test files the conformance suite runs: those about behaviour over the network.
// A file is left out when it needs what a user-space stack in one process cannot be or is not
// meant to be: Node's internals, libuv handles, Unix domain sockets, other processes, TLS. The
// rules look at the file's text; selectFiles() returns the chosen names and, for the others, why.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** [pattern, reason]: the first that matches a file's text leaves it out. */
const RULES = [
  [/--expose[-_]internals|internalBinding|process\.binding|require\(['"]internal\//, "Node internals"],
  [
    /\._handle\b|\bTCP\b.*tcp_wrap|_createSocketHandle|new (net\.)?Socket\(\{\s*handle|\bfd:\s/,
    "libuv handles or file descriptors",
  ],
  [/common\.PIPE|\.PIPE\b|listen\(\s*path|pipe\.sock|allowHalfOpen.*path:/, "Unix domain sockets"],
  [
    /child_process|require\(['"]cluster['"]\)|\bfork\(|\bspawn\w*\(|execFile|worker_threads/,
    "other processes (the stack lives in one process)",
  ],
  [/require\(['"](tls|https|http2)['"]\)|common\.hasCrypto|fixtures\.readKey/, "TLS"],
  [/async_hooks|--trace|process\.report|--inspect/, "async_hooks, tracing or diagnostics of libuv resources"],
  [/BlockList|SocketAddress/, "net.BlockList / net.SocketAddress are Node's own data classes, not networking"],
  [
    /common\.hasMultiLocalhost|localhostIPv4.*127\.0\.0\.2|getInternetAddr|internet\./,
    "needs addresses or networks beyond loopback",
  ],
];

export function selectFiles(testDir) {
  const dir = join(testDir, "parallel");
  const files = [];
  const excluded = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/^test-(net|http|dgram)-.*\.(js|mjs)$/.test(name)) continue;
    const text = readFileSync(join(dir, name), "utf8");
    const rule = RULES.find(([re]) => re.test(text));
    if (rule === undefined) files.push(name);
    else excluded.push({ file: name, reason: rule[1] });
  }
  return { files, excluded };
}

// Node's own test files (test/parallel/test-{net,http,dgram}-*.js, test/common, test/fixtures) for
// the conformance suite, from Debian's nodejs source package: the one place both this machine and
// CI reach that carries them (CI reaches only the npm registry and Debian's archive). apt-get
// downloads the source tarball through a private sources list and state directory (the system's
// apt configuration is not touched); the tests are unpacked into a cache outside the repository:
// $NETSTACK_CACHE or ~/.cache/netstack, node-tests/node-v<version>/test/...
//
// fetchNodeTests() returns { dir, version } or { skip: "why" } (no apt-get, no network, no
// nodejs 20.x source package). `node test/conformance/fetch.mjs` fetches and prints the directory.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The Debian release whose nodejs source package is Node 20 (Debian 13). */
const SUITE = "trixie";
const MAJOR = process.versions.node.split(".")[0];

export function cacheDir() {
  return join(process.env.NETSTACK_CACHE ?? join(homedir(), ".cache", "netstack"), "node-tests");
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 300_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

/** A cached tree with the test files, if one is there. */
function cached(root) {
  if (!existsSync(root)) return null;
  for (const name of readdirSync(root)) {
    if (name.startsWith(`node-v${MAJOR}.`) && existsSync(join(root, name, "test", ".complete"))) {
      return { dir: join(root, name, "test"), version: name.slice("node-v".length) };
    }
  }
  return null;
}

export function fetchNodeTests() {
  const root = cacheDir();
  const have = cached(root);
  if (have !== null) return have;
  if (run("apt-get", ["--version"]).ok === false)
    return { skip: "apt-get not found (Node's tests come from Debian's nodejs source package)" };
  const work = join(root, `.apt-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  for (const d of ["lists/partial", "cache/archives/partial", "dl"]) mkdirSync(join(work, d), { recursive: true });
  const key = "/usr/share/keyrings/debian-archive-keyring.gpg";
  const signed = existsSync(key) ? `[signed-by=${key}] ` : "";
  writeFileSync(
    join(work, "sources.list"),
    `deb-src ${signed}http://deb.debian.org/debian ${SUITE} main\n` +
      `deb-src ${signed}http://deb.debian.org/debian-security ${SUITE}-security main\n`,
  );
  const o = [
    "-o",
    `Dir::Etc::SourceList=${join(work, "sources.list")}`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::Lists=${join(work, "lists")}`,
    "-o",
    `Dir::Cache=${join(work, "cache")}`,
    "-o",
    "APT::Sandbox::User=root",
    "-o",
    "Debug::NoLocking=1",
  ];
  try {
    const u = run("apt-get", [...o, "update"]);
    if (!u.ok) return { skip: `apt-get update for ${SUITE} sources failed: ${u.out.trim().split("\n").pop()}` };
    const s = run("apt-get", [...o, "source", "--download-only", "--tar-only", "nodejs"], join(work, "dl"));
    const tarball = readdirSync(join(work, "dl")).find((f) => /^nodejs_[\d.]+\+dfsg\.orig\.tar\.xz$/.test(f));
    if (tarball === undefined) return { skip: `apt-get source nodejs failed: ${s.out.trim().split("\n").pop()}` };
    const version = /^nodejs_([\d.]+)\+/.exec(tarball)[1];
    if (version.split(".")[0] !== MAJOR) {
      return {
        skip: `Debian ${SUITE} has nodejs ${version}, not Node ${MAJOR}.x (this machine runs ${process.versions.node})`,
      };
    }
    const top = `node-v${version}`;
    const x = run(
      "tar",
      [
        "xJf",
        tarball,
        "--wildcards",
        `${top}/test/common/*`,
        `${top}/test/fixtures/*`,
        `${top}/test/parallel/test-net-*`,
        `${top}/test/parallel/test-http-*`,
        `${top}/test/parallel/test-dgram-*`,
      ],
      join(work, "dl"),
    );
    if (!x.ok) return { skip: `unpacking ${tarball} failed: ${x.out.trim()}` };
    writeFileSync(join(work, "dl", top, "test", ".complete"), `${tarball}\n`);
    rmSync(join(root, top), { recursive: true, force: true });
    renameSync(join(work, "dl", top), join(root, top));
    return { dir: join(root, top, "test"), version };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = fetchNodeTests();
  if ("skip" in r) {
    console.error(`node tests unavailable: ${r.skip}`);
    process.exit(1);
  }
  console.log(r.dir);
}

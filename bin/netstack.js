#!/usr/bin/env node
// The `netstack` command: runs the built CLI (after `npm run build`), or the TypeScript source via tsx.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const built = fileURLToPath(new URL("../dist/node/cli.js", import.meta.url));
let cli;
if (existsSync(built)) {
  cli = await import(pathToFileURL(built).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import(new URL("../src/node/cli.ts", import.meta.url).href);
}
cli.run();

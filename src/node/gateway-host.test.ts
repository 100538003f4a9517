// The gateway in-process, with stacks of ours as its guests (no QEMU needed): a stack on a QEMU
// stream connection and one on a WebSocket reach the gateway's addresses and each other, and the
// QEMU-side stack configures fec0::/64 from the gateway's router advertisement.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type GatewayConfig, parseGatewayArgs } from "./cli/gateway-args.ts";
import { openGateway } from "./gateway-host.ts";
import { NodeStack } from "./node-stack.ts";
import { QemuStreamLink } from "./qemu-link.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("openGateway: guests on QEMU streams reach the gateway's addresses and each other; SLAAC from its RA", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nsgw-host-"));
  const path = join(dir, "gw.sock");
  const cfg = parseGatewayArgs({ qemu: [`unix:${path}`] }) as GatewayConfig;
  const gw = await openGateway(cfg);
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  try {
    const da = a.addLink(await QemuStreamLink.connect({ path }), { addresses: ["10.0.2.15/24"] });
    b.addLink(await QemuStreamLink.connect({ path }), { addresses: ["10.0.2.16/24"] });
    for (const target of ["10.0.2.2", "10.0.2.3", "10.0.2.16"]) {
      const r = await a.ping(target, { count: 1, timeout: 5000 });
      assert.equal(r.received, 1, target);
    }
    // RFC 4862 5.5.3: the advertised prefix gives the guest a global address; it answers on it.
    let v6: string | undefined;
    for (let i = 0; i < 1000 && v6 === undefined; i++) {
      v6 = a.stack.addresses(da).find((s) => s.startsWith("fec0::"));
      if (v6 === undefined) await sleep(10);
    }
    assert.ok(v6 !== undefined, `no fec0:: address: ${a.stack.addresses(da).join(" ")}`);
    assert.match(v6, /\/64$/);
    const r6 = await a.ping("fec0::2", { count: 1, timeout: 5000 });
    assert.equal(r6.received, 1);
    assert.equal(gw.switch.ports.length, 3);
    assert.match(
      gw.describe(),
      /^10\.0\.2\.0\/24 gateway 10\.0\.2\.2 dns 10\.0\.2\.3, fec0::\/64 .* ports: qemu unix:/,
    );
  } finally {
    await a.close();
    await b.close();
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

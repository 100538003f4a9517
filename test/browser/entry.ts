// A browser-bundle entry: two stacks on a FakeNetwork exchange TCP data, using only the public core
// barrels. The test bundles this for platform "browser" and runs it in a bare JS realm.
import { Ipv4, Stack, type Stack as StackT } from "../../src/index.ts";
import { FakeNetwork } from "../../src/testing/index.ts";

export function run(): string {
  const net = new FakeNetwork<StackT>({ seed: 5 });
  const a = net.addHost("a", (b) => new Stack(b));
  const b = net.addHost("b", (bb) => new Stack(bb));
  const da = a.addEthernetDevice({ mac: "02:00:00:00:00:01" });
  const db = b.addEthernetDevice({ mac: "02:00:00:00:00:02" });
  a.addAddress(da, "192.168.7.1/24");
  b.addAddress(db, "192.168.7.2/24");
  net.link(["a", da], ["b", db], { latency: 1 });
  const l = b.tcp.listen(Ipv4, Ipv4.unspecified, 7) as number;
  const c = a.tcp.connect(Ipv4, null, Ipv4.parse("192.168.7.2")!, 7) as number;
  const msg = new TextEncoder().encode("hello from a bare realm");
  let srv: number | null = null;
  let got = "";
  net.runUntil(() => {
    if (srv === null) {
      srv = b.tcp.accept(l);
      if (srv !== null) a.tcp.send(c, msg);
      return false;
    }
    const chunk = b.tcp.recv(srv);
    if (chunk !== null && chunk.length > 0) got += new TextDecoder().decode(chunk);
    return got.length >= msg.length;
  }, 60_000);
  return got;
}

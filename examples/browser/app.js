// The demo page's script (bundled with netstack/browser by examples/browser/serve.ts): a BrowserStack
// on a WebSocketLink to the server, a download of /bytes/N with a progress bar and its throughput,
// and a live list of the frames sent and received (the decoder's one-line summaries).
import { BrowserStack, observeLink, pretty, WebSocketLink } from "../../src/browser/index.ts";

const $ = (id) => document.getElementById(id);
const KEEP = 60;
/** The last frames seen: copies, decoded only when the list is drawn. */
const recent = [];
let seen = 0;
let drawQueued = false;

function draw() {
  drawQueued = false;
  const box = $("frames");
  box.replaceChildren(
    ...recent.map(({ n, dir, bytes }) => {
      const line = document.createElement("div");
      line.className = dir;
      line.textContent = `${dir === "out" ? "→" : "←"} ${pretty(bytes, n)}`;
      return line;
    }),
  );
  box.scrollTop = box.scrollHeight;
}

function onFrame(dir, bytes) {
  seen++;
  recent.push({ n: seen, dir, bytes: bytes.slice() });
  if (recent.length > KEEP) recent.shift();
  if (!drawQueued) {
    drawQueued = true;
    requestAnimationFrame(draw);
  }
}

async function download(stack, n) {
  const progress = $("progress");
  const status = $("status");
  progress.value = 0;
  document.body.dataset.done = "";
  const t0 = performance.now();
  const res = await stack.fetch(`http://10.0.0.1/bytes/${n}`);
  const total = Number(res.headers.get("content-length") ?? n);
  const reader = res.body.getReader();
  let got = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    got += r.value.length;
    progress.value = got / total;
    const s = (performance.now() - t0) / 1000;
    status.textContent = `${got.toLocaleString()} of ${total.toLocaleString()} bytes, ${((got * 8) / s / 1e6).toFixed(1)} Mbit/s`;
  }
  const s = (performance.now() - t0) / 1000;
  status.textContent = `HTTP ${res.status}: ${got.toLocaleString()} bytes in ${s.toFixed(2)} s, ${((got * 8) / s / 1e6).toFixed(1)} Mbit/s`;
  document.body.dataset.done = got === total ? "ok" : "short";
}

async function main() {
  const ws = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const link = await WebSocketLink.connect(ws);
  const stack = new BrowserStack({ dad: false });
  stack.addLink(observeLink(link, onFrame), { addresses: ["10.0.0.2/24", "fd00::2/64"] });
  const go = $("go");
  go.disabled = false;
  go.onclick = () => {
    go.disabled = true;
    download(stack, Number($("size").value)).finally(() => {
      go.disabled = false;
    });
  };
  const auto = new URLSearchParams(location.search).get("bytes");
  if (auto !== null) $("size").value = auto;
  go.click();
}

main().catch((e) => {
  $("status").textContent = `failed: ${e.message}`;
  document.body.dataset.done = "error";
  console.error(e);
});

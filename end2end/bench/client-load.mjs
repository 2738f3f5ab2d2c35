// What a first visit downloads, and how soon the page (the Conversations
// page unless another is named) is interactive in Chromium on a throttled
// 4G connection.
// Usage: node end2end/bench/client-load.mjs <base url> [runs] [fast|slow] [path]
// Run by scripts/bench-client, against the release server it starts.
import { request as httpRequest } from "node:http";
import { chromium } from "playwright-core";

const base = process.argv[2];
const runs = Number(process.argv[3] ?? 10);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`the number of cold loads must be a whole number, not ${process.argv[3]}`);
// Chrome DevTools' 4G presets.
const presets = {
  fast: { name: "Fast 4G", latency: 60, downloadKbps: 9000, uploadKbps: 1500 },
  slow: { name: "Slow 4G", latency: 150, downloadKbps: 1600, uploadKbps: 750 },
};
const network = presets[process.argv[4] ?? "fast"];
if (!network) throw new Error(`no network preset ${process.argv[4]}: fast or slow`);
// The page measured: the Conversations page unless another is named.
const path = process.argv[5] ?? "/conversations";
if (!path.startsWith("/")) throw new Error(`the page is a path starting with /, not ${path}`);
const owner = { email: "bench@example.com", password: "a long enough password" };

/// GET `path` as sent over the wire: the byte count before any decoding.
function wire(path, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = httpRequest(new URL(path, base), { headers }, (response) => {
      let bytes = 0;
      const chunks = [];
      response.on("data", (chunk) => {
        bytes += chunk.length;
        chunks.push(chunk);
      });
      response.on("end", () =>
        resolve({ status: response.statusCode, headers: response.headers, bytes, body: Buffer.concat(chunks) }),
      );
    });
    request.on("error", reject);
    request.end();
  });
}

async function post(endpoint, form, cookie) {
  const headers = { origin: base, "content-type": "application/x-www-form-urlencoded" };
  if (cookie) headers.cookie = cookie;
  return fetch(new URL(`/api/${endpoint}`, base), {
    method: "POST",
    headers,
    body: new URLSearchParams(form),
    redirect: "manual",
  });
}

/// The owner's session cookie: signed up on a fresh database, signed in after.
async function signIn() {
  let response = await post("sign_up_owner", { ...owner, name: "Bench", workspace_name: "Bench" });
  if (!response.ok) response = await post("sign_in", owner);
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  if (!cookie) throw new Error(`no session: ${response.status} ${await response.text()}`);
  return cookie;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

/// What the page's HTML names, and what else Chromium fetched for it (the
/// split client's loader, imported by the script).
async function sizes(cookie, fetched) {
  const page = await wire(path, { cookie });
  if (page.status !== 200) throw new Error(`${path} answered ${page.status}`);
  const html = page.body.toString("utf8");
  const named = [...html.matchAll(/href="(\/pkg\/[^"]+)"/g)].map((m) => m[1]);
  const assets = [...new Set([...named, ...fetched])];
  console.log(`first load of ${path} (bytes on the wire):`);
  console.log(`  ${"file".padEnd(44)} ${"raw".padStart(11)} ${"gzip".padStart(11)} ${"brotli".padStart(11)}  cache-control`);
  console.log(`  ${"(the page's HTML)".padEnd(44)} ${kb(page.bytes).padStart(11)}`);
  const total = { raw: page.bytes, gzip: page.bytes, br: page.bytes };
  for (const asset of assets) {
    const raw = await wire(asset, { "accept-encoding": "identity" });
    const gzip = await wire(asset, { "accept-encoding": "gzip" });
    const br = await wire(asset, { "accept-encoding": "br" });
    const encoded = (r) => (r.headers["content-encoding"] ? kb(r.bytes) : "-");
    total.raw += raw.bytes;
    total.gzip += gzip.bytes;
    total.br += br.bytes;
    console.log(
      `  ${asset.padEnd(44)} ${kb(raw.bytes).padStart(11)} ${encoded(gzip).padStart(11)} ${encoded(br).padStart(11)}  ${raw.headers["cache-control"] ?? "-"}`,
    );
  }
  console.log(`  ${"total".padEnd(44)} ${kb(total.raw).padStart(11)} ${kb(total.gzip).padStart(11)} ${kb(total.br).padStart(11)}`);
}

async function timeToInteractive(browser, cookie) {
  const url = new URL(base);
  const context = await browser.newContext();
  await context.addCookies(
    cookie.split("; ").map((pair) => {
      const [name, ...value] = pair.split("=");
      return { name, value: value.join("="), domain: url.hostname, path: "/" };
    }),
  );
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: network.latency,
    downloadThroughput: (network.downloadKbps * 1000) / 8,
    uploadThroughput: (network.uploadKbps * 1000) / 8,
  });
  const encodings = new Map();
  const fetched = new Set();
  page.on("response", (response) => {
    const path = new URL(response.url()).pathname;
    if (!path.startsWith("/pkg/")) return;
    encodings.set(path.split(".").pop(), response.headers()["content-encoding"] ?? "none");
    fetched.add(path);
  });
  await page.goto(new URL(path, base).href, { waitUntil: "commit" });
  await page.locator('.app[data-hydrated="true"]').waitFor({ timeout: 60_000 });
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return { ms, wasm: encodings.get("wasm"), fetched };
}

const cookie = await signIn();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const times = [];
const wasmEncodings = new Set();
// Every file of the client the browser fetched, the split parts included
// (a part the page needs but its HTML does not name shows here).
const fetchedFiles = new Set();
for (let run = 0; run < runs; run++) {
  const { ms, wasm, fetched } = await timeToInteractive(browser, cookie);
  times.push(ms);
  wasmEncodings.add(wasm);
  for (const path of fetched) fetchedFiles.add(path);
}
await sizes(cookie, [...fetchedFiles].sort());
await browser.close();
times.sort((a, b) => a - b);
const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
console.log(
  `time to interactive of ${path}, ${runs} cold loads, ${network.name} ` +
    `(${network.downloadKbps / 1000} Mbit/s down, ` +
    `${network.uploadKbps / 1000} up, ${network.latency} ms latency): ` +
    `p50 ${(at(0.5) / 1000).toFixed(2)} s, max ${(times[times.length - 1] / 1000).toFixed(2)} s ` +
    `(the WASM as Chromium received it: ${[...wasmEncodings].join(", ")})`,
);

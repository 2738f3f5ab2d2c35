import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The server under test: the binary cargo-leptos built (debug by default),
// on its own port and a throwaway SQLite file, run from the repository root
// so it finds target/site.
const port = Number(process.env.E2E_PORT ?? 3900);
const sandboxPort = Number(process.env.E2E_SANDBOX_PORT ?? 3901);
const repoRoot = resolve(__dirname, "..");
const server = process.env.SWITCHBOARD_SERVER ?? join(repoRoot, "target/debug/server");
const sandbox = process.env.SWITCHBOARD_SANDBOX ?? join(repoRoot, "target/debug/sandbox");
const dataDir = mkdtempSync(join(tmpdir(), "switchboard-e2e-"));
// What the server under test writes to stderr (panics among it): the
// global teardown fails the run if it holds a panic.
const serverLog = join(dataDir, "server-stderr.log");
process.env.SWITCHBOARD_E2E_SERVER_LOG = serverLog;

export default defineConfig({
  testDir: "./tests",
  globalTeardown: "./global-teardown.ts",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // One more try for a test that fails: the list reporter names it
  // "flaky", so a flake is seen without losing the whole run to it. (The
  // flake of stops 31 and 32, a page load with no answer for 30 s, was a
  // worker thread blocked for good by a page render: see "A page render
  // may block its thread" in the README.)
  retries: 1,
  forbidOnly: true,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download cannot work here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    },
  },
  webServer: [{
    command: `"${server}" 2>>"${serverLog}"`,
    cwd: repoRoot,
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      DATABASE_URL: `sqlite://${join(dataDir, "e2e.db")}`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LOG_FORMAT: "json",
      // A panic's backtrace goes to the log the teardown reads.
      RUST_BACKTRACE: "1",
      // The outgoing-webhook spec's receiver listens on loopback.
      OUTGOING_WEBHOOK_ALLOW: "127.0.0.1",
      // The token-expiry spec: the token check and the expiry worker act
      // within seconds.
      TOKEN_HEALTH_INTERVAL_SECS: "10",
      TOKEN_REFRESH_INTERVAL_SECS: "5",
    },
  }, {
    // The standalone sandbox, for the Embedded Signup popup specs.
    command: `${sandbox} --addr 127.0.0.1:${sandboxPort}`,
    url: `http://127.0.0.1:${sandboxPort}/_sandbox/state`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore",
    stderr: "pipe",
  }],
});

import { existsSync, readFileSync } from "node:fs";

/// Fails the run when the server under test panicked, even if every spec
/// passed: a panic on a request path is a bug whatever the page showed.
export default async function globalTeardown() {
  const log = process.env.SWITCHBOARD_E2E_SERVER_LOG;
  if (!log || !existsSync(log)) {
    return;
  }
  const lines = readFileSync(log, "utf8").split("\n");
  const panics = lines.filter((line) => line.includes("panicked at"));
  if (panics.length > 0) {
    throw new Error(
      `the server under test panicked ${panics.length} time(s):\n${panics.slice(0, 5).join("\n")}\n(full log: ${log})`,
    );
  }
}

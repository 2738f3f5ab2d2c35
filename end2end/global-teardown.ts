import { existsSync, readFileSync } from "node:fs";

/// Fails the run when the server under test panicked, even if every spec
/// passed: a panic on a request path is a bug whatever the page showed.
/// Each panic is shown with the lines after it (the message, and the
/// backtrace the server writes with RUST_BACKTRACE=1), so a panic seen once
/// in CI can be traced to its caller.
export default async function globalTeardown() {
  const log = process.env.SWITCHBOARD_E2E_SERVER_LOG;
  if (!log || !existsSync(log)) {
    return;
  }
  const lines = readFileSync(log, "utf8").split("\n");
  const panics = lines.flatMap((line, at) => (line.includes("panicked at") ? [at] : []));
  if (panics.length > 0) {
    const shown = panics.slice(0, 3).map((at) => lines.slice(at, at + 40).join("\n"));
    throw new Error(
      `the server under test panicked ${panics.length} time(s):\n${shown.join("\n---\n")}\n(full log: ${log})`,
    );
  }
}

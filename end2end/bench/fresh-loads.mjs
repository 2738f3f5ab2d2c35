// Page loads in new browser contexts, one after another, beside a signed-in
// page whose live stream stays open: prints every load that took over 5 s
// (a render that never finished is a 30 s load: the request time limit).
// Usage: node end2end/bench/fresh-loads.mjs <base url> <session cookie> [loads]
// The cookie is an `sb_session` value, e.g. from a sign-up made with curl.
import { chromium } from "@playwright/test";

const [base, session] = process.argv.slice(2, 4);
if (!base || !session) throw new Error("usage: fresh-loads.mjs <base url> <session cookie> [loads]");
const loads = Number(process.argv[4] ?? 300);
if (!Number.isInteger(loads) || loads < 1) throw new Error(`the number of loads must be a whole number, not ${process.argv[4]}`);
const signedInPages = ["/conversations", "/onboarding", "/bot", "/"];
const cookie = { name: "sb_session", value: session, url: base };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const beside = await browser.newContext();
await beside.addCookies([cookie]);
const besidePage = await beside.newPage();
await besidePage.goto(base + "/conversations");

let slow = 0;
let failed = 0;
for (let i = 0; i < loads; i++) {
  // Every other load signed in (each of the pages in turn); the others the
  // sign-in page of someone new.
  const signedIn = i % 2 === 0;
  const path = signedIn ? signedInPages[(i / 2) % signedInPages.length] : "/sign-in";
  const context = await browser.newContext();
  if (signedIn) await context.addCookies([cookie]);
  const page = await context.newPage();
  const started = Date.now();
  try {
    await page.goto(base + path, { timeout: 40_000 });
    await page.locator('.app[data-hydrated="true"]').waitFor({ timeout: 40_000 });
  } catch (error) {
    failed++;
    console.log(`load ${i} of ${path} failed: ${String(error).slice(0, 200)}`);
  }
  const took = Date.now() - started;
  if (took > 5_000) {
    slow++;
    console.log(`${new Date().toISOString()} load ${i} of ${path} took ${took} ms`);
  }
  await context.close();
}
console.log(`${loads} loads, ${slow} over 5 s, ${failed} failed`);
await browser.close();

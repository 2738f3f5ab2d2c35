import { test, expect, Page } from "@playwright/test";
import { hydrated, signIn } from "./helpers";

// The client in parts (app/src/split.rs): the main WASM file, the back
// office's and the welcome pages'. Counted by the WASM files the browser
// fetched: the names are hashes.

function wasmFetched(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.endsWith(".wasm")) urls.push(r.url());
  });
  return urls;
}

function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  return errors;
}

test("Conversations loads only the main part; a back-office page reached from it loads its own", async ({ page }) => {
  await signIn(page);
  const wasm = wasmFetched(page);
  const errors = pageErrors(page);
  await page.goto("/conversations");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Conversations" })).toBeVisible();
  expect(wasm).toHaveLength(1);
  const main = wasm[0];

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Templates" }).click();
  await expect(page.getByRole("heading", { name: "Message templates" })).toBeVisible();
  expect(wasm.length).toBeGreaterThan(1);
  expect(wasm.filter((url) => url === main)).toHaveLength(1);

  // Opened directly, a back-office page hydrates with its part and works.
  wasm.length = 0;
  await page.goto("/settings/members");
  await hydrated(page);
  expect(wasm.length).toBeGreaterThan(1);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Conversations" }).click();
  await expect(page.getByRole("heading", { name: "Conversations" })).toBeVisible();
  expect(errors).toEqual([]);
});

test("a part that cannot be fetched: the page says so, or stays as the server rendered it", async ({ page }) => {
  await signIn(page);
  const wasm = wasmFetched(page);
  await page.goto("/conversations");
  await hydrated(page);
  const main = wasm[0];
  // Every WASM file but the main one fails from now on.
  await page.route(/\.wasm$/, (route) => (route.request().url() === main ? route.continue() : route.abort()));

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Bot" }).click();
  await expect(page.getByRole("alert")).toContainText("This page could not be loaded");

  // Opened directly: the server's page, readable, and left unhydrated.
  const failed = page.waitForEvent("console", (m) => m.text().includes("a part of the client failed to load"));
  await page.goto("/settings/members");
  await failed;
  await expect(page.getByRole("heading", { name: "Members" })).toBeVisible();
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "false");

  // Once the files are back, the same page hydrates.
  await page.unroute(/\.wasm$/);
  await page.reload();
  await hydrated(page);
});

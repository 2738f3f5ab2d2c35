import { test, expect } from "@playwright/test";
import { finishSignup, hydrated, openSignup, signIn } from "./helpers";

// Connect WhatsApp in demo mode: the page loads the sandbox's stand-in for
// Meta's SDK, FB.login opens the sandbox's Embedded Signup popup, and the
// server runs every step until the number is live. The tests run in this
// order (one worker) and the later ones use the number the first connects;
// not "serial" mode, so that a retry runs only the test that failed, not
// the first one again on a number that is live by then.

test("Connect WhatsApp: popup, FINISH, every step, PIN, live", async ({ page }) => {
  await signIn(page);
  const popup = await openSignup(page);
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  // The number that is not registered yet, so the PIN step shows.
  await popup.getByLabel(/15550005678/).check();
  await popup.getByRole("button", { name: "Finish" }).click();

  const progress = page.getByTestId("onboarding-progress");
  await expect(progress).toHaveAttribute("data-step", "register");
  await expect(progress.locator('li[data-state="done"]')).toHaveCount(4);
  await page.getByLabel("Two-step verification PIN").fill("135790");
  await page.getByRole("button", { name: "Register the number" }).click();

  await expect(progress).toHaveAttribute("data-step", "live");
  await expect(progress.locator('li[data-state="done"]')).toHaveCount(6);
  await expect(progress.getByRole("heading")).toHaveText("15550005678 is live");
  const row = page.locator("table.numbers tr[data-status]", { hasText: "15550005678" });
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute("data-status", "live");
  await expect(row).toContainText("Acme Bakery");
});

test("CANCEL shows its step; a message from another origin is ignored", async ({ page }) => {
  await signIn(page);
  const popup = await openSignup(page);
  // A look-alike message from this page's own origin, which is not Meta's
  // (nor the sandbox's): it must change nothing.
  await page.evaluate(() => {
    window.postMessage(JSON.stringify({ type: "WA_EMBEDDED_SIGNUP", event: "CANCEL", data: { current_step: "FORGED_STEP" } }), "*");
    window.postMessage(JSON.stringify({ type: "WA_EMBEDDED_SIGNUP", event: "FINISH", data: { waba_id: "1", phone_number_id: "2" } }), "*");
  });
  await page.waitForTimeout(500);
  await expect(page.getByTestId("signup-notice")).toHaveCount(0);
  await expect(page.getByTestId("onboarding-progress")).toHaveCount(0);

  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Cancel" }).click();
  const notice = page.getByTestId("signup-notice");
  await expect(notice).toContainText("Phone number setup");
  await expect(notice).not.toContainText("Forged");
  await expect(page.getByTestId("onboarding-progress")).toHaveCount(0);
});

test("the business removes the app: banner, reconnect, live again", async ({ page, request }) => {
  await signIn(page);
  const opener = await page.locator(".demo-banner a").getAttribute("href");
  const sandbox = new URL(opener!).origin;
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const removed = await request.post(`${sandbox}/_sandbox/wabas/${state.demo.waba_id}/remove-app`);
  expect(removed.status()).toBe(200);

  // The account_update webhook arrives and is processed in the background;
  // the open page hears of it (no reload).
  await page.goto("/");
  await hydrated(page);
  const banner = page.getByTestId("reconnect-banner");
  await expect(banner).toBeVisible({ timeout: 15_000 });
  await expect(banner).toContainText("15550005678");
  await expect(banner).toContainText("PARTNER_APP_UNINSTALLED");

  await banner.getByRole("link", { name: "Reconnect" }).click();
  await hydrated(page);
  await expect(page.locator("table.numbers tr[data-status]", { hasText: "15550005678" })).toHaveAttribute("data-status", "reconnect_needed");
  await finishSignup(await openSignup(page));

  // Registered already: no PIN this time.
  await expect(page.getByTestId("onboarding-progress")).toHaveAttribute("data-step", "live");
  await expect(page.locator("table.numbers tr[data-status]", { hasText: "15550005678" })).toHaveAttribute("data-status", "live");
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("reconnect-banner")).toHaveCount(0);
});

test("a customer writes to the connected number: the conversation appears without a reload", async ({ page, request }) => {
  await signIn(page);
  const opener = await page.locator(".demo-banner a").getAttribute("href");
  const sandbox = new URL(opener!).origin;
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  await page.goto("/conversations");
  await hydrated(page);

  const sent = await request.post(`${sandbox}/_sandbox/customers/16505550199/messages`, {
    data: { phone_number_id: state.demo.new_phone_number_id, name: "Carla Customer", type: "text", text: { body: "Do you bake on Sundays?" } },
  });
  expect(sent.status()).toBe(200);

  // Signed webhook -> journal -> pipeline -> the page's next refresh.
  const conversation = page.locator("a.conversation", { hasText: "Carla Customer" });
  await expect(conversation).toBeVisible({ timeout: 15_000 });
  await expect(conversation).toContainText("Do you bake on Sundays?");
  await conversation.click();
  await expect(page.locator(".bubble.inbound")).toContainText("Do you bake on Sundays?");
});

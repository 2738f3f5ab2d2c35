import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { hydrated, sandboxOrigin, signIn } from "./helpers";

// When FB.login hands back no code (a blocked popup, an in-app browser, an
// opener policy), the page offers Meta's OAuth dialog as a full page in
// this tab: state and PKCE go with it, the callback exchanges the code and
// the run goes on as usual.
test.describe.configure({ mode: "serial" });

async function losesCode(request: APIRequestContext, sandbox: string, on: boolean) {
  const set = await request.put(`${sandbox}/_sandbox/app`, { data: { fb_login_loses_code: on } });
  expect(set.status()).toBe(200);
}

/// The popup completes at Meta, but the page never gets its code: it
/// offers the redirect instead. Returns the offered link.
async function popupLosesItsCode(page: Page) {
  await page.goto("/onboarding");
  await hydrated(page);
  const connect = page.getByTestId("connect-whatsapp");
  await expect(connect).toBeEnabled();
  const [popup] = await Promise.all([page.waitForEvent("popup"), connect.click()]);
  await popup.waitForLoadState();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Finish" }).click();
  const offer = page.getByTestId("signup-redirect");
  await expect(offer).toBeVisible();
  await expect(offer).toHaveAttribute("href", "/onboarding/meta/start?business_app=0");
  await expect(page.getByTestId("onboarding-progress")).toHaveCount(0);
  return offer;
}

test.afterAll(async ({ browser, request }) => {
  // The other specs' popups keep their codes.
  const page = await browser.newPage();
  await signIn(page);
  await losesCode(request, await sandboxOrigin(page), false);
  await page.close();
});

test("no code from the popup: Meta's page in this tab, back to Onboarding, PIN, live", async ({ page, request }) => {
  await signIn(page);
  const sandbox = await sandboxOrigin(page);
  await losesCode(request, sandbox, true);
  const offer = await popupLosesItsCode(page);

  // Where Meta sends the browser back (its code and state included).
  let callback = "";
  page.on("request", (r) => {
    if (r.url().includes("/onboarding/meta/callback")) callback = r.url();
  });
  await offer.click();
  // Meta's dialog (the sandbox's), as a page of its own with PKCE.
  await expect(page).toHaveURL(new RegExp(`^${sandbox}/v[0-9]+\\.0/dialog/oauth\\?`));
  const dialog = new URL(page.url());
  expect(dialog.searchParams.get("code_challenge_method")).toBe("S256");
  expect(dialog.searchParams.get("state")).toHaveLength(43);
  expect(dialog.searchParams.get("redirect_uri")).toMatch(/\/onboarding\/meta\/callback$/);
  // A WhatsApp Business Account of its own with a new number: the run
  // takes that number.
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator('input[name="waba"][value="__new"]').check();
  await page.locator("#new-waba").fill("Acme by redirect");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator('input[name="phone"][value="__new"]').check();
  await page.locator("#new-phone").fill("15550004444");
  await page.locator("#new-phone-name").fill("Acme Bakery");
  await page.getByRole("button", { name: "Finish" }).click();

  // Back on Onboarding through the callback; no code or state in the URL.
  await expect(page).toHaveURL(/\/onboarding\?run=[0-9a-f-]+$/);
  await hydrated(page);
  const progress = page.getByTestId("onboarding-progress");
  await expect(progress).toHaveAttribute("data-step", "register", { timeout: 15_000 });
  await page.getByLabel("Two-step verification PIN").fill("135790");
  await page.getByRole("button", { name: "Register the number" }).click();
  await expect(progress).toHaveAttribute("data-step", "live");
  const row = page.locator("table.numbers tr", { hasText: "15550004444" });
  await expect(row).toHaveAttribute("data-status", "live");

  // The same way back again is refused: the state was used.
  expect(new URL(callback).searchParams.get("state")).toBe(dialog.searchParams.get("state"));
  await page.goto(callback);
  await expect(page).toHaveURL(/\/onboarding\?signup_error=state_used$/);
  await hydrated(page);
  await expect(page.getByTestId("signup-redirect-error")).toBeVisible();
});

test("cancelling on Meta's page comes back with Meta's reason", async ({ page, request }) => {
  await signIn(page);
  const sandbox = await sandboxOrigin(page);
  await losesCode(request, sandbox, true);
  const offer = await popupLosesItsCode(page);
  await offer.click();
  await expect(page).toHaveURL(new RegExp(`^${sandbox}/v[0-9]+\\.0/dialog/oauth\\?`));
  await page.getByRole("button", { name: "Cancel" }).click();

  await expect(page).toHaveURL(/\/onboarding\?signup_error=user_denied$/);
  await hydrated(page);
  await expect(page.getByTestId("signup-redirect-error")).toContainText(/cancel|user_denied/);
  await expect(page.getByTestId("onboarding-progress")).toHaveCount(0);
});

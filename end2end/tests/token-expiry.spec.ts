// A number's access token ends in 10 days and Meta will not refresh it
// (reference meta-2026 §6: unconfirmed for Embedded Signup's tokens): the
// server's token check reads the end, the expiry worker is refused and
// warns, and every page shows admins a banner with the number, its end and
// a Reconnect link to Onboarding. Reconnecting (Embedded Signup again)
// brings a fresh token and the banner goes.
//
// The server under test runs with TOKEN_HEALTH_INTERVAL_SECS=10 and
// TOKEN_REFRESH_INTERVAL_SECS=5 (playwright.config.ts), so both workers
// act within seconds.
import { expect, test } from "@playwright/test";
import { ensureConnected, finishSignup, hydrated, openSignup, sandboxOrigin, signIn } from "./helpers";

test("an expiring token Meta will not refresh: banner, Reconnect, gone", async ({ page, request }) => {
  test.setTimeout(90_000);
  await signIn(page);
  await ensureConnected(page);
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();

  // Meta refuses to refresh business tokens, and the number's token (the
  // server's: the browser never sees it) ends in 10 days by the server's
  // clock (other specs may have moved Meta's).
  const setRefresh = (value: string) => request.put(`${sandbox}/_sandbox/app`, { data: { token_refresh: value } });
  expect((await setRefresh("refused")).ok()).toBeTruthy();
  const metaAhead = Math.max(0, Math.round((state.now - Date.now()) / 1000));
  const expire = await request.post(`${sandbox}/_sandbox/tokens/expire`, {
    data: { waba_id: state.demo.waba_id, in_seconds: 10 * 86_400 - metaAhead },
  });
  expect(expire.ok()).toBeTruthy();

  // Token check, then the expiry worker: the warning's banner.
  // The open page hears of the warning (no reload).
  await page.goto("/");
  await hydrated(page);
  const banner = page.getByTestId("token-expiry-banner");
  await expect(banner).toBeVisible({ timeout: 60_000 });
  await expect(banner).toContainText("Access token expiring");
  await expect(banner).toContainText("15550005678");
  await expect(banner).toContainText(/expires \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \((9|10) days left\)/);
  await expect(banner).toContainText("not refreshable");

  // Reconnect leads to Onboarding, where Embedded Signup runs again.
  await banner.getByRole("link", { name: "Reconnect" }).click();
  await expect(page).toHaveURL(/\/onboarding$/);
  await hydrated(page);
  await finishSignup(await openSignup(page));
  await expect(page.getByTestId("onboarding-progress")).toHaveAttribute("data-step", "live");

  // A fresh token (this login configuration's never expire): no banner.
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("token-expiry-banner")).toHaveCount(0);
  expect((await setRefresh("allowed")).ok()).toBeTruthy();
});

import { test, expect } from "@playwright/test";
import { chooseDemoAccount, hydrated, sandboxOrigin, signIn } from "./helpers";

// A business that keeps the WhatsApp Business app on its number (Meta's
// coexistence): the sandbox's popup in its Business-app flow, no PIN, the
// app's contacts and chat history asked once, and the imported history in
// the customer's thread. Named to run after the other specs: it connects
// a second number, and they expect the demo's alone.
test("a WhatsApp Business app number connects without a PIN and brings its history", async ({ page, request }) => {
  await signIn(page);
  const sandbox = await sandboxOrigin(page);
  const made = await request.post(`${sandbox}/_sandbox/business-app/numbers`, {
    data: {
      display_phone_number: "15550007777",
      verified_name: "Corner Cafe",
      contacts: [{ phone_number: "16505550777", full_name: "Dora Regular" }],
      history: { threads: 2, messages_per_thread: 6 },
    },
  });
  expect(made.status()).toBe(200);
  const app = await made.json();
  const customer: string = app.customers[0];

  await page.goto("/onboarding");
  await hydrated(page);
  const connect = page.getByTestId("connect-business-app");
  await expect(connect).toBeEnabled();
  const [popup] = await Promise.all([page.waitForEvent("popup"), connect.click()]);
  await popup.waitForLoadState();
  await chooseDemoAccount(popup);
  await popup.getByLabel(/15550007777/).check();
  await expect(popup.getByLabel(/Share your chat history/)).toBeChecked();
  await popup.getByRole("button", { name: "Finish" }).click();

  const progress = page.getByTestId("onboarding-progress");
  await expect(progress).toHaveAttribute("data-step", "live", { timeout: 15_000 });
  // Five steps, none of them a register or a PIN.
  await expect(progress.locator('li[data-state="done"]')).toHaveCount(5);
  await expect(page.getByLabel("Two-step verification PIN")).toHaveCount(0);
  await expect(page.getByTestId("business-app-syncs")).toContainText("Chat history: asked of Meta");
  const row = page.locator("table.numbers tr", { hasText: "15550007777" });
  await expect(row).toHaveAttribute("data-status", "live");
  await expect(row).toContainText("Business app");
  await expect(row.getByTestId("business-app-rate")).toBeVisible();

  // The history arrives by webhook and shows in the thread, marked.
  await page.goto("/conversations");
  await hydrated(page);
  // No reload: the live stream brings the imported conversations in.
  const conversation = page.locator("a.conversation", { hasText: customer });
  await expect(conversation.first()).toBeVisible({ timeout: 20_000 });
  await conversation.first().click();
  const imported = page.locator('.bubble[data-origin="history"]');
  await expect(imported).toHaveCount(6);
  await expect(imported.first()).toContainText("Imported from the WhatsApp Business app");
  await expect(page.locator(".bubble.inbound[data-origin=history]")).not.toHaveCount(0);
  await expect(page.locator(".bubble.outbound[data-origin=history]")).not.toHaveCount(0);
});

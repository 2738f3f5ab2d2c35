// Pages follow the live stream (GET /live): what changes on the server
// shows in an open page without a reload, in every tab, and a tab that
// comes back from hidden catches up.
import { expect, test } from "@playwright/test";
import { customerWrites, ensureConnected, hydrated, signIn } from "./helpers";

test("a customer's message and the bot's answer appear in open tabs without a reload", async ({ page, context, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const waId = "16505550190";

  // Two tabs on the inbox before anything happened.
  await page.goto("/conversations");
  await hydrated(page);
  const second = await context.newPage();
  await second.goto("/conversations");
  await hydrated(second);
  // The page reads its list once the stream is open; count what follows.
  const listReads: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/list_conversations")) listReads.push(r.url());
  });
  const conversation = (p: typeof page) => p.locator("a.conversation", { hasText: "Customer 0190" });
  await expect(conversation(page)).toHaveCount(0);

  await customerWrites(page, request, waId, "Do you bake rye bread?");
  await expect(conversation(page)).toBeVisible({ timeout: 10_000 });
  await expect(conversation(second)).toBeVisible({ timeout: 10_000 });
  // Fetched because something changed, not on a timer.
  expect(listReads.length).toBeGreaterThan(0);

  // The open thread takes the bot's answer and the customer's next message.
  await conversation(page).click();
  await expect(page.locator(".bubble.outbound", { hasText: "Received: Do you bake rye bread?" })).toBeVisible({ timeout: 10_000 });
  await customerWrites(page, request, waId, "And on Sundays?");
  await expect(page.locator(".bubble.inbound", { hasText: "And on Sundays?" })).toBeVisible({ timeout: 10_000 });
  await expect(page.locator(".bubble.outbound", { hasText: "Received: And on Sundays?" })).toBeVisible({ timeout: 10_000 });
  await second.close();
});

test("a tab that was hidden catches up when it shows again", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  await page.goto("/conversations");
  await hydrated(page);
  const conversation = page.locator("a.conversation", { hasText: "Customer 0191" });
  await expect(conversation).toHaveCount(0);

  // Hidden: notices are noted, nothing is fetched.
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await customerWrites(page, request, "16505550191", "Hello from a hidden tab");
  // Stored (and its notice sent) while the tab is hidden.
  const origin = new URL(page.url()).origin;
  await expect.poll(async () => (await page.request.post("/api/list_conversations", { headers: { origin }, form: {} })).text(), { timeout: 10_000 })
    .toContain("Customer 0191");
  // Shown again: what changed meanwhile is fetched once.
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await expect(conversation).toBeVisible({ timeout: 10_000 });
});

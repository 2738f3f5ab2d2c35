// Runs after onboarding.spec.ts (files run in name order): that spec
// connects the demo number from scratch.
import { expect, test } from "@playwright/test";
import { ensureConnected, hydrated, sandboxOrigin, signIn } from "./helpers";

test("an admin creates a template, sees it approved, and an agent sends it into a closed window", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  await page.goto("/templates");
  await hydrated(page);
  // Synced from Meta when the number went live.
  await expect(page.locator('tr[data-template="order_update"][data-status="APPROVED"]')).toBeVisible({ timeout: 15_000 });

  // Meta's rules are checked as the draft is typed.
  await page.getByLabel("Name", { exact: true }).fill("Pickup Ready");
  await expect(page.locator('.hint[data-problem="name"]')).toBeVisible();
  await page.getByLabel("Name", { exact: true }).fill("pickup_ready");
  await page.getByLabel("Header (optional)").fill("Order {{1}}");
  await page.getByLabel("Sample for the header's {{1}}").fill("#7");
  await page.getByLabel("Body", { exact: true }).fill("Hi {{1}}, your order {{2}} is ready for pickup.");
  await expect(page.locator('.hint[data-problem="body"]')).toContainText("sample");
  await page.getByLabel("Sample for {{1}}").fill("Ana");
  await page.getByLabel("Sample for {{2}}").fill("#7");
  await page.getByLabel("Footer (optional)").fill("Acme Bakery");
  await page.getByLabel("Quick reply 1").fill("On my way");
  await expect(page.locator(".hint")).toHaveCount(0);
  // The preview reads as the customer will see it.
  const preview = page.locator(".template-bubble");
  await expect(preview.locator(".template-header")).toHaveText("Order #7");
  await expect(preview.locator(".template-body")).toHaveText("Hi Ana, your order #7 is ready for pickup.");
  await expect(preview.locator(".template-footer")).toHaveText("Acme Bakery");
  await expect(preview.locator(".template-button")).toHaveText("On my way");

  await page.getByRole("button", { name: "Submit for review" }).click();
  await expect(page.locator(".success[role=status]")).toContainText("Sent to Meta for review (pending)");
  const row = page.locator('tr[data-template="pickup_ready"]');
  await expect(row).toBeVisible();
  // Meta's review ends with a webhook; the page shows the outcome.
  await expect(row).toHaveAttribute("data-status", "APPROVED", { timeout: 15_000 });

  // The filter.
  await page.getByLabel("Filter").fill("pickup");
  await expect(page.locator("table.template-list tbody tr")).toHaveCount(1);
  await page.getByLabel("Filter").fill("");

  // A customer who never wrote: only a template reaches them.
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;
  const waId = "16505550147";
  await page.goto(`/conversations?number=${phone}&customer=${waId}`);
  await hydrated(page);
  await expect(page.locator(".window-closed")).toBeVisible();
  await page.getByLabel("Template").selectOption({ label: "pickup_ready (en_US)" });
  await page.getByLabel("Header value").fill("#8");
  await page.getByLabel("Variable 1").fill("Bo");
  await page.getByLabel("Variable 2").fill("#8");
  await expect(page.locator(".template-preview .template-header")).toHaveText("Order #8");
  await expect(page.locator(".template-preview .template-body")).toHaveText("Hi Bo, your order #8 is ready for pickup.");
  await page.getByRole("button", { name: "Send the template" }).click();
  await expect.poll(async () => {
    const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${waId}`)).json();
    return chat.messages.map((l: any) => [l.message.template?.name,
      ...(l.message.template?.components ?? []).flatMap((c: any) => c.parameters.map((p: any) => `${c.type}:${p.text}`))].join(" "));
  }, { timeout: 15_000 }).toEqual(["pickup_ready header:#8 body:Bo body:#8"]);
});

test("a promotional utility template is rejected with Meta's reason, edited into marketing, approved, and deleted", async ({ page }) => {
  await signIn(page);
  await ensureConnected(page);
  await page.goto("/templates");
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill("weekend_deal");
  await page.getByLabel("Body", { exact: true }).fill("Hi {{1}}, 20% off your order {{2}} this weekend.");
  await page.getByLabel("Sample for {{1}}").fill("Ana");
  await page.getByLabel("Sample for {{2}}").fill("#7");
  await page.getByRole("button", { name: "Submit for review" }).click();
  const row = page.locator('tr[data-template="weekend_deal"]');
  await expect(row).toHaveAttribute("data-status", "REJECTED", { timeout: 15_000 });
  await expect(row).toContainText("INCORRECT_CATEGORY");

  // Edit: the form holds the template; the right category goes to review.
  await row.getByRole("button", { name: "Edit" }).click();
  await expect(page.getByRole("heading", { name: "Edit weekend_deal (en_US)" })).toBeVisible();
  await expect(page.getByLabel("Body", { exact: true })).toHaveValue("Hi {{1}}, 20% off your order {{2}} this weekend.");
  await expect(page.getByLabel("Sample for {{2}}")).toHaveValue("#7");
  await expect(page.getByLabel("Name", { exact: true })).toBeDisabled();
  await page.getByLabel("Category").selectOption("MARKETING");
  await page.getByRole("button", { name: "Submit for review" }).click();
  await expect(row).toHaveAttribute("data-status", "APPROVED", { timeout: 15_000 });
  await expect(row).toContainText("marketing");
  await expect(page.getByRole("heading", { name: "New template" })).toBeVisible();

  await row.getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
});

test("the API reference renders every endpoint of the OpenAPI document", async ({ page, request }) => {
  await signIn(page);
  await page.goto("/settings/api");
  await hydrated(page);
  const document = await (await request.get("/api/v1/openapi.json")).json();
  const operations = Object.values(document.paths).flatMap((item: any) => Object.values(item).map((op: any) => op.operationId));
  expect(operations).toContain("sendMessage");
  for (const id of operations) {
    await expect(page.locator(`article.endpoint[data-operation="${id}"]`)).toBeVisible();
  }
  await expect(page.locator('article[data-operation="sendMessage"] tr[data-status="202"]')).toBeVisible();
  await expect(page.locator("#schema-SendRequest")).toBeAttached();
  // And the events endpoints receive (the document's webhooks).
  await expect(page.locator('article.endpoint[data-operation="event_number_token_expiring"]')).toBeVisible();
  await expect(page.locator("#schema-TokenExpiringEvent")).toBeAttached();
});

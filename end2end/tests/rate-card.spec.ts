// Costs (per-message pricing, reference meta-2026 §4): a template to a
// customer outside their window is billed by Meta; the Costs page counts
// it from Meta's pricing, a rate card loaded from a CSV prices it, and a
// bad file is refused with its line while the card in use stays.
import { expect, test } from "@playwright/test";
import { ensureConnected, hydrated, sandboxOrigin, signIn } from "./helpers";

const card = [
  "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service",
  "North America,USD,0.0250,0.0040,0.0135,,0.0000",
  "Other,USD,0.0600,0.0080,0.0300,,0.0000",
].join("\n");

test("a billed template is counted, priced by the uploaded rate card, and a bad card is refused", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;

  // A utility template to a customer who never wrote: Meta bills it.
  const customer = "16505550191";
  await page.goto(`/conversations?number=${phone}&customer=${customer}`);
  await hydrated(page);
  await page.getByLabel("Template").selectOption({ label: "hello_world (en_US)" });
  await page.getByRole("button", { name: "Send the template" }).click();
  await expect.poll(async () => {
    const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${customer}`)).json();
    return (chat.messages ?? []).some((l: any) => l.status === "read" || l.status === "delivered");
  }, { timeout: 15_000 }).toBe(true);
  await request.post(`${sandbox}/_sandbox/webhooks/settle`, { data: {} });

  await page.goto("/settings/costs");
  await hydrated(page);
  const row = page.locator("table.costs tbody tr").filter({ hasText: "utility" }).filter({ hasText: "North America" }).filter({ hasText: "regular" });
  await expect(row.first()).toBeVisible();
  await expect(page.getByText("No rate card: counts only.")).toBeVisible();

  // The rate card prices it.
  await page.getByLabel("CSV file").setInputFiles({ name: "rates.csv", mimeType: "text/csv", buffer: Buffer.from(card) });
  await page.getByRole("button", { name: "Load rate card" }).click();
  await expect(page.locator(".success[role=status]")).toBeVisible();
  await expect(row.first()).toContainText("USD");
  await expect(page.getByText(/Estimated total: .*USD/)).toBeVisible();

  // A broken file names its line; the card in use stays.
  const broken = card + "\nSomewhere,USD,abc,0.1,0.1,,0";
  await page.getByLabel("CSV file").setInputFiles({ name: "broken.csv", mimeType: "text/csv", buffer: Buffer.from(broken) });
  await page.getByRole("button", { name: "Load rate card" }).click();
  await expect(page.locator("[role=alert]")).toContainText(/line 4/i);
  await page.reload();
  await hydrated(page);
  await expect(row.first()).toContainText("USD");
});

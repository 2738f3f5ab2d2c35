// Meta restricts business-initiated messaging for a day (reference
// meta-2026 §3.1): the Health page shows it red with its end, a template
// is refused with the reason while a reply inside the window still goes,
// and once Meta's clock passes the end the page reads green by itself.
import { expect, test } from "@playwright/test";
import { ensureConnected, hydrated, sandboxOrigin, signIn } from "./helpers";

test("a day's restriction of templates is shown, enforced, and lifts by itself", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;
  const waba = state.demo.waba_id;
  const settle = () => request.post(`${sandbox}/_sandbox/webhooks/settle`, { data: {} });

  // One customer writes (their window is open); another never did.
  const writer = "16505550181";
  const stranger = "16505550182";
  await request.post(`${sandbox}/_sandbox/customers/${writer}/messages`, {
    data: { type: "text", text: { body: "Is my cake ready?" }, phone_number_id: phone },
  });
  const restricted = await request.post(`${sandbox}/_sandbox/wabas/${waba}/restrictions`, {
    data: { restriction_type: "RESTRICTED_BIZ_INITIATED_MESSAGING", for_seconds: 86_400, remediation: "Review your template quality" },
  });
  expect(restricted.ok()).toBeTruthy();
  expect((await settle()).ok()).toBeTruthy();

  // The numbers table says it in one word, linking to the Health page.
  await page.goto("/onboarding");
  await hydrated(page);
  const word = page.locator(`tr[data-number="${phone}"] a[data-health]`);
  await expect(word).toHaveAttribute("data-health", "limited");
  await word.click();
  await hydrated(page);
  const restrictions = page.locator('tr[data-check="Restrictions"]');
  await expect(restrictions).toHaveAttribute("data-light", "red");
  await expect(restrictions).toContainText("RESTRICTED_BIZ_INITIATED_MESSAGING");
  await expect(restrictions).toContainText(/until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  await expect(restrictions).toContainText("Review your template quality");
  await expect(page.locator('tr[data-check="Sending"]')).toHaveAttribute("data-light", "green");

  // A template to the customer who never wrote is refused, with why.
  await page.goto(`/conversations?number=${phone}&customer=${stranger}`);
  await hydrated(page);
  await expect(page.locator(".window-closed")).toBeVisible();
  await page.getByLabel("Template").selectOption({ label: "hello_world (en_US)" });
  await page.getByRole("button", { name: "Send the template" }).click();
  await expect(page.locator("[role=alert]")).toContainText("RESTRICTED_BIZ_INITIATED_MESSAGING");

  // A reply inside the other customer's window goes.
  await page.goto(`/conversations?number=${phone}&customer=${writer}`);
  await hydrated(page);
  await page.getByLabel("Reply").fill("Yes, it is ready for pickup.");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await expect.poll(async () => {
    const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${writer}`)).json();
    return chat.messages.some((l: any) => l.direction === "outbound" && l.message.text?.body === "Yes, it is ready for pickup.");
  }, { timeout: 15_000 }).toBe(true);
  const strangerChat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${stranger}`)).json();
  expect(strangerChat.messages ?? []).toHaveLength(0);

  // Meta's clock passes the end: opening the page reads Meta's health
  // status again, which lifts the restriction.
  await request.post(`${sandbox}/_sandbox/clock/advance`, { data: { seconds: 86_400 + 60 } });
  await page.goto(`/numbers/${phone}/health`);
  await hydrated(page);
  await expect(page.locator('tr[data-check="Restrictions"]')).toHaveAttribute("data-light", "green");
  await expect(page.locator('tr[data-check="Meta\'s health status"]')).toHaveAttribute("data-light", "green");
  await expect(page.locator("[data-health]").first()).toHaveAttribute("data-health", "healthy");
});

// Runs after onboarding.spec.ts (files run in name order): that spec
// connects the demo number from scratch.
import { expect, test } from "@playwright/test";
import { ensureConnected, hydrated, sandboxOrigin, signIn } from "./helpers";

// A customer who picked a WhatsApp username writes: Meta withholds their
// phone (the sandbox does as Meta does since 2026), so Switchboard knows
// them by their business-scoped user id until they share the phone.
test("a username customer is answered, asked for the phone, and the phone shows", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;
  const waId = "16505550177";
  expect((await request.put(`${sandbox}/_sandbox/users/${waId}`, { data: { username: "@sheena.bakes" } })).status()).toBe(200);
  const user = await (await request.get(`${sandbox}/_sandbox/users/${waId}?phone_number_id=${phone}`)).json();
  expect(user.wa_id ?? null).toBeNull();
  const bsuid: string = user.user_id;
  const sent = await request.post(`${sandbox}/_sandbox/customers/${waId}/messages`, {
    data: { phone_number_id: phone, type: "text", text: { body: "Do you deliver?" } },
  });
  expect(sent.status()).toBe(200);

  const outbound = async () => {
    const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${waId}`)).json();
    return chat.messages.filter((line: any) => line.direction === "outbound").map((line: any) => line.message);
  };

  await page.goto("/conversations");
  await hydrated(page);
  // The search box finds them by username.
  await page.getByLabel("Search conversations").fill("sheena.bakes");
  const conversation = page.locator("a.conversation", { hasText: "@sheena.bakes" });
  await expect(conversation).toBeVisible({ timeout: 15_000 });
  await conversation.click();
  const panel = page.getByLabel("Customer");
  await expect(panel.locator(".contact-username")).toHaveText("@sheena.bakes");
  await expect(panel.locator(".contact-bsuid")).toHaveText(bsuid);
  await expect(panel.locator(".contact-phone")).toHaveText("not known");
  // The echo bot's answer went by BSUID.
  await expect.poll(async () => (await outbound()).map((m: any) => m.recipient)).toEqual([bsuid]);

  await panel.getByRole("button", { name: "Request phone number" }).click();
  await expect(panel.getByRole("status")).toHaveText("Asked the customer to share their phone number.");
  await expect.poll(async () => (await outbound()).map((m: any) => m.interactive?.type ?? m.type)).toEqual([
    "text",
    "request_contact_info",
  ]);

  // The customer taps "share phone number".
  const shared = await request.post(`${sandbox}/_sandbox/customers/${waId}/share-phone`, { data: { phone_number_id: phone } });
  expect(shared.status()).toBe(200);
  await expect(panel.locator(".contact-phone")).toHaveText(`+${waId}`, { timeout: 15_000 });
  await expect(panel.getByRole("button", { name: "Request phone number" })).toHaveCount(0);

  await page.getByLabel("Reply").fill("Yes, we deliver on Saturdays.");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.locator(".bubble.outbound", { hasText: "Yes, we deliver on Saturdays." })).toBeVisible();
  // It reaches the customer, now by phone.
  await expect.poll(async () => {
    const last = (await outbound()).at(-1);
    return [last?.text?.body, last?.to, last?.recipient ?? null];
  }, { timeout: 15_000 }).toEqual(["Yes, we deliver on Saturdays.", waId, null]);
});

import { expect, APIRequestContext, Page } from "@playwright/test";

// What several specs do: sign in as the owner, open the signup popup,
// connect the demo number.
export const owner = { name: "Olive Owner", email: "olive@acme.example", password: "olive's long password" };

export async function hydrated(page: Page) {
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
}

/// Signs in as the owner, creating the account when this spec runs alone.
export async function signIn(page: Page) {
  await page.goto("/sign-in");
  await hydrated(page);
  const firstRun = page.getByRole("link", { name: "Create the owner account" });
  if (await firstRun.isVisible()) {
    await firstRun.click();
    await page.getByLabel("Your name").fill(owner.name);
    await page.getByLabel("Email").fill(owner.email);
    await page.getByLabel("Password").fill(owner.password);
    await page.getByLabel("Business (workspace) name").fill("Acme Bakery");
    await page.getByRole("button", { name: "Create account" }).click();
  } else {
    await page.getByLabel("Email").fill(owner.email);
    await page.getByLabel("Password").fill(owner.password);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
}

export async function openSignup(page: Page) {
  await page.goto("/onboarding");
  await hydrated(page);
  const connect = page.getByTestId("connect-whatsapp");
  await expect(connect).toBeEnabled();
  const [popup] = await Promise.all([page.waitForEvent("popup"), connect.click()]);
  await popup.waitForLoadState();
  return popup;
}


/// Takes the signup popup past its first two steps with the demo's
/// business and WhatsApp Business Account, chosen by name: the popup checks
/// the first of each by id, and other specs add accounts whose random ids
/// may sort first.
export async function chooseDemoAccount(popup: Page) {
  await popup.getByRole("radio", { name: "Acme Bakery", exact: true }).check();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("radio", { name: "Acme Bakery WhatsApp", exact: true }).check();
  await popup.getByRole("button", { name: "Continue" }).click();
}

/// Goes through the signup popup choosing the demo number 15550005678.
export async function finishSignup(popup: Page) {
  await chooseDemoAccount(popup);
  await popup.getByLabel(/15550005678/).check();
  await popup.getByRole("button", { name: "Finish" }).click();
}

/// Makes sure the demo number 15550005678 is connected (the onboarding spec
/// does it; a spec run alone does it here).
export async function ensureConnected(page: Page) {
  await page.goto("/onboarding");
  await hydrated(page);
  // The numbers are listed by the browser once the page is up.
  await expect(page.locator('table.numbers, [data-testid="no-numbers"]').first()).toBeVisible();
  if ((await page.locator('table.numbers tr[data-status="live"]', { hasText: "15550005678" }).count()) > 0) return;
  await finishSignup(await openSignup(page));
  const progress = page.getByTestId("onboarding-progress");
  await expect(progress).toHaveAttribute("data-step", /^(register|live)$/);
  if ((await progress.getAttribute("data-step")) === "register") {
    await page.getByLabel("Two-step verification PIN").fill("135790");
    await page.getByRole("button", { name: "Register the number" }).click();
  }
  await expect(progress).toHaveAttribute("data-step", "live");
}

/// The sandbox's address, from the demo banner's link.
export async function sandboxOrigin(page: Page): Promise<string> {
  const opener = await page.locator(".demo-banner a").getAttribute("href");
  return new URL(opener!).origin;
}

/// A customer (the sandbox's phone) writes to the demo number.
export async function customerWrites(page: Page, request: APIRequestContext, waId: string, body: string) {
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;
  const sent = await request.post(`${sandbox}/_sandbox/customers/${waId}/messages`, {
    data: { phone_number_id: phone, name: `Customer ${waId.slice(-4)}`, type: "text", text: { body } },
  });
  expect(sent.status()).toBe(200);
  return { sandbox, phone };
}

/// What the customer's phone shows of the business's messages.
export async function customerSees(request: APIRequestContext, sandbox: string, phone: string, waId: string): Promise<string[]> {
  const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${waId}`)).json();
  return chat.messages
    .filter((line: any) => line.direction === "outbound")
    .map((line: any) => line.message.text?.body ?? line.message.interactive?.body?.text ?? "");
}

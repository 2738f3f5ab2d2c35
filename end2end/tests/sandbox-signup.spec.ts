import { test, expect, Page } from "@playwright/test";

// The sandbox's Embedded Signup, driven as a person would: an opener page
// loads the stand-in SDK, FB.login opens the popup, the popup posts
// WA_EMBEDDED_SIGNUP and hands the code to the FB.login callback.
const sandbox = `http://127.0.0.1:${process.env.E2E_SANDBOX_PORT ?? 3901}`;

type Logged = { kind: string; value: any };

async function log(page: Page): Promise<Logged[]> {
  return page.locator("#log > div").evaluateAll((lines) =>
    lines.map((l) => {
      const text = l.textContent ?? "";
      const space = text.indexOf(" ");
      return { kind: text.slice(0, space), value: JSON.parse(text.slice(space + 1)) };
    }),
  );
}

async function openPopup(page: Page, query = "") {
  await page.goto(`${sandbox}/_sandbox/opener${query}`);
  await expect(page.locator("body")).toHaveAttribute("data-ready", "true");
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByRole("button", { name: "Connect WhatsApp" }).click()]);
  await popup.waitForLoadState();
  return popup;
}

async function waitForBoth(page: Page) {
  await expect(page.locator("#log > div")).toHaveCount(2);
  return log(page);
}

test("finishing the flow gives the FINISH message and an exchangeable code", async ({ page, request }) => {
  const popup = await openPopup(page);
  await expect(popup.getByText("Acme Bakery").first()).toBeVisible();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Finish" }).click();

  const entries = await waitForBoth(page);
  expect(entries.map((e) => e.kind)).toEqual(["message", "login"]);
  const message = entries[0].value;
  expect(message.type).toBe("WA_EMBEDDED_SIGNUP");
  expect(message.event).toBe("FINISH");
  expect(message.data.waba_id).toMatch(/^\d{15,17}$/);
  expect(message.data.phone_number_id).toMatch(/^\d{15,17}$/);
  expect(message.data.business_id).toMatch(/^\d{15,17}$/);

  const login = entries[1].value;
  expect(login.status).toBe("connected");
  const code = login.authResponse.code;
  expect(code).toMatch(/^AQB/);

  const exchange = await request.get(`${sandbox}/v25.0/oauth/access_token`, {
    params: { client_id: "1000000000000001", client_secret: "sandbox-app-secret", code },
  });
  expect(exchange.status()).toBe(200);
  expect((await exchange.json()).token_type).toBe("bearer");
});

test("the code can arrive before the message", async ({ page }) => {
  const popup = await openPopup(page);
  await popup.getByLabel("send the code before").check();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Finish" }).click();
  const entries = await waitForBoth(page);
  expect(entries.map((e) => e.kind)).toEqual(["login", "message"]);
});

test("cancelling reports the step and gives no code", async ({ page }) => {
  const popup = await openPopup(page);
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Cancel" }).click();
  const entries = await waitForBoth(page);
  const message = entries.find((e) => e.kind === "message")!.value;
  expect(message).toEqual({ type: "WA_EMBEDDED_SIGNUP", event: "CANCEL", data: { current_step: "PHONE_NUMBER_SETUP" } });
  expect(entries.find((e) => e.kind === "login")!.value.authResponse).toBeNull();
});

test("a reported problem uses the error shape", async ({ page }) => {
  const popup = await openPopup(page);
  await popup.getByRole("button", { name: "Report a problem" }).click();
  const entries = await waitForBoth(page);
  const message = entries.find((e) => e.kind === "message")!.value;
  expect(message.event).toBe("CANCEL");
  expect(message.data.error_message).toContain("BUSINESS_ACCOUNT_SELECTION");
  expect(message.data.error_code).toBe("524126");
  expect(message.data.session_id).toBeTruthy();
});

test("variants: WABA-only sharing and the legacy v2 session shape", async ({ page }) => {
  let popup = await openPopup(page, "?feature_type=only_waba_sharing");
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Finish" }).click();
  let entries = await waitForBoth(page);
  let message = entries.find((e) => e.kind === "message")!.value;
  expect(message.event).toBe("FINISH_ONLY_WABA");
  expect(message.data.phone_number_id).toBeUndefined();

  popup = await openPopup(page, "?session_info_version=2");
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Continue" }).click();
  await popup.getByRole("button", { name: "Finish" }).click();
  entries = await waitForBoth(page);
  message = entries.find((e) => e.kind === "message")!.value;
  expect(message.event).toBe("FINISH");
  expect(Object.keys(message.data).sort()).toEqual(["phone_number_id", "waba_id"]);
});

test("a missing configuration id is refused in the popup", async ({ page }) => {
  const popup = await openPopup(page, "?config_id=");
  await expect(popup.getByText("This configuration is not valid")).toBeVisible();
  await popup.close();
  await expect(page.locator("#log > div")).toHaveCount(1);
  const entries = await log(page);
  expect(entries[0].kind).toBe("login");
  expect(entries[0].value.authResponse).toBeNull();
});

// Runs after onboarding.spec.ts (files run in name order): that spec
// connects the demo number from scratch.
import { expect, test } from "@playwright/test";
import { customerSees, customerWrites, ensureConnected, hydrated, sandboxOrigin, signIn } from "./helpers";

// The bot answers through the outbox, and agents reply from the thread;
// the sandbox's chat is the customer's phone.

test("the echo bot answers, then an agent replies from the thread", async ({ page, request }, testInfo) => {
  await signIn(page);
  await ensureConnected(page);
  // A customer of their own for a retry: the first try's messages stay.
  const waId = `16505550${142 + 100 * testInfo.retry}`;
  const { sandbox, phone } = await customerWrites(page, request, waId, "Is the bakery open?");

  await page.goto("/conversations");
  await hydrated(page);
  const conversation = page.locator("a.conversation", { hasText: `Customer ${waId.slice(-4)}` });
  await expect(conversation).toBeVisible({ timeout: 15_000 });
  await conversation.click();
  await expect(page.locator(".bubble.outbound", { hasText: "Received: Is the bakery open?" })).toBeVisible({ timeout: 15_000 });
  await expect(page.locator(".window-open")).toContainText("Window open for 23 h");

  await page.getByLabel("Reply").fill("Yes, until 6 pm today.");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByLabel("Reply")).toHaveValue("");
  const reply = page.locator(".bubble.outbound", { hasText: "Yes, until 6 pm today." });
  await expect(reply).toBeVisible();
  // Meta's statuses come back: sent, delivered, read.
  await expect(reply.locator(".tick")).toHaveText("✓✓", { timeout: 15_000 });
  await expect.poll(() => customerSees(request, sandbox, phone, waId)).toEqual([
    "Received: Is the bakery open?",
    "Yes, until 6 pm today.",
  ]);

  // A file: uploaded to Meta, sent by its media id, the text as caption.
  await page.getByLabel("Attach a file").setInputFiles({
    name: "menu.pdf",
    mimeType: "application/pdf",
    buffer: Buffer.from("%PDF-1.4 today's menu"),
  });
  await page.getByLabel("Reply").fill("Today's menu");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.locator(".bubble.outbound", { hasText: "[document menu.pdf] Today's menu" })).toBeVisible({ timeout: 15_000 });
  const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${waId}`)).json();
  const document = chat.messages.map((l: any) => l.message).find((m: any) => m.type === "document");
  expect(document.document.filename).toBe("menu.pdf");
  expect(document.document.id).toBeTruthy();
});

test("the rules bot answers from rules saved on the bot page", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  await page.goto("/bot");
  await hydrated(page);
  await page.getByLabel("Rules bot").check();
  await page.getByRole("button", { name: "Add a rule" }).click();
  await page.getByLabel("Keyword or pattern").fill("hours");
  await page.getByLabel("Reply text").fill("We open at 9 and close at 6.");
  await page.locator('textarea[name="default_reply"]').fill("An agent will answer soon.");

  // A pattern that is not one is refused, naming the rule.
  await page.getByRole("button", { name: "Add a rule" }).click();
  await page.getByLabel("Match").nth(1).selectOption("pattern");
  await page.getByLabel("Keyword or pattern").nth(1).fill("order(");
  await page.getByLabel("Reply text").nth(1).fill("About your order");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator('.field-error[data-field="rules"]')).toContainText("Rule 2");
  await page.getByRole("button", { name: "Remove" }).nth(1).click();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator(".bot-form [role=status]")).toContainText("Saved");

  // Saved: a reload shows the rule.
  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel("Keyword or pattern")).toHaveValue("hours");
  await expect(page.getByLabel("Rules bot")).toBeChecked();

  const waId = "16505550143";
  const { sandbox, phone } = await customerWrites(page, request, waId, "What are your HOURS?");
  await customerWrites(page, request, waId, "Do you deliver?");
  await expect
    .poll(() => customerSees(request, sandbox, phone, waId), { timeout: 15_000 })
    .toEqual(["We open at 9 and close at 6.", "An agent will answer soon."]);

  // Back to the echo bot for the specs that follow.
  await page.getByLabel("Echo bot").check();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator(".bot-form [role=status]")).toContainText("Saved");
});

test("an admin adds an outgoing webhook; events arrive signed and show in the delivery log", async ({ page, request }) => {
  const { createServer } = await import("node:http");
  const { createHmac } = await import("node:crypto");
  const received: { headers: Record<string, any>; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", () => done()));
  const port = (server.address() as any).port;
  try {
    await signIn(page);
    await ensureConnected(page);
    await page.goto("/settings/outgoing-webhooks");
    await hydrated(page);
    await page.getByLabel("Endpoint address").fill("http://example.com/hook");
    await page.getByRole("button", { name: "Add the endpoint" }).click();
    await expect(page.locator('.field-error[data-field="url"]')).toContainText("https://");

    await page.getByLabel("Endpoint address").fill(`http://127.0.0.1:${port}/hook`);
    await page.getByRole("button", { name: "Add the endpoint" }).click();
    const secret = await page.getByLabel("Signing secret").inputValue();
    expect(secret).toMatch(/^whsec_/);

    await customerWrites(page, request, "16505550144", "Ping for your CRM");
    await expect.poll(() => received.filter((r) => JSON.parse(r.body).type === "message.received").length, { timeout: 15_000 }).toBe(1);
    const event = received.find((r) => JSON.parse(r.body).type === "message.received")!;
    expect(JSON.parse(event.body).data.message.text.body).toBe("Ping for your CRM");
    // The Standard Webhooks signature, computed here independently.
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const signed = `${event.headers["webhook-id"]}.${event.headers["webhook-timestamp"]}.${event.body}`;
    const expected = "v1," + createHmac("sha256", key).update(signed).digest("base64");
    expect(event.headers["webhook-signature"].split(" ")).toContain(expected);

    await page.getByRole("button", { name: "Refresh" }).click();
    await expect(page.locator('table.deliveries tr[data-state="delivered"]').first()).toBeVisible();
  } finally {
    server.close();
  }
});

test("with the window closed, an agent sends an approved template with its variables", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;
  // A customer who never wrote: no window, only a template can reach them.
  const waId = "16505550145";
  await page.goto(`/conversations?number=${phone}&customer=${waId}`);
  await hydrated(page);
  await expect(page.locator(".window-closed")).toBeVisible();
  await expect(page.getByLabel("Reply")).toBeDisabled();
  await page.getByLabel("Template").selectOption({ label: "order_update (en_US)" });
  await page.getByLabel("Variable 1").fill("Ana");
  await page.getByLabel("Variable 2").fill("#42");
  await expect(page.locator(".template-preview")).toHaveText("Hi Ana, your order #42 is on its way.");
  await page.getByRole("button", { name: "Send the template" }).click();
  await expect(page.locator(".bubble.outbound", { hasText: "[template order_update]" })).toBeVisible({ timeout: 15_000 });
  await expect.poll(async () => {
    const chat = await (await request.get(`${sandbox}/_sandbox/chats/${phone}/${waId}`)).json();
    return chat.messages.map((l: any) => l.message.template?.components?.[0]?.parameters?.map((p: any) => p.text).join(" "));
  }).toEqual(["Ana #42"]);
});

test("an admin makes an API key; code sends through /api/v1 with it until it is revoked", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const { sandbox, phone } = await customerWrites(page, request, "16505550146", "Can your system write to me?");
  await page.goto("/settings/api-keys");
  await hydrated(page);
  await page.getByLabel("Key name").fill("CRM");
  await page.getByRole("button", { name: "Make a key" }).click();
  const key = await page.getByLabel("API key").inputValue();
  expect(key).toMatch(/^sbk_/);

  const send = (idempotency: string) =>
    request.post("/api/v1/messages", {
      headers: { authorization: `Bearer ${key}`, "idempotency-key": idempotency },
      data: { phone_number_id: phone, to: "16505550146", message: { type: "text", body: "Hello from the CRM" } },
    });
  // The inbound message must be stored before the window counts as open.
  await expect.poll(async () => (await send("crm-1")).status(), { timeout: 15_000 }).toBe(202);
  const again = await send("crm-1");
  expect((await again.json()).replayed).toBe(true);
  await expect.poll(() => customerSees(request, sandbox, phone, "16505550146"), { timeout: 15_000 })
    .toContain("Hello from the CRM");
  expect((await customerSees(request, sandbox, phone, "16505550146")).filter((t) => t === "Hello from the CRM")).toHaveLength(1);

  await page.reload();
  await hydrated(page);
  await expect(page.locator("table.api-keys tr[data-revoked=false]")).toHaveCount(1);
  await page.getByRole("button", { name: "Revoke" }).click();
  await expect(page.locator("table.api-keys tr[data-revoked=true]")).toHaveCount(1);
  expect((await send("crm-2")).status()).toBe(401);
});

test("an admin exports a customer's data, then erases them", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const waId = "16505550181";
  await customerWrites(page, request, waId, "Please forget me after this");

  await page.goto("/conversations");
  await hydrated(page);
  const conversation = page.locator("a.conversation", { hasText: "Customer 0181" });
  await expect(conversation).toBeVisible({ timeout: 15_000 });
  await conversation.click();
  await expect(page.locator(".bubble.inbound", { hasText: "Please forget me after this" })).toBeVisible();

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export their data" }).click(),
  ]);
  const { readFileSync } = await import("node:fs");
  const exported = JSON.parse(readFileSync((await download.path())!, "utf8"));
  expect(exported.contact.phone).toBe(waId);
  expect(exported.messages.map((m: any) => m.summary)).toContain("Please forget me after this");

  await page.getByRole("button", { name: "Erase contact…" }).click();
  await page.getByRole("button", { name: "Erase for good" }).click();
  await expect(page.getByRole("status").filter({ hasText: "was erased" })).toBeVisible();
  await expect(page.locator("a.conversation", { hasText: "Customer 0181" })).toHaveCount(0);
});

import { test, expect, Page, Browser } from "@playwright/test";
import { createHmac } from "node:crypto";

// One story, in order: the first person creates the owner account, signs
// out and back in, invites a colleague, the colleague joins through the
// link in their own browser, and the owner changes their role.
test.describe.configure({ mode: "serial" });

const owner = { name: "Olive Owner", email: "olive@acme.example", password: "olive's long password" };
const agent = { name: "Andy Agent", email: "andy@acme.example", password: "andy's long password" };
let inviteLink = "";

async function hydrated(page: Page) {
  await expect(page.locator(".app")).toHaveAttribute("data-hydrated", "true");
}

// RFC 6238's code (SHA-1, 6 digits, 30 s) for a base32 secret, at a step
// offset from now: what an authenticator app would show.
function totp(base32: string, offset = 0): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/\s/g, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const step = Buffer.alloc(8);
  step.writeBigInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const digest = createHmac("sha1", key).update(step).digest();
  const at = digest[digest.length - 1] & 0x0f;
  const value = (digest.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, "0");
}

async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/sign-in");
  await hydrated(page);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
}

test("first run: sign up the owner, with errors next to the fields", async ({ page }) => {
  await page.goto("/sign-in");
  await hydrated(page);
  await page.getByRole("link", { name: "Create the owner account" }).click();
  await expect(page.getByRole("heading", { name: "Create the owner account" })).toBeVisible();

  await page.getByLabel("Your name").fill(owner.name);
  await page.getByLabel("Email").fill(owner.email);
  await page.getByLabel("Password").fill("short");
  await page.getByLabel("Business (workspace) name").fill("Acme Bakery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator('.field-error[data-field="password"]')).toContainText("at least 10 characters");

  await page.getByLabel("Password").fill(owner.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByRole("combobox", { name: "Workspace" })).toHaveValue(/.+/);
  await expect(page.locator(".user-name")).toHaveText(owner.name);
});

test("sign out, a wrong password, then sign in", async ({ page }) => {
  await signIn(page, owner);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  await page.getByLabel("Email").fill(owner.email);
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("email or the password is incorrect");

  await signIn(page, owner);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
});

test("the owner invites a colleague, who joins through the link", async ({ page, browser }) => {
  await signIn(page, owner);
  await page.goto("/settings/members");
  await hydrated(page);
  await page.locator("select[name=role]").last().selectOption("agent");
  await page.getByRole("button", { name: "Create invite link" }).click();
  const link = page.getByLabel("Invite link");
  await expect(link).toHaveValue(/\/invite\/.+/);
  inviteLink = await link.inputValue();

  // The colleague, in a browser of their own.
  const context = await browser.newContext();
  const other = await context.newPage();
  await other.goto(new URL(inviteLink).pathname);
  await hydrated(other);
  await expect(other.getByText("You are invited to join")).toContainText("Acme Bakery");
  await other.getByLabel("Your name").fill(agent.name);
  await other.getByLabel("Email").fill(agent.email);
  await other.getByLabel("Password").fill(agent.password);
  await other.getByRole("button", { name: "Create account and join" }).click();
  await expect(other.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(other.locator(".user-name")).toHaveText(agent.name);

  // An agent cannot open the members page's data.
  await other.goto("/settings/members");
  await expect(other.getByRole("alert")).toContainText("do not have access");

  // The link was single-use.
  const third = await (await browser.newContext()).newPage();
  await third.goto(new URL(inviteLink).pathname);
  await expect(third.getByRole("alert")).toContainText("expired or was already used");
  await context.close();
});

test("an open invitation is listed and revoked, and its link stops working", async ({ page, browser }) => {
  await signIn(page, owner);
  await page.goto("/settings/members");
  await hydrated(page);
  await page.locator("select[name=role]").last().selectOption("viewer");
  await page.getByRole("button", { name: "Create invite link" }).click();
  const link = await page.getByLabel("Invite link").inputValue();
  const open = page.getByLabel("Open invitations").locator("tr.open-invite", { hasText: "viewer" });
  await expect(open).toHaveCount(1);
  await open.getByRole("button", { name: "Revoke" }).click();
  await expect(open).toHaveCount(0);
  const other = await (await browser.newContext()).newPage();
  await other.goto(new URL(link).pathname);
  await expect(other.getByRole("alert")).toContainText("expired or was already used");
});

test("the owner changes the colleague's role, and the audit log shows it", async ({ page }) => {
  await signIn(page, owner);
  await page.goto("/settings/members");
  await hydrated(page);
  const row = page.locator(`tr[data-email="${agent.email}"]`);
  await expect(row).toBeVisible();
  await row.getByRole("combobox").selectOption("admin");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.locator(`tr[data-email="${agent.email}"]`).getByRole("combobox")).toHaveValue("admin");

  await page.goto("/settings/audit");
  await expect(page.getByRole("cell", { name: "member.role_changed" })).toBeVisible();
  await expect(page.locator("tr", { hasText: "member.role_changed" })).toContainText('"after":"admin"');
});

test("the owner sees conversations and the webhook events page, and can replay", async ({ page }) => {
  await signIn(page, owner);
  await page.goto("/conversations");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Conversations" })).toBeVisible();
  await expect(page.getByText("No conversations yet")).toBeVisible();

  await page.goto("/settings/events");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Dead letters" })).toBeVisible();
  await page.getByRole("button", { name: "Replay all" }).click();
  await expect(page.getByRole("status").filter({ hasText: "queued again" })).toContainText("0 event(s) queued again.");
});

test("the colleague turns on two-factor sign-in and then needs a code", async ({ page }) => {
  await signIn(page, agent);
  await page.goto("/settings");
  await hydrated(page);
  const card = page.getByTestId("two-factor");
  await card.getByLabel("Password").fill(agent.password);
  await card.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  await expect(card.locator(".qr svg")).toBeVisible();
  const secret = (await card.getByTestId("two-factor-secret").textContent())!;
  await card.getByLabel("Code from the app").fill("000000");
  await card.getByRole("button", { name: "Turn on" }).click();
  await expect(card.locator('.field-error[data-field="code"]')).toContainText("does not match");
  await card.getByLabel("Code from the app").fill(totp(secret));
  await card.getByRole("button", { name: "Turn on" }).click();
  await expect(card.getByTestId("recovery-codes").locator("li")).toHaveCount(10);
  await expect(card.getByTestId("two-factor-on")).toContainText("10 recovery codes left");
  const recovery = (await card.getByTestId("recovery-codes").locator("li").first().textContent())!;
  await card.getByRole("button", { name: "I have saved them" }).click();
  await expect(card.getByTestId("recovery-codes")).toHaveCount(0);

  // Signing in now takes a code after the password.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Email").fill(agent.email);
  await page.getByLabel("Password").fill(agent.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Code").fill("123456");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.locator('.field-error[data-field="code"]')).toContainText("not right");
  // The code that turned it on was used; the next one signs in.
  await page.getByLabel("Code").fill(totp(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();

  // A recovery code also signs in, once.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Email").fill(agent.email);
  await page.getByLabel("Password").fill(agent.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Code").fill(recovery.trim());
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await page.goto("/settings");
  await expect(page.getByTestId("two-factor-on")).toContainText("9 recovery codes left");
});

import { test, expect } from "@playwright/test";
import { deflateSync } from "node:zlib";
import { ensureConnected, hydrated, sandboxOrigin, signIn } from "./helpers";

// The profile editor: text fields checked in the browser, saved to the
// sandbox's profile, and a new picture through the resumable upload.
test.describe.configure({ mode: "serial" });

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/// A real RGB PNG of the given size, built byte by byte.
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) rows.set([x % 256, y % 256, 120], row + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

test("edit the text fields and upload a picture; the sandbox holds them", async ({ page, request }) => {
  await signIn(page);
  await ensureConnected(page);
  const sandbox = await sandboxOrigin(page);
  const state = await (await request.get(`${sandbox}/_sandbox/state`)).json();
  const phone = state.demo.new_phone_number_id;

  await page.goto("/profile");
  await hydrated(page);
  const about = page.getByLabel(/^About/);
  await expect(about).not.toHaveValue("");

  // Checked in the browser first: nothing goes out.
  await page.getByLabel(/^Email/).fill("not-an-email");
  await page.getByRole("button", { name: "Save the profile" }).click();
  await expect(page.locator('.field-error[data-field="email"]')).toContainText("not a valid email");
  await expect(page.getByTestId("profile-saved")).toHaveCount(0);

  await about.fill("Fresh bread, and pastries on Sundays.");
  await page.getByLabel(/^Email/).fill("orders@acme-bakery.example");
  await page.getByLabel("Website 2").fill("https://shop.acme-bakery.example");
  await page.getByRole("button", { name: "Save the profile" }).click();
  await expect(page.getByTestId("profile-saved")).toHaveText("Saved: about, email, websites.");

  // A picture that is too small is refused before upload.
  const input = page.locator('input[type="file"][name="picture"]');
  await input.setInputFiles({ name: "tiny.png", mimeType: "image/png", buffer: png(100, 100) });
  await expect(page.locator('.field-error[data-field="picture"]')).toContainText("100×100");

  await input.setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: png(320, 320) });
  await expect(page.locator("figure.preview figcaption")).toHaveText("320×320 pixels");
  await page.getByRole("button", { name: "Upload the picture" }).click();
  await expect(page.getByTestId("picture-saved")).toBeVisible();

  const held = await (await request.get(`${sandbox}/_sandbox/phones/${phone}`)).json();
  expect(held.profile.about).toBe("Fresh bread, and pastries on Sundays.");
  expect(held.profile.email).toBe("orders@acme-bakery.example");
  expect(held.profile.websites).toEqual(["https://acme-bakery.example", "https://shop.acme-bakery.example"]);
  expect(held.profile.profile_picture_handle).toBeTruthy();
  expect(held.upload_handles).toContain(held.profile.profile_picture_handle);
});

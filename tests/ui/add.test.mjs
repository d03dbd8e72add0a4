// Adding accounts in the real window from a QR image file and from another app's export.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { closeApp, openApp, root, screenshot, startDriver } from "./driver.mjs";
import { base32Decode, totp } from "./totp.mjs";

const fixtures = join(root, "crates/core/src/import/testdata");

describe("adding accounts from files", () => {
  let driver;
  let browser;
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-add-ui-"));

  before(async () => {
    driver = await startDriver(4470);
    browser = await openApp(dataDir, 4470);
    await (await browser.$('[data-testid="uri-input"]')).waitForExist({ timeout: 15_000 });
  });
  after(async () => {
    await closeApp(browser, dataDir);
    driver?.kill();
  });

  const count = async () => (await browser.$$('[data-testid="account"]')).length;

  test("a QR code in an image file becomes an account", async () => {
    const png = join(mkdtempSync(join(tmpdir(), "qr-")), "code.png");
    execFileSync("qrencode", [
      "-s", "6", "-o", png,
      "otpauth://totp/Scanned%20Co:carol@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Scanned%20Co",
    ]);
    // WebDriver "send keys" to a file input uploads that file.
    await (await browser.$('[data-testid="scan-file"]')).addValue(png);
    const result = await browser.$('[data-testid="add-result"]');
    await result.waitForExist({ timeout: 15_000 });
    assert.match(String(await result.getProperty("textContent")), /Added 1 account/);
    await browser.waitUntil(async () => (await count()) === 1, { timeout: 5_000 });
    await screenshot(browser, "20-added-from-image");
  });

  test("the same image again is recognised as a duplicate", async () => {
    const png = join(mkdtempSync(join(tmpdir(), "qr-")), "again.png");
    execFileSync("qrencode", [
      "-s", "6", "-o", png,
      "otpauth://totp/Scanned%20Co:carol@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Scanned%20Co",
    ]);
    await (await browser.$('[data-testid="scan-file"]')).addValue(png);
    await browser.waitUntil(
      async () => /skipped 1 already present/.test(String(await (await browser.$('[data-testid="add-result"]')).getProperty("textContent"))),
      { timeout: 15_000 },
    );
    assert.equal(await count(), 1);
  });

  test("an Aegis export imports every entry", async () => {
    await (await browser.$('[data-testid="transfer-toggle"]')).click();
    await (await browser.$('[data-testid="import-file"]')).addValue(join(fixtures, "aegis_plain.json"));
    await (await browser.$('[data-testid="import-button"]')).click();
    const result = await browser.$('[data-testid="import-result"]');
    await result.waitForExist({ timeout: 15_000 });
    const text = String(await result.getProperty("textContent"));
    assert.match(text, /^Aegis/);
    const added = Number(/Added (\d+) account/.exec(text)?.[1]);
    assert.ok(added >= 1, text);
    await browser.waitUntil(async () => (await count()) === 1 + added, { timeout: 5_000 });
    await screenshot(browser, "21-imported");
  });

  test("a setup key typed by hand previews its code, names a bad character, and adds", async () => {
    const before = await count();
    await (await browser.$('[data-testid="manual-toggle"] summary')).click();
    await (await browser.$('[data-testid="manual-issuer"]')).setValue("Typed Co");
    await (await browser.$('[data-testid="manual-name"]')).setValue("dave@example.com");
    // A zero where an O belongs: the field says which character, where, and why.
    await (await browser.$('[data-testid="manual-secret"]')).setValue("gezd gnbv gy3t qojq gezd gnbv gy3t qoj0");
    const secretError = await browser.$('[data-testid="manual-error-secret"]');
    await secretError.waitForExist({ timeout: 5_000 });
    assert.match(String(await secretError.getProperty("textContent")), /secret: bad character '0' at position 39/);
    assert.equal(await (await browser.$('[data-testid="manual-preview"]')).getAttribute("data-code"), "");

    // Fixed (spaces, dashes, lower case are fine): the preview is RFC 6238's code.
    const typed = "gezd-gnbv gy3t qojq gezd gnbv gy3t qojq";
    await (await browser.$('[data-testid="manual-secret"]')).setValue(typed);
    await secretError.waitForExist({ reverse: true, timeout: 5_000 });
    const seed = base32Decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    const previewCode = async () => (await browser.$('[data-testid="manual-preview"]')).getAttribute("data-code");
    await browser.waitUntil(async () => /^\d{6}$/.test(await previewCode()), { timeout: 5_000 });
    const now = Math.floor(Date.now() / 1000);
    assert.ok([now - 2, now, now + 2].map((t) => totp(seed, t)).includes(await previewCode()));

    // Advanced: eight digits show at once in the preview.
    await (await browser.$('[data-testid="manual-advanced"] summary')).click();
    await (await browser.$('[data-testid="manual-digits"]')).setValue("8");
    await browser.waitUntil(async () => /^\d{8}$/.test(await previewCode()), { timeout: 5_000 });
    // Nine is refused beside the field.
    await (await browser.$('[data-testid="manual-digits"]')).setValue("9");
    const digitsError = await browser.$('[data-testid="manual-error-digits"]');
    await digitsError.waitForExist({ timeout: 5_000 });
    assert.match(String(await digitsError.getProperty("textContent")), /9 digits is not supported/);
    await (await browser.$('[data-testid="manual-digits"]')).setValue("8");
    await digitsError.waitForExist({ reverse: true, timeout: 5_000 });
    await screenshot(browser, "22-manual-entry");

    await (await browser.$('[data-testid="manual-add"]')).click();
    await browser.waitUntil(async () => (await count()) === before + 1, { timeout: 10_000 });
    let row;
    const texts = [];
    for (const candidate of await browser.$$('[data-testid="account"]')) {
      const text = String(await candidate.getProperty("textContent"));
      texts.push(text);
      if (text.includes("dave@example.com")) row = candidate;
    }
    assert.ok(row, texts.join(" | "));
    assert.match(String(await row.getProperty("textContent")), /Typed Co/);
    const code = await (await row.$('[data-testid="code"]')).getAttribute("data-code");
    const at = Math.floor(Date.now() / 1000);
    assert.ok([at - 2, at, at + 2].map((t) => totp(seed, t, 30, 8)).includes(code), code);
    // The form is empty again, key included.
    assert.equal(await (await browser.$('[data-testid="manual-secret"]')).getValue(), "");
  });

  test("an account's code settings are edited with a preview before saving", async () => {
    let row;
    for (const candidate of await browser.$$('[data-testid="account"]')) {
      if (String(await candidate.getProperty("textContent")).includes("dave@example.com")) row = candidate;
    }
    assert.ok(row, "the account typed by hand is listed");
    await (await row.$('[data-testid="edit"]')).click();
    await (await browser.$('[data-testid="edit-otp"] summary')).click();
    await (await browser.$('[data-testid="edit-digits"]')).setValue("6");
    const preview = await browser.$('[data-testid="edit-preview"]');
    await preview.waitForExist({ timeout: 5_000 });
    const seed = base32Decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    await browser.waitUntil(async () => /^\d{6}$/.test(await preview.getAttribute("data-code")), { timeout: 5_000 });
    const now = Math.floor(Date.now() / 1000);
    assert.ok([now - 2, now, now + 2].map((t) => totp(seed, t)).includes(await preview.getAttribute("data-code")));
    // A setting the core refuses keeps Save off and says why.
    await (await browser.$('[data-testid="edit-digits"]')).setValue("4");
    await browser.waitUntil(async () => /4 digits is not supported/.test(String(await preview.getProperty("textContent"))), { timeout: 5_000 });
    assert.equal(await (await browser.$('[data-testid="edit-save"]')).isEnabled(), false);
    await (await browser.$('[data-testid="edit-digits"]')).setValue("6");
    await browser.waitUntil(async () => (await browser.$('[data-testid="edit-save"]')).isEnabled(), { timeout: 5_000 });
    await (await browser.$('[data-testid="edit-save"]')).click();
    await (await browser.$('[data-testid="edit-dialog"]')).waitForDisplayed({ reverse: true, timeout: 5_000 });
    await browser.waitUntil(async () => /^\d{6}$/.test(await (await row.$('[data-testid="code"]')).getAttribute("data-code")), {
      timeout: 5_000,
      timeoutMsg: "the row does not show six digits",
    });
    const at = Math.floor(Date.now() / 1000);
    const shown = await (await row.$('[data-testid="code"]')).getAttribute("data-code");
    assert.ok([at - 2, at, at + 2].map((t) => totp(seed, t)).includes(shown), shown);
  });
});

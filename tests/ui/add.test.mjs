// Adding accounts in the real window from a QR image file and from another app's export.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { closeApp, openApp, root, screenshot, startDriver } from "./driver.mjs";

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
});

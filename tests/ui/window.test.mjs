// The real Countersign window under Xvfb, driven through WebDriver: paste a URI, read the
// code, compare it with an independent RFC 6238 computation, restart, delete.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openApp, screenshot, startDriver } from "./driver.mjs";
import { base32Decode, totp } from "./totp.mjs";

const SECRET = "JBSWY3DPEHPK3PXP"; // an 80-bit secret, as many services issue
const URI = `otpauth://totp/Example%20Corp:alice%40example.com?secret=${SECRET}&issuer=Example%20Corp`;

/** The element's text once it has some (it can exist a frame before it is laid out). */
async function textOf(browser, selector) {
  const element = await browser.$(selector);
  await element.waitForExist({ timeout: 10_000 });
  let text = "";
  await browser.waitUntil(async () => (text = String(await element.getProperty("textContent")).trim()) !== "", {
    timeout: 5_000,
    interval: 100,
  });
  return text;
}

/** Waits until a code is shown with at least 3 s left, so reading it can't straddle a step. */
async function readFreshCode(browser) {
  const row = await browser.$('[data-testid="account"]');
  await row.waitForExist({ timeout: 10_000 });
  await browser.waitUntil(
    async () => {
      const ring = await browser.$('[data-testid="countdown"]');
      if (!(await ring.isExisting())) return false;
      return Number(await ring.getAttribute("data-remaining")) >= 3;
    },
    { timeout: 10_000, interval: 200 },
  );
  const code = await browser.$('[data-testid="code"]');
  return { code: await code.getAttribute("data-code"), at: Date.now() / 1000 };
}

function assertReferenceCode(shown) {
  const secret = base32Decode(SECRET);
  const expected = [totp(secret, shown.at), totp(secret, shown.at - 1)];
  assert.ok(expected.includes(shown.code), `shown ${shown.code}, RFC 6238 says ${expected}`);
}

describe("the Countersign window", () => {
  let driver;
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-ui-"));

  before(async () => {
    driver = await startDriver(4444);
  });
  after(() => driver?.kill());

  test("a pasted otpauth URI shows the right live code", async () => {
    const browser = await openApp(dataDir);
    try {
      const input = await browser.$('[data-testid="uri-input"]');
      await input.waitForExist({ timeout: 15_000 });
      await input.setValue(URI);
      await (await browser.$('[data-testid="add-button"]')).click();

      assert.equal(await textOf(browser, '[data-testid="issuer"]'), "Example Corp");
      assert.equal(await textOf(browser, '[data-testid="name"]'), "alice@example.com");
      assertReferenceCode(await readFreshCode(browser));
      await screenshot(browser, "01-account-added");
    } finally {
      await browser.deleteSession();
    }
  });

  test("the account survives a restart", async () => {
    const browser = await openApp(dataDir);
    try {
      assertReferenceCode(await readFreshCode(browser));
      assert.equal((await browser.$$('[data-testid="account"]')).length, 1);
      await screenshot(browser, "02-after-restart");
    } finally {
      await browser.deleteSession();
    }
  });

  test("a malformed URI is refused with the field named", async () => {
    const browser = await openApp(dataDir);
    try {
      const input = await browser.$('[data-testid="uri-input"]');
      await input.waitForExist({ timeout: 15_000 });
      await input.setValue("otpauth://totp/Broken?secret=1234");
      await (await browser.$('[data-testid="add-button"]')).click();
      const error = await browser.$('[data-testid="add-error"]');
      await error.waitForExist({ timeout: 10_000 });
      assert.match(await error.getAttribute("data-code"), /^invalid_/);
      assert.match(await error.getText(), /secret/);
      assert.equal((await browser.$$('[data-testid="account"]')).length, 1);
      await screenshot(browser, "03-invalid-uri");
    } finally {
      await browser.deleteSession();
    }
  });

  test("deleting asks first, then removes the account for good", async () => {
    let browser = await openApp(dataDir);
    try {
      await (await browser.$('[data-testid="account"]')).waitForExist({ timeout: 15_000 });
      await (await browser.$('[data-testid="delete"]')).click();
      await (await browser.$('[data-testid="confirm-delete"]')).click();
      await (await browser.$('[data-testid="empty"]')).waitForExist({ timeout: 10_000 });
    } finally {
      await browser.deleteSession();
    }
    browser = await openApp(dataDir);
    try {
      await (await browser.$('[data-testid="empty"]')).waitForExist({ timeout: 15_000 });
      assert.equal((await browser.$$('[data-testid="account"]')).length, 0);
    } finally {
      await browser.deleteSession();
    }
  });
});

describe("without a keychain", () => {
  let driver;

  before(async () => {
    // The app inherits this environment: no session bus, so no Secret Service.
    const env = { ...process.env };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), "countersign-nobus-"));
    driver = await startDriver(4450, env);
  });
  after(() => driver?.kill());

  test("the window explains what is wrong instead of failing", async () => {
    const browser = await openApp(mkdtempSync(join(tmpdir(), "countersign-ui-")), 4450);
    try {
      const banner = await browser.$('[data-testid="banner"]');
      await banner.waitForExist({ timeout: 15_000 });
      assert.equal(await banner.getAttribute("data-code"), "keychain_unavailable");
      assert.match(await banner.getText(), /D-Bus/);
      await screenshot(browser, "04-no-keychain");
    } finally {
      await browser.deleteSession();
    }
  });
});

// The real Countersign window under Xvfb, driven through WebDriver: paste a URI, read the
// code, compare it with an independent RFC 6238 computation, restart, delete.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { closeApp, openApp, screenshot, startDriver } from "./driver.mjs";
import { base32Decode, totp } from "./totp.mjs";

const SECRET = "JBSWY3DPEHPK3PXP"; // an 80-bit secret, as many services issue
const URI = `otpauth://totp/Example%20Corp:alice%40example.com?secret=${SECRET}&issuer=Example%20Corp`;

/** What the X clipboard offers for `target` (read with xclip, independently of the app). */
function clipboard(target) {
  try {
    return execFileSync("xclip", ["-o", "-selection", "clipboard", "-t", target], {
      encoding: "utf8",
      timeout: 5_000,
    });
  } catch {
    return ""; // nothing on the clipboard (or nobody owns it any more)
  }
}

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
      await closeApp(browser, dataDir);
    }
  });

  test("the account survives a restart", async () => {
    const browser = await openApp(dataDir);
    try {
      assertReferenceCode(await readFreshCode(browser));
      assert.equal((await browser.$$('[data-testid="account"]')).length, 1);
      await screenshot(browser, "02-after-restart");
    } finally {
      await closeApp(browser, dataDir);
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
      await closeApp(browser, dataDir);
    }
  });

  test("a click copies the code to the clipboard, marked secret, and clears it later", async () => {
    const browser = await openApp(dataDir);
    try {
      await (await browser.$('[data-testid="settings"]')).waitForExist({ timeout: 15_000 });
      // A short clear delay so the test can watch it happen.
      await (await browser.$('[data-testid="settings"]')).click();
      const clear = await browser.$('[data-testid="settings-clear"]');
      await clear.waitForExist({ timeout: 5_000 });
      await clear.setValue("3");
      await (await browser.$('[data-testid="settings-save"]')).click();

      const shown = await readFreshCode(browser);
      await (await browser.$('[data-testid="copy"]')).click();
      await (await browser.$('[data-testid="copied"]')).waitForExist({ timeout: 5_000 });
      assert.equal(clipboard("UTF8_STRING").trim(), shown.code, `clipboard targets: ${clipboard("TARGETS")}`);
      assert.match(clipboard("TARGETS"), /x-kde-passwordManagerHint/);
      await screenshot(browser, "04-copied");
      await browser.waitUntil(async () => clipboard("UTF8_STRING").trim() === "", {
        timeout: 8_000,
        interval: 250,
        timeoutMsg: "the copied code was not cleared",
      });
    } finally {
      await closeApp(browser, dataDir);
    }
  });

  test("search filters, pin and rename persist", async () => {
    const browser = await openApp(dataDir);
    try {
      const input = await browser.$('[data-testid="uri-input"]');
      await input.waitForExist({ timeout: 15_000 });
      await input.setValue(`otpauth://totp/GitHub:bob?secret=${SECRET}&issuer=GitHub`);
      await (await browser.$('[data-testid="add-button"]')).click();
      await browser.waitUntil(async () => (await browser.$$('[data-testid="account"]')).length === 2);

      const search = await browser.$('[data-testid="search"]');
      await search.setValue("git");
      await browser.waitUntil(async () => (await browser.$$('[data-testid="account"]')).length === 1);
      assert.equal(await textOf(browser, '[data-testid="issuer"]'), "GitHub");
      await search.setValue("nothing-like-this");
      await (await browser.$('[data-testid="no-match"]')).waitForExist({ timeout: 5_000 });
      // Escape in the search field clears it.
      await search.click();
      await browser.keys("Escape");
      await browser.waitUntil(async () => (await browser.$$('[data-testid="account"]')).length === 2);

      // Pin the second account: it moves to the top.
      const rows = await browser.$$('[data-testid="account"]');
      await (await rows[1].$('[data-testid="pin"]')).click();
      await browser.waitUntil(async () =>
        (await (await browser.$('[data-testid="account"] [data-testid="issuer"]')).getProperty("textContent")).includes("GitHub"),
      );
      // Rename it.
      await (await browser.$('[data-testid="account"] [data-testid="edit"]')).click();
      const name = await browser.$('[data-testid="edit-name"]');
      await name.waitForExist({ timeout: 5_000 });
      await name.setValue("robert");
      await (await browser.$('[data-testid="edit-save"]')).click();
      await browser.waitUntil(async () => (await textOf(browser, '[data-testid="name"]')) === "robert");
      await screenshot(browser, "05-pinned-renamed");
    } finally {
      await closeApp(browser, dataDir);
    }
    const again = await openApp(dataDir);
    try {
      assert.equal(await textOf(again, '[data-testid="name"]'), "robert");
      // Remove the extra account so the next test starts from one.
      await (await again.$('[data-testid="account"] [data-testid="delete"]')).click();
      await (await again.$('[data-testid="confirm-delete"]')).click();
      await again.waitUntil(async () => (await again.$$('[data-testid="account"]')).length === 1);
    } finally {
      await closeApp(again, dataDir);
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
      await closeApp(browser, dataDir);
    }
    browser = await openApp(dataDir);
    try {
      await (await browser.$('[data-testid="empty"]')).waitForExist({ timeout: 15_000 });
      assert.equal((await browser.$$('[data-testid="account"]')).length, 0);
    } finally {
      await closeApp(browser, dataDir);
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
    const profile = mkdtempSync(join(tmpdir(), "countersign-ui-"));
    const browser = await openApp(profile, 4450);
    try {
      const banner = await browser.$('[data-testid="banner"]');
      await banner.waitForExist({ timeout: 15_000 });
      assert.equal(await banner.getAttribute("data-code"), "keychain_unavailable");
      assert.match(String(await banner.getProperty("textContent")), /D-Bus/);
    } finally {
      await closeApp(browser, profile);
    }
  });
});

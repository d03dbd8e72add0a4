// Light and dark: the window follows the desktop's theme (app.css `prefers-color-scheme`).
// Each theme gets its own tauri-driver, whose environment the app inherits: GTK_THEME picks
// the GTK theme, and WebKitGTK reports a ":dark" variant to the page as a dark preference.
// Screenshots of the account list in both go to target/ui-screenshots/.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { closeApp, openApp, root, screenshot, startDriver } from "./driver.mjs";

const ACCOUNTS = [
  "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
  "otpauth://totp/Example%20Corp:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Corp",
  "otpauth://totp/Dropbox:carol?secret=MZXW6YTBOI&issuer=Dropbox",
];

/** The list as the page draws it in one theme: colours, the media query, a screenshot. */
async function lookIn(gtkTheme, port, screenshotName) {
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-theme-ui-"));
  for (const uri of ACCOUNTS) {
    execFileSync(join(root, "target/debug/countersign-cli"), ["--data-dir", dataDir, "add", uri]);
  }
  const driver = await startDriver(port, { ...process.env, GTK_THEME: gtkTheme });
  let browser;
  try {
    browser = await openApp(dataDir, port);
    // Screenshots need a page that repaints: wait for the live countdowns.
    await (await browser.$('[data-testid="countdown"]')).waitForExist({ timeout: 30_000 });
    await browser.waitUntil(async () => (await browser.$$('[data-testid="account"]')).length === ACCOUNTS.length, {
      timeout: 10_000,
    });
    const look = await browser.execute(() => {
      const style = (selector) => getComputedStyle(document.querySelector(selector));
      return {
        dark: matchMedia("(prefers-color-scheme: dark)").matches,
        page: style(":root").backgroundColor,
        text: style(":root").color,
        row: style('[data-testid="account"]').backgroundColor,
      };
    });
    look.screenshot = await screenshot(browser, screenshotName);
    return look;
  } finally {
    await closeApp(browser, dataDir);
    driver.kill();
  }
}

/** Relative luminance (0 black … 1 white) of a CSS `rgb(...)` colour. */
function luminance(color) {
  const [r, g, b] = color.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
  const linear = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

describe("light and dark", () => {
  const looks = {};

  test("a light desktop gets the light list", async () => {
    looks.light = await lookIn("Adwaita", 4490, "40-accounts-light");
    assert.equal(looks.light.dark, false);
    assert.ok(luminance(looks.light.page) > 0.8, `light page ${looks.light.page}`);
    assert.ok(luminance(looks.light.text) < 0.1, `light text ${looks.light.text}`);
  });

  test("a dark desktop gets the dark list, with other colours", async () => {
    looks.dark = await lookIn("Adwaita:dark", 4492, "41-accounts-dark");
    assert.equal(looks.dark.dark, true, "the page did not see the dark preference");
    assert.ok(luminance(looks.dark.page) < 0.05, `dark page ${looks.dark.page}`);
    assert.ok(luminance(looks.dark.text) > 0.7, `dark text ${looks.dark.text}`);
    assert.notEqual(looks.dark.page, looks.light?.page);
    assert.notEqual(looks.dark.row, looks.light?.row);
    console.log(
      `light: page ${looks.light?.page}, rows ${looks.light?.row}; dark: page ${looks.dark.page}, rows ${looks.dark.row}; ` +
        `screenshots ${looks.light?.screenshot}, ${looks.dark.screenshot}`,
    );
  });
});

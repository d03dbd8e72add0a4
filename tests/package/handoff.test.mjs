// The installed app as a browser reaches it: with the app running, `xdg-open` on a
// countersign://enroll link (what a browser does when the link is clicked) starts a second
// `countersign %u` through the package's desktop entry, which hands the link to the running
// window and exits; the window then enrolls against a real verify-server.
// Run by scripts/test-package.sh with the package installed, COUNTERSIGN_APP=/usr/bin/countersign,
// inside a private keyring and Xvfb.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appBinary, closeApp, openApp, screenshot, startDriver } from "../ui/driver.mjs";
import { startVerifyServer } from "../ui/verify.mjs";

const IDENTITY = "package-user-0001";
const PORT = 4480;

/** Runs a command to its end; resolves with its exit code, or rejects after `ms`. */
function runWithin(ms, command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "inherit", "inherit"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} still running after ${ms} ms`));
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe("the installed app receives enrollment links from the desktop", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-package-handoff-"));
  // An empty per-user configuration, so only the system-wide registration decides.
  const configHome = mkdtempSync(join(tmpdir(), "countersign-package-config-"));
  let server;
  let driver;
  let browser;

  before(async () => {
    assert.equal(appBinary, "/usr/bin/countersign", "COUNTERSIGN_APP must name the installed app");
    server = await startVerifyServer(mkdtempSync(join(tmpdir(), "verify-package-")));
    // The app takes the server's CA from the environment, as the one the link starts does.
    driver = await startDriver(PORT, { ...process.env, COUNTERSIGN_VERIFY_CA: server.caPath });
    browser = await openApp(dataDir, PORT);
    await (await browser.$('[data-testid="tab-push"]')).waitForExist({ timeout: 20_000 });
  });
  after(async () => {
    await closeApp(browser, dataDir);
    driver?.kill();
    server?.child.kill();
  });

  test("xdg-open hands the link to the running app, which enrolls", async () => {
    const token = await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
      Identity: IDENTITY,
      FactorType: "push",
    });
    const link =
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${IDENTITY}&token=${encodeURIComponent(token.token)}` +
      `&name=${encodeURIComponent("Installed desktop")}`;

    // The second instance runs in the foreground of xdg-open: it ends only by handing over
    // (a second window would keep it running until the deadline).
    // No desktop environment named: xdg-open then runs the registered Exec line itself, in
    // the foreground, as it does on a bare X session.
    const env = {
      ...process.env,
      COUNTERSIGN_DATA_DIR: dataDir,
      COUNTERSIGN_VERIFY_CA: server.caPath,
      XDG_CONFIG_HOME: configHome,
      XDG_DATA_DIRS: "/usr/local/share:/usr/share",
    };
    for (const name of ["XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION", "BROWSER"]) {
      delete env[name];
    }
    const code = await runWithin(30_000, "xdg-open", [link], env);
    assert.equal(code, 0, "xdg-open (and the second countersign it started) failed");

    // The running window switched to push and shows what the link would enroll.
    const summary = await browser.$('[data-testid="enroll-summary"]');
    await summary.waitForExist({ timeout: 15_000 });
    assert.match(String(await summary.getProperty("textContent")), new RegExp(IDENTITY));
    await screenshot(browser, "90-installed-link-handoff");
    await (await browser.$('[data-testid="enroll-confirm"]')).click();
    await (await browser.$('[data-testid="enrollment"][data-state="verified"]')).waitForExist({
      timeout: 20_000,
    });

    const factors = await server.backend(
      "GET",
      `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors`,
    );
    assert.equal(factors.factors.length, 1);
    assert.equal(factors.factors[0].status, "verified");
    assert.equal(factors.factors[0].friendly_name, "Installed desktop");
  });
});

// Starting tauri-driver and WebDriver sessions of the real app.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { remote } from "webdriverio";

export const root = new URL("../../", import.meta.url).pathname;
export const appBinary = process.env.COUNTERSIGN_APP ?? join(root, "target/debug/countersign");
export const screenshotDir = join(root, "target/ui-screenshots");

function tauriDriverPath() {
  const cargoBin = join(homedir(), ".cargo/bin/tauri-driver");
  return existsSync(cargoBin) ? cargoBin : "tauri-driver";
}

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`tauri-driver did not listen on ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Starts tauri-driver on `port` with `env` (the app inherits it, and its output too: pass
 * `stdio` ["ignore", "pipe", "pipe"] to read the app's logs from the returned child).
 */
export async function startDriver(port = 4444, env = process.env, stdio = ["ignore", "inherit", "inherit"]) {
  const child = spawn(tauriDriverPath(), ["--port", String(port), "--native-port", String(port + 1)], {
    env,
    stdio,
  });
  await waitForPort(port, 15_000);
  return child;
}

/** Opens the app with a profile directory; resolves once its window has a document. */
export async function openApp(dataDir, port = 4444) {
  const browser = await remote({
    hostname: "127.0.0.1",
    port,
    logLevel: "warn",
    // No browserName: wry's WebDriver would fail to match it.
    capabilities: {
      "tauri:options": { application: appBinary, args: ["--data-dir", dataDir] },
    },
  });
  return browser;
}

export async function screenshot(browser, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  // Screenshots are for people to look at, not assertions. WebKitWebDriver's snapshot can
  // wait forever on a page that no longer repaints (seen under Xvfb), so take pages that
  // change (a countdown is on screen) and give up after a while instead of failing a test.
  const gaveUp = new Promise((resolve) => setTimeout(() => resolve("timeout"), 15_000));
  const outcome = await Promise.race([browser.saveScreenshot(path).then(() => "saved"), gaveUp]);
  if (outcome !== "saved") console.warn(`screenshot ${name} skipped: the page did not repaint`);
  return path;
}

/**
 * Ends a session without letting a stuck app hang the run: the WebDriver request gets a
 * deadline, then any app process still running on this profile is killed.
 */
export async function closeApp(browser, dataDir) {
  if (browser) {
    const deadline = new Promise((resolve) => setTimeout(resolve, 10_000));
    await Promise.race([browser.deleteSession().catch(() => {}), deadline]);
  }
  try {
    execFileSync("pkill", ["-f", "--", `--data-dir ${dataDir}`]);
  } catch {
    // nothing left running: the usual case
  }
}

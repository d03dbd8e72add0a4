// Background mode: closing the window leaves the app running (its window and web view gone),
// push requests are still polled and announced, the first close says where the app went,
// and a second launch builds the window again. Notifications go to a stand-in daemon
// (notify_recorder.py) on the private session bus of scripts/with-keyring.sh.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appBinary, closeApp, root } from "./driver.mjs";
import { startRecorder } from "./notify.mjs";
import { startVerifyServer } from "./verify.mjs";

const IDENTITY = "background-user-01";

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await check();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Pids of app processes on this profile. */
function appPids(dataDir) {
  try {
    return execFileSync("pgrep", ["-f", "--", `countersign --data-dir ${dataDir} --verify-ca`]).toString().trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

function windowsNamed(title) {
  try {
    return execFileSync("xdotool", ["search", "--onlyvisible", "--name", `^${title}$`]).toString().trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

describe("closing the window sends the app to the tray", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-background-ui-"));
  let recorder;
  let server;
  let app;

  before(async () => {
    recorder = startRecorder();
    await recorder.ready;
    server = await startVerifyServer(mkdtempSync(join(tmpdir(), "verify-background-")));
    // Enrolled from the CLI (same profile, same keychain): the window is what is tested here.
    const token = await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
      Identity: IDENTITY,
      FactorType: "push",
    });
    const link =
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${IDENTITY}&token=${encodeURIComponent(token.token)}`;
    execFileSync(join(root, "target/debug/countersign-cli"), ["--data-dir", dataDir, "push", "enroll", "-", "--ca", server.caPath], {
      input: `${link}\n`,
    });
    // Started as the launcher does, without WebDriver (which ends the app with its session).
    app = spawn(appBinary, ["--data-dir", dataDir, "--verify-ca", server.caPath], { stdio: "ignore" });
    await waitFor("the window", () => windowsNamed("Countersign").length > 0, 30_000);
  });
  after(async () => {
    app?.kill();
    await closeApp(null, dataDir);
    server?.child.kill();
    recorder?.child.kill();
  });

  test("requests are still announced after the window closes, and the window comes back", async () => {
    const pids = appPids(dataDir);
    assert.equal(pids.length, 1, `one app process: ${pids}`);

    execFileSync("/usr/bin/python3", [join(root, "tests/ui/close_window.py"), "Countersign"]);
    await waitFor("the window to go", () => windowsNamed("Countersign").length === 0, 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(appPids(dataDir), pids, "the app keeps running without its window");
    const notice = await waitFor(
      "the first-close notice",
      () => recorder.seen.find((r) => r.summary === "Countersign is still running"),
      10_000,
    );
    assert.match(notice.body, /tray/);
    assert.ok(existsSync(join(dataDir, "close-notice-shown")), "told once, and remembered");

    // A request made now is polled (at the background rate) and announced.
    const factors = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors`);
    const message = "Sign in while the window is closed";
    await server.backend("POST", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges`, {
      FactorSid: factors.factors[0].sid,
      "Details.Message": message,
    });
    const announced = await waitFor("the request's notification", () => recorder.seen.find((r) => r.body === message), 70_000);
    assert.match(announced.summary, /Sign-in request/);

    // Opening it again (a second launch, as the launcher does) builds the window anew.
    const code = await new Promise((resolve) => {
      const child = spawn(appBinary, ["--data-dir", dataDir], { stdio: "ignore" });
      child.once("exit", resolve);
    });
    assert.equal(code, 0, "the second launch handed over and left");
    await waitFor("the window to come back", () => windowsNamed("Countersign").length > 0, 15_000);
    assert.deepEqual(appPids(dataDir), pids, "still the same process");

    // Closed again: no second notice.
    execFileSync("/usr/bin/python3", [join(root, "tests/ui/close_window.py"), "Countersign"]);
    await waitFor("the window to go again", () => windowsNamed("Countersign").length === 0, 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(appPids(dataDir), pids);
    assert.equal(recorder.seen.filter((r) => r.summary === "Countersign is still running").length, 1, "the notice came once");
  });
});

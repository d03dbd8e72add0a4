// Push approval in the real window while the server misbehaves (verify-server with
// --fault-injection): the window says so in plain words, counts down to the next attempt,
// and goes back to normal by itself once the server answers again.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appBinary, closeApp, screenshot, startDriver } from "./driver.mjs";
import { remote } from "webdriverio";
import { startVerifyServer } from "./verify.mjs";

const IDENTITY = "desktop-user-0002";
// Only the app's polls (GET …/Challenges): the backend still creates challenges.
const ON_POLLS = { PathContains: "/Challenges", Method: "GET" };

describe("push approval when the server misbehaves", () => {
  let driver;
  let server;
  let browser;
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-push-faults-ui-"));

  before(async () => {
    server = await startVerifyServer(mkdtempSync(join(tmpdir(), "verify-faults-ui-")), ["--fault-injection"]);
    driver = await startDriver(4500);
    browser = await remote({
      hostname: "127.0.0.1",
      port: 4500,
      logLevel: "warn",
      capabilities: {
        "tauri:options": {
          application: appBinary,
          args: ["--data-dir", dataDir, "--verify-ca", server.caPath],
        },
      },
    });
    await enroll();
  });
  after(async () => {
    await closeApp(browser, dataDir);
    driver?.kill();
    server?.child.kill();
  });

  const entity = () => `Services/${server.serviceSid}/Entities/${IDENTITY}`;

  async function enroll() {
    const token = await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
      Identity: IDENTITY,
      FactorType: "push",
    });
    const link =
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${IDENTITY}&token=${encodeURIComponent(token.token)}` +
      `&name=${encodeURIComponent("Faulty desktop")}`;
    await (await browser.$('[data-testid="tab-push"]')).waitForExist({ timeout: 15_000 });
    await (await browser.$('[data-testid="tab-push"]')).click();
    await (await browser.$('[data-testid="enroll-link"]')).setValue(link);
    await (await browser.$('[data-testid="enroll-summary"]')).waitForExist({ timeout: 10_000 });
    await (await browser.$('[data-testid="enroll-confirm"]')).click();
    await (await browser.$('[data-testid="enrollment"][data-state="verified"]')).waitForExist({ timeout: 20_000 });
  }

  async function challenge(message) {
    const factors = await server.backend("GET", `${entity()}/Factors`);
    return server.backend("POST", `${entity()}/Challenges`, {
      FactorSid: factors.factors[0].sid,
      "Details.Message": message,
    });
  }

  /** The notice's text once it shows `trouble`. */
  async function noticeFor(trouble) {
    const notice = await browser.$(`[data-testid="poll-notice"][data-trouble="${trouble}"]`);
    // Visible window: polled every 2 s, so the first failure shows within a few seconds.
    await notice.waitForExist({ timeout: 15_000 });
    return String(await notice.getProperty("textContent")).trim();
  }

  async function noticeGone() {
    // The next attempt comes after the backoff (4 s, 8 s, … after 1, 2, … failures).
    await (await browser.$('[data-testid="poll-notice"]')).waitForExist({ reverse: true, timeout: 40_000 });
  }

  test("server errors show a notice that goes once the server recovers, and requests flow again", async () => {
    await server.faults("POST", { Status: "500", ...ON_POLLS });
    const text = await noticeFor("server_error");
    assert.match(text, /^The server is having problems — retrying (in \d+ s|now…)$/);
    await screenshot(browser, "12-push-server-error");
    const failing = await server.faults("GET");
    assert.ok(failing.faults[0].matched >= 1, JSON.stringify(failing));

    await server.faults("DELETE");
    const created = await challenge("Sign in after the outage");
    await noticeGone();
    const card = await browser.$(`[data-testid="push-request"][data-sid="${created.sid}"]`);
    await card.waitForExist({ timeout: 15_000 });
    await (await card.$('[data-testid="push-approve"]')).click();
    await card.waitForExist({ reverse: true, timeout: 10_000 });
    const answered = await server.backend("GET", `${entity()}/Challenges/${created.sid}`);
    assert.equal(answered.status, "approved");
  });

  test("a rate limit shows the server is busy and waits as long as it asks", async () => {
    await server.faults("POST", { Status: "429", RetryAfter: "12", Count: "1", ...ON_POLLS });
    const text = await noticeFor("busy");
    const shownAt = Date.now();
    const match = text.match(/^The server is busy — retrying in (\d+) s$/);
    assert.ok(match, text);
    // 12 s asked for, longer than the first backoff (4 s): the window counts down from 12.
    const promised = Number(match[1]);
    assert.ok(promised > 4 && promised <= 12, text);
    await noticeGone();
    // Not retried before the time it showed.
    assert.ok(Date.now() - shownAt >= (promised - 1) * 1000, `gone after ${Date.now() - shownAt} ms`);
    const rules = await server.faults("GET");
    assert.equal(rules.faults.at(-1).matched, 1, "one request, no retry inside the wait");
  });
});

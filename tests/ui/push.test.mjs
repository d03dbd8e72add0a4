// Push approval in the real window against a real verify-server over HTTPS: enroll from a
// link, then approve and deny sign-in requests the relying party's backend creates.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appBinary, closeApp, screenshot, startDriver } from "./driver.mjs";
import { remote } from "webdriverio";
import { startVerifyServer } from "./verify.mjs";

const IDENTITY = "desktop-user-0001";

describe("push approval in the window", () => {
  let driver;
  let server;
  let browser;
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-push-ui-"));

  before(async () => {
    server = await startVerifyServer(mkdtempSync(join(tmpdir(), "verify-ui-")));
    driver = await startDriver(4460);
    browser = await remote({
      hostname: "127.0.0.1",
      port: 4460,
      logLevel: "warn",
      capabilities: {
        "tauri:options": {
          application: appBinary,
          args: ["--data-dir", dataDir, "--verify-ca", server.caPath],
        },
      },
    });
  });
  after(async () => {
    await closeApp(browser, dataDir);
    driver?.kill();
    server?.child.kill();
  });

  async function factorSid() {
    const list = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors`);
    return list.factors[0];
  }

  async function challenge(message) {
    const factor = await factorSid();
    return server.backend("POST", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges`, {
      FactorSid: factor.sid,
      "Details.Message": message,
      "Details.Fields": JSON.stringify({ label: "Location", value: "Lisbon, PT" }),
    });
  }

  async function enrollLink(identity, name) {
    const token = await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
      Identity: identity,
      FactorType: "push",
    });
    return (
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${identity}&token=${encodeURIComponent(token.token)}` +
      `&name=${encodeURIComponent(name)}`
    );
  }

  /** A second launch with a link, as a browser click makes: it hands the link over and exits. */
  function handOver(link) {
    return new Promise((resolve, reject) => {
      const child = spawn(appBinary, ["--data-dir", dataDir, "--verify-ca", server.caPath, link], {
        stdio: ["ignore", "inherit", "inherit"],
      });
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("the second launch did not hand the link over"));
      }, 30_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  async function factorsOf(identity) {
    try {
      const list = await server.backend("GET", `Services/${server.serviceSid}/Entities/${identity}/Factors`);
      return list.factors;
    } catch (e) {
      // An identity nothing was ever enrolled for is no entity at all.
      if (/ 404 .*60392/.test(String(e.message))) return [];
      throw e;
    }
  }

  async function waitForRequest(sid) {
    const card = await browser.$(`[data-testid="push-request"][data-sid="${sid}"]`);
    // Visible window: polled every 2 s.
    await card.waitForExist({ timeout: 15_000 });
    return card;
  }

  test("enrolls this desktop from a link and the server sees a verified factor", async () => {
    const token = await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
      Identity: IDENTITY,
      FactorType: "push",
    });
    const link =
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${IDENTITY}&token=${encodeURIComponent(token.token)}` +
      `&name=${encodeURIComponent("Test desktop")}`;

    await (await browser.$('[data-testid="tab-push"]')).waitForExist({ timeout: 15_000 });
    await (await browser.$('[data-testid="tab-push"]')).click();
    await (await browser.$('[data-testid="enroll-link"]')).setValue(link);
    const summary = await browser.$('[data-testid="enroll-summary"]');
    await summary.waitForExist({ timeout: 10_000 });
    assert.match(String(await summary.getProperty("textContent")), new RegExp(IDENTITY));
    await (await browser.$('[data-testid="enroll-confirm"]')).click();
    await (await browser.$('[data-testid="enrollment"][data-state="verified"]')).waitForExist({ timeout: 20_000 });

    const factor = await factorSid();
    assert.equal(factor.status, "verified");
    assert.equal(factor.factor_type, "push");
  });

  test("an enrollment is renamed in the window and on the server", async () => {
    await (await browser.$('[data-testid="enrollment-rename"]')).click();
    const input = await browser.$('[data-testid="enrollment-name-input"]');
    await input.setValue("Office desktop");
    await (await browser.$('[data-testid="enrollment-save-name"]')).click();
    await input.waitForExist({ reverse: true, timeout: 10_000 });
    await browser.waitUntil(
      async () => /Office desktop/.test(String(await (await browser.$('[data-testid="enrollment"]')).getProperty("textContent"))),
      { timeout: 5_000, timeoutMsg: "the list does not show the new name" },
    );
    assert.equal((await factorSid()).friendly_name, "Office desktop");
  });

  test("approving a request signs it and the server reads approved", async () => {
    const created = await challenge("Sign in to Countersign Demo");
    const card = await waitForRequest(created.sid);
    assert.equal(String(await (await card.$('[data-testid="push-message"]')).getProperty("textContent")), "Sign in to Countersign Demo");
    assert.equal(String(await (await card.$('[data-testid="push-field"]')).getProperty("textContent")), "Lisbon, PT");
    await screenshot(browser, "11-push-request");
    await (await card.$('[data-testid="push-approve"]')).click();
    await card.waitForExist({ reverse: true, timeout: 10_000 });

    const after = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges/${created.sid}`);
    assert.equal(after.status, "approved");
  });

  test("denying a request leaves it denied on the server", async () => {
    const created = await challenge("Sign in from a new browser");
    const card = await waitForRequest(created.sid);
    await (await card.$('[data-testid="push-deny"]')).click();
    await card.waitForExist({ reverse: true, timeout: 10_000 });

    const after = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges/${created.sid}`);
    assert.equal(after.status, "denied");
  });

  test("a link arriving while another awaits confirmation waits its turn", async () => {
    const first = await enrollLink("desktop-user-0002", "First link");
    const second = await enrollLink("desktop-user-0003", "Second link");
    await (await browser.$('[data-testid="enroll-link"]')).setValue(first);
    const summary = await browser.$('[data-testid="enroll-summary"]');
    await summary.waitForExist({ timeout: 10_000 });
    assert.match(String(await summary.getProperty("textContent")), /desktop-user-0002/);
    // The real host and who runs it.
    assert.equal(await summary.getAttribute("data-server-kind"), "local");
    assert.equal(String(await (await browser.$('[data-testid="server-badge"]')).getProperty("textContent")), "A server on this computer");
    assert.equal(String(await (await browser.$('[data-testid="server-host"]')).getProperty("textContent")), "127.0.0.1");

    assert.equal(await handOver(second), 0);
    const queue = await browser.$('[data-testid="link-queue"]');
    await queue.waitForExist({ timeout: 15_000 });
    // Still the first link: the one the user is looking at was not swapped.
    assert.match(String(await summary.getProperty("textContent")), /desktop-user-0002/);
    assert.doesNotMatch(String(await summary.getProperty("textContent")), /desktop-user-0003/);
    await screenshot(browser, "13-link-queued");

    await (await browser.$('[data-testid="enroll-cancel"]')).click();
    await browser.waitUntil(
      async () => /desktop-user-0003/.test(String(await (await browser.$('[data-testid="enroll-summary"]')).getProperty("textContent"))),
      { timeout: 10_000, timeoutMsg: "the queued link was not shown next" },
    );
    await queue.waitForExist({ reverse: true, timeout: 5_000 });
    await (await browser.$('[data-testid="enroll-confirm"]')).click();
    await browser.waitUntil(async () => (await browser.$$('[data-testid="enrollment"][data-state="verified"]')).length === 2, {
      timeout: 20_000,
      timeoutMsg: "the second link was not enrolled",
    });
    assert.equal((await factorsOf("desktop-user-0003")).length, 1);
    assert.equal((await factorsOf("desktop-user-0002")).length, 0, "the cancelled link enrolled nothing");
    const servers = await browser.$$('[data-testid="enrollment-server"]');
    assert.match(String(await servers[0].getProperty("textContent")), /A server on this computer\s+127\.0\.0\.1:\d+/);
  });
});

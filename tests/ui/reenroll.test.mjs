// Lost key state in the real window (issue 6), against a real verify-server over HTTPS and
// the private keyring of scripts/with-keyring.sh: a push key deleted from the keychain shows
// a banner with its cause; a link opened while the re-enrollment dialog is up lands there and
// Cancel keeps everything; re-enrolling from a pasted link verifies a new factor and marks
// the old one for the service to remove; approvals work again. A locked keychain is reported
// as locked and re-enrolls nothing. A missing one-time-code secret and orphaned keychain
// entries get their own banners (re-scan, adopt, delete).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { remote } from "webdriverio";
import { appBinary, closeApp, screenshot, startDriver } from "./driver.mjs";
import { base32Decode, totp } from "./totp.mjs";
import { startVerifyServer } from "./verify.mjs";

const IDENTITY = "reenroll-user-0001";
const SECRET = "JBSWY3DPEHPK3PXP";
const EXAMPLE_URI = `otpauth://totp/Example%20Corp:alice%40example.com?secret=${SECRET}&issuer=Example%20Corp`;
// A second account keeps a live countdown on screen for screenshots (see driver.mjs).
const SECOND_URI = "otpauth://totp/Second%20Co:bob%40example.com?secret=GEZDGNBVGY3TQOJQ&issuer=Second%20Co";
// The password scripts/with-keyring.sh unlocks its throwaway keyring with.
const KEYRING_PASSWORD = "countersign-test";

/** Keychain entries (`username` attributes) of a service, read with secret-tool, not the app. */
function keychainUsers(service) {
  let out;
  try {
    // secret-tool prints attributes on stderr for some versions and stdout for others.
    out = execFileSync("sh", ["-c", 'secret-tool search --all service "$1" 2>&1', "sh", service], {
      encoding: "utf8",
      timeout: 10_000,
    });
  } catch (e) {
    out = String(e.stdout ?? ""); // exit status 1: nothing found
  }
  return out
    .split("\n")
    .map((line) => /^attribute\.username = (.*)$/.exec(line)?.[1])
    .filter(Boolean);
}

/** The default Secret Service collection, locked over D-Bus (as a screen lock would). */
function lockKeyring() {
  const alias = execFileSync(
    "gdbus",
    ["call", "--session", "--dest", "org.freedesktop.secrets", "--object-path", "/org/freedesktop/secrets",
      "--method", "org.freedesktop.Secret.Service.ReadAlias", "default"],
    { encoding: "utf8", timeout: 10_000 },
  );
  const collection = /'([^']+)'/.exec(alias)?.[1];
  assert.ok(collection, `no default collection: ${alias}`);
  execFileSync(
    "gdbus",
    ["call", "--session", "--dest", "org.freedesktop.secrets", "--object-path", "/org/freedesktop/secrets",
      "--method", "org.freedesktop.Secret.Service.Lock", `['${collection}']`],
    { timeout: 10_000 },
  );
  const locked = execFileSync(
    "gdbus",
    ["call", "--session", "--dest", "org.freedesktop.secrets", "--object-path", collection,
      "--method", "org.freedesktop.DBus.Properties.Get", "org.freedesktop.Secret.Collection", "Locked"],
    { encoding: "utf8", timeout: 10_000 },
  );
  assert.match(locked, /true/, "the collection reports locked");
}

/**
 * Unlocks the login keyring the way pam_gnome_keyring does at login: the password over
 * gnome-keyring-daemon's control socket (a credentials byte, then big-endian
 * [length][op = 1, unlock][password length][password]; the answer is [8][result]).
 */
function unlockKeyring() {
  const dir = process.env.GNOME_KEYRING_CONTROL ?? join(process.env.XDG_RUNTIME_DIR ?? "", "keyring");
  const password = Buffer.from(KEYRING_PASSWORD);
  const head = Buffer.alloc(12);
  head.writeUInt32BE(12 + password.length, 0);
  head.writeUInt32BE(1, 4);
  head.writeUInt32BE(password.length, 8);
  return new Promise((resolve, reject) => {
    const socket = connect(join(dir, "control"), () => {
      socket.write(Buffer.from([0]));
      socket.write(Buffer.concat([head, password]));
    });
    let answer = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error("keyring control socket did not answer")), 10_000);
    socket.on("data", (chunk) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length >= 8) {
        clearTimeout(timer);
        socket.end();
        const result = answer.readUInt32BE(4);
        if (result === 0) resolve();
        else reject(new Error(`keyring unlock refused: result ${result}`));
      }
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe("lost key state in the window", () => {
  let driver;
  let server;
  let browser;
  const dataDir = mkdtempSync(join(tmpdir(), "countersign-reenroll-ui-"));
  let oldSid;
  let newSid;

  const readJson = (name) => JSON.parse(readFileSync(join(dataDir, name), "utf8"));
  const enrollments = () => readJson("enrollments.json").enrollments;
  const keychainService = () => `countersign:${readJson("accounts.json").vault_id}`;
  const users = () => keychainUsers(keychainService());
  const $ = (selector) => browser.$(selector);

  before(async () => {
    // Fault injection: to hold a request long enough to cancel a re-enrollment midway.
    server = await startVerifyServer(mkdtempSync(join(tmpdir(), "verify-reenroll-ui-")), ["--fault-injection"]);
    driver = await startDriver(4490);
    await launch();
    const input = await $('[data-testid="uri-input"]');
    await input.waitForExist({ timeout: 15_000 });
    // One at a time: the field is cleared once an account is added.
    for (const [i, uri] of [EXAMPLE_URI, SECOND_URI].entries()) {
      await input.setValue(uri);
      await (await $('[data-testid="add-button"]')).click();
      await browser.waitUntil(async () => (await browser.$$('[data-testid="code"]')).length === i + 1, {
        timeout: 15_000,
      });
    }
  });
  after(async () => {
    await closeApp(browser, dataDir);
    driver?.kill();
    server?.child.kill();
  });

  async function launch() {
    browser = await remote({
      hostname: "127.0.0.1",
      port: 4490,
      logLevel: "warn",
      capabilities: {
        "tauri:options": {
          application: appBinary,
          args: ["--data-dir", dataDir, "--verify-ca", server.caPath],
        },
      },
    });
  }

  async function newLink() {
    const token = await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
      Identity: IDENTITY,
      FactorType: "push",
    });
    return (
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${IDENTITY}&token=${encodeURIComponent(token.token)}` +
      `&name=${encodeURIComponent("Test desktop")}`
    );
  }

  async function serverFactors() {
    const list = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors`);
    return list.factors;
  }

  async function tab(name) {
    await (await $(`[data-testid="tab-${name}"]`)).click();
  }

  /** Clicks "Check now" in the push tab and waits for the new summary. */
  async function checkNow() {
    await tab("push");
    const status = await $('[data-testid="health-status"]');
    await status.waitForExist({ timeout: 10_000 });
    const before = await status.getAttribute("data-checked-at");
    const button = await $('[data-testid="health-check"]');
    await button.waitForEnabled({ timeout: 30_000 });
    await button.click();
    await browser.waitUntil(async () => (await status.getAttribute("data-checked-at")) !== before, {
      timeout: 30_000,
      timeoutMsg: "the health check did not finish",
    });
    return status.getAttribute("data-verdict");
  }

  /** A screenshot with the codes (and their live countdown) on screen, behind any dialog. */
  async function shot(name) {
    const codesTab = await $('[data-testid="tab-codes"]');
    const dialogOpen = await (await $("dialog[open]")).isExisting();
    if (!dialogOpen && (await codesTab.getAttribute("aria-selected")) !== "true") await codesTab.click();
    await (await $('[data-testid="countdown"]')).waitForExist({ timeout: 10_000 });
    await screenshot(browser, name);
  }

  const banner = (code) => $(`[data-testid="health-banner"][data-code="${code}"]`);
  const text = async (element) => String(await element.getProperty("textContent"));

  test("a push key deleted from the keychain is reported as lost, with its cause", async () => {
    await tab("push");
    await (await $('[data-testid="enroll-link"]')).setValue(await newLink());
    await (await $('[data-testid="enroll-summary"]')).waitForExist({ timeout: 10_000 });
    await (await $('[data-testid="enroll-confirm"]')).click();
    await (await $('[data-testid="enrollment"][data-state="verified"]')).waitForExist({ timeout: 20_000 });
    assert.equal(await checkNow(), "healthy");
    assert.equal((await browser.$$('[data-testid="health-banner"]')).length, 0);

    const [enrolled] = enrollments();
    oldSid = enrolled.factor_sid;
    assert.ok(users().includes(`push:${enrolled.id}`), "the key is in the keychain");
    // What a reinstall or a wiped keychain leaves: the metadata without its key.
    execFileSync("secret-tool", ["clear", "service", keychainService(), "username", `push:${enrolled.id}`], { timeout: 10_000 });
    assert.ok(!users().includes(`push:${enrolled.id}`), "secret-tool removed the key");

    // The next start checks by itself, before anyone asks.
    await closeApp(browser, dataDir);
    await launch();
    const lost = await banner("key_missing");
    await lost.waitForExist({ timeout: 30_000 });
    await tab("push");
    assert.equal(await (await $('[data-testid="health-status"]')).getAttribute("data-verdict"), "needs_action");
    assert.equal(await lost.getAttribute("role"), "alert");
    assert.equal(await lost.getAttribute("data-enrollment"), enrolled.id);
    assert.match(await text(lost), /no longer has the key it enrolled with/);
    assert.match(await text(lost), /Test desktop can't approve sign-ins/);
    const reenroll = await lost.$('[data-testid="health-reenroll"]');
    assert.equal(await reenroll.getAttribute("aria-label"), "Re-enroll Test desktop");
    // Only this one next step is offered.
    assert.equal((await lost.$$("button")).length, 1);
    // Detecting changed nothing, here or on the server.
    assert.deepEqual(enrollments().map((e) => [e.id, e.state, e.replaced_by ?? null]), [[enrolled.id, "verified", null]]);
    assert.deepEqual((await serverFactors()).map((f) => [f.sid, f.status]), [[oldSid, "verified"]]);
    await shot("40-key-missing-banner");
  });

  test("a link opened while the dialog is up goes to the dialog, and Cancel keeps everything", async () => {
    await (await $('[data-testid="health-reenroll"]')).click();
    const dialog = await $('[data-testid="reenroll-dialog"]');
    await dialog.waitForExist({ timeout: 5_000 });
    assert.equal(await dialog.getAttribute("data-stage"), "link");

    // A click on the link in a browser starts a second Countersign, which hands it over.
    const link = await newLink();
    const second = spawn(appBinary, ["--data-dir", dataDir, "--verify-ca", server.caPath, link], {
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => second.once("exit", resolve));
    const field = await $('[data-testid="reenroll-link"]');
    await browser.waitUntil(async () => (await field.getValue()) === link, {
      timeout: 20_000,
      timeoutMsg: "the opened link did not reach the dialog",
    });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    const summary = await $('[data-testid="reenroll-summary"]');
    await summary.waitForExist({ timeout: 10_000 });
    assert.match(await text(summary), new RegExp(IDENTITY));
    await shot("41-reenroll-dialog");

    await (await $('[data-testid="reenroll-cancel"]')).click();
    await dialog.waitForExist({ reverse: true, timeout: 5_000 });
    assert.deepEqual(
      enrollments().map((e) => [e.factor_sid, e.state, e.replaced_by ?? null]),
      [[oldSid, "verified", null]],
    );
    assert.equal((await serverFactors()).length, 1);
    // The push panel never got the link.
    await tab("push");
    assert.equal(await (await $('[data-testid="enroll-link"]')).getValue(), "");
  });

  test("Cancel in the middle of a re-enrollment keeps the old enrollment and undoes the new one", async () => {
    const before = enrollments();
    await tab("codes");
    // The server holds the new factor's verification for a while, as a slow network would.
    await server.faults("POST", { DelayMs: "8000", PathContains: "/Factors/YF", Method: "POST" });
    try {
      await (await $('[data-testid="health-reenroll"]')).click();
      await (await $('[data-testid="reenroll-link"]')).setValue(await newLink());
      await (await $('[data-testid="reenroll-summary"]')).waitForExist({ timeout: 10_000 });
      await (await $('[data-testid="reenroll-confirm"]')).click();
      const progress = await $('[data-testid="reenroll-progress"]');
      await browser.waitUntil(async () => (await progress.getAttribute("data-done")) === "3", {
        timeout: 10_000,
        timeoutMsg: "the new factor was never registered",
      });
      const midway = enrollments();
      const started = midway.find((e) => e.replaces === before[0].id);
      assert.equal(started?.state, "factor_created");
      assert.equal(midway.find((e) => e.id === before[0].id).replaced_by, started.id);
      assert.equal((await serverFactors()).length, 2, "the new factor exists, unverified");
      await shot("48-reenroll-in-progress");

      await (await $('[data-testid="reenroll-cancel"]')).click();
      await (await $('[data-testid="reenroll-cancelled"]')).waitForExist({ timeout: 15_000 });
      assert.deepEqual(
        enrollments().map((e) => [e.id, e.state, e.factor_sid, e.replaced_by ?? null]),
        before.map((e) => [e.id, e.state, e.factor_sid, e.replaced_by ?? null]),
      );
      assert.deepEqual((await serverFactors()).map((f) => f.sid), [oldSid]);
      assert.ok(!users().includes(`push:${started.id}`), "the new key is gone too");
      await (await $('[data-testid="reenroll-close"]')).click();
      await (await $('[data-testid="reenroll-dialog"]')).waitForExist({ reverse: true, timeout: 5_000 });
      await (await banner("key_missing")).waitForExist({ timeout: 10_000 });
    } finally {
      await server.faults("DELETE");
    }
  });

  test("re-enrolling from a pasted link verifies a new factor; the service must remove the old one", async () => {
    const [old] = enrollments();
    // The banners show over every tab; the codes keep a live countdown behind the dialog.
    await tab("codes");
    await (await $('[data-testid="health-reenroll"]')).click();
    await (await $('[data-testid="reenroll-link"]')).setValue(await newLink());
    await (await $('[data-testid="reenroll-summary"]')).waitForExist({ timeout: 10_000 });
    await (await $('[data-testid="reenroll-confirm"]')).click();

    const result = await $('[data-testid="reenroll-result"]');
    await result.waitForExist({ timeout: 30_000 });
    assert.equal(await result.getAttribute("data-fate"), "service_must_remove");
    assert.match(await text(result), new RegExp(`The service must remove the old factor ${oldSid}`));
    assert.match(await text(result), /administrator/);
    await shot("42-reenroll-result");

    const onServer = await serverFactors();
    const fresh = onServer.find((f) => f.sid !== oldSid);
    assert.ok(fresh, "a new factor exists on the server");
    assert.equal(fresh.status, "verified");
    assert.equal(fresh.factor_type, "push");
    newSid = fresh.sid;
    // This computer could not sign the old factor's deletion: it is still there.
    assert.ok(onServer.some((f) => f.sid === oldSid));

    const records = enrollments();
    const retired = records.find((e) => e.id === old.id);
    const replacement = records.find((e) => e.factor_sid === newSid);
    assert.equal(retired.state, "retired");
    assert.equal(retired.needs_service_removal, true);
    assert.equal(replacement.state, "verified");
    assert.ok(users().includes(`push:${replacement.id}`));
    assert.ok(!users().includes(`push:${old.id}`));

    await (await $('[data-testid="reenroll-done"]')).click();
    await (await $('[data-testid="reenroll-dialog"]')).waitForExist({ reverse: true, timeout: 5_000 });
    const reminder = await banner("needs_service_removal");
    await reminder.waitForExist({ timeout: 15_000 });
    assert.match(await text(reminder), new RegExp(`The service must remove the old factor ${oldSid}`));
    await (await banner("key_missing")).waitForExist({ reverse: true, timeout: 5_000 });
    await shot("43-old-factor-reminder");
  });

  test("after the service removes the old factor, approvals work again", async () => {
    await server.backend("DELETE", `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors/${oldSid}`);
    assert.deepEqual((await serverFactors()).map((f) => f.sid), [newSid]);

    const reminder = await banner("needs_service_removal");
    await (await reminder.$('[data-testid="health-dismiss"]')).click();
    await reminder.waitForExist({ reverse: true, timeout: 10_000 });
    assert.deepEqual(enrollments().map((e) => [e.factor_sid, e.state]), [[newSid, "verified"]]);

    const created = await server.backend("POST", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges`, {
      FactorSid: newSid,
      "Details.Message": "Sign in after re-enrolling",
    });
    const card = await $(`[data-testid="push-request"][data-sid="${created.sid}"]`);
    await card.waitForExist({ timeout: 15_000 });
    await screenshot(browser, "44-request-after-reenroll");
    await (await card.$('[data-testid="push-approve"]')).click();
    await card.waitForExist({ reverse: true, timeout: 10_000 });
    const answered = await server.backend(
      "GET",
      `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges/${created.sid}`,
    );
    assert.equal(answered.status, "approved");
  });

  test("a locked keychain is reported as locked and re-enrolls nothing", async () => {
    const before = enrollments().map((e) => [e.id, e.state, e.factor_sid, e.replaced_by ?? null]);
    lockKeyring();
    try {
      assert.equal(await checkNow(), "keychain_blocked");
      const locked = await banner("keychain_locked");
      await locked.waitForExist({ timeout: 5_000 });
      assert.match(await text(locked), /The keychain is locked/);
      assert.match(await text(locked), /does not mean the key is lost/);
      assert.match(await text(locked), /Nothing was changed/);
      assert.equal((await browser.$$('[data-testid="health-reenroll"]')).length, 0);
      assert.deepEqual(enrollments().map((e) => [e.id, e.state, e.factor_sid, e.replaced_by ?? null]), before);
      assert.deepEqual((await serverFactors()).map((f) => [f.sid, f.status]), [[newSid, "verified"]]);
      await shot("45-keychain-locked");
    } finally {
      await unlockKeyring();
    }
    const locked = await banner("keychain_locked");
    await (await locked.$('[data-testid="health-retry"]')).click();
    await locked.waitForExist({ reverse: true, timeout: 20_000 });
    await tab("push");
    await browser.waitUntil(
      async () => (await (await $('[data-testid="health-status"]')).getAttribute("data-verdict")) === "healthy",
      { timeout: 10_000 },
    );
  });

  test("an account whose secret is gone says so, and a re-scan replaces it", async () => {
    const example = readJson("accounts.json").accounts.find((a) => a.issuer === "Example Corp");
    execFileSync("secret-tool", ["clear", "service", keychainService(), "username", `otp:${example.id}`], { timeout: 10_000 });

    assert.equal(await checkNow(), "needs_action");
    const missing = await banner("secret_missing");
    await missing.waitForExist({ timeout: 5_000 });
    assert.match(await text(missing), /Example Corp \(alice@example.com\) has lost its secret/);
    await tab("codes");
    const row = await $(`[data-testid="account"][data-id="${example.id}"]`);
    const error = await row.$('[data-testid="account-error"]');
    await error.waitForExist({ timeout: 5_000 });
    assert.equal((await text(error)).trim(), "Secret missing");
    assert.equal(await (await row.$('[data-testid="code"]')).isExisting(), false);
    await shot("46-secret-missing");

    // Re-scan: the add field gets the focus; the account comes back with a working secret.
    await (await missing.$('[data-testid="health-rescan"]')).click();
    await browser.waitUntil(async () => (await browser.execute(() => document.activeElement?.id)) === "uri", {
      timeout: 5_000,
    });
    await (await $('[data-testid="uri-input"]')).setValue(EXAMPLE_URI);
    await (await $('[data-testid="add-button"]')).click();
    await browser.waitUntil(async () => (await browser.$$('[data-testid="account"]')).length === 3, { timeout: 10_000 });
    // Then the old entry goes, and with it the banner.
    await (await row.$('[data-testid="delete"]')).click();
    await (await row.$('[data-testid="confirm-delete"]')).click();
    await missing.waitForExist({ reverse: true, timeout: 15_000 });
    const codes = await browser.$$('[data-testid="code"]');
    assert.equal(codes.length, 2);
  });

  test("an orphaned keychain secret can be adopted as an account or deleted", async () => {
    const adoptId = randomUUID();
    const deleteId = randomUUID();
    for (const id of [adoptId, deleteId]) {
      execFileSync("secret-tool", ["store", "--label", "left over", "service", keychainService(), "username", `otp:${id}`], {
        input: SECRET,
        timeout: 10_000,
      });
    }
    assert.equal(await checkNow(), "needs_action");
    const orphans = await banner("orphaned_secret");
    await orphans.waitForExist({ timeout: 5_000 });
    assert.match(await text(orphans), /holds 2 secrets no account uses/);
    await shot("47-orphaned-secrets");

    const adoptRow = await $(`[data-testid="orphan"][data-id="${adoptId}"]`);
    await (await adoptRow.$('[data-testid="orphan-adopt"]')).click();
    await (await adoptRow.$('[data-testid="adopt-issuer"]')).setValue("Adopted Co");
    await (await adoptRow.$('[data-testid="adopt-name"]')).setValue("dave@example.com");
    await (await adoptRow.$('[data-testid="adopt-confirm"]')).click();
    await adoptRow.waitForExist({ reverse: true, timeout: 10_000 });

    await tab("codes");
    const adopted = await $(`[data-testid="account"][data-id="${adoptId}"]`);
    await adopted.waitForExist({ timeout: 5_000 });
    assert.equal((await text(await adopted.$('[data-testid="issuer"]'))).trim(), "Adopted Co");
    // The adopted entry makes the codes its seed makes (RFC 6238, computed independently).
    await browser.waitUntil(
      async () => Number(await (await adopted.$('[data-testid="countdown"]')).getAttribute("data-remaining")) >= 3,
      { timeout: 10_000 },
    );
    const shown = await (await adopted.$('[data-testid="code"]')).getAttribute("data-code");
    const now = Date.now() / 1000;
    assert.ok([totp(base32Decode(SECRET), now), totp(base32Decode(SECRET), now - 1)].includes(shown), shown);

    const deleteRow = await $(`[data-testid="orphan"][data-id="${deleteId}"]`);
    await (await deleteRow.$('[data-testid="orphan-delete"]')).click();
    await (await deleteRow.$('[data-testid="orphan-confirm-delete"]')).click();
    await (await banner("orphaned_secret")).waitForExist({ reverse: true, timeout: 10_000 });
    assert.ok(!users().includes(`otp:${deleteId}`), "the deleted entry is gone from the keychain");
    assert.ok(users().includes(`otp:${adoptId}`), "the adopted entry stays, now owned by an account");
  });

  test("a factor the service deleted shows its banner by itself, and re-enrolling cleans up", async () => {
    await server.backend("DELETE", `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors/${newSid}`);
    // No click: the poller's failure asks for a check.
    const gone = await $('[data-testid="health-banner"][data-kind="reenroll"]');
    await gone.waitForExist({ timeout: 45_000, timeoutMsg: "no banner after the server deleted the factor" });
    assert.match(await gone.getAttribute("data-code"), /^(factor_unknown|unauthorized)$/);
    assert.match(await text(gone), /Test desktop can't approve sign-ins/);

    await (await gone.$('[data-testid="health-reenroll"]')).click();
    await (await $('[data-testid="reenroll-link"]')).setValue(await newLink());
    await (await $('[data-testid="reenroll-summary"]')).waitForExist({ timeout: 10_000 });
    await (await $('[data-testid="reenroll-confirm"]')).click();
    const result = await $('[data-testid="reenroll-result"]');
    await result.waitForExist({ timeout: 30_000 });
    // The old key still signs, so this computer asked the server to delete the old factor,
    // which the server no longer had.
    assert.equal(await result.getAttribute("data-fate"), "already_gone_on_server");
    await (await $('[data-testid="reenroll-done"]')).click();
    await (await $('[data-testid="reenroll-dialog"]')).waitForExist({ reverse: true, timeout: 5_000 });
    await gone.waitForExist({ reverse: true, timeout: 10_000 });

    const [only] = enrollments();
    assert.equal(enrollments().length, 1, "the old record and key are gone");
    assert.deepEqual((await serverFactors()).map((f) => [f.sid, f.status]), [[only.factor_sid, "verified"]]);
    assert.deepEqual(users().filter((u) => u.startsWith("push:")), [`push:${only.id}`]);
  });
});

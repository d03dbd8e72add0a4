// A window session, then a search for its secrets everywhere the app could write: the
// profile, the WebKit web process's storage and caches (local storage, IndexedDB, HTTP
// cache), every XDG directory, the temp directory, and the app's own log output at the most
// verbose level. Secrets belong in the keychain only: the account's seed, the push factor's
// private key and the enrollment's access token, in every encoding a leak would take.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { closeApp, openApp, startDriver } from "./driver.mjs";
import { base32Encode } from "./totp.mjs";
import { startVerifyServer } from "./verify.mjs";

const IDENTITY = "secrets-user-0001";
const PORT = 4530;

/** The forms a leaked secret would take: raw, base32, hex, base64(url) at all three alignments. */
function forms(secret) {
  const list = [
    ["raw", secret],
    ["base32", Buffer.from(base32Encode(secret))],
    ["base32 lower case", Buffer.from(base32Encode(secret).toLowerCase())],
    ["hex", Buffer.from(secret.toString("hex"))],
    ["HEX", Buffer.from(secret.toString("hex").toUpperCase())],
  ];
  for (const skip of [0, 1, 2]) {
    const rest = secret.subarray(skip);
    const whole = rest.subarray(0, Math.floor(rest.length / 3) * 3);
    if (whole.length < 6) continue;
    list.push([`base64+${skip}`, Buffer.from(whole.toString("base64"))]);
    list.push([`base64url+${skip}`, Buffer.from(whole.toString("base64url"))]);
  }
  return list;
}

function filesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** "what in where as FORM" for every secret found in `bytes`. */
function hitsIn(bytes, where, secrets) {
  const compact = Buffer.from(bytes.filter((b) => ![9, 10, 13, 32].includes(b)));
  const hits = [];
  for (const [what, secret] of secrets) {
    for (const [form, needle] of forms(secret)) {
      const haystack = form === "raw" ? bytes : compact;
      if (haystack.includes(needle)) hits.push(`${what} in ${where} as ${form}`);
    }
  }
  return hits;
}

describe("no secret outside the keychain after a window session", () => {
  const root = mkdtempSync(join(tmpdir(), "countersign-secrets-ui-"));
  const dirs = Object.fromEntries(
    ["home", "data", "config", "cache", "state", "tmp", "runtime"].map((name) => {
      const dir = join(root, name);
      mkdirSync(dir, { mode: 0o700 });
      return [name, dir];
    }),
  );
  const dataDir = join(dirs.data, "profile");
  const logPath = join(mkdtempSync(join(tmpdir(), "countersign-secrets-log-")), "app.log");
  const seed = randomBytes(20);
  let server;
  let driver;
  let browser;
  let token;

  before(async () => {
    server = await startVerifyServer(mkdtempSync(join(tmpdir(), "verify-secrets-")));
    const log = openSync(logPath, "w");
    driver = await startDriver(
      PORT,
      {
        ...process.env,
        HOME: dirs.home,
        XDG_DATA_HOME: dirs.data,
        XDG_CONFIG_HOME: dirs.config,
        XDG_CACHE_HOME: dirs.cache,
        XDG_STATE_HOME: dirs.state,
        TMPDIR: dirs.tmp,
        COUNTERSIGN_VERIFY_CA: server.caPath,
        COUNTERSIGN_LOG: "trace",
        RUST_LOG: "trace",
      },
      ["ignore", log, log],
    );
    browser = await openApp(dataDir, PORT);
    await (await browser.$('[data-testid="uri-input"]')).waitForExist({ timeout: 20_000 });
  });
  after(async () => {
    await closeApp(browser, dataDir);
    driver?.kill();
    server?.child.kill();
  });

  test("a session adds, copies, enrolls and approves, and leaves no secret behind", async () => {
    const uri = `otpauth://totp/Secrets:alice@example.com?secret=${base32Encode(seed)}&issuer=Secrets`;
    await (await browser.$('[data-testid="uri-input"]')).setValue(uri);
    await (await browser.$('[data-testid="add-button"]')).click();
    await (await browser.$('[data-testid="account"]')).waitForExist({ timeout: 10_000 });
    await (await browser.$('[data-testid="copy"]')).click();

    token = (
      await server.backend("POST", `Services/${server.serviceSid}/AccessTokens`, {
        Identity: IDENTITY,
        FactorType: "push",
      })
    ).token;
    const link =
      `countersign://enroll?v=1&server=${encodeURIComponent(`${server.origin}/v2/`)}` +
      `&service=${server.serviceSid}&identity=${IDENTITY}&token=${encodeURIComponent(token)}`;
    await (await browser.$('[data-testid="tab-push"]')).click();
    await (await browser.$('[data-testid="enroll-link"]')).setValue(link);
    await (await browser.$('[data-testid="enroll-confirm"]')).click();
    await (await browser.$('[data-testid="enrollment"][data-state="verified"]')).waitForExist({ timeout: 20_000 });
    const factors = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Factors`);
    const created = await server.backend("POST", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges`, {
      FactorSid: factors.factors[0].sid,
      "Details.Message": "Secrets session sign-in",
    });
    const card = await browser.$(`[data-testid="push-request"][data-sid="${created.sid}"]`);
    await card.waitForExist({ timeout: 15_000 });
    await (await card.$('[data-testid="push-approve"]')).click();
    await card.waitForExist({ reverse: true, timeout: 10_000 });
    const answered = await server.backend("GET", `Services/${server.serviceSid}/Entities/${IDENTITY}/Challenges/${created.sid}`);
    assert.equal(answered.status, "approved");

    // The push key, read from the keychain the way another program could.
    const accounts = JSON.parse(readFileSync(join(dataDir, "accounts.json"), "utf8"));
    const enrollments = JSON.parse(readFileSync(join(dataDir, "enrollments.json"), "utf8"));
    const pushKey = execFileSync("secret-tool", [
      "lookup", "service", `countersign:${accounts.vault_id}`, "username", `push:${enrollments.enrollments[0].id}`,
    ]);
    assert.ok(pushKey.length > 32, "the push key is in the keychain");

    await closeApp(browser, dataDir);
    browser = null;
    const secrets = [
      ["the account's seed", seed],
      ["the push key", pushKey],
      ["the access token", Buffer.from(token)],
    ];
    const files = filesUnder(root);
    const hits = files.flatMap((path) => hitsIn(readFileSync(path), relative(root, path), secrets));
    const log = readFileSync(logPath);
    hits.push(...hitsIn(log, "the app's log", secrets));
    assert.deepEqual(hits, []);

    // The search looked where the web process keeps its storage, and the log is real.
    const webkit = files.filter((path) => !path.startsWith(dataDir));
    assert.ok(webkit.length > 0, `no WebKit files under ${root}: the session did not use the dirs searched`);
    assert.ok(statSync(logPath).size > 0, "the app logged nothing at trace level");
    // ...and it finds a secret when one is there.
    assert.ok(hitsIn(Buffer.from(`x${base32Encode(seed).toLowerCase()}y`), "probe", secrets).length > 0);
    assert.ok(hitsIn(Buffer.from(pushKey.subarray(1).toString("base64")), "probe", secrets).length > 0);
    console.log(`searched ${files.length} files and ${log.length} bytes of log: ${webkit.map((p) => relative(root, p)).join(", ")}`);
  });
});

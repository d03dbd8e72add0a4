// A real verify-server for the window tests, and the relying party's backend calls to it.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { root } from "./driver.mjs";

/**
 * Starts verify-server on a free port with its demo service; resolves with its details.
 * `extraArgs` are passed on (e.g. `--fault-injection`).
 */
export async function startVerifyServer(dataDir, extraArgs = []) {
  const child = spawn(
    join(root, "target/debug/verify-server"),
    ["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--demo", ...extraArgs],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const info = {};
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("verify-server did not start")), 20_000);
    lines.on("line", (line) => {
      const [key, ...rest] = line.split(": ");
      info[key] = rest.join(": ");
      if (key === "listening") {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`verify-server exited with ${code}`)));
  });
  const ca = readFileSync(info.ca, "utf8");
  return {
    child,
    caPath: info.ca,
    origin: info.listening,
    serviceSid: info.service_sid,
    backend: (method, path, form) =>
      backendCall(info.listening, ca, info.account_sid, info.auth_token, method, `/v2/${path}`, form),
    /** `/dev/faults` of a server started with `--fault-injection`. */
    faults: (method, form) =>
      backendCall(info.listening, ca, info.account_sid, info.auth_token, method, "/dev/faults", form),
  };
}

/** A backend (account SID + auth token) call, as a relying party's server makes it. */
function backendCall(origin, ca, accountSid, authToken, method, path, form) {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const url = new URL(path, origin);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca,
        auth: `${accountSid}:${authToken}`,
        headers: body
          ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => {
          const json = text ? JSON.parse(text) : null;
          if (res.statusCode >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
          else resolve(json);
        });
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

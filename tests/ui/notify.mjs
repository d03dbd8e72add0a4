// The stand-in notification daemon (notify_recorder.py) as the window tests and the
// notification benchmark use it: every notification the app raises, as it arrives.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { root } from "./driver.mjs";

/** The recorder's notifications as they arrive; `next(match)` resolves with the first match. */
export function startRecorder() {
  const child = spawn("/usr/bin/python3", [join(root, "tests/ui/notify_recorder.py")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const seen = [];
  const waiting = [];
  let readyResolve;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    child.once("exit", (code) => reject(new Error(`notify_recorder.py exited with ${code}`)));
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    const record = JSON.parse(line);
    if (record.ready) return readyResolve();
    seen.push(record);
    for (const w of waiting.filter((w) => w.match(record))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(record);
    }
  });
  const next = (match, timeoutMs) =>
    new Promise((resolve, reject) => {
      const found = seen.find(match);
      if (found) return resolve(found);
      const entry = { match, resolve };
      waiting.push(entry);
      // Unref'd: a pending deadline must not keep the process alive once all is done.
      setTimeout(() => {
        if (waiting.includes(entry)) reject(new Error("no notification in time"));
      }, timeoutMs).unref();
    });
  return { child, ready, next, seen };
}


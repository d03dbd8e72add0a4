// What the push panel says while polling for sign-in requests fails: plain words, and when
// the next attempt is. Pure, unit-tested in pollNotice.test.ts.
import type { PollFailure } from "./types";

const HEADLINES: Record<PollFailure["trouble"], string> = {
  unreachable: "Can't reach the server",
  busy: "The server is busy",
  server_error: "The server is having problems",
  other: "Can't check for sign-in requests",
};

/** "20 s", "2 min" (rounded up), for how long until the next attempt. */
export function waitWords(seconds: number): string {
  return seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

/**
 * "Can't reach the server — retrying in 20 s". `name` is prefixed when several enrollments
 * could be meant; `other` troubles add the error's own message, since no headline covers them.
 */
export function pollNotice(failure: PollFailure, nowMs: number, name?: string): string {
  let text = HEADLINES[failure.trouble] ?? HEADLINES.other;
  if (failure.trouble === "other") text += `: ${failure.error.message}`;
  if (name) text = `${name}: ${text}`;
  if (failure.retry_at_ms === null) return text;
  // Rounded, not ceiled: the time is stamped a moment after the wait was measured, and a
  // 12 s Retry-After should read "12 s".
  const left = Math.round((failure.retry_at_ms - nowMs) / 1000);
  return left > 0 ? `${text} — retrying in ${waitWords(left)}` : `${text} — retrying now…`;
}

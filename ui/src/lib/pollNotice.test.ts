import { describe, expect, it } from "vitest";
import { pollNotice, waitWords } from "./pollNotice";
import type { PollFailure } from "./types";

function failure(trouble: PollFailure["trouble"], retryAt: number | null): PollFailure {
  return {
    enrollment_id: "e1",
    error: { code: "x", message: "the push enrollment Laptop is not finished" },
    trouble,
    failures: 1,
    retry_at_ms: retryAt,
  };
}

describe("pollNotice", () => {
  const now = 1_000_000;
  it("says the server can't be reached and when it retries", () =>
    expect(pollNotice(failure("unreachable", now + 20_000), now)).toBe(
      "Can't reach the server — retrying in 20 s",
    ));
  it("rounds the wait to whole seconds", () => {
    expect(pollNotice(failure("busy", now + 45_004), now)).toBe("The server is busy — retrying in 45 s");
    expect(pollNotice(failure("busy", now + 44_600), now)).toBe("The server is busy — retrying in 45 s");
  });
  it("names server errors", () =>
    expect(pollNotice(failure("server_error", now + 4_000), now)).toBe(
      "The server is having problems — retrying in 4 s",
    ));
  it("adds the message when no headline says enough", () =>
    expect(pollNotice(failure("other", null), now)).toBe(
      "Can't check for sign-in requests: the push enrollment Laptop is not finished",
    ));
  it("says retrying now once the time has come", () =>
    expect(pollNotice(failure("unreachable", now - 10), now)).toBe("Can't reach the server — retrying now…"));
  it("names the enrollment when asked to", () =>
    expect(pollNotice(failure("busy", now + 2_000), now, "Work")).toBe(
      "Work: The server is busy — retrying in 2 s",
    ));
});

describe("waitWords", () => {
  it("keeps seconds up to a minute and a half", () => expect(waitWords(89)).toBe("89 s"));
  it("switches to minutes, rounded up", () => expect(waitWords(256)).toBe("5 min"));
});

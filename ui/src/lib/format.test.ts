import { describe, expect, it } from "vitest";
import {
  filterAccounts,
  groupCode,
  hue,
  initial,
  remainingFraction,
  serverBadge,
  serverHost,
  serverKindOf,
} from "./format";

describe("groupCode", () => {
  it("splits six digits in threes", () => expect(groupCode("123456")).toBe("123 456"));
  it("splits eight digits in fours", () => expect(groupCode("12345678")).toBe("1234 5678"));
  it("puts the longer half last for seven digits", () =>
    expect(groupCode("1234567")).toBe("123 4567"));
  it("leaves Steam's five characters whole", () => expect(groupCode("5R8KX")).toBe("5R8KX"));
});

describe("initial", () => {
  it("uses the issuer first", () => expect(initial({ issuer: "github", name: "a" })).toBe("G"));
  it("falls back to the name", () => expect(initial({ issuer: " ", name: "zoe" })).toBe("Z"));
  it("handles characters outside the BMP", () =>
    expect(initial({ issuer: "𝔘nicode", name: "" })).toBe("𝔘"));
  it("shows ? when there is nothing", () => expect(initial({ issuer: "", name: "" })).toBe("?"));
});

describe("hue", () => {
  it("is stable and case-insensitive", () => expect(hue("GitHub")).toBe(hue("github")));
  it("stays in range", () => {
    for (const s of ["a", "Proton", "Twilio", "😀"]) {
      expect(hue(s)).toBeGreaterThanOrEqual(0);
      expect(hue(s)).toBeLessThan(360);
    }
  });
});

describe("filterAccounts", () => {
  const accounts = [
    { issuer: "GitHub", name: "alice@example.com" },
    { issuer: "GitLab", name: "bob" },
    { issuer: "", name: "alice@work" },
  ];
  it("returns everything for an empty query", () =>
    expect(filterAccounts(accounts, "  ")).toHaveLength(3));
  it("matches issuer or name, case-insensitively", () =>
    expect(filterAccounts(accounts, "ALICE").map((a) => a.name)).toEqual([
      "alice@example.com",
      "alice@work",
    ]));
  it("needs every word", () =>
    expect(filterAccounts(accounts, "git alice").map((a) => a.issuer)).toEqual(["GitHub"]));
});

describe("remainingFraction", () => {
  it("is the share of the period left", () => expect(remainingFraction(15, 30)).toBe(0.5));
  it("is full for HOTP", () => expect(remainingFraction(null, 30)).toBe(1));
  it("is clamped", () => expect(remainingFraction(40, 30)).toBe(1));
});

import { displayOrder, moved } from "./format";

describe("displayOrder", () => {
  it("puts pinned accounts first and keeps the order otherwise", () => {
    const order = displayOrder([
      { id: "a", pinned: false },
      { id: "b", pinned: true },
      { id: "c", pinned: false },
      { id: "d", pinned: true },
    ]).map((a) => a.id);
    expect(order).toEqual(["b", "d", "a", "c"]);
  });
});

describe("moved", () => {
  it("moves up and down", () => {
    expect(moved(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(moved(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
  });
  it("stays put at the ends", () => {
    expect(moved(["a", "b"], 0, -1)).toEqual(["a", "b"]);
    expect(moved(["a", "b"], 1, 1)).toEqual(["a", "b"]);
  });
});

import { clock, secondsUntil } from "./format";

describe("secondsUntil", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  it("counts whole seconds up", () => expect(secondsUntil("2026-11-25T12:04:05Z", now)).toBe(245));
  it("is 0 once past", () => expect(secondsUntil("2026-11-25T11:59:00Z", now)).toBe(0));
  it("is null for garbage", () => expect(secondsUntil("soon", now)).toBeNull());
});

describe("clock", () => {
  it("pads seconds", () => expect(clock(245)).toBe("4:05"));
  it("shows zero", () => expect(clock(0)).toBe("0:00"));
});

import { summarise } from "./format";

describe("summarise", () => {
  it("says what happened", () =>
    expect(summarise({ added: 2, skipped: 1, failed: 0 })).toBe(
      "Added 2 accounts, skipped 1 already present.",
    ));
  it("handles one and failures", () =>
    expect(summarise({ added: 1, skipped: 0, failed: 2, unrecognized: 1 })).toBe(
      "Added 1 account, 2 could not be added, 1 QR code(s) held something else.",
    ));
});

describe("enrollment servers", () => {
  it("badges Twilio, this computer and anything else as the core does", () => {
    expect(serverKindOf("https://verify.twilio.com/v2/")).toBe("twilio");
    expect(serverKindOf("http://verify.twilio.com/v2/")).toBe("other");
    expect(serverKindOf("https://verify.twilio.com.example.net/v2/")).toBe("other");
    expect(serverKindOf("https://127.0.0.1:8443/v2/")).toBe("local");
    expect(serverKindOf("https://localhost:8443/v2/")).toBe("local");
    expect(serverKindOf("https://[::1]:8443/v2/")).toBe("local");
    expect(serverKindOf("https://auth.example.com/v2/")).toBe("other");
    expect(serverKindOf("not a url")).toBe("other");
    expect(serverBadge("twilio")).toBe("Twilio (verify.twilio.com)");
    expect(serverBadge("local")).toBe("A server on this computer");
    expect(serverBadge("other")).toBe("Another server");
  });

  it("shows the host and port of an enrolled server", () => {
    expect(serverHost("https://127.0.0.1:8443/v2/")).toBe("127.0.0.1:8443");
    expect(serverHost("https://xn--80ak6aa92e.com/v2/")).toBe("xn--80ak6aa92e.com");
  });
});

import { describe, expect, it } from "vitest";
import { allIcons, iconFor, slugForIssuer } from "./icons";

describe("issuer icons", () => {
  it("match an issuer by slug or title, ignoring case and punctuation", () => {
    expect(slugForIssuer("GitHub")).toBe("github");
    expect(slugForIssuer("git hub")).toBe("github");
    expect(slugForIssuer("Proton Mail")).toBe("protonmail");
  });
  it("have none for unknown or empty issuers", () => {
    expect(slugForIssuer("My Own Company")).toBeNull();
    expect(slugForIssuer("  ")).toBeNull();
  });
  it("prefer the user's choice over the issuer", () => {
    expect(iconFor({ issuer: "GitHub", icon: "gitlab" })?.title).toBe("GitLab");
    expect(iconFor({ issuer: "GitHub", icon: null })?.title).toBe("GitHub");
  });
  it("list every bundled icon sorted by title", () => {
    const titles = allIcons().map((i) => i.icon.title);
    expect(titles.length).toBeGreaterThan(50);
    expect([...titles].sort((a, b) => a.localeCompare(b))).toEqual(titles);
  });
});

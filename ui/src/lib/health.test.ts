import { describe, expect, it } from "vitest";
import { healthView, linkMismatch, outcomeMessage, reenrollTarget, stepsDone } from "./health";
import type { HealthReport, HealthSummary, LinkSummary, Reenrolled } from "./types";

function report(overrides: Partial<HealthReport> = {}): HealthReport {
  return {
    enrollment_id: "11111111-1111-4111-8111-111111111111",
    friendly_name: "Work laptop",
    identity: "alice",
    service_sid: "VA1",
    server: "https://verify.example/v2/",
    factor_sid: "YF1",
    state: "verified",
    health: { status: "healthy" },
    code: "healthy",
    cause: "fine",
    next_step: "Nothing to do.",
    action: "none",
    checked_at: 0,
    replaces: null,
    replaced_by: null,
    needs_service_removal: false,
    record_removed: false,
    ...overrides,
  };
}

const keyMissing = (overrides: Partial<HealthReport> = {}) =>
  report({
    health: { status: "broken", problem: "key_missing" },
    code: "key_missing",
    cause: "This computer no longer has the key it enrolled with.",
    action: "reenroll",
    ...overrides,
  });

function summary(factors: HealthReport[], overrides: Partial<HealthSummary> = {}): HealthSummary {
  return {
    verdict: "needs_action",
    keychain: { status: "ok" },
    factors,
    secrets: { missing: [], orphaned: [] },
    ...overrides,
  };
}

const link = (overrides: Partial<LinkSummary> = {}): LinkSummary => ({
  server: "https://verify.example/v2/",
  server_host: "verify.example",
  server_host_unicode: null,
  server_kind: "other",
  service_sid: "VA1",
  identity: "Alice",
  friendly_name: null,
  ...overrides,
});

describe("healthView", () => {
  it("offers a re-enrollment for a lost key", () => {
    const view = healthView(summary([keyMissing(), report({ enrollment_id: "2" })]));
    expect(view.keychain).toBeNull();
    expect(view.factors.map((b) => b.kind)).toEqual(["reenroll"]);
    expect(view.factors[0].title).toBe("Work laptop can't approve sign-ins");
  });

  it("never offers a re-enrollment while the keychain is blocked", () => {
    const locked = report({
      health: { status: "keychain_locked" },
      code: "keychain_locked",
      cause: "The keychain is locked. This does not mean the key is lost.",
      next_step: "Unlock the keychain.",
      action: "unlock_keychain",
    });
    const view = healthView(
      summary([locked, keyMissing({ enrollment_id: "2" })], {
        verdict: "keychain_blocked",
        keychain: { status: "locked", reason: "locked" },
      }),
    );
    expect(view.factors).toEqual([]);
    expect(view.keychain?.status).toBe("locked");
    expect(view.keychain?.cause).toContain("does not mean the key is lost");
  });

  it("tells apart a retired factor, an unfinished one, one being replaced and an unreachable server", () => {
    const view = healthView(
      summary([
        report({ enrollment_id: "a", state: "retired", health: { status: "retired" }, code: "needs_service_removal", action: "ask_service_to_remove", needs_service_removal: true, factor_sid: "YFold" }),
        keyMissing({ enrollment_id: "b", code: "enrollment_expired", action: "enroll_again", record_removed: true }),
        keyMissing({ enrollment_id: "c", replaced_by: "d" }),
        report({ enrollment_id: "e", health: { status: "unreachable", reason: "timeout" }, code: "unreachable", action: "retry_later" }),
        report({ enrollment_id: "f", health: { status: "pending" }, code: "pending", action: "wait" }),
      ]),
    );
    expect(view.factors.map((b) => b.kind)).toEqual(["service_must_remove", "enroll_again", "under_way", "unchecked"]);
    expect(view.factors[0].title).toBe("The service must remove the old factor YFold");
    expect(view.factors[3].title).toBe("Couldn't check Work laptop — will retry");
  });

  it("hides banners dismissed for the same problem only", () => {
    const broken = keyMissing();
    expect(healthView(summary([broken]), new Set([`${broken.enrollment_id}:key_missing`])).factors).toEqual([]);
    expect(healthView(summary([broken]), new Set([`${broken.enrollment_id}:unreachable`])).factors).toHaveLength(1);
  });
});

describe("links for a re-enrollment", () => {
  it("accepts the same service and user, whatever the case of the identity", () => {
    expect(linkMismatch(keyMissing(), link())).toBeNull();
  });
  it("names what differs", () => {
    expect(linkMismatch(keyMissing(), link({ service_sid: "VA2" }))).toMatch(/another service \(VA2\)/);
    expect(linkMismatch(keyMissing(), link({ identity: "bob" }))).toMatch(/another user \(bob\)/);
  });
  it("routes an arriving link to the one broken factor it can replace", () => {
    const broken = keyMissing();
    expect(reenrollTarget(summary([broken, report({ enrollment_id: "2" })]), link())).toBe(broken);
    expect(reenrollTarget(summary([broken]), link({ identity: "bob" }))).toBeNull();
    // Two candidates: ambiguous, so the link enrolls as usual.
    expect(reenrollTarget(summary([broken, keyMissing({ enrollment_id: "2" })]), link())).toBeNull();
    expect(reenrollTarget(summary([broken], { verdict: "keychain_blocked" }), link())).toBeNull();
  });
});

describe("re-enrollment progress and outcome", () => {
  it("counts steps done", () => {
    expect(stepsDone(null)).toBe(0);
    expect(stepsDone("key_generated")).toBe(1);
    expect(stepsDone("verified")).toBe(4);
  });

  const result = (fate: Reenrolled["replaced"]["fate"]): Reenrolled => ({
    enrollment: {
      id: "n",
      state: "verified",
      server: { base_url: "https://verify.example/v2/" },
      service_sid: "VA1",
      identity: "alice",
      friendly_name: "Work laptop",
      factor_sid: "YFnew",
      factor_status: "verified",
      created_at: 0,
    },
    replaced: { new_id: "n", old_id: "o", old_factor_sid: "YFold", old_friendly_name: "Work laptop", service_sid: "VA1", identity: "alice", fate, detail: null },
  });

  it("says the old factor is gone when this computer deleted it", () => {
    const message = outcomeMessage(result("deleted_on_server"));
    expect(message.title).toBe("Old factor removed from the server");
    expect(message.needsAction).toBe(false);
  });

  it("names the factor the service must remove", () => {
    const message = outcomeMessage(result("service_must_remove"));
    expect(message.title).toBe("The service must remove the old factor YFold");
    expect(message.detail).toContain("administrator");
    expect(message.needsAction).toBe(true);
  });
});

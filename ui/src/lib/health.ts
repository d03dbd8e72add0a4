// What the health banners and the re-enrollment dialog show, as pure functions of the
// core's HealthSummary (the core decides health; this only chooses the words and buttons).
import type { HealthReport, HealthSummary, LinkSummary, MissingSecret, OrphanedSecret, Reenrolled } from "./types";

export type FactorBannerKind =
  /** Broken: one button, "Re-enroll". */
  | "reenroll"
  /** The enrollment never finished and is gone: "Enroll again". */
  | "enroll_again"
  /** A re-enrollment of it is under way (e.g. resumed after a restart): "Cancel re-enrollment". */
  | "under_way"
  /** Replaced, but its key was lost: the service must remove it. "Dismiss" once told. */
  | "service_must_remove"
  /** The server could not be asked: nothing to do, the check repeats. */
  | "unchecked";

export interface FactorBanner {
  kind: FactorBannerKind;
  /** Stable across checks, for keyed lists and local dismissal. */
  key: string;
  title: string;
  report: HealthReport;
}

export interface KeychainBanner {
  status: "locked" | "unavailable";
  title: string;
  cause: string;
  nextStep: string;
}

export interface HealthView {
  keychain: KeychainBanner | null;
  factors: FactorBanner[];
  missing: MissingSecret[];
  orphaned: OrphanedSecret[];
}

export const emptyView: HealthView = { keychain: null, factors: [], missing: [], orphaned: [] };

function factorBanner(report: HealthReport): FactorBanner | null {
  const name = report.friendly_name;
  const key = `${report.enrollment_id}:${report.code}`;
  switch (report.health.status) {
    case "broken":
      if (report.replaced_by) return { kind: "under_way", key, title: `${name} is being replaced`, report };
      if (report.action === "enroll_again") return { kind: "enroll_again", key, title: `${name} was not enrolled`, report };
      return { kind: "reenroll", key, title: `${name} can't approve sign-ins`, report };
    case "retired":
      return {
        kind: "service_must_remove",
        key,
        title: `The service must remove the old factor ${report.factor_sid ?? ""}`.trim(),
        report,
      };
    case "unreachable":
    case "undetermined":
      return { kind: "unchecked", key, title: `Couldn't check ${name} — will retry`, report };
    default:
      return null;
  }
}

/**
 * The banners for a summary. A blocked keychain shows only the keychain banner: a key that
 * could not be read is not a lost key, so nothing may offer a re-enrollment then.
 */
export function healthView(summary: HealthSummary | null, dismissed: ReadonlySet<string> = new Set()): HealthView {
  if (!summary) return emptyView;
  if (summary.verdict === "keychain_blocked") {
    const locked = summary.keychain.status !== "unavailable";
    const report = summary.factors.find((r) => r.health.status === "keychain_locked" || r.health.status === "keychain_unavailable");
    return {
      ...emptyView,
      keychain: {
        status: locked ? "locked" : "unavailable",
        title: locked ? "The keychain is locked" : "The keychain can't be reached",
        cause:
          report?.cause ??
          (locked
            ? "The keychain is locked, so Countersign could not read its keys. This does not mean a key is lost."
            : `No keychain could be reached (${summary.keychain.reason ?? "no reason given"}). This does not mean a key is lost.`),
        nextStep:
          report?.next_step ??
          (locked ? "Unlock the keychain, then try again." : "Start your keyring service, then try again."),
      },
    };
  }
  return {
    keychain: null,
    factors: summary.factors
      .map(factorBanner)
      .filter((b): b is FactorBanner => b !== null && !dismissed.has(b.key)),
    missing: summary.secrets.missing,
    orphaned: summary.secrets.orphaned,
  };
}

/** Whether a link is for the same account as the factor it would replace; a reason when not. */
export function linkMismatch(report: HealthReport, link: LinkSummary): string | null {
  if (link.service_sid !== report.service_sid) {
    return `This link is for another service (${link.service_sid}) than ${report.friendly_name} (${report.service_sid}).`;
  }
  if (link.identity.toLowerCase() !== report.identity.toLowerCase()) {
    return `This link is for another user (${link.identity}) than ${report.friendly_name} (${report.identity}).`;
  }
  return null;
}

/**
 * The broken factor a newly arrived link should replace: the one factor offering
 * "Re-enroll" for the same service and user. Otherwise the link enrolls as usual.
 */
export function reenrollTarget(summary: HealthSummary | null, link: LinkSummary): HealthReport | null {
  if (!summary || summary.verdict === "keychain_blocked") return null;
  const candidates = summary.factors.filter(
    (r) => factorBanner(r)?.kind === "reenroll" && linkMismatch(r, link) === null,
  );
  return candidates.length === 1 ? candidates[0] : null;
}

/** The steps of a re-enrollment, in order, with the new enrollment's state after each. */
export const reenrollSteps: { state: string; label: string }[] = [
  { state: "key_generated", label: "New key created" },
  { state: "key_stored", label: "Key saved in the keychain" },
  { state: "factor_created", label: "Registered with the service" },
  { state: "verified", label: "Confirmed by the service" },
];

/** How many steps are done once the new enrollment reached `state`. */
export function stepsDone(state: string | null): number {
  if (!state) return 0;
  return reenrollSteps.findIndex((s) => s.state === state) + 1;
}

/** What became of the replaced factor, in words. */
export function outcomeMessage(result: Reenrolled): { title: string; detail: string; needsAction: boolean } {
  const sid = result.replaced.old_factor_sid ?? "(no SID)";
  switch (result.replaced.fate) {
    case "deleted_on_server":
      return {
        title: "Old factor removed from the server",
        detail: `${result.enrollment.friendly_name} is enrolled again and approves sign-ins from now on.`,
        needsAction: false,
      };
    case "already_gone_on_server":
      return {
        title: "Re-enrolled; the old factor was already gone from the server",
        detail: `${result.enrollment.friendly_name} is enrolled again and approves sign-ins from now on.`,
        needsAction: false,
      };
    case "service_must_remove":
      return {
        title: `The service must remove the old factor ${sid}`,
        detail:
          `This computer is enrolled again, but it lost the old factor's key, so it cannot delete that factor itself. ` +
          `Tell the service's administrator to remove factor ${sid} of ${result.replaced.identity}. ` +
          `Countersign keeps a reminder until you dismiss it.`,
        needsAction: true,
      };
    case "finish_later":
      return {
        title: "Re-enrolled; the old factor is removed later",
        detail:
          `The old factor ${sid} could not be removed yet${result.replaced.detail ? ` (${result.replaced.detail})` : ""}. ` +
          `Countersign finishes this automatically.`,
        needsAction: false,
      };
  }
}

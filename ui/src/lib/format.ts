// Pure presentation helpers, unit-tested in format.test.ts.
import type { Account, ServerKind } from "./types";

/** "123456" → "123 456", "12345678" → "1234 5678", "1234567" → "123 4567"; Steam's 5 stay whole. */
export function groupCode(code: string): string {
  if (code.length < 6) return code;
  const head = Math.floor(code.length / 2);
  return `${code.slice(0, head)} ${code.slice(head)}`;
}

/** The letter shown when an issuer has no icon. */
export function initial(account: Pick<Account, "issuer" | "name">): string {
  const source = account.issuer.trim() || account.name.trim();
  const first = [...source][0];
  return first ? first.toLocaleUpperCase() : "?";
}

/** A stable hue per issuer, so the lettered fallback icons are told apart by colour too. */
export function hue(text: string): number {
  let hash = 0;
  for (const ch of text.toLowerCase()) {
    hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  }
  return hash % 360;
}

/** Accounts whose issuer or name contains every word of the query, case-insensitively. */
export function filterAccounts<T extends Pick<Account, "issuer" | "name">>(
  accounts: T[],
  query: string,
): T[] {
  const words = query.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return accounts;
  return accounts.filter((a) => {
    const haystack = `${a.issuer} ${a.name}`.toLocaleLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/** How much of the period is left, 0..1, for the countdown ring. */
export function remainingFraction(remaining: number | null, period: number): number {
  if (remaining === null || period <= 0) return 1;
  return Math.min(1, Math.max(0, remaining / period));
}

/** Pinned accounts first, otherwise the stored order (which the user arranges). */
export function displayOrder<T extends { pinned: boolean }>(accounts: T[]): T[] {
  return [...accounts.filter((a) => a.pinned), ...accounts.filter((a) => !a.pinned)];
}

/** `ids` with the one at `index` moved by `delta` places (clamped), for reordering. */
export function moved(ids: string[], index: number, delta: number): string[] {
  const target = Math.min(ids.length - 1, Math.max(0, index + delta));
  if (target === index || index < 0 || index >= ids.length) return ids;
  const next = [...ids];
  const [item] = next.splice(index, 1);
  next.splice(target, 0, item);
  return next;
}

/** Whole seconds from `nowMs` until an RFC 3339 time; 0 once past, null if unparsable. */
export function secondsUntil(isoTime: string, nowMs: number): number | null {
  const at = Date.parse(isoTime);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** "4:05" for a countdown. */
export function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

/** One sentence summing up what a scan or import did. */
export function summarise(result: {
  added: number;
  skipped: number;
  failed: number;
  unrecognized?: number;
}): string {
  const parts: string[] = [];
  parts.push(result.added === 1 ? "Added 1 account" : `Added ${result.added} accounts`);
  if (result.skipped) parts.push(`skipped ${result.skipped} already present`);
  if (result.failed) parts.push(`${result.failed} could not be added`);
  if (result.unrecognized) parts.push(`${result.unrecognized} QR code(s) held something else`);
  return `${parts.join(", ")}.`;
}

/** The confirmation's badge for who runs an enrollment server. */
export function serverBadge(kind: ServerKind): string {
  switch (kind) {
    case "twilio":
      return "Twilio (verify.twilio.com)";
    case "local":
      return "A server on this computer";
    default:
      return "Another server";
  }
}

/** The kind of an enrolled server from its base URL, by the core's rules (push/link.rs). */
export function serverKindOf(baseUrl: string): ServerKind {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return "other";
  }
  const host = url.hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)) return "local";
  if (host === "verify.twilio.com" && url.protocol === "https:") return "twilio";
  return "other";
}

/** The host (and port) of an enrolled server, for the enrollment list. */
export function serverHost(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

// Shapes of what the Rust side sends (see src-tauri/src/commands.rs and countersign-core).

export type OtpKind = "totp" | "hotp" | "steam";

export interface OtpParams {
  kind: OtpKind;
  algorithm: "SHA1" | "SHA256" | "SHA512";
  digits: number;
  period: number;
  counter: number;
}

export interface Account {
  id: string;
  issuer: string;
  name: string;
  otp: OtpParams;
  created_at: number;
  pinned: boolean;
  icon?: string | null;
}

export interface AccountEdit {
  issuer?: string;
  name?: string;
  pinned?: boolean;
  icon?: string;
  otp?: OtpParams;
}

export interface Settings {
  clipboard_clear_secs: number;
  hide_codes: boolean;
}

export interface Code {
  id: string;
  code: string;
  next_code: string | null;
  remaining: number | null;
  period: number;
}

/** Every error from the Rust side: a stable code to branch on and a sentence to show. */
export interface AppError {
  code: string;
  message: string;
}

export interface AppStatus {
  data_dir: string;
  vault_error: AppError | null;
}

export interface CodesView {
  codes: Code[];
  failures: { id: string; error: AppError }[];
}

export interface ChallengeField {
  label: string;
  value: string;
}

export interface Challenge {
  sid: string;
  factor_sid: string;
  status: string;
  date_created: string;
  expiration_date: string;
  details: ChallengeDetails;
}

export interface ChallengeDetails {
  message: string;
  fields: ChallengeField[];
  date?: string | null;
}

/** The request as the window showed it; the core signs only a challenge that still matches. */
export interface ShownChallenge {
  sid: string;
  details: ChallengeDetails;
}

export interface PendingChallenge {
  enrollment_id: string;
  enrollment_name: string;
  challenge: Challenge;
}

export interface PendingView {
  challenges: PendingChallenge[];
  failures: PollFailure[];
}

/** The last poll of an enrollment failed (gone once one succeeds). */
export interface PollFailure {
  enrollment_id: string;
  error: AppError;
  trouble: "unreachable" | "busy" | "server_error" | "other";
  /** Failed polls in a row. */
  failures: number;
  /** When the next attempt is due (Unix ms). */
  retry_at_ms: number | null;
}

export interface Enrollment {
  id: string;
  state: string;
  server: { base_url: string };
  service_sid: string;
  identity: string;
  friendly_name: string;
  factor_sid: string | null;
  factor_status: string | null;
  created_at: number;
  /** Set on a re-enrollment under way: the enrollment it replaces once verified. */
  replaces?: string;
  /** Set on an enrollment being replaced: the re-enrollment under way. */
  replaced_by?: string;
  needs_service_removal?: boolean;
}

/** Who runs an enrollment server: Twilio itself, this computer, or anyone else. */
export type ServerKind = "twilio" | "local" | "other";

export interface LinkSummary {
  server: string;
  /** The host as contacted: ASCII, punycode for international names. */
  server_host: string;
  /** The same host in Unicode, only when it differs from server_host. */
  server_host_unicode: string | null;
  server_kind: ServerKind;
  service_sid: string;
  identity: string;
  friendly_name: string | null;
}

export interface HistoryEntry {
  challenge_sid: string;
  enrollment_id: string;
  message: string;
  status: string;
  date_created: string;
  answered_here: boolean;
  updated_at: number;
}

export interface ScanOutcome {
  added: Account[];
  skipped_duplicates: { label: string; duplicate_of: string }[];
  failed: string[];
  enroll_links: string[];
  unrecognized: number;
}

export interface ImportView {
  format: string;
  report: {
    added: Account[];
    skipped_duplicates: { label: string; duplicate_of: string }[];
    failed: { label: string; error: AppError }[];
  };
  unreadable: { index: number | null; label: string | null; reason: string }[];
}

export interface ExportView {
  path: string;
  accounts: number;
}

// Health (see countersign-core's push::health, secret_health and health modules).

export type HealthStatus =
  | "healthy"
  | "broken"
  | "keychain_locked"
  | "keychain_unavailable"
  | "unreachable"
  | "undetermined"
  | "pending"
  | "retired";

export type HealthAction =
  | "none"
  | "reenroll"
  | "enroll_again"
  | "unlock_keychain"
  | "start_keychain"
  | "retry_later"
  | "wait"
  | "ask_service_to_remove";

/** One push factor's health, with the words to show. */
export interface HealthReport {
  enrollment_id: string;
  friendly_name: string;
  identity: string;
  service_sid: string;
  server: string;
  factor_sid: string | null;
  state: string;
  health: { status: HealthStatus; problem?: string; reason?: string; error_code?: string };
  /** `healthy`, a problem such as `key_missing`, or the status (`needs_service_removal` when retired). */
  code: string;
  cause: string;
  next_step: string;
  action: HealthAction;
  checked_at: number;
  replaces: string | null;
  replaced_by: string | null;
  needs_service_removal: boolean;
  record_removed: boolean;
}

export interface MissingSecret {
  account_id: string;
  issuer: string;
  name: string;
  code: string;
  cause: string;
  next_step: string;
}

export interface OrphanedSecret {
  id: string;
  code: string;
  cause: string;
  next_step: string;
}

export interface HealthSummary {
  verdict: "healthy" | "unchecked" | "needs_action" | "keychain_blocked";
  keychain: { status: "ok" | "locked" | "unavailable"; reason?: string };
  factors: HealthReport[];
  secrets: { missing: MissingSecret[]; orphaned: OrphanedSecret[] };
}

export type OldFactorFate = "deleted_on_server" | "already_gone_on_server" | "service_must_remove" | "finish_later";

export interface Reenrolled {
  enrollment: Enrollment;
  replaced: {
    new_id: string;
    old_id: string;
    old_factor_sid: string | null;
    old_friendly_name: string;
    service_sid: string;
    identity: string;
    fate: OldFactorFate;
    detail: string | null;
  };
}

export interface ReenrollProgress {
  old_id: string;
  new_id: string;
  /** The new enrollment's state; `verified` means the old factor is being dealt with. */
  state: string;
}

/** A problem with one field of the manual entry form. */
export interface FieldError {
  field: "issuer" | "name" | "secret" | "digits" | "period" | "algorithm" | "counter";
  message: string;
}

/** What the core says of the manual entry form as typed: the code now, or the problems. */
export interface ManualPreview {
  code: string | null;
  seconds_remaining: number | null;
  errors: FieldError[];
}

/** The manual entry form's contents. */
export interface ManualEntry {
  issuer: string;
  name: string;
  secret: string;
  hex: boolean;
  params: OtpParams;
}

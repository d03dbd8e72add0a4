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
  details: { message: string; fields: ChallengeField[] };
}

export interface PendingChallenge {
  enrollment_id: string;
  enrollment_name: string;
  challenge: Challenge;
}

export interface PendingView {
  challenges: PendingChallenge[];
  failures: { enrollment_id: string; error: AppError }[];
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
}

export interface LinkSummary {
  server: string;
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

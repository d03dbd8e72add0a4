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

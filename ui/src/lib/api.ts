// The one module that talks to the Rust side. Components import this, never @tauri-apps/api,
// so they stay testable without the shell.
import { invoke } from "@tauri-apps/api/core";
import type { Account, AccountEdit, AppError, AppStatus, Code, CodesView, Settings } from "./types";

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toAppError(raw);
  }
}

export function toAppError(raw: unknown): AppError {
  if (raw && typeof raw === "object" && "code" in raw && "message" in raw) {
    return { code: String(raw.code), message: String(raw.message) };
  }
  return { code: "internal", message: String(raw) };
}

export const api = {
  status: () => call<AppStatus>("app_status"),
  retryKeychain: () => call<AppStatus>("retry_keychain"),
  listAccounts: () => call<Account[]>("list_accounts"),
  addAccountUri: (uri: string) => call<Account>("add_account_uri", { uri }),
  deleteAccount: (id: string) => call<Account>("delete_account", { id }),
  editAccount: (id: string, edit: AccountEdit) => call<Account>("edit_account", { id, edit }),
  reorderAccounts: (ids: string[]) => call<void>("reorder_accounts", { ids }),
  codes: () => call<CodesView>("codes"),
  nextHotp: (id: string) => call<Code>("next_hotp", { id }),
  copyCode: (id: string) => call<void>("copy_code", { id }),
  getSettings: () => call<Settings>("get_settings"),
  saveSettings: (settings: Settings) => call<Settings>("save_settings", { settings }),
};

// The one module that talks to the Rust side. Components import this, never @tauri-apps/api,
// so they stay testable without the shell.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  Account,
  AccountEdit,
  AppError,
  AppStatus,
  Challenge,
  ShownChallenge,
  ManualEntry,
  ManualPreview,
  Code,
  CodesView,
  Enrollment,
  ExportView,
  HealthSummary,
  ImportView,
  OtpParams,
  ReenrollProgress,
  Reenrolled,
  ScanOutcome,
  HistoryEntry,
  LinkSummary,
  PendingView,
  Settings,
} from "./types";

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toAppError(raw);
  }
}

/** A command whose body is raw bytes (a file), with optional headers. */
async function callRaw<T>(command: string, bytes: Uint8Array, headers: Record<string, string>): Promise<T> {
  try {
    return await invoke<T>(command, bytes, { headers });
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
  previewManualEntry: (entry: ManualEntry) => call<ManualPreview>("preview_manual_entry", { entry }),
  addManualEntry: (entry: ManualEntry) => call<Account>("add_manual_entry", { entry }),
  previewAccountParams: (id: string, params: OtpParams) => call<ManualPreview>("preview_account_params", { id, params }),
  deleteAccount: (id: string) => call<Account>("delete_account", { id }),
  editAccount: (id: string, edit: AccountEdit) => call<Account>("edit_account", { id, edit }),
  reorderAccounts: (ids: string[]) => call<void>("reorder_accounts", { ids }),
  codes: () => call<CodesView>("codes"),
  nextHotp: (id: string) => call<Code>("next_hotp", { id }),
  copyCode: (id: string) => call<void>("copy_code", { id }),
  getSettings: () => call<Settings>("get_settings"),
  quitApp: () => call<void>("quit_app"),
  saveSettings: (settings: Settings) => call<Settings>("save_settings", { settings }),
  scanImage: (bytes: Uint8Array) => callRaw<ScanOutcome>("scan_image", bytes, {}),
  scanClipboard: () => call<ScanOutcome>("scan_clipboard"),
  scanScreen: () => call<ScanOutcome>("scan_screen"),
  importFile: (bytes: Uint8Array, password: string | null, skipDuplicates: boolean) =>
    callRaw<ImportView>("import_file", bytes, {
      ...(password ? { "x-password": password } : {}),
      "x-skip-duplicates": skipDuplicates ? "1" : "0",
    }),
  exportAccounts: (format: "countersign" | "aegis" | "plain", password: string | null, acknowledgePlain: boolean) =>
    call<ExportView>("export_accounts", { format, password, acknowledgePlain }),
  pushEnrollments: () => call<Enrollment[]>("push_enrollments"),
  pushInspectLink: (link: string) => call<LinkSummary>("push_inspect_link", { link }),
  pushEnroll: (link: string) => call<Enrollment>("push_enroll", { link }),
  pushRename: (id: string, name: string) => call<Enrollment>("push_rename", { id, name }),
  pushRemove: (id: string) => call<void>("push_remove", { id }),
  pushPending: () => call<PendingView>("push_pending"),
  pushHistory: () => call<HistoryEntry[]>("push_history"),
  pushAnswer: (enrollmentId: string, shown: ShownChallenge, approve: boolean) =>
    call<Challenge>("push_answer", { enrollmentId, shown, approve }),
  pushSetVisible: (visible: boolean) => call<void>("push_set_visible", { visible }),
  pushTakeLink: () => call<string | null>("push_take_link"),
  onPending: (handler: (view: PendingView) => void): Promise<UnlistenFn> =>
    listen<PendingView>("push-challenges", (event) => handler(event.payload)),
  onEnrollLink: (handler: (link: string) => void): Promise<UnlistenFn> =>
    listen<string>("push-enroll-link", (event) => handler(event.payload)),
  healthSummary: () => call<HealthSummary>("health_summary"),
  healthLatest: () => call<HealthSummary | null>("health_latest"),
  pushReenroll: (oldId: string, link: string) => call<Reenrolled>("push_reenroll", { oldId, link }),
  pushCancelReenrollment: (id: string) => call<Enrollment>("push_cancel_reenrollment", { id }),
  secretAdoptOrphan: (id: string, issuer: string, name: string, params: OtpParams | null) =>
    call<Account>("secret_adopt_orphan", { id, issuer, name, params }),
  secretDeleteOrphan: (id: string) => call<boolean>("secret_delete_orphan", { id }),
  onHealth: (handler: (summary: HealthSummary) => void): Promise<UnlistenFn> =>
    listen<HealthSummary>("health-changed", (event) => handler(event.payload)),
  onReenrollProgress: (handler: (progress: ReenrollProgress) => void): Promise<UnlistenFn> =>
    listen<ReenrollProgress>("reenroll-progress", (event) => handler(event.payload)),
};

// Declaring the app's commands makes Tauri generate one permission per command, so the
// capability files grant them one by one instead of every command to every window.
const COMMANDS: &[&str] = &[
    "app_status",
    "list_accounts",
    "add_account_uri",
    "preview_manual_entry",
    "add_manual_entry",
    "preview_account_params",
    "quit_app",
    "delete_account",
    "edit_account",
    "reorder_accounts",
    "codes",
    "next_hotp",
    "copy_code",
    "get_settings",
    "save_settings",
    "retry_keychain",
    "scan_image",
    "scan_clipboard",
    "scan_screen",
    "import_file",
    "export_accounts",
    "push_enrollments",
    "push_inspect_link",
    "push_enroll",
    "push_rename",
    "push_remove",
    "push_pending",
    "push_history",
    "push_answer",
    "push_set_visible",
    "push_take_link",
    "health_summary",
    "health_latest",
    "push_reenroll",
    "push_cancel_reenrollment",
    "secret_adopt_orphan",
    "secret_delete_orphan",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script failed");
}

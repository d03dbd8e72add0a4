//! The desktop shell: parses the command line, opens the vault, registers plugins and
//! commands. Decisions live in `countersign-core`; this crate only wires them to the window.

mod commands;
mod copy;
mod error;
mod state;
mod tray;
mod webview;

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use clap::Parser;
use countersign_core::profile::{DATA_DIR_ENV, Profile};

use crate::state::AppState;

const APP_ID: &str = "dev.countersign.app";

#[derive(Parser, Debug)]
#[command(name = "countersign", version, about = "Countersign authenticator")]
struct Args {
    /// Profile directory (default: the platform's application data directory).
    #[arg(long, env = DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COUNTERSIGN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let args = Args::parse();
    let custom_profile = args.data_dir.is_some() || std::env::var_os(DATA_DIR_ENV).is_some();
    let profile = match Profile::resolve(args.data_dir) {
        Ok(profile) => profile,
        Err(e) => {
            eprintln!("error[{}]: {e}", e.code());
            std::process::exit(1);
        }
    };
    let instance_id = single_instance_id(&profile, custom_profile);

    let result = tauri::Builder::default()
        // First plugin, so a second launch hands over before anything else starts.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance_id)
                .callback(|app, _argv, _cwd| tray::show_main_window(app))
                .build(),
        )
        .manage(AppState::new(profile))
        .setup(|app| {
            webview::tune(app);
            // A desktop without a tray host still gets a working window.
            if let Err(e) = tray::create(app.handle()) {
                tracing::warn!("no tray icon: {e}");
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::retry_keychain,
            commands::list_accounts,
            commands::add_account_uri,
            commands::delete_account,
            commands::edit_account,
            commands::reorder_accounts,
            commands::codes,
            commands::next_hotp,
            commands::copy_code,
            commands::get_settings,
            commands::save_settings,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error[startup]: {e}");
        std::process::exit(1);
    }
}

/// One running app per profile: the default profile uses the app id; another profile gets
/// its own id, so a test or second profile can run beside the user's app.
fn single_instance_id(profile: &Profile, custom: bool) -> String {
    if !custom {
        return APP_ID.to_string();
    }
    let mut hasher = std::hash::DefaultHasher::new();
    profile.data_dir().hash(&mut hasher);
    format!("{APP_ID}.p{:016x}", hasher.finish())
}

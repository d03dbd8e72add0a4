//! The desktop shell: parses the command line, opens the vault, registers commands.
//! Decisions live in `countersign-core`; this crate only wires them to the window.

mod commands;
mod error;
mod state;
mod webview;

use std::path::PathBuf;

use clap::Parser;
use countersign_core::profile::{DATA_DIR_ENV, Profile};

use crate::state::AppState;

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
    let profile = match Profile::resolve(args.data_dir) {
        Ok(profile) => profile,
        Err(e) => {
            eprintln!("error[{}]: {e}", e.code());
            std::process::exit(1);
        }
    };

    let result = tauri::Builder::default()
        .manage(AppState::new(profile))
        .setup(|app| {
            webview::tune(app);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::retry_keychain,
            commands::list_accounts,
            commands::add_account_uri,
            commands::delete_account,
            commands::codes,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error[startup]: {e}");
        std::process::exit(1);
    }
}

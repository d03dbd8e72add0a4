//! The desktop shell: parses the command line, opens the vault, registers plugins and
//! commands. Decisions live in `countersign-core`; this crate only wires them to the window.

mod background;
mod commands;
mod copy;
mod error;
mod health;
mod push;
mod state;
mod transfer;
mod tray;
mod webview;

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use clap::Parser;
use countersign_core::profile::{DATA_DIR_ENV, Profile};
use tauri::Manager;

use crate::state::AppState;

const APP_ID: &str = "dev.countersign.app";

// No `Debug`: the link carries an access token, and nothing may print it.
#[derive(Parser)]
#[command(name = "countersign", version, about = "Countersign authenticator")]
struct Args {
    /// Profile directory (default: the platform's application data directory).
    #[arg(long, env = DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Extra CA (PEM) to trust for Verify servers enrolled from links, e.g. the local
    /// verify-server's ca.pem. Certificate checks stay on.
    #[arg(long, env = "COUNTERSIGN_VERIFY_CA", value_name = "FILE")]
    verify_ca: Option<PathBuf>,

    /// A `countersign://enroll?...` link to open (as the OS passes it). Taken out of the
    /// arguments at once, handed to the window, and never logged.
    link: Option<String>,
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
    let verify_ca = match args
        .verify_ca
        .as_deref()
        .map(std::fs::read_to_string)
        .transpose()
    {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("error[io_error]: cannot read the Verify CA file: {e}");
            std::process::exit(1);
        }
    };
    let start_link = args.link;

    let result = tauri::Builder::default()
        // First plugin, so a second launch hands over before anything else starts.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance_id)
                .callback(|app, argv, _cwd| {
                    tray::show_main_window(app);
                    // A second launch with a link (a click in the browser) hands it over.
                    if let Some(link) = argv.into_iter().find(|a| a.starts_with("countersign:")) {
                        push::receive_link(app, link);
                    }
                })
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .manage(AppState::new(profile, verify_ca))
        .manage(push::PushRuntime::default())
        .manage(health::HealthRuntime::default())
        .setup(move |app| {
            webview::tune(app);
            deep_links(app, start_link.clone());
            push::start(app.handle());
            health::start(app.handle());
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
            commands::preview_manual_entry,
            commands::add_manual_entry,
            commands::preview_account_params,
            commands::quit_app,
            commands::delete_account,
            commands::edit_account,
            commands::reorder_accounts,
            commands::codes,
            commands::next_hotp,
            commands::copy_code,
            commands::get_settings,
            commands::save_settings,
            transfer::scan_image,
            transfer::scan_clipboard,
            transfer::scan_screen,
            transfer::import_file,
            transfer::export_accounts,
            push::push_enrollments,
            push::push_inspect_link,
            push::push_enroll,
            push::push_rename,
            push::push_remove,
            push::push_pending,
            push::push_history,
            push::push_answer,
            push::push_set_visible,
            push::push_take_link,
            health::health_summary,
            health::health_latest,
            health::push_reenroll,
            health::push_cancel_reenrollment,
            health::secret_adopt_orphan,
            health::secret_delete_orphan,
        ])
        .on_window_event(|window, event| match event {
            tauri::WindowEvent::Focused(focused) => {
                // Focus means the user is looking: poll now and at the fast rate.
                push::window_focused(&window.state::<push::PushRuntime>(), *focused);
                if *focused {
                    health::window_focused(window.app_handle());
                }
            }
            tauri::WindowEvent::Destroyed if window.label() == background::MAIN_WINDOW => {
                background::window_closed(window.app_handle());
            }
            _ => {}
        })
        .build(tauri::generate_context!());
    match result {
        Ok(app) => app.run(background::on_run_event),
        Err(e) => {
            eprintln!("error[startup]: {e}");
            std::process::exit(1);
        }
    }
}

/// Links arrive as the start argument, from the deep-link plugin (macOS/Windows open-URL
/// events), or from a second launch (single-instance callback).
fn deep_links(app: &tauri::App, start_link: Option<String>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    let handle = app.handle().clone();
    if let Some(link) = start_link {
        push::receive_link(&handle, link);
    }
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            push::receive_link(&handle, url.to_string());
        }
    }
    let on_open = handle.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            push::receive_link(&on_open, url.to_string());
        }
    });
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

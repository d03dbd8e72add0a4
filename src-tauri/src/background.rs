//! Background mode: closing the window leaves Countersign running in the tray, where push
//! requests are still polled and announced and health checks go on. The window is destroyed
//! rather than hidden, so its WebKit web process is not held all day, and it is built again
//! from the configuration when the user opens it. Quitting is explicit: the tray's Quit, or
//! Quit in the window's settings.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, RunEvent, WebviewWindowBuilder};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// The window's label in `tauri.conf.json`.
pub const MAIN_WINDOW: &str = "main";
/// Present once the user was told where the app goes on close (told once per profile).
const CLOSE_NOTICE_MARKER: &str = "close-notice-shown";

/// Keeps the app alive when its last window closes; an explicit exit (`app.exit`) passes.
pub fn on_run_event(_app: &AppHandle, event: RunEvent) {
    if let RunEvent::ExitRequested {
        code: None, api, ..
    } = event
    {
        api.prevent_exit();
    }
}

/// The window is going away: polling drops to the background rate, and the first time the
/// user hears where the app went.
pub fn window_closed(app: &AppHandle) {
    crate::push::set_visibility(&app.state::<crate::push::PushRuntime>(), false);
    let marker = notice_marker(app);
    if marker.exists() {
        return;
    }
    let shown = app
        .notification()
        .builder()
        .title("Countersign is still running")
        .body(
            "Sign-in requests are still checked and shown here. Open Countersign from the \
             tray or the app launcher; quit it from the tray menu or its settings.",
        )
        .show();
    match shown {
        Ok(()) => {
            if let Err(e) = std::fs::write(&marker, b"") {
                tracing::warn!("close notice marker not written: {e}");
            }
        }
        Err(e) => tracing::warn!("close notice not shown: {e}"),
    }
}

/// Shows the window, building it again if it was closed.
pub fn show_main_window(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(window) => window,
        None => match rebuild(app) {
            Ok(window) => window,
            Err(e) => {
                tracing::warn!("window not rebuilt: {e}");
                return;
            }
        },
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

fn rebuild(app: &AppHandle) -> tauri::Result<tauri::WebviewWindow> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    crate::webview::tune_window(&window);
    Ok(window)
}

fn notice_marker(app: &AppHandle) -> PathBuf {
    app.state::<AppState>()
        .profile
        .data_dir()
        .join(CLOSE_NOTICE_MARKER)
}

//! The tray icon: show the window, copy a pinned account's code, quit.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};
use uuid::Uuid;

use crate::state::AppState;

const TRAY_ID: &str = "main";
const SHOW: &str = "show";
const QUIT: &str = "quit";
const COPY_PREFIX: &str = "copy:";

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let menu = build_menu(app)?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Countersign")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu_event(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Rebuilds the menu after pins changed. Failing to is cosmetic, so it is only logged.
pub fn refresh(app: &AppHandle) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match build_menu(app) {
        Ok(menu) => {
            if let Err(e) = tray.set_menu(Some(menu)) {
                tracing::warn!("tray menu not updated: {e}");
            }
        }
        Err(e) => tracing::warn!("tray menu not built: {e}"),
    }
}

pub fn show_main_window(app: &AppHandle) {
    crate::background::show_main_window(app);
}

fn build_menu(app: &AppHandle) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        SHOW,
        "Show Countersign",
        true,
        None::<&str>,
    )?)?;
    let pinned = app
        .state::<AppState>()
        .vault()
        .ok()
        .and_then(|vault| vault.accounts().ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.pinned)
        .collect::<Vec<_>>();
    if !pinned.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        for account in pinned {
            let id = format!("{COPY_PREFIX}{}", account.id);
            let label = format!("Copy code: {}", account.display_name());
            menu.append(&MenuItem::with_id(app, id, label, true, None::<&str>)?)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

fn on_menu_event(app: &AppHandle, id: &str) {
    match id {
        SHOW => show_main_window(app),
        QUIT => app.exit(0),
        _ => {
            let Some(account) = id
                .strip_prefix(COPY_PREFIX)
                .and_then(|raw| Uuid::parse_str(raw).ok())
            else {
                return;
            };
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let state = app.state::<AppState>();
                if let Err(e) = crate::copy::copy_current_code(&state, account).await {
                    tracing::warn!(code = %e.code, "copy from tray failed: {}", e.message);
                }
            });
        }
    }
}

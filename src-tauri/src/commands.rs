//! The window's commands. Each is a few lines: take the state, call the core off the main
//! thread (keychain calls block on D-Bus), return data or a `{code, message}` error.

use countersign_core::account::{Account, AccountEdit};
use countersign_core::manual_entry::{ManualEntry, ManualPreview};
use countersign_core::otp::OtpParams;
use countersign_core::settings::Settings;
use countersign_core::vault::{Code, Vault, unix_now};
use serde::Serialize;
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::CommandError;
use crate::state::AppState;
use crate::tray;

type CommandResult<T> = Result<T, CommandError>;

#[derive(Serialize)]
pub struct AppStatus {
    pub data_dir: String,
    /// Why accounts can't be used right now (keychain unavailable or locked), if so.
    pub vault_error: Option<CommandError>,
}

#[derive(Serialize)]
pub struct CodesView {
    pub codes: Vec<Code>,
    pub failures: Vec<AccountFailure>,
}

#[derive(Serialize)]
pub struct AccountFailure {
    pub id: Uuid,
    pub error: CommandError,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    Ok(status(&state, state.vault().err().map(CommandError::from)))
}

#[tauri::command]
pub async fn retry_keychain(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CommandResult<AppStatus> {
    let profile = state.profile.clone();
    let (vault, push) = blocking(move || {
        Ok((
            Vault::open(&profile),
            countersign_core::push::PushManager::open(&profile),
        ))
    })
    .await?;
    let vault_error = state.replace_if_failed(vault).err().map(CommandError::from);
    let _ = state.replace_push_if_failed(push);
    tray::refresh(&app);
    Ok(status(&state, vault_error))
}

fn status(state: &AppState, vault_error: Option<CommandError>) -> AppStatus {
    AppStatus {
        data_dir: state.profile.data_dir().display().to_string(),
        vault_error,
    }
}

#[tauri::command]
pub async fn list_accounts(state: State<'_, AppState>) -> CommandResult<Vec<Account>> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.accounts()?)).await
}

#[tauri::command]
pub async fn add_account_uri(state: State<'_, AppState>, uri: String) -> CommandResult<Account> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.add_uri(&uri)?)).await
}

/// The live preview of the "enter a setup key" form: the code now, or each field's problem.
#[tauri::command]
pub async fn preview_manual_entry(entry: ManualEntry) -> CommandResult<ManualPreview> {
    Ok(entry.preview(unix_now()))
}

#[tauri::command]
pub async fn add_manual_entry(
    state: State<'_, AppState>,
    entry: ManualEntry,
) -> CommandResult<Account> {
    let vault = state.vault()?;
    let checked = entry.to_uri()?;
    blocking(move || Ok(vault.add(checked)?)).await
}

/// The edit dialog's preview: the code the account would show with `params`.
#[tauri::command]
pub async fn preview_account_params(
    state: State<'_, AppState>,
    id: Uuid,
    params: OtpParams,
) -> CommandResult<ManualPreview> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.preview_params(id, &params, unix_now())?)).await
}

#[tauri::command]
pub async fn delete_account(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
) -> CommandResult<Account> {
    let vault = state.vault()?;
    let removed = blocking(move || Ok(vault.delete(id)?)).await?;
    tray::refresh(&app);
    Ok(removed)
}

#[tauri::command]
pub async fn edit_account(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
    edit: AccountEdit,
) -> CommandResult<Account> {
    let vault = state.vault()?;
    let edited = blocking(move || Ok(vault.edit(id, &edit)?)).await?;
    tray::refresh(&app);
    Ok(edited)
}

#[tauri::command]
pub async fn reorder_accounts(
    app: AppHandle,
    state: State<'_, AppState>,
    ids: Vec<Uuid>,
) -> CommandResult<()> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.reorder(&ids)?)).await?;
    tray::refresh(&app);
    Ok(())
}

#[tauri::command]
pub async fn codes(state: State<'_, AppState>) -> CommandResult<CodesView> {
    let vault = state.vault()?;
    blocking(move || {
        let all = vault.codes(unix_now())?;
        Ok(CodesView {
            codes: all.codes,
            failures: all
                .failures
                .into_iter()
                .map(|(id, e)| AccountFailure {
                    id,
                    error: e.into(),
                })
                .collect(),
        })
    })
    .await
}

/// HOTP: the counter moves on (and is saved) before the new code is returned.
#[tauri::command]
pub async fn next_hotp(state: State<'_, AppState>, id: Uuid) -> CommandResult<Code> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.next_hotp(id)?)).await
}

/// Copies the account's current code; it is cleared later if still on the clipboard.
#[tauri::command]
pub async fn copy_code(state: State<'_, AppState>, id: Uuid) -> CommandResult<()> {
    crate::copy::copy_current_code(&state, id).await
}

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CommandResult<Settings> {
    Ok(state.settings())
}

#[tauri::command]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: Settings,
) -> CommandResult<Settings> {
    state.save_settings(settings)?;
    Ok(state.settings())
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| CommandError::internal(format!("background task failed: {e}")))?
}

/// Quits for real (closing the window only sends the app to the tray).
#[tauri::command]
pub fn quit_app(app: AppHandle) {
    app.exit(0);
}

//! The window's commands. Each is a few lines: take the state, call the core off the main
//! thread (keychain calls block on D-Bus), return data or a `{code, message}` error.

use std::sync::Arc;

use countersign_core::account::Account;
use countersign_core::vault::{Code, Vault, unix_now};
use serde::Serialize;
use tauri::State;
use uuid::Uuid;

use crate::error::CommandError;
use crate::state::AppState;

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
    Ok(AppStatus {
        data_dir: state.profile.data_dir().display().to_string(),
        vault_error: state.vault().err().map(CommandError::from),
    })
}

#[tauri::command]
pub async fn retry_keychain(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    let profile = state.profile.clone();
    let opened = blocking(move || Ok(Vault::open(&profile))).await?;
    let vault_error = state
        .replace_if_failed(opened)
        .err()
        .map(CommandError::from);
    Ok(AppStatus {
        data_dir: state.profile.data_dir().display().to_string(),
        vault_error,
    })
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

#[tauri::command]
pub async fn delete_account(state: State<'_, AppState>, id: Uuid) -> CommandResult<Account> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.delete(id)?)).await
}

#[tauri::command]
pub async fn codes(state: State<'_, AppState>) -> CommandResult<CodesView> {
    let vault: Arc<Vault> = state.vault()?;
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

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| CommandError::internal(format!("background task failed: {e}")))?
}

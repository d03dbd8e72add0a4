//! Copying a code, shared by the window's command and the tray menu.

use uuid::Uuid;

use crate::commands::blocking;
use crate::error::CommandError;
use crate::state::AppState;
use countersign_core::vault::unix_now;

pub async fn copy_current_code(state: &AppState, id: Uuid) -> Result<(), CommandError> {
    let vault = state.vault()?;
    let code = blocking(move || Ok(vault.code(id, unix_now())?)).await?;
    let clear_after = state.settings().clipboard_clear_after();
    state.clipboard()?.copy_code(&code.code, clear_after)?;
    Ok(())
}

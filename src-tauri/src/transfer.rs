//! Getting accounts in and out: QR scans (image, clipboard, screen), importing other apps'
//! files, exporting backups. Bytes arrive as raw IPC bodies; the core does the work.

use countersign_core::export::{self, PlainExportAcknowledged};
use countersign_core::import::{self, ImportEntryError, ImportReport};
use countersign_core::scanned::ScanOutcome;
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::{InvokeBody, Request};

use crate::commands::blocking;
use crate::error::CommandError;
use crate::state::AppState;

type CommandResult<T> = Result<T, CommandError>;

fn qr_error(e: countersign_qr::Error) -> CommandError {
    CommandError {
        code: e.code().into(),
        message: e.to_string(),
    }
}

fn body(request: &Request<'_>) -> CommandResult<Vec<u8>> {
    match request.body() {
        InvokeBody::Raw(bytes) => Ok(bytes.clone()),
        InvokeBody::Json(_) => Err(CommandError {
            code: "invalid_request".into(),
            message: "expected the file's bytes".into(),
        }),
    }
}

async fn add_scanned(state: &AppState, payloads: Vec<String>) -> CommandResult<ScanOutcome> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.add_scanned(&payloads)?)).await
}

/// QR codes in an image file the user picked (PNG, JPEG, WebP, GIF, BMP).
#[tauri::command]
pub async fn scan_image(
    state: State<'_, AppState>,
    request: Request<'_>,
) -> CommandResult<ScanOutcome> {
    let bytes = body(&request)?;
    let payloads = blocking(move || countersign_qr::scan_bytes(&bytes).map_err(qr_error)).await?;
    add_scanned(&state, payloads).await
}

#[tauri::command]
pub async fn scan_clipboard(state: State<'_, AppState>) -> CommandResult<ScanOutcome> {
    let payloads = blocking(|| countersign_qr::scan_clipboard().map_err(qr_error)).await?;
    add_scanned(&state, payloads).await
}

#[tauri::command]
pub async fn scan_screen(state: State<'_, AppState>) -> CommandResult<ScanOutcome> {
    let payloads = blocking(|| countersign_qr::scan_screens().map_err(qr_error)).await?;
    add_scanned(&state, payloads).await
}

#[derive(Serialize)]
pub struct ImportView {
    pub format: String,
    pub report: ImportReport,
    /// Entries of the file that could not be read at all.
    pub unreadable: Vec<ImportEntryError>,
}

/// Imports another app's export. Headers: `x-password` (encrypted files),
/// `x-skip-duplicates: 1`.
#[tauri::command]
pub async fn import_file(
    state: State<'_, AppState>,
    request: Request<'_>,
) -> CommandResult<ImportView> {
    let bytes = zeroize::Zeroizing::new(body(&request)?);
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let password = header("x-password").map(zeroize::Zeroizing::new);
    let skip_duplicates = header("x-skip-duplicates").as_deref() == Some("1");
    let vault = state.vault()?;
    blocking(move || {
        let format = import::identify(&bytes)?;
        let result = import::import(&bytes, password.as_deref().map(String::as_str))?;
        let report = vault.import(result.entries, skip_duplicates)?;
        Ok(ImportView {
            format: format.name().to_string(),
            report,
            unreadable: result.errors,
        })
    })
    .await
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Countersign,
    Aegis,
    Plain,
}

#[derive(Serialize)]
pub struct ExportView {
    pub path: String,
    pub accounts: usize,
}

/// Writes a backup to the user's download folder and says where.
#[tauri::command]
pub async fn export_accounts(
    state: State<'_, AppState>,
    format: ExportFormat,
    password: Option<String>,
    acknowledge_plain: bool,
) -> CommandResult<ExportView> {
    let vault = state.vault()?;
    let password = password.map(zeroize::Zeroizing::new);
    let dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .unwrap_or_else(|| state.profile.data_dir().to_path_buf());
    blocking(move || {
        let entries = vault.export_entries()?;
        let need_password = || {
            password.as_deref().filter(|p| !p.is_empty()).ok_or(
                countersign_core::Error::ExportFailed(
                    "a password is needed to encrypt the backup".into(),
                ),
            )
        };
        let (bytes, extension) = match format {
            ExportFormat::Countersign => (
                zeroize::Zeroizing::new(export::export_countersign(&entries, need_password()?)?),
                "countersign",
            ),
            ExportFormat::Aegis => (
                zeroize::Zeroizing::new(export::export_aegis(&entries, need_password()?)?),
                "json",
            ),
            ExportFormat::Plain => {
                if !acknowledge_plain {
                    return Err(CommandError {
                        code: "plain_export_not_acknowledged".into(),
                        message: "a plain export holds every secret unencrypted; confirm first"
                            .into(),
                    });
                }
                let text = export::export_plain(
                    &entries,
                    PlainExportAcknowledged::user_accepted_unencrypted_export(),
                );
                (zeroize::Zeroizing::new(text.as_bytes().to_vec()), "txt")
            }
        };
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let path = dir.join(format!("countersign-export-{stamp}.{extension}"));
        export::write_file(&path, &bytes)?;
        Ok(ExportView {
            path: path.display().to_string(),
            accounts: entries.len(),
        })
    })
    .await
}

//! Exporting accounts, so users are never locked in:
//!
//! - [`countersign`]: our encrypted backup (Argon2id + XChaCha20-Poly1305,
//!   `docs/BACKUP_FORMAT.md`), read back by [`crate::import::CountersignBackup`].
//! - [`aegis`]: an encrypted Aegis vault, which Aegis (and our Aegis importer) can open.
//! - [`google`]: Google Authenticator "Transfer accounts" QR codes
//!   (`otpauth-migration://`), paged over a batch of codes.
//! - [`qr_image`]: any of these texts drawn as a QR code (SVG), for the window to show.
//! - [`plain`]: `otpauth://` URIs one per line, unencrypted; only through
//!   [`PlainExportAcknowledged`], so no caller writes secrets in the clear by accident.
//!
//! Exports take the accounts with their secrets as [`OtpAuthUri`]s
//! ([`crate::vault::Vault::export_entries`]).

pub mod aegis;
pub mod countersign;
pub mod google;
pub mod plain;
pub mod qr_image;

pub use plain::PlainExportAcknowledged;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::otpauth::OtpAuthUri;

/// The formats we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Countersign,
    Aegis,
    Plain,
}

/// Our encrypted backup, with the default (strong) key derivation parameters.
pub fn export_countersign(entries: &[OtpAuthUri], password: &str) -> Result<Vec<u8>> {
    countersign::encrypt(entries, password, &countersign::KdfParams::DEFAULT)
}

/// An encrypted Aegis vault with one password slot.
pub fn export_aegis(entries: &[OtpAuthUri], password: &str) -> Result<Vec<u8>> {
    aegis::encrypt(entries, password, &aegis::ScryptParams::AEGIS_DEFAULT)
}

/// `otpauth://` URIs, one per line. Unencrypted: the acknowledgement is required.
pub fn export_plain(
    entries: &[OtpAuthUri],
    acknowledged: PlainExportAcknowledged,
) -> Zeroizing<String> {
    plain::export(entries, acknowledged)
}

/// Writes an export to `path` atomically (temporary file in the same directory, fsync,
/// rename), readable by the owner only on Unix: even encrypted, an export is a target.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    crate::atomic_file::write(dir, path, bytes)
}

/// Encrypted exports refuse an empty password: it would protect nothing.
fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::ExportFailed(
            "the password is empty; an encrypted export needs one".into(),
        ));
    }
    Ok(())
}

//! `import` and `export`: moving accounts in from other authenticators and out to backups.
//!
//! Passwords are read from standard input (`--password-stdin`: its first line, or a prompt
//! without echo on a terminal), never from the command line, where other users and shell
//! history would see them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use countersign_core::export::{self, PlainExportAcknowledged};
use countersign_core::import::{self, ImportEntryError};
use countersign_core::vault::Vault;
use countersign_core::{Error, Result};
use zeroize::Zeroizing;

#[derive(Args)]
pub struct ImportArgs {
    /// The file to import; its format is recognised from its content (Countersign backup,
    /// Aegis, 2FAS, andOTP, Bitwarden, FreeOTP+, Ente Auth, Google Authenticator
    /// otpauth-migration:// links, or otpauth:// links one per line).
    pub file: PathBuf,
    /// Read the file's password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Skip entries that show the same codes as an account already here (or an earlier
    /// entry of the file).
    #[arg(long)]
    pub skip_duplicates: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    /// Countersign's encrypted backup (Argon2id + XChaCha20-Poly1305).
    Countersign,
    /// An encrypted Aegis vault, which Aegis can import.
    Aegis,
    /// otpauth:// links one per line, NOT encrypted.
    Plain,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The file to write (replaced if it exists; readable by you only).
    pub file: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormatArg,
    /// Read the export's password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Required with --format plain: the file will hold every secret in the clear.
    #[arg(long)]
    pub i_understand_plain_is_unencrypted: bool,
}

/// Prints one line per entry (`added`, `skipped`, `failed`, tab-separated) and a summary.
pub fn import(vault: &Vault, args: ImportArgs) -> Result<()> {
    let bytes = import::read_file(&args.file)?;
    let format = import::identify(&bytes)?;
    let password = if format.is_encrypted() {
        if !args.password_stdin {
            eprintln!("hint: pass --password-stdin and write the password on standard input");
            return Err(Error::ImportPasswordRequired {
                format: format.name(),
            });
        }
        Some(read_password()?)
    } else {
        None
    };
    let read = format
        .importer()
        .import(&bytes, password.as_deref().map(String::as_str))?;
    let in_file = read.entries.len() + read.errors.len();
    for error in &read.errors {
        println!("failed\t{}\t{}", entry_label(error), error.reason);
    }
    let report = vault.import(read.entries, args.skip_duplicates)?;
    for account in &report.added {
        println!("added\t{}\t{}", account.id, account.display_name());
    }
    for skipped in &report.skipped_duplicates {
        println!(
            "skipped\t{}\tsame codes as {}",
            skipped.label, skipped.duplicate_of
        );
    }
    for failed in &report.failed {
        println!("failed\t{}\t{}", failed.label, failed.error);
    }
    println!(
        "imported {} of {in_file} entries from {format}: {} skipped as duplicates, {} failed",
        report.added.len(),
        report.skipped_duplicates.len(),
        read.errors.len() + report.failed.len()
    );
    Ok(())
}

/// Writes the export and prints `exported\t<count>\t<file>`.
pub fn export(vault: &Vault, args: ExportArgs) -> Result<()> {
    let entries = vault.export_entries()?;
    let bytes: Zeroizing<Vec<u8>> = match args.format {
        ExportFormatArg::Plain => {
            if !args.i_understand_plain_is_unencrypted {
                return Err(Error::ExportFailed(
                    "a plain export holds every secret unencrypted; pass \
                     --i-understand-plain-is-unencrypted if that is what you want"
                        .into(),
                ));
            }
            let acknowledged = PlainExportAcknowledged::user_accepted_unencrypted_export();
            let text = export::export_plain(&entries, acknowledged);
            Zeroizing::new(text.as_bytes().to_vec())
        }
        format => {
            if !args.password_stdin {
                return Err(Error::ExportFailed(
                    "an encrypted export needs a password: pass --password-stdin and \
                     write it on standard input"
                        .into(),
                ));
            }
            let password = read_password()?;
            Zeroizing::new(match format {
                ExportFormatArg::Aegis => export::export_aegis(&entries, &password)?,
                _ => export::export_countersign(&entries, &password)?,
            })
        }
    };
    export::write_file(&args.file, &bytes)?;
    println!("exported\t{}\t{}", entries.len(), args.file.display());
    Ok(())
}

/// The password: the first line of standard input, or typed at a prompt without echo.
/// An empty line is left to the caller: a wrong password for import, refused by export.
fn read_password() -> Result<Zeroizing<String>> {
    crate::stdin::read_secret_line("Password: ")
}

fn entry_label(error: &ImportEntryError) -> String {
    match (error.index, &error.label) {
        (Some(i), Some(label)) => format!("entry {i} ({label})"),
        (Some(i), None) => format!("entry {i}"),
        (None, Some(label)) => label.clone(),
        (None, None) => "file".into(),
    }
}

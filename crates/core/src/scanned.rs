//! What to do with the texts a QR scan finds: `otpauth://` and Google Authenticator
//! `otpauth-migration://` payloads become accounts, `countersign://enroll` links go to the
//! push enrollment flow, anything else is counted as not for us.

use serde::Serialize;

use crate::account::Account;
use crate::error::Result;
use crate::import::{self, ImportEntryError, SkippedDuplicate};
use crate::vault::Vault;

#[derive(Debug, Default, Serialize)]
pub struct ScanOutcome {
    pub added: Vec<Account>,
    pub skipped_duplicates: Vec<SkippedDuplicate>,
    /// Entries that were found but could not be added, and why.
    pub failed: Vec<String>,
    /// Enrollment links, for the user to confirm in the push flow.
    pub enroll_links: Vec<String>,
    /// QR codes that hold something else (a web address, text...).
    pub unrecognized: usize,
}

impl Vault {
    /// Adds every account the payloads carry, skipping ones already present.
    pub fn add_scanned(&self, payloads: &[String]) -> Result<ScanOutcome> {
        let mut outcome = ScanOutcome::default();
        let mut entries = Vec::new();
        for payload in payloads {
            let text = payload.trim();
            let lower = text.to_ascii_lowercase();
            if lower.starts_with("countersign:") {
                outcome.enroll_links.push(text.to_string());
            } else if lower.starts_with("otpauth:") || lower.starts_with("otpauth-migration:") {
                match import::import(text.as_bytes(), None) {
                    Ok(result) => {
                        entries.extend(result.entries);
                        outcome
                            .failed
                            .extend(result.errors.iter().map(ImportEntryError::to_string));
                    }
                    Err(e) => outcome.failed.push(e.to_string()),
                }
            } else {
                outcome.unrecognized += 1;
            }
        }
        if !entries.is_empty() {
            let report = self.import(entries, true)?;
            outcome.added = report.added;
            outcome.skipped_duplicates = report.skipped_duplicates;
            outcome.failed.extend(
                report
                    .failed
                    .into_iter()
                    .map(|f| format!("{}: {}", f.label, f.error)),
            );
        }
        Ok(outcome)
    }
}

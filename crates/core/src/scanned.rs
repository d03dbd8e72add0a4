//! What to do with the texts a QR scan finds: `otpauth://` and Google Authenticator
//! `otpauth-migration://` payloads become accounts, `countersign://enroll` links go to the
//! push enrollment flow, anything else is counted as not for us.
//!
//! A Google Authenticator transfer is several QR codes shown one after another, so it is
//! usually scanned one code per scan. [`ScanBatches`] remembers which codes of each
//! transfer (keyed by its `batch_id`) were scanned, so a scan reports "2 of 3 scanned"
//! instead of calling the codes not scanned yet missing. Each code's accounts are added
//! when it is scanned; the collector holds only batch numbers, never an account.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

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
    /// Google Authenticator transfers this scan added to, and how far each has got.
    pub batches: Vec<BatchProgress>,
}

/// How many codes of one Google Authenticator transfer have been scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchProgress {
    pub batch_id: i32,
    pub scanned: usize,
    pub total: usize,
    /// Codes not scanned yet, numbered from 1 as the phone shows them.
    pub missing: Vec<usize>,
}

impl BatchProgress {
    pub fn is_complete(&self) -> bool {
        self.scanned >= self.total
    }
}

/// The codes of each transfer scanned so far in this session.
#[derive(Debug, Default)]
pub struct ScanBatches {
    batches: Mutex<HashMap<i32, Batch>>,
}

#[derive(Debug)]
struct Batch {
    size: i32,
    scanned: BTreeSet<i32>,
}

impl ScanBatches {
    /// Records code `index` of `size` in batch `id`; `false` if it was scanned before.
    fn record(&self, id: i32, size: i32, index: i32) -> bool {
        let mut batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        let batch = batches.entry(id).or_insert_with(|| Batch {
            size,
            scanned: BTreeSet::new(),
        });
        batch.size = batch.size.max(size);
        batch.scanned.insert(index)
    }

    /// Where batch `id` stands.
    pub fn progress(&self, id: i32) -> Option<BatchProgress> {
        let batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        let batch = batches.get(&id)?;
        let total = usize::try_from(batch.size).unwrap_or(1);
        Some(BatchProgress {
            batch_id: id,
            scanned: batch.scanned.len(),
            total,
            missing: (0..batch.size)
                .filter(|i| !batch.scanned.contains(i))
                .filter_map(|i| usize::try_from(i + 1).ok())
                .collect(),
        })
    }
}

impl Vault {
    /// Adds every account the payloads carry, skipping ones already present. Transfer
    /// codes are counted in a collector of this call only; see [`Vault::add_scanned_into`].
    pub fn add_scanned(&self, payloads: &[String]) -> Result<ScanOutcome> {
        self.add_scanned_into(payloads, &ScanBatches::default())
    }

    /// Like [`Vault::add_scanned`], counting transfer codes in `batches`, which outlives
    /// the scan (the window keeps one), so a transfer can be scanned one code at a time.
    pub fn add_scanned_into(
        &self,
        payloads: &[String],
        batches: &ScanBatches,
    ) -> Result<ScanOutcome> {
        let mut outcome = ScanOutcome::default();
        let mut entries = Vec::new();
        let mut touched = Vec::new();
        for payload in payloads {
            let text = payload.trim();
            let lower = text.to_ascii_lowercase();
            if lower.starts_with("countersign:") {
                outcome.enroll_links.push(text.to_string());
            } else if lower.starts_with("otpauth-migration:") {
                match import::google::read_code(text) {
                    Ok(code) => {
                        if !touched.contains(&code.batch_id) {
                            touched.push(code.batch_id);
                        }
                        // A code scanned again: its accounts are in already.
                        if batches.record(code.batch_id, code.batch_size, code.batch_index) {
                            entries.extend(code.accounts.entries);
                            outcome.failed.extend(
                                code.accounts.errors.iter().map(ImportEntryError::to_string),
                            );
                        }
                    }
                    Err(reason) => outcome
                        .failed
                        .push(format!("Google Authenticator transfer: {reason}")),
                }
            } else if lower.starts_with("otpauth:") {
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
        outcome.batches = touched
            .into_iter()
            .filter_map(|id| batches.progress(id))
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_counted_per_batch_and_once_each() {
        let batches = ScanBatches::default();
        assert!(batches.record(7, 3, 0));
        assert!(batches.record(9, 2, 1));
        assert!(batches.record(7, 3, 2));
        assert!(!batches.record(7, 3, 2), "the same code again");
        let seven = batches.progress(7).unwrap();
        assert_eq!((seven.scanned, seven.total), (2, 3));
        assert_eq!(seven.missing, vec![2]);
        assert!(!seven.is_complete());
        assert!(batches.record(7, 3, 1));
        assert!(batches.progress(7).unwrap().is_complete());
        assert_eq!(batches.progress(9).unwrap().missing, vec![1]);
        assert_eq!(batches.progress(8), None);
    }
}

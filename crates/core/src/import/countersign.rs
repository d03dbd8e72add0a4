//! Our own encrypted backup (see [`crate::export::countersign`] and
//! `docs/BACKUP_FORMAT.md`), as one more importer.

use super::{Format, ImportResult, Importer, require_password};
use crate::error::Result;
use crate::export::countersign;

pub struct CountersignBackup;

impl Importer for CountersignBackup {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        countersign::is_backup(bytes).then_some(Format::Countersign)
    }

    fn import(&self, bytes: &[u8], password: Option<&str>) -> Result<ImportResult> {
        let password = require_password(password, Format::Countersign)?;
        countersign::decrypt(bytes, password)
    }
}

//! `enrollments.json`: push enrollments and the recent challenge history, without any
//! secret (keys live in the keychain, access tokens are never written). Same locking and
//! atomic replacement as `accounts.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::atomic_file;
use crate::error::{Error, Result};
use crate::verify::ServerConfig;
use crate::verify::device::ChallengeField;

const FILE_NAME: &str = "enrollments.json";
const LOCK_NAME: &str = "enrollments.lock";
const CURRENT_VERSION: u32 = 1;
/// How long answered/expired challenges stay in the history.
pub const HISTORY_DAYS: i64 = 7;
const HISTORY_MAX_ENTRIES: usize = 500;

/// Where an enrollment is. Each step is written before the next one starts, so a crash
/// leaves a state `resume_pending` knows how to finish or undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentState {
    /// Key generated (public key recorded); the keychain may not have it yet.
    KeyGenerated,
    /// Private key in the keychain; the factor may or may not exist on the server.
    KeyStored,
    /// The server created the factor (SIDs recorded); not verified yet.
    FactorCreated,
    /// Enrolled: answers challenges.
    Verified,
    /// Being removed (server first, then the record, then the key).
    Removing,
    /// Replaced by a re-enrollment while its key was lost: the key is deleted and the record
    /// stays only to remind the user that the service must remove factor `factor_sid`
    /// (`needs_service_removal`). Removing it locally is then all that is left to do.
    Retired,
}

impl EnrollmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentState::KeyGenerated => "key_generated",
            EnrollmentState::KeyStored => "key_stored",
            EnrollmentState::FactorCreated => "factor_created",
            EnrollmentState::Verified => "verified",
            EnrollmentState::Removing => "removing",
            EnrollmentState::Retired => "retired",
        }
    }
}

/// One push enrollment of this desktop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// Local id; the keychain entry is `push:<id>`.
    pub id: Uuid,
    pub state: EnrollmentState,
    pub server: ServerConfig,
    pub service_sid: String,
    pub identity: String,
    pub friendly_name: String,
    /// Base64 SPKI recorded at enrollment, so a key that changed later can be detected.
    pub public_key: String,
    #[serde(default)]
    pub factor_sid: Option<String>,
    #[serde(default)]
    pub credential_sid: Option<String>,
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The factor status the server last reported.
    #[serde(default)]
    pub factor_status: Option<String>,
    /// Server clock minus local clock (seconds), learnt from the server's `Date`.
    #[serde(default)]
    pub clock_offset_secs: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set on a re-enrollment: the enrollment this one replaces once verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Uuid>,
    /// Set on an enrollment being replaced: the re-enrollment under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<Uuid>,
    /// The factor was replaced but could not be deleted on the server (its key was lost):
    /// the service must remove `factor_sid`.
    #[serde(default)]
    pub needs_service_removal: bool,
    /// The outcome of the last health check, shown at start before a new check finishes.
    /// Decisions never rely on it: they always ask the server again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_health: Option<LastHealth>,
}

/// What the last health check found (a code of `push::health`, no secret, no message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastHealth {
    /// `healthy`, a problem code such as `key_missing`, or `keychain_locked`, `unreachable`…
    pub code: String,
    /// Local time (Unix seconds) of the check.
    pub checked_at: i64,
}

impl Enrollment {
    pub fn is_verified(&self) -> bool {
        self.state == EnrollmentState::Verified
    }

    /// Whether `query` names this enrollment: its id, factor SID or name.
    pub fn matches(&self, query: &str) -> bool {
        let query = query.trim();
        self.id.to_string() == query.to_ascii_lowercase()
            || self.factor_sid.as_deref() == Some(query)
            || self.friendly_name.eq_ignore_ascii_case(query)
    }
}

/// A challenge this desktop saw, kept for a few days so the user can see what was approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub challenge_sid: String,
    pub enrollment_id: Uuid,
    pub factor_sid: String,
    pub message: String,
    #[serde(default)]
    pub fields: Vec<ChallengeField>,
    /// `pending` while waiting; then `approved`, `denied` or `expired`.
    pub status: String,
    pub date_created: String,
    pub expiration_date: String,
    /// Whether this desktop sent the answer.
    #[serde(default)]
    pub answered_here: bool,
    /// Local time (Unix seconds) of the last change of this entry.
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnrollmentsFile {
    pub version: u32,
    #[serde(default)]
    pub enrollments: Vec<Enrollment>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

impl EnrollmentsFile {
    pub fn get(&self, id: Uuid) -> Result<&Enrollment> {
        self.enrollments
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::EnrollmentNotFound(id.to_string()))
    }

    pub fn get_mut(&mut self, id: Uuid) -> Result<&mut Enrollment> {
        self.enrollments
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::EnrollmentNotFound(id.to_string()))
    }

    /// Adds or replaces the history entry of a challenge, then drops old entries.
    pub fn record_history(&mut self, entry: HistoryEntry, now: i64) {
        match self
            .history
            .iter_mut()
            .find(|h| h.challenge_sid == entry.challenge_sid)
        {
            Some(existing) => *existing = entry,
            None => self.history.push(entry),
        }
        self.prune_history(now);
    }

    fn prune_history(&mut self, now: i64) {
        let cutoff = now - HISTORY_DAYS * 86_400;
        self.history.retain(|h| h.updated_at >= cutoff);
        self.history
            .sort_by_key(|h| std::cmp::Reverse(h.updated_at));
        self.history.truncate(HISTORY_MAX_ENTRIES);
    }
}

#[derive(Debug, Clone)]
pub struct EnrollmentStore {
    dir: PathBuf,
}

impl EnrollmentStore {
    pub fn open(dir: &Path) -> Self {
        EnrollmentStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// A consistent snapshot; an absent file is an empty one.
    pub fn load(&self) -> Result<EnrollmentsFile> {
        let _lock = atomic_file::lock(&self.dir.join(LOCK_NAME), false)?;
        self.read()
    }

    /// Runs `change` on the current contents and writes the result; nothing is written when
    /// `change` fails.
    pub fn update<T>(&self, change: impl FnOnce(&mut EnrollmentsFile) -> Result<T>) -> Result<T> {
        let _lock = atomic_file::lock(&self.dir.join(LOCK_NAME), true)?;
        let mut file = self.read()?;
        let out = change(&mut file)?;
        file.version = CURRENT_VERSION;
        let path = self.path();
        let json = serde_json::to_vec_pretty(&file).map_err(|e| Error::CorruptStore {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        atomic_file::write(&self.dir, &path, &json)?;
        Ok(out)
    }

    fn read(&self) -> Result<EnrollmentsFile> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(EnrollmentsFile {
                    version: CURRENT_VERSION,
                    ..EnrollmentsFile::default()
                });
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let file: EnrollmentsFile =
            serde_json::from_slice(&bytes).map_err(|e| Error::CorruptStore {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        if file.version > CURRENT_VERSION {
            return Err(Error::CorruptStore {
                path: path.display().to_string(),
                reason: format!(
                    "written by a newer Countersign (format {}; this one reads {CURRENT_VERSION})",
                    file.version
                ),
            });
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(sid: &str, updated_at: i64) -> HistoryEntry {
        HistoryEntry {
            challenge_sid: sid.into(),
            enrollment_id: Uuid::nil(),
            factor_sid: "YF1".into(),
            message: "Log in?".into(),
            fields: vec![],
            status: "approved".into(),
            date_created: "2026-01-01T00:00:00Z".into(),
            expiration_date: "2026-01-01T00:05:00Z".into(),
            answered_here: true,
            updated_at,
        }
    }

    #[test]
    fn an_absent_file_is_empty_and_changes_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = EnrollmentStore::open(dir.path());
        assert!(store.load().unwrap().enrollments.is_empty());
        store
            .update(|f| {
                f.record_history(history("YC1", 1000), 1000);
                Ok(())
            })
            .unwrap();
        let again = EnrollmentStore::open(dir.path()).load().unwrap();
        assert_eq!(again.history, vec![history("YC1", 1000)]);
        assert_eq!(again.version, CURRENT_VERSION);
    }

    #[test]
    fn history_replaces_by_sid_and_forgets_old_entries() {
        let mut file = EnrollmentsFile::default();
        let now = 100 * 86_400;
        file.record_history(history("YC-old", now - 8 * 86_400), now - 8 * 86_400);
        file.record_history(history("YC1", now - 10), now - 10);
        let mut newer = history("YC1", now);
        newer.status = "denied".into();
        file.record_history(newer.clone(), now);
        assert_eq!(file.history, vec![newer]);
    }

    #[test]
    fn a_damaged_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"[oops").unwrap();
        let store = EnrollmentStore::open(dir.path());
        assert_eq!(store.load().unwrap_err().code(), "corrupt_store");
        assert_eq!(
            store.update(|_| Ok(())).unwrap_err().code(),
            "corrupt_store"
        );
        assert_eq!(std::fs::read(store.path()).unwrap(), b"[oops");
    }
}

//! The metadata file (`accounts.json`): accounts without their secrets.
//!
//! Every change is a read-modify-write under an exclusive lock (so the app and the CLI can
//! run side by side) and lands atomically: temp file in the same directory, fsync, rename,
//! fsync of the directory. A reader sees the old file or the new one, never a mix.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::Account;
use crate::atomic_file;
use crate::error::{Error, Result};

const FILE_NAME: &str = "accounts.json";
const LOCK_NAME: &str = "accounts.lock";
const CURRENT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreFile {
    pub version: u32,
    /// Random id of this profile; keychain entries are namespaced by it so that two
    /// profiles (a test one and the user's) never see each other's secrets.
    pub vault_id: Uuid,
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// Where this profile was last opened (canonical path): a profile found elsewhere is a
    /// copy or a move (see `profile_copy`). Absent in files from older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_path: Option<PathBuf>,
}

impl StoreFile {
    fn new() -> Self {
        StoreFile {
            version: CURRENT_VERSION,
            vault_id: Uuid::new_v4(),
            accounts: Vec::new(),
            profile_path: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccountStore {
    dir: PathBuf,
}

impl AccountStore {
    /// Opens the store in `dir`, creating the directory and an empty file on first use.
    pub fn open(dir: &Path) -> Result<Self> {
        let store = AccountStore {
            dir: dir.to_path_buf(),
        };
        if !store.path().exists() {
            store.update(|_| Ok(()))?;
        }
        Ok(store)
    }

    pub fn path(&self) -> PathBuf {
        Self::file_in(&self.dir)
    }

    /// The account file of the profile in `dir`.
    pub fn file_in(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// A consistent snapshot of the file.
    pub fn load(&self) -> Result<StoreFile> {
        let _lock = self.lock(false)?;
        self.read()
    }

    /// Runs `change` on the current contents and writes the result; nothing is written when
    /// `change` fails.
    pub fn update<T>(&self, change: impl FnOnce(&mut StoreFile) -> Result<T>) -> Result<T> {
        let _lock = self.lock(true)?;
        // A writer killed mid-write left its temp file; under the lock none is in progress.
        atomic_file::remove_stale_temp_files(&self.dir, &self.path())?;
        let mut file = if self.path().exists() {
            self.read()?
        } else {
            StoreFile::new()
        };
        let out = change(&mut file)?;
        self.write(&file)?;
        Ok(out)
    }

    fn lock(&self, exclusive: bool) -> Result<File> {
        atomic_file::lock(&self.dir.join(LOCK_NAME), exclusive)
    }

    fn read(&self) -> Result<StoreFile> {
        let path = self.path();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let file: StoreFile = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptStore {
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

    fn write(&self, file: &StoreFile) -> Result<()> {
        let path = self.path();
        let json = serde_json::to_vec_pretty(file).map_err(|e| Error::CorruptStore {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        atomic_file::write(&self.dir, &path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::OtpParams;

    fn account(name: &str) -> Account {
        Account {
            id: Uuid::new_v4(),
            issuer: "Example".into(),
            name: name.into(),
            otp: OtpParams::totp_default(),
            created_at: 0,
            pinned: false,
            icon: None,
        }
    }

    #[test]
    fn changes_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AccountStore::open(dir.path()).expect("open");
        let vault_id = store.load().expect("load").vault_id;
        store
            .update(|f| {
                f.accounts.push(account("alice"));
                Ok(())
            })
            .expect("update");
        let reopened = AccountStore::open(dir.path())
            .expect("reopen")
            .load()
            .expect("load");
        assert_eq!(reopened.vault_id, vault_id);
        assert_eq!(reopened.accounts.len(), 1);
        assert_eq!(reopened.accounts[0].name, "alice");
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AccountStore::open(dir.path()).expect("open");
        let before = std::fs::read(store.path()).expect("read");
        let result: Result<()> = store.update(|f| {
            f.accounts.push(account("bob"));
            Err(Error::AccountNotFound("x".into()))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(store.path()).expect("read"), before);
    }

    #[test]
    fn a_damaged_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), b"{ not json").expect("write");
        let err = AccountStore::open(dir.path())
            .and_then(|s| s.load())
            .expect_err("must refuse");
        assert_eq!(err.code(), "corrupt_store");
        assert_eq!(
            std::fs::read(dir.path().join(FILE_NAME)).expect("read"),
            b"{ not json"
        );
    }

    #[test]
    fn no_temp_files_are_left_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AccountStore::open(dir.path()).expect("open");
        for i in 0..5 {
            store
                .update(|f| {
                    f.accounts.push(account(&format!("user{i}")));
                    Ok(())
                })
                .expect("update");
        }
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn the_next_change_removes_what_a_killed_writer_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AccountStore::open(dir.path()).expect("open");
        let stale = dir.path().join(".accounts.Xy12ab.tmp");
        std::fs::write(&stale, b"{ \"version\": 1, \"vau").expect("write");
        assert_eq!(store.load().expect("load").accounts.len(), 0);
        store
            .update(|f| {
                f.accounts.push(account("carol"));
                Ok(())
            })
            .expect("update");
        assert!(!stale.exists(), "the half-written temp file is still there");
    }
}

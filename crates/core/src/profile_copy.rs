//! A profile directory copied elsewhere (`cp -a`, a backup restored beside the original)
//! carries the original's vault id, so both would use the same keychain entries: deleting an
//! account in one would take the secret from the other, and each would see the other's new
//! push keys as keys nobody owns.
//!
//! The account file records where its profile lives. A profile found somewhere else while
//! the recorded place still holds a profile with the same vault id is a copy: it gets a
//! vault id of its own, with copies of the secrets its accounts and enrollments use, and the
//! original's entries are never touched. One whose recorded place no longer holds that vault
//! is a moved profile and keeps its entries.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::keychain::{SecretKey, SecretStore};
use crate::profile::Profile;
use crate::push::store::EnrollmentStore;
use crate::store::{AccountStore, StoreFile};

/// What opening the profile found out about where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfilePlace {
    /// Where it was last opened (or opened for the first time).
    Here,
    /// Moved from `from`, which no longer holds it.
    Moved { from: PathBuf },
    /// A copy of the profile at `from`, now with keychain entries of its own.
    Copied { from: PathBuf },
}

/// The profile's vault id, after giving a copied profile its own (see the module docs).
pub fn own_vault_id(profile: &Profile, store: &AccountStore) -> Result<(Uuid, ProfilePlace)> {
    let here = canonical(profile.data_dir())?;
    let file = store.load()?;
    if file.profile_path.as_deref() == Some(here.as_path()) {
        return Ok((file.vault_id, ProfilePlace::Here));
    }
    // Settled under the store's lock, so two processes starting a copy at once agree.
    store.update(|file| {
        let place = match file.profile_path.clone() {
            None => ProfilePlace::Here,
            Some(recorded) if recorded == here => ProfilePlace::Here,
            Some(recorded) if is_same_directory(&recorded, &here) => ProfilePlace::Here,
            Some(recorded) if holds_vault(&recorded, file.vault_id) => {
                file.vault_id = copy_secrets(profile, file)?;
                ProfilePlace::Copied { from: recorded }
            }
            Some(recorded) => ProfilePlace::Moved { from: recorded },
        };
        file.profile_path = Some(here.clone());
        Ok((file.vault_id, place))
    })
}

fn canonical(dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))
}

/// Whether `dir` still holds a profile with `vault_id` (unreadable counts as no).
fn holds_vault(dir: &Path, vault_id: Uuid) -> bool {
    std::fs::read(AccountStore::file_in(dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<StoreFile>(&bytes).ok())
        .is_some_and(|file| file.vault_id == vault_id)
}

/// The same directory under another name (a bind mount, a renamed parent seen twice).
#[cfg(unix)]
fn is_same_directory(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_same_directory(_a: &Path, _b: &Path) -> bool {
    false
}

/// Copies every secret this profile's records use into a new namespace and returns its id.
/// The old entries stay: they belong to the original. A crash halfway leaves unused copies
/// under an id nobody records, never a missing secret.
fn copy_secrets(profile: &Profile, file: &StoreFile) -> Result<Uuid> {
    let old = SecretStore::open(file.vault_id)?;
    let new_id = Uuid::new_v4();
    let new = SecretStore::open(new_id)?;
    let accounts = file
        .accounts
        .iter()
        .map(|a| (SecretKey::otp(a.id), a.display_name()));
    let enrollments = EnrollmentStore::open(profile.data_dir())
        .load()?
        .enrollments;
    let push_keys = enrollments
        .iter()
        .map(|e| (SecretKey::push(e.id), e.friendly_name.clone()));
    for (key, label) in accounts.chain(push_keys) {
        if let Some(secret) = old.get(key)? {
            new.put(key, &label, &secret)?;
        }
    }
    Ok(new_id)
}

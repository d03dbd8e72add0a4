//! Accounts = metadata in [`AccountStore`] + secret in [`SecretStore`], kept consistent.
//!
//! Order of writes is chosen so that a crash can only leave a keychain entry no account
//! owns (found and offered for clean-up at start), never an account without its secret:
//! adding writes the secret first, deleting removes the metadata first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use uuid::Uuid;

use crate::account::{Account, AccountEdit};
use crate::error::{Error, Result};
use crate::keychain::{SecretKey, SecretKind, SecretStore};
use crate::otp::{self, OtpKind};
use crate::otpauth::OtpAuthUri;
use crate::profile::Profile;
use crate::secret::SecretBytes;
use crate::store::AccountStore;

/// The code of one account at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Code {
    pub id: Uuid,
    pub code: String,
    /// The code after this one (TOTP/Steam), shown when the current one is about to expire.
    pub next_code: Option<String>,
    /// Seconds the current code stays valid (TOTP/Steam).
    pub remaining: Option<u32>,
    pub period: u32,
}

/// Codes of every account that has one, and why the others have none.
#[derive(Debug)]
pub struct Codes {
    pub codes: Vec<Code>,
    pub failures: Vec<(Uuid, Error)>,
}

pub struct Vault {
    store: AccountStore,
    secrets: SecretStore,
    /// Secrets already read this session, so rendering codes doesn't hit D-Bus every second.
    cache: Mutex<HashMap<Uuid, SecretBytes>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.store)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Vault {
    pub fn open(profile: &Profile) -> Result<Self> {
        profile.ensure_exists()?;
        let store = AccountStore::open(profile.data_dir())?;
        let (vault_id, _) = crate::profile_copy::own_vault_id(profile, &store)?;
        let secrets = SecretStore::open(vault_id)?;
        Ok(Vault {
            store,
            secrets,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        Ok(self.store.load()?.accounts)
    }

    pub fn add_uri(&self, uri: &str) -> Result<Account> {
        self.add(OtpAuthUri::parse(uri)?)
    }

    pub fn add(&self, parsed: OtpAuthUri) -> Result<Account> {
        parsed.params.validate()?;
        let account = Account {
            id: Uuid::new_v4(),
            issuer: parsed.issuer.clone().unwrap_or_default(),
            name: parsed.account_name.clone(),
            otp: parsed.params.clone(),
            created_at: unix_now() as i64,
            pinned: false,
            icon: None,
        };
        let key = SecretKey::otp(account.id);
        self.secrets
            .put(key, &account.display_name(), &keychain_form(&parsed.secret))?;
        crate::crash_point::reached(crate::crash_point::AFTER_KEYCHAIN_WRITE);
        let stored = self.store.update(|file| {
            file.accounts.push(account.clone());
            Ok(())
        });
        if let Err(e) = stored {
            // Best effort: the entry would otherwise be an orphan until the next start-up check.
            let _ = self.secrets.delete(key);
            return Err(e);
        }
        self.cache_secret(account.id, parsed.secret.clone());
        Ok(account)
    }

    /// Finds one account by id, `issuer:name`, issuer or name.
    pub fn find(&self, query: &str) -> Result<Account> {
        let accounts = self.accounts()?;
        if let Ok(id) = Uuid::parse_str(query.trim())
            && let Some(account) = accounts.iter().find(|a| a.id == id)
        {
            return Ok(account.clone());
        }
        let mut matches = accounts.into_iter().filter(|a| a.matches(query));
        match (matches.next(), matches.next()) {
            (Some(account), None) => Ok(account),
            (Some(_), Some(_)) => Err(Error::AmbiguousAccount(query.to_string())),
            (None, _) => Err(Error::AccountNotFound(query.to_string())),
        }
    }

    pub fn delete(&self, id: Uuid) -> Result<Account> {
        let removed = self.store.update(|file| {
            let index = file
                .accounts
                .iter()
                .position(|a| a.id == id)
                .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
            Ok(file.accounts.remove(index))
        })?;
        self.lock_cache().remove(&id);
        self.secrets.delete(SecretKey::otp(id))?;
        Ok(removed)
    }

    /// The code account `id` would show at `unix_time` with `params` instead of its own: the
    /// live preview of the edit dialog, so a change is seen before it is saved.
    pub fn preview_params(
        &self,
        id: Uuid,
        params: &crate::otp::OtpParams,
        unix_time: u64,
    ) -> Result<crate::manual_entry::ManualPreview> {
        let account = self
            .accounts()?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
        let secret = self.secret(&account)?;
        Ok(crate::manual_entry::preview_with_secret(
            params, &secret, unix_time,
        ))
    }

    /// Renames, pins or re-icons an account. The keychain entry is keyed by id, so it needs
    /// no change.
    pub fn edit(&self, id: Uuid, edit: &AccountEdit) -> Result<Account> {
        self.store.update(|file| {
            let account = file
                .accounts
                .iter_mut()
                .find(|a| a.id == id)
                .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
            edit.apply(account)?;
            Ok(account.clone())
        })
    }

    /// Puts the accounts in the order of `ids`, which must name every account exactly once.
    pub fn reorder(&self, ids: &[Uuid]) -> Result<()> {
        self.store.update(|file| {
            let mut ordered = Vec::with_capacity(file.accounts.len());
            for id in ids {
                let index = file
                    .accounts
                    .iter()
                    .position(|a| a.id == *id)
                    .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
                ordered.push(file.accounts.swap_remove(index));
            }
            if !file.accounts.is_empty() {
                return Err(Error::InvalidAccount {
                    field: "order",
                    reason: format!(
                        "the new order leaves out {} account(s)",
                        file.accounts.len()
                    ),
                });
            }
            file.accounts = ordered;
            Ok(())
        })
    }

    /// The current code of an account (for HOTP: the code at its stored counter).
    pub fn code(&self, id: Uuid, unix_time: u64) -> Result<Code> {
        self.code_of(&self.account(id)?, unix_time)
    }

    fn code_of(&self, account: &Account, unix_time: u64) -> Result<Code> {
        let id = account.id;
        let secret = self.secret(account)?;
        let params = &account.otp;
        let code = otp::generate(params, &secret, unix_time)?;
        let (next_code, remaining) = match params.kind {
            OtpKind::Hotp => (None, None),
            OtpKind::Totp | OtpKind::Steam => (
                Some(otp::generate(
                    params,
                    &secret,
                    unix_time + u64::from(params.period),
                )?),
                otp::seconds_remaining(params, unix_time),
            ),
        };
        Ok(Code {
            id,
            code,
            next_code,
            remaining,
            period: params.period,
        })
    }

    /// Codes of every account whose secret is readable; accounts with a missing secret are
    /// reported separately instead of failing the whole list.
    pub fn codes(&self, unix_time: u64) -> Result<Codes> {
        let mut codes = Vec::new();
        let mut failures = Vec::new();
        // One read of the metadata for all: the window asks every second, for every account.
        for account in self.accounts()? {
            match self.code_of(&account, unix_time) {
                Ok(code) => codes.push(code),
                Err(e @ (Error::KeychainUnavailable { .. } | Error::KeychainLocked(_))) => {
                    return Err(e);
                }
                Err(e) => failures.push((account.id, e)),
            }
        }
        Ok(Codes { codes, failures })
    }

    /// HOTP: moves the counter on and returns the new code. The counter is persisted before
    /// the code is returned, so a shown code is never shown again after a crash.
    pub fn next_hotp(&self, id: Uuid) -> Result<Code> {
        self.store.update(|file| {
            let account = file
                .accounts
                .iter_mut()
                .find(|a| a.id == id)
                .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
            if account.otp.kind != OtpKind::Hotp {
                return Err(Error::InvalidAccount {
                    field: "type",
                    reason: "only HOTP accounts have a counter".into(),
                });
            }
            account.otp.counter = account.otp.counter.saturating_add(1);
            Ok(())
        })?;
        self.code(id, unix_now())
    }

    /// Keychain entries of this profile that no account owns (left by a crash or an old
    /// install). Push keys are owned by enrollments, which are not checked here.
    pub fn orphaned_secrets(&self) -> Result<Vec<SecretKey>> {
        let accounts = self.accounts()?;
        Ok(self
            .secrets
            .list()?
            .into_iter()
            .filter(|k| k.kind == SecretKind::Otp && !accounts.iter().any(|a| a.id == k.id))
            .collect())
    }

    /// For `secret_health`, which checks and repairs the pairing of accounts and entries.
    pub(crate) fn parts(&self) -> (&AccountStore, &SecretStore) {
        (&self.store, &self.secrets)
    }

    /// Drops a cached seed (its keychain entry changed or went away).
    pub(crate) fn uncache(&self, id: Uuid) {
        self.lock_cache().remove(&id);
    }

    fn account(&self, id: Uuid) -> Result<Account> {
        self.accounts()?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| Error::AccountNotFound(id.to_string()))
    }

    fn secret(&self, account: &Account) -> Result<SecretBytes> {
        if let Some(secret) = self.lock_cache().get(&account.id) {
            return Ok(secret.clone());
        }
        let stored = self
            .secrets
            .get(SecretKey::otp(account.id))?
            .ok_or_else(|| Error::SecretMissing {
                account: account.display_name(),
            })?;
        let secret = std::str::from_utf8(stored.expose())
            .ok()
            .and_then(|text| otp::decode_secret(text).ok())
            .ok_or_else(|| {
                Error::Keychain(format!(
                    "the keychain entry of {} is not a base32 secret",
                    account.display_name()
                ))
            })?;
        self.cache_secret(account.id, secret.clone());
        Ok(secret)
    }

    fn cache_secret(&self, id: Uuid, secret: SecretBytes) {
        self.lock_cache().insert(id, secret);
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, SecretBytes>> {
        // A poisoned cache only means a panic elsewhere; the data is still valid.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- Import and export (crate::import, crate::export) ----

    /// Every account with its secret, in list order, for exporting. Fails if any secret
    /// cannot be read: an export silently missing accounts would only be found out when
    /// it is needed.
    pub fn export_entries(&self) -> Result<Vec<OtpAuthUri>> {
        self.accounts()?
            .iter()
            .map(|account| self.entry_with_secret(account))
            .collect()
    }

    /// Adds imported accounts. With `skip_duplicates`, entries that would show the same
    /// codes as an account already here, or as an earlier entry, are skipped and listed.
    /// An unreachable or locked keychain stops the import (every later entry would fail
    /// the same way; those added so far stay); other refusals are listed per entry.
    pub fn import(
        &self,
        entries: Vec<OtpAuthUri>,
        skip_duplicates: bool,
    ) -> Result<crate::import::ImportReport> {
        use crate::import::{Duplicate, ImportFailure, SkippedDuplicate, display_name};
        let mut existing = Vec::new();
        if skip_duplicates {
            for account in self.accounts()? {
                match self.entry_with_secret(&account) {
                    Ok(entry) => existing.push(entry),
                    Err(e @ (Error::KeychainUnavailable { .. } | Error::KeychainLocked(_))) => {
                        return Err(e);
                    }
                    // An account whose secret is gone can't be compared; it is not in the way.
                    Err(_) => {}
                }
            }
        }
        let duplicates = crate::import::find_duplicates(&existing, &entries);
        let labels: Vec<String> = entries.iter().map(display_name).collect();
        let mut report = crate::import::ImportReport::default();
        for (index, (entry, duplicate)) in entries.into_iter().zip(duplicates).enumerate() {
            if skip_duplicates && let Some(duplicate) = duplicate {
                let duplicate_of = match duplicate {
                    Duplicate::Existing(i) => display_name(&existing[i]),
                    Duplicate::Imported(i) => labels[i].clone(),
                };
                report.skipped_duplicates.push(SkippedDuplicate {
                    label: labels[index].clone(),
                    duplicate_of,
                });
                continue;
            }
            match self.add(entry) {
                Ok(account) => report.added.push(account),
                Err(e @ (Error::KeychainUnavailable { .. } | Error::KeychainLocked(_))) => {
                    return Err(e);
                }
                Err(error) => report.failed.push(ImportFailure {
                    label: labels[index].clone(),
                    error,
                }),
            }
        }
        Ok(report)
    }

    fn entry_with_secret(&self, account: &Account) -> Result<OtpAuthUri> {
        Ok(OtpAuthUri {
            issuer: Some(account.issuer.clone()).filter(|i| !i.is_empty()),
            account_name: account.name.clone(),
            params: account.otp.clone(),
            secret: self.secret(account)?,
        })
    }
}

/// Seeds are kept in the keychain as base32 text, the form users know from `otpauth://`
/// links, so a keychain browser (Seahorse, Keychain Access) shows something recoverable.
fn keychain_form(secret: &SecretBytes) -> SecretBytes {
    SecretBytes::new(otp::encode_secret(secret).into_bytes())
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

//! The one-time-code side of health: accounts whose secret is gone from the keychain (a
//! wiped or replaced keychain; the fix is a re-scan or a restore from backup), and keychain
//! entries no account owns (left by a crash or an older install; adopt or delete them).
//!
//! Checks list the keychain (one call, attributes only) rather than reading each secret, so
//! they never prompt for more than the keychain itself and never touch the code cache.

use serde::Serialize;
use uuid::Uuid;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::keychain::{SecretKey, SecretKind};
use crate::otp::{self, OtpParams};
use crate::vault::{Vault, unix_now};

/// An account whose secret the keychain no longer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingSecret {
    pub account_id: Uuid,
    pub issuer: String,
    pub name: String,
    pub code: &'static str,
    pub cause: String,
    pub next_step: &'static str,
}

/// A keychain entry of this profile that no account owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanedSecret {
    /// The id in the entry's name (`otp:<id>`); pass it to adopt or delete the entry.
    pub id: Uuid,
    pub code: &'static str,
    pub cause: &'static str,
    pub next_step: &'static str,
}

/// Both kinds of trouble; empty lists mean the accounts and the keychain agree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecretHealth {
    pub missing: Vec<MissingSecret>,
    pub orphaned: Vec<OrphanedSecret>,
}

impl SecretHealth {
    pub fn is_healthy(&self) -> bool {
        self.missing.is_empty() && self.orphaned.is_empty()
    }
}

impl Vault {
    /// Accounts without their secret and secrets without their account.
    pub fn secret_health(&self) -> Result<SecretHealth> {
        let (store, secrets) = self.parts();
        let accounts = store.load()?.accounts;
        let keys = secrets.list()?;
        let missing = accounts
            .iter()
            .filter(|a| !keys.contains(&SecretKey::otp(a.id)))
            .map(|a| MissingSecret {
                account_id: a.id,
                issuer: a.issuer.clone(),
                name: a.name.clone(),
                code: "secret_missing",
                cause: format!(
                    "The keychain no longer has the secret of {} (it was wiped, reset or \
                     replaced), so no codes can be shown for it.",
                    a.display_name()
                ),
                next_step: "Scan the account's QR code again (from the service's security \
                            settings), or restore it from a Countersign backup.",
            })
            .collect();
        let orphaned = keys
            .iter()
            .filter(|k| k.kind == SecretKind::Otp && !accounts.iter().any(|a| a.id == k.id))
            .map(|k| OrphanedSecret {
                id: k.id,
                code: "orphaned_secret",
                cause: "The keychain holds a one-time-code secret that no account uses (left \
                        by an interrupted change or an older installation).",
                next_step: "Adopt it as an account (give it a name), or delete it.",
            })
            .collect();
        Ok(SecretHealth { missing, orphaned })
    }

    /// Turns an orphaned entry into an account named `issuer`/`name` with `params`. The entry
    /// is reused as it is (it already holds the seed), so nothing secret is rewritten.
    pub fn adopt_orphan(
        &self,
        id: Uuid,
        issuer: &str,
        name: &str,
        params: OtpParams,
    ) -> Result<Account> {
        params.validate()?;
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::InvalidAccount {
                field: "name",
                reason: "the account name cannot be empty".into(),
            });
        }
        let (store, secrets) = self.parts();
        let key = SecretKey::otp(id);
        let stored = secrets
            .get(key)?
            .ok_or_else(|| Error::AccountNotFound(format!("keychain entry otp:{id}")))?;
        // Only a readable seed is worth an account; anything else would show no codes.
        let readable = std::str::from_utf8(stored.expose())
            .ok()
            .is_some_and(|text| otp::decode_secret(text).is_ok());
        if !readable {
            return Err(Error::Keychain(format!(
                "the keychain entry otp:{id} does not hold a base32 secret"
            )));
        }
        let account = Account {
            id,
            issuer: issuer.trim().to_string(),
            name: name.to_string(),
            otp: params,
            created_at: unix_now() as i64,
            pinned: false,
            icon: None,
        };
        store.update(|file| {
            if file.accounts.iter().any(|a| a.id == id) {
                return Err(Error::InvalidAccount {
                    field: "id",
                    reason: "an account already owns this keychain entry".into(),
                });
            }
            file.accounts.push(account.clone());
            Ok(())
        })?;
        self.uncache(id);
        Ok(account)
    }

    /// Deletes an orphaned entry; refuses an entry an account owns. `false` when it was
    /// already gone.
    pub fn delete_orphan(&self, id: Uuid) -> Result<bool> {
        let (store, secrets) = self.parts();
        if store.load()?.accounts.iter().any(|a| a.id == id) {
            return Err(Error::InvalidAccount {
                field: "id",
                reason: "this secret belongs to an account; delete the account instead".into(),
            });
        }
        self.uncache(id);
        secrets.delete(SecretKey::otp(id))
    }
}

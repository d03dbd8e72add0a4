//! Secrets in the OS keychain (keyring v4: `keyring-core` plus one store per platform):
//! Secret Service on Linux, Keychain on macOS, Credential Manager on Windows.
//!
//! Entries are namespaced: service = `countersign:<vault id>`, user = `<kind>:<id>`, so one
//! profile never reads or deletes another's entries, and a profile's entries can be listed
//! (to find secrets no account owns). There is no fallback to a file: when no keychain can be
//! reached, callers get `KeychainUnavailable` with the cause and what to do.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

const SERVICE_PREFIX: &str = "countersign:";

/// What a keychain entry holds; part of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The seed of a TOTP/HOTP account.
    Otp,
    /// The P-256 private key of a push factor.
    PushKey,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::Otp => "otp",
            SecretKind::PushKey => "push",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretKey {
    pub kind: SecretKind,
    pub id: Uuid,
}

impl SecretKey {
    pub fn otp(id: Uuid) -> Self {
        SecretKey {
            kind: SecretKind::Otp,
            id,
        }
    }

    pub fn push(id: Uuid) -> Self {
        SecretKey {
            kind: SecretKind::PushKey,
            id,
        }
    }

    fn user(&self) -> String {
        format!("{}:{}", self.kind.prefix(), self.id)
    }

    fn parse_user(user: &str) -> Option<Self> {
        let (prefix, id) = user.split_once(':')?;
        let kind = match prefix {
            "otp" => SecretKind::Otp,
            "push" => SecretKind::PushKey,
            _ => return None,
        };
        Some(SecretKey {
            kind,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// The keychain, as seen by one profile.
pub struct SecretStore {
    store: Arc<CredentialStore>,
    service: String,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("service", &self.service)
            .finish()
    }
}

impl SecretStore {
    /// Connects to the platform keychain and checks that it answers.
    pub fn open(vault_id: Uuid) -> Result<Self> {
        let store = platform_store()?;
        let secrets = SecretStore {
            store,
            service: format!("{SERVICE_PREFIX}{vault_id}"),
        };
        // Listing proves the service is reachable and unlocked before the user types anything.
        secrets.list()?;
        Ok(secrets)
    }

    pub fn put(&self, key: SecretKey, label: &str, secret: &SecretBytes) -> Result<()> {
        self.entry(key, Some(label))?
            .set_secret(secret.expose())
            .map_err(map_error)
    }

    /// The secret, or `None` when the keychain has no entry for it.
    pub fn get(&self, key: SecretKey) -> Result<Option<SecretBytes>> {
        match self.entry(key, None)?.get_secret() {
            Ok(bytes) => Ok(Some(SecretBytes::new(bytes))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// Removes the entry; `false` when there was none (removing twice is not an error).
    pub fn delete(&self, key: SecretKey) -> Result<bool> {
        match self.entry(key, None)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(e)),
        }
    }

    /// Every entry of this profile, by key.
    pub fn list(&self) -> Result<Vec<SecretKey>> {
        let spec = HashMap::from([("service", self.service.as_str())]);
        let entries = Entry::search_in_store(&self.store, &spec).map_err(map_error)?;
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let attributes = entry.get_attributes().map_err(map_error)?;
            if let Some(key) = attributes
                .get("username")
                .and_then(|u| SecretKey::parse_user(u))
            {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    fn entry(&self, key: SecretKey, label: Option<&str>) -> Result<Entry> {
        let user = key.user();
        let result = match label {
            Some(label) => {
                let label = format!("Countersign: {label}");
                let modifiers = HashMap::from([("label", label.as_str())]);
                Entry::new_in_store_with_modifiers(&self.store, &self.service, &user, &modifiers)
            }
            None => Entry::new_in_store(&self.store, &self.service, &user),
        };
        result.map_err(map_error)
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Arc<CredentialStore>> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && !std::env::var_os("XDG_RUNTIME_DIR")
            .map(|dir| std::path::Path::new(&dir).join("bus").exists())
            .unwrap_or(false)
    {
        return Err(Error::KeychainUnavailable {
            cause: "there is no D-Bus session bus".into(),
            hint: "Start Countersign from a desktop session, or run it under `dbus-run-session` with a Secret Service such as gnome-keyring.",
        });
    }
    let store = zbus_secret_service_keyring_store::Store::new().map_err(map_error)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<Arc<CredentialStore>> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(map_error)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<Arc<CredentialStore>> {
    let store = windows_native_keyring_store::Store::new().map_err(map_error)?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<Arc<CredentialStore>> {
    Err(Error::KeychainUnavailable {
        cause: "this platform has no supported keychain".into(),
        hint: "Countersign supports Linux (Secret Service), macOS and Windows.",
    })
}

/// Turns keyring errors into ours, naming the cause in words a user can act on.
fn map_error(err: keyring_core::Error) -> Error {
    use keyring_core::Error as K;
    match err {
        K::NoStorageAccess(cause) => Error::KeychainLocked(cause.to_string()),
        K::PlatformFailure(cause) => classify_platform_failure(&cause.to_string()),
        K::NoDefaultStore => Error::KeychainUnavailable {
            cause: "no keychain store is configured".into(),
            hint: "This is a bug in Countersign; please report it.",
        },
        // Never echo secret bytes that BadEncoding/BadDataFormat carry.
        K::BadEncoding(_) | K::BadDataFormat(..) => {
            Error::Keychain("a keychain entry holds data in an unexpected format".into())
        }
        other => Error::Keychain(other.to_string()),
    }
}

fn classify_platform_failure(text: &str) -> Error {
    if text.contains("ServiceUnknown")
        || text.contains("org.freedesktop.secrets")
        || text.contains("was not provided by any .service files")
    {
        Error::KeychainUnavailable {
            cause: "no Secret Service provider is running on the session bus".into(),
            hint: "Install and start gnome-keyring (or another Secret Service such as KeePassXC) and log in again.",
        }
    } else if text.contains("Address") || text.contains("connect") || text.contains("No such file")
    {
        Error::KeychainUnavailable {
            cause: format!("the D-Bus session bus cannot be reached ({text})"),
            hint: "Start Countersign from a desktop session, or run it under `dbus-run-session` with a Secret Service such as gnome-keyring.",
        }
    } else {
        Error::KeychainUnavailable {
            cause: text.to_string(),
            hint: "Check that your keyring service is running and unlocked.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_round_trip() {
        let key = SecretKey::push(Uuid::new_v4());
        assert_eq!(SecretKey::parse_user(&key.user()), Some(key));
        assert_eq!(SecretKey::parse_user("other:thing"), None);
        assert_eq!(SecretKey::parse_user("otp:not-a-uuid"), None);
    }

    #[test]
    fn a_missing_provider_is_explained() {
        let err = classify_platform_failure(
            "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided",
        );
        assert_eq!(err.code(), "keychain_unavailable");
        assert!(err.to_string().contains("gnome-keyring"), "{err}");
    }
}

//! What the app holds while it runs: the profile and, once the keychain answered, the vault.

use std::sync::{Arc, Mutex};

use countersign_core::Error;
use countersign_core::profile::Profile;
use countersign_core::vault::Vault;

pub struct AppState {
    pub profile: Profile,
    vault: Mutex<Result<Arc<Vault>, Arc<Error>>>,
}

impl AppState {
    pub fn new(profile: Profile) -> Self {
        let vault = Vault::open(&profile).map(Arc::new).map_err(Arc::new);
        if let Err(e) = &vault {
            tracing::warn!(code = e.code(), "vault unavailable: {e}");
        }
        AppState {
            profile,
            vault: Mutex::new(vault),
        }
    }

    /// The vault, or why it can't be used (e.g. no keychain).
    pub fn vault(&self) -> Result<Arc<Vault>, Arc<Error>> {
        self.lock().clone()
    }

    /// Takes the result of opening the vault again (after the user started or unlocked the
    /// keychain), unless a working vault is already in place.
    pub fn replace_if_failed(
        &self,
        opened: Result<Vault, Error>,
    ) -> Result<Arc<Vault>, Arc<Error>> {
        let mut guard = self.lock();
        if guard.is_err() {
            *guard = opened.map(Arc::new).map_err(Arc::new);
        }
        guard.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Result<Arc<Vault>, Arc<Error>>> {
        self.vault.lock().unwrap_or_else(|p| p.into_inner())
    }
}

//! What the app holds while it runs: the profile, its settings and, once the keychain
//! answered, the vault.

use std::sync::{Arc, Mutex, OnceLock};

use countersign_core::Error;
use countersign_core::clipboard::CodeClipboard;
use countersign_core::profile::Profile;
use countersign_core::push::PushManager;
use countersign_core::settings::Settings;
use countersign_core::vault::Vault;

pub struct AppState {
    pub profile: Profile,
    vault: Mutex<Result<Arc<Vault>, Arc<Error>>>,
    push: Mutex<Result<Arc<PushManager>, Arc<Error>>>,
    /// PEM of an extra CA for Verify servers enrolled from links (the local demo server).
    pub verify_ca: Option<String>,
    settings: Mutex<Settings>,
    /// Opened on first copy: it needs the display, and most sessions never copy.
    clipboard: OnceLock<Result<CodeClipboard, Arc<Error>>>,
}

impl AppState {
    pub fn new(profile: Profile, verify_ca: Option<String>) -> Self {
        let vault = Vault::open(&profile).map(Arc::new).map_err(Arc::new);
        let push = PushManager::open(&profile).map(Arc::new).map_err(Arc::new);
        if let Err(e) = &vault {
            tracing::warn!(code = e.code(), "vault unavailable: {e}");
        }
        let settings = Settings::load(profile.data_dir()).unwrap_or_else(|e| {
            tracing::warn!(code = e.code(), "settings unreadable, using defaults: {e}");
            Settings::default()
        });
        AppState {
            profile,
            vault: Mutex::new(vault),
            push: Mutex::new(push),
            verify_ca,
            settings: Mutex::new(settings),
            clipboard: OnceLock::new(),
        }
    }

    /// The vault, or why it can't be used (e.g. no keychain).
    pub fn vault(&self) -> Result<Arc<Vault>, Arc<Error>> {
        lock(&self.vault).clone()
    }

    /// Takes the result of opening the vault again (after the user started or unlocked the
    /// keychain), unless a working vault is already in place.
    pub fn replace_if_failed(
        &self,
        opened: Result<Vault, Error>,
    ) -> Result<Arc<Vault>, Arc<Error>> {
        let mut guard = lock(&self.vault);
        if guard.is_err() {
            *guard = opened.map(Arc::new).map_err(Arc::new);
        }
        guard.clone()
    }

    pub fn push(&self) -> Result<Arc<PushManager>, Arc<Error>> {
        lock(&self.push).clone()
    }

    /// Like [`AppState::replace_if_failed`], for the push side.
    pub fn replace_push_if_failed(
        &self,
        opened: Result<PushManager, Error>,
    ) -> Result<Arc<PushManager>, Arc<Error>> {
        let mut guard = lock(&self.push);
        if guard.is_err() {
            *guard = opened.map(Arc::new).map_err(Arc::new);
        }
        guard.clone()
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn save_settings(&self, settings: Settings) -> Result<(), Error> {
        settings.save(self.profile.data_dir())?;
        *lock(&self.settings) = settings;
        Ok(())
    }

    pub fn clipboard(&self) -> Result<&CodeClipboard, Arc<Error>> {
        self.clipboard
            .get_or_init(|| CodeClipboard::open().map_err(Arc::new))
            .as_ref()
            .map_err(Arc::clone)
    }
}

/// Locks `m`, carrying on after a panic elsewhere: the shell's shared state stays
/// consistent between statements, so a poisoned lock holds nothing half-done.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

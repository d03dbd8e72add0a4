//! This desktop as a Verify push factor (PROTOCOL.md §4): enrollment from a
//! `countersign://enroll` link, pending challenges, approve/deny, and the polling schedule.
//!
//! - [`link`]: the enrollment link.
//! - [`store`]: `enrollments.json` (enrollments + recent challenge history, no secrets).
//! - [`enroll`]: enrollment steps, crash recovery (`resume_pending`), rename, removal.
//! - [`challenges`]: listing and answering challenges.
//! - [`poll`]: when to poll (pure logic, injectable clock).
//! - [`watch`]: the poll loop's body: polls what is due, reports each outcome.
//! - [`health`]: the one place that decides whether a factor still works, and why not.
//! - [`reenroll`]: replacing a broken factor with a new one without losing anything.
//!
//! Private keys live only in the OS keychain (`push:<enrollment id>`). Keychain calls block
//! on D-Bus, so the async methods run them on tokio's blocking pool.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::keychain::{SecretKey, SecretStore};
use crate::profile::Profile;
use crate::store::AccountStore;
use crate::verify::{ClientOptions, DeviceFactor, PushKey, ServerConfig, VerifyClient};

pub mod challenges;
pub mod enroll;
pub mod health;
pub mod link;
pub mod poll;
pub mod reenroll;
pub mod store;
pub mod watch;

pub use challenges::{ChallengeList, Decision, PendingChallenge, ShownChallenge};
pub use enroll::{PendingEnrollment, ResumeReport};
pub use health::{FactorHealth, FactorProblem, HealthAction, HealthReport};
pub use link::{EnrollLink, LinkSummary, ServerKind};
pub use poll::{PollPolicy, Poller, Visibility};
pub use reenroll::{OldFactorFate, Reenrolled, ReplacementOutcome};
pub use store::{Enrollment, EnrollmentState, EnrollmentStore, HistoryEntry, LastHealth};
pub use watch::{ChallengeWatch, PollReport, PollTrouble};

/// `Config.AppId` of our factors.
pub const APP_ID: &str = "dev.countersign.app";

/// The push side of a profile.
pub struct PushManager {
    store: EnrollmentStore,
    /// Always `Some` until dropped (see `Drop`).
    secrets: Option<Arc<SecretStore>>,
    options: ClientOptions,
    /// Directory of the per-enrollment lock files that mark an enrollment in progress.
    locks_dir: PathBuf,
    /// One client per server, so connections and the learnt clock offset are shared.
    clients: Mutex<HashMap<ServerConfig, VerifyClient>>,
    /// Keys already read from the keychain this session.
    keys: Mutex<HashMap<Uuid, PushKey>>,
}

impl std::fmt::Debug for PushManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushManager")
            .field("store", &self.store)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl PushManager {
    /// Opens the push side of a profile. Blocks on the keychain: call it outside an async
    /// runtime, or from a blocking task.
    pub fn open(profile: &Profile) -> Result<Self> {
        Self::open_with(profile, ClientOptions::default())
    }

    pub fn open_with(profile: &Profile, options: ClientOptions) -> Result<Self> {
        profile.ensure_exists()?;
        // The keychain namespace is the profile's vault id, shared with the OTP accounts.
        let accounts = AccountStore::open(profile.data_dir())?;
        let (vault_id, _) = crate::profile_copy::own_vault_id(profile, &accounts)?;
        let secrets = SecretStore::open(vault_id)?;
        let locks_dir = profile.data_dir().join("push-locks");
        std::fs::create_dir_all(&locks_dir).map_err(|e| Error::io(&locks_dir, e))?;
        Ok(PushManager {
            store: EnrollmentStore::open(profile.data_dir()),
            secrets: Some(Arc::new(secrets)),
            options,
            locks_dir,
            clients: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        })
    }

    pub fn enrollments(&self) -> Result<Vec<Enrollment>> {
        Ok(self.store.load()?.enrollments)
    }

    /// Finds one enrollment by id, factor SID or name.
    pub fn find(&self, query: &str) -> Result<Enrollment> {
        let enrollments = self.enrollments()?;
        let mut matches = enrollments.into_iter().filter(|e| e.matches(query));
        match (matches.next(), matches.next()) {
            (Some(e), None) => Ok(e),
            (Some(_), Some(_)) => Err(Error::AmbiguousEnrollment(query.to_string())),
            (None, _) => Err(Error::EnrollmentNotFound(query.to_string())),
        }
    }

    /// Answered and expired challenges of the last days, newest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>> {
        Ok(self.store.load()?.history)
    }

    /// The client for a server, seeded with the clock offset saved for it.
    fn client(&self, server: &ServerConfig) -> Result<VerifyClient> {
        if let Some(client) = lock(&self.clients).get(server) {
            return Ok(client.clone());
        }
        let client = VerifyClient::with_options(server, self.options.clone())?;
        let saved = self
            .store
            .load()?
            .enrollments
            .into_iter()
            .filter(|e| &e.server == server)
            .max_by_key(|e| e.updated_at)
            .map(|e| e.clock_offset_secs)
            .unwrap_or(0);
        client.set_clock_offset_secs(saved);
        Ok(lock(&self.clients)
            .entry(server.clone())
            .or_insert(client)
            .clone())
    }

    /// Saves a clock offset learnt during a request with every enrollment of that server.
    fn persist_clock_offset(&self, server: &ServerConfig, client: &VerifyClient) -> Result<()> {
        let offset = client.clock_offset_secs();
        let stale = self
            .store
            .load()?
            .enrollments
            .iter()
            .any(|e| &e.server == server && e.clock_offset_secs != offset);
        if stale {
            self.store.update(|file| {
                for e in file.enrollments.iter_mut().filter(|e| &e.server == server) {
                    e.clock_offset_secs = offset;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The signing identity of an enrollment that has a factor on the server.
    async fn device_factor(&self, enrollment: &Enrollment) -> Result<DeviceFactor> {
        // Checked before the keychain is asked: without a factor the key is of no use here.
        if enrollment.factor_sid.is_none()
            || enrollment.credential_sid.is_none()
            || enrollment.account_sid.is_none()
        {
            return Err(Error::EnrollmentIncomplete(
                enrollment.friendly_name.clone(),
            ));
        }
        let key = self.key(enrollment).await?;
        device_factor_with(enrollment, key)
    }

    /// The enrollment's private key, checked against the public key recorded at enrollment.
    async fn key(&self, enrollment: &Enrollment) -> Result<PushKey> {
        if let Some(key) = lock(&self.keys).get(&enrollment.id) {
            return Ok(key.clone());
        }
        self.read_key(enrollment).await
    }

    /// Reads the key from the keychain, bypassing the cache (health checks must see a key
    /// that was deleted or replaced since it was cached). Distinguishes a missing, unreadable
    /// and replaced key; a locked or unreachable keychain passes through as such.
    pub(crate) async fn read_key(&self, enrollment: &Enrollment) -> Result<PushKey> {
        let id = enrollment.id;
        let name = || enrollment.friendly_name.clone();
        let result = match self.keychain(move |s| s.get(SecretKey::push(id))).await {
            Ok(Some(stored)) => {
                PushKey::from_pkcs8_der(&stored).map_err(|_| Error::PushKeyUnreadable(name()))
            }
            Ok(None) => Err(Error::PushKeyMissing(name())),
            Err(Error::Keychain(_)) => Err(Error::PushKeyUnreadable(name())),
            Err(e) => Err(e),
        };
        let key = match result.and_then(|key| {
            if key.public_key_spki_b64()? == enrollment.public_key {
                Ok(key)
            } else {
                Err(Error::PushKeyMismatch(name()))
            }
        }) {
            Ok(key) => key,
            Err(e) => {
                if !matches!(
                    e,
                    Error::KeychainLocked(_) | Error::KeychainUnavailable { .. }
                ) {
                    lock(&self.keys).remove(&id);
                }
                return Err(e);
            }
        };
        lock(&self.keys).insert(id, key.clone());
        Ok(key)
    }

    /// Runs a keychain call on the blocking pool (the Secret Service client blocks and must
    /// not run on an async worker).
    async fn keychain<T: Send + 'static>(
        &self,
        call: impl FnOnce(&SecretStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let secrets = self
            .secrets
            .clone()
            .ok_or_else(|| Error::Keychain("the keychain connection is closed".into()))?;
        tokio::task::spawn_blocking(move || call(&secrets))
            .await
            .map_err(|e| Error::Keychain(format!("keychain task failed: {e}")))?
    }
}

impl Drop for PushManager {
    fn drop(&mut self) {
        // Closing the Secret Service connection blocks on D-Bus, which panics on an async
        // worker thread; hand the last reference to the blocking pool when there is one.
        if let Some(secrets) = self.secrets.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn_blocking(move || drop(secrets));
        }
    }
}

/// The signing identity of an enrollment with `key`; fails when the server never created
/// its factor.
pub(crate) fn device_factor_with(enrollment: &Enrollment, key: PushKey) -> Result<DeviceFactor> {
    let (Some(factor_sid), Some(credential_sid), Some(account_sid)) = (
        &enrollment.factor_sid,
        &enrollment.credential_sid,
        &enrollment.account_sid,
    ) else {
        return Err(Error::EnrollmentIncomplete(
            enrollment.friendly_name.clone(),
        ));
    };
    Ok(DeviceFactor {
        service_sid: enrollment.service_sid.clone(),
        identity: enrollment.identity.clone(),
        factor_sid: factor_sid.clone(),
        credential_sid: credential_sid.clone(),
        account_sid: account_sid.clone(),
        key,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned cache only means a panic elsewhere; the data is still valid.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

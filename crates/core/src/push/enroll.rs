//! Enrollment (PROTOCOL.md §4.2) as recorded steps, crash recovery, rename and removal.
//!
//! Steps, each written to `enrollments.json` before the next starts:
//! 1. `key_generated`: a P-256 key exists in memory, its public key is recorded;
//! 2. `key_stored`: the private key (PKCS#8 DER) is in the keychain;
//! 3. `factor_created`: the server created the factor, its SIDs are recorded;
//! 4. `verified`: the server accepted the signature of the factor SID.
//!
//! The record is always written before the key, so a keychain key without a record is an
//! orphan (left by a removal cut short) and can be deleted. While an enrollment is under way
//! its process holds an exclusive lock on `push-locks/<id>.lock`; the OS drops the lock when
//! the process dies, which is how [`PushManager::resume_pending`] tells an interrupted
//! enrollment from one another process (the app or the CLI) is still running.
//!
//! The access token is never written down, so an enrollment interrupted before the server
//! confirmed the factor cannot be continued: its key and record are deleted and the user
//! scans a new link. A factor the server may have created meanwhile stays unverified, cannot
//! receive challenges, and is purged by the server (§6).

use std::fs::File;
use std::path::Path;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::keychain::{SecretKey, SecretKind};
use crate::push::health::FactorProblem;
use crate::push::link::EnrollLink;
use crate::push::reenroll::ReplacementOutcome;
use crate::push::store::{Enrollment, EnrollmentState};
use crate::push::{APP_ID, PushManager, lock};
use crate::verify::client::local_now;
use crate::verify::device::NewPushFactor;
use crate::verify::{PushKey, ServerConfig, VerifyClient};

const MAX_FRIENDLY_NAME: usize = 64;

/// An enrollment in progress, owned by this process until dropped.
pub struct PendingEnrollment<'m> {
    manager: &'m PushManager,
    id: Uuid,
    link: EnrollLink,
    key: PushKey,
    client: VerifyClient,
    state: EnrollmentState,
    _claim: File,
}

impl std::fmt::Debug for PendingEnrollment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingEnrollment")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What [`PushManager::resume_pending`] did.
#[derive(Debug, Default)]
pub struct ResumeReport {
    /// Enrollments whose verification was finished.
    pub completed: Vec<Uuid>,
    /// Enrollments that could not be finished and were cleaned up (key and record), with
    /// the reason in words.
    pub abandoned: Vec<(Uuid, String)>,
    /// Removals that were finished.
    pub removed: Vec<Uuid>,
    /// Enrollments left as they were because the server could not be reached; retried on
    /// the next start.
    pub still_pending: Vec<(Uuid, Error)>,
    /// Enrollments another process is working on right now.
    pub busy: Vec<Uuid>,
    /// Keychain push keys that no enrollment here owns. They are kept: such a key may be a
    /// live factor of another copy of this profile, so only the user deletes it
    /// ([`PushManager::delete_orphaned_key`]).
    pub orphaned_keys: Vec<Uuid>,
    /// Re-enrollments whose replaced factor was dealt with (see [`ReplacementOutcome`]).
    pub replaced: Vec<ReplacementOutcome>,
}

/// What finishing or undoing one interrupted enrollment did.
#[derive(Debug)]
pub(crate) enum Resumed {
    /// Verified now (or already); the factor it replaced, if any, was dealt with.
    Completed {
        replaced: Option<ReplacementOutcome>,
    },
    /// Could not be finished: its key and record are gone. `problem` says why.
    Abandoned {
        problem: FactorProblem,
        reason: String,
    },
    Removed,
    /// Left as it was (network, locked keychain); retried later.
    StillPending(Error),
}

/// Result of removing an enrollment.
#[derive(Debug)]
pub struct Removed {
    pub enrollment: Enrollment,
    /// `false` when the server no longer had the factor (or it never got one).
    pub server_factor_deleted: bool,
}

impl PendingEnrollment<'_> {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn state(&self) -> EnrollmentState {
        self.state
    }

    /// Performs the next step and records it. On a definitive failure the enrollment is
    /// cleaned up (key and record); on a transient one (network) it stays for a retry.
    pub async fn step(&mut self) -> Result<EnrollmentState> {
        let manager = self.manager;
        let id = self.id;
        match self.state {
            EnrollmentState::KeyGenerated => {
                let der = self.key.to_pkcs8_der()?;
                let label = format!("push key for {}", self.link.identity);
                let stored = manager
                    .keychain(move |s| s.put(SecretKey::push(id), &label, &der))
                    .await;
                if let Err(e) = stored {
                    manager.discard(id).await?;
                    return Err(e);
                }
                manager.set_state(id, EnrollmentState::KeyStored, |_| ())?;
                self.state = EnrollmentState::KeyStored;
            }
            EnrollmentState::KeyStored => {
                let enrollment = manager.store.load()?.get(id)?.clone();
                let metadata = serde_json::json!({
                    "os": std::env::consts::OS,
                    "app_version": env!("CARGO_PKG_VERSION"),
                })
                .to_string();
                let created = self
                    .client
                    .create_push_factor(
                        &self.link.service_sid,
                        &self.link.identity,
                        &self.link.access_token,
                        &NewPushFactor {
                            friendly_name: &enrollment.friendly_name,
                            public_key: &enrollment.public_key,
                            app_id: APP_ID,
                            sdk_version: concat!("countersign-core/", env!("CARGO_PKG_VERSION")),
                            metadata: &metadata,
                        },
                    )
                    .await;
                let created = match created {
                    Ok(created) => created,
                    Err(e) => {
                        // As the SDKs do: a failed creation deletes the fresh key.
                        manager.discard(id).await?;
                        return Err(e);
                    }
                };
                manager.set_state(id, EnrollmentState::FactorCreated, |e| {
                    e.factor_sid = Some(created.sid.clone());
                    e.credential_sid = Some(created.credential_sid.clone());
                    e.account_sid = Some(created.account_sid.clone());
                    e.factor_status = Some(created.status.clone());
                    e.friendly_name = created.friendly_name.clone();
                })?;
                self.state = EnrollmentState::FactorCreated;
            }
            EnrollmentState::FactorCreated => {
                let enrollment = manager.store.load()?.get(id)?.clone();
                manager.verify_created(&enrollment).await?;
                self.state = EnrollmentState::Verified;
            }
            EnrollmentState::Verified | EnrollmentState::Removing | EnrollmentState::Retired => {}
        }
        Ok(self.state)
    }

    /// Runs the remaining steps. For a re-enrollment this includes dealing with the factor
    /// it replaces (see [`PendingEnrollment::finish_reenrollment`] for the outcome).
    pub async fn finish(self) -> Result<Enrollment> {
        Ok(self.finish_with_replacement().await?.0)
    }

    /// Runs the remaining steps, then, once the new factor is verified, deletes or retires
    /// the factor this enrollment replaces.
    pub(crate) async fn finish_with_replacement(
        mut self,
    ) -> Result<(Enrollment, Option<ReplacementOutcome>)> {
        while self.state != EnrollmentState::Verified {
            self.step().await?;
        }
        let manager = self.manager;
        let enrollment = manager.store.load()?.get(self.id)?.clone();
        let replaced = manager.retire_replaced(&enrollment).await?;
        let enrollment = manager.store.load()?.get(self.id)?.clone();
        drop(self);
        release_claim_file(&manager.locks_dir, enrollment.id);
        Ok((enrollment, replaced))
    }
}

impl PushManager {
    /// Enrolls this desktop from a link; `extra_ca_pem` is the server's CA when it is not
    /// publicly trusted (a local verify-server). Kept with the enrollment.
    pub async fn enroll(
        &self,
        link: &EnrollLink,
        extra_ca_pem: Option<String>,
    ) -> Result<Enrollment> {
        self.start_enrollment(link, extra_ca_pem)?.finish().await
    }

    /// Generates the key and records step 1; [`PendingEnrollment::step`] does the rest.
    pub fn start_enrollment(
        &self,
        link: &EnrollLink,
        extra_ca_pem: Option<String>,
    ) -> Result<PendingEnrollment<'_>> {
        self.begin_enrollment(link, extra_ca_pem, None)
    }

    /// Step 1 of an enrollment; with `replaces`, the new record and the replaced one's
    /// `replaced_by` are written in one update, after `check_replaceable` accepts the pair.
    pub(crate) fn begin_enrollment(
        &self,
        link: &EnrollLink,
        extra_ca_pem: Option<String>,
        replaces: Option<Uuid>,
    ) -> Result<PendingEnrollment<'_>> {
        let server = ServerConfig::new(&link.server, extra_ca_pem)?;
        let client = self.client(&server)?;
        let friendly_name = match &link.friendly_name {
            Some(name) => name.clone(),
            None => default_friendly_name(),
        };
        let key = PushKey::generate();
        let public_key = key.public_key_spki_b64()?;
        let id = Uuid::new_v4();
        // Claimed before the record exists, so no resume can mistake it for a crashed one.
        let claim = try_claim(&self.locks_dir, id)?.ok_or_else(|| {
            Error::Keychain("a fresh enrollment id is already locked; retry".into())
        })?;
        let now = local_now();
        self.store
            .update(|file| {
                if let Some(old_id) = replaces {
                    let records = file.enrollments.clone();
                    let old = file.get_mut(old_id)?;
                    crate::push::reenroll::check_replaceable(old, link, &records)?;
                    old.replaced_by = Some(id);
                    old.updated_at = now;
                }
                file.enrollments.push(Enrollment {
                    id,
                    state: EnrollmentState::KeyGenerated,
                    server,
                    service_sid: link.service_sid.clone(),
                    identity: link.identity.clone(),
                    friendly_name,
                    public_key,
                    factor_sid: None,
                    credential_sid: None,
                    account_sid: None,
                    factor_status: None,
                    clock_offset_secs: client.clock_offset_secs(),
                    created_at: now,
                    updated_at: now,
                    replaces,
                    replaced_by: None,
                    needs_service_removal: false,
                    last_health: None,
                });
                Ok(())
            })
            .inspect_err(|_| release_claim_file(&self.locks_dir, id))?;
        Ok(PendingEnrollment {
            manager: self,
            id,
            link: link.clone(),
            key,
            client,
            state: EnrollmentState::KeyGenerated,
            _claim: claim,
        })
    }

    /// Finishes or undoes what a crash or a lost connection interrupted. Call at start-up.
    pub async fn resume_pending(&self) -> Result<ResumeReport> {
        let mut report = ResumeReport::default();
        // Keys first, then records: a key is only ever created after its record.
        let keys = self.keychain(|s| s.list()).await?;
        let enrollments = self.store.load()?.enrollments;
        for enrollment in &enrollments {
            match enrollment.state {
                EnrollmentState::Verified if enrollment.replaces.is_none() => continue,
                EnrollmentState::Retired => {
                    // A retirement cut short between the mark and the key deletion.
                    if keys.contains(&SecretKey::push(enrollment.id)) {
                        let id = enrollment.id;
                        self.keychain(move |s| s.delete(SecretKey::push(id)))
                            .await?;
                    }
                    continue;
                }
                _ => {}
            }
            let Some(_claim) = try_claim(&self.locks_dir, enrollment.id)? else {
                report.busy.push(enrollment.id);
                continue;
            };
            let id = enrollment.id;
            match self.resume_one(enrollment).await? {
                Resumed::Completed { replaced } => {
                    if enrollment.state != EnrollmentState::Verified {
                        report.completed.push(id);
                    }
                    report.replaced.extend(replaced);
                }
                Resumed::Abandoned { reason, .. } => report.abandoned.push((id, reason)),
                Resumed::Removed => report.removed.push(id),
                Resumed::StillPending(e) => report.still_pending.push((id, e)),
            }
        }
        report.orphaned_keys = keys
            .into_iter()
            .filter(|k| k.kind == SecretKind::PushKey && !enrollments.iter().any(|e| e.id == k.id))
            .map(|k| k.id)
            .collect();
        Ok(report)
    }

    /// Deletes a push key no enrollment owns, once the user has confirmed it; refused for
    /// a key an enrollment uses. `false` when there was no such key.
    pub async fn delete_orphaned_key(&self, id: Uuid) -> Result<bool> {
        if let Some(owner) = self.enrollments()?.into_iter().find(|e| e.id == id) {
            return Err(Error::Reenrollment(format!(
                "the key of {} is in use; remove the enrollment instead",
                owner.friendly_name
            )));
        }
        self.keychain(move |s| s.delete(SecretKey::push(id))).await
    }

    /// Finishes or undoes one enrollment whose claim the caller holds (what a crash left).
    pub(crate) async fn resume_one(&self, enrollment: &Enrollment) -> Result<Resumed> {
        let id = enrollment.id;
        Ok(match enrollment.state {
            EnrollmentState::KeyGenerated | EnrollmentState::KeyStored => {
                self.discard(id).await?;
                let problem = FactorProblem::EnrollmentInterrupted;
                Resumed::Abandoned {
                    problem,
                    reason: format!("{} {}", problem.cause(), problem.next_step()),
                }
            }
            EnrollmentState::FactorCreated => match self.verify_created(enrollment).await {
                Ok(verified) => Resumed::Completed {
                    replaced: self.retire_replaced(&verified).await?,
                },
                Err(e) if is_transient(&e) => Resumed::StillPending(e),
                Err(e) => {
                    // verify_created has cleaned up; say why in the words health uses.
                    let problem = FactorProblem::while_enrolling(&e);
                    let reason = match FactorProblem::from_error(&e) {
                        Some(_) => format!("{} {}", problem.cause(), problem.next_step()),
                        None => e.to_string(),
                    };
                    Resumed::Abandoned { problem, reason }
                }
            },
            EnrollmentState::Removing => match self.finish_removal(enrollment).await {
                Ok(_) => Resumed::Removed,
                Err(e) => Resumed::StillPending(e),
            },
            EnrollmentState::Verified | EnrollmentState::Retired => Resumed::Completed {
                replaced: self.retire_replaced(enrollment).await?,
            },
        })
    }

    /// Renames the factor on the server (when it has one) and locally.
    pub async fn rename(&self, id: Uuid, friendly_name: &str) -> Result<Enrollment> {
        let name = friendly_name.trim();
        if name.is_empty() || name.chars().count() > MAX_FRIENDLY_NAME {
            return Err(Error::InvalidAccount {
                field: "name",
                reason: "must be 1–64 characters".into(),
            });
        }
        let enrollment = self.store.load()?.get(id)?.clone();
        if matches!(
            enrollment.state,
            EnrollmentState::FactorCreated | EnrollmentState::Verified
        ) {
            let factor = self.device_factor(&enrollment).await?;
            let client = self.client(&enrollment.server)?;
            client.rename_push_factor(&factor, name).await?;
            self.persist_clock_offset(&enrollment.server, &client)?;
        }
        self.store.update(|file| {
            let e = file.get_mut(id)?;
            e.friendly_name = name.to_string();
            e.updated_at = local_now();
            Ok(e.clone())
        })
    }

    /// Deletes the factor on the server (signed with its own JWT; 401/404 mean it is already
    /// gone), then the record, then the key. A network failure leaves the enrollment in
    /// `removing`, finished by the next `remove` or `resume_pending`.
    pub async fn remove(&self, id: Uuid) -> Result<Removed> {
        let _claim = try_claim(&self.locks_dir, id)?
            .ok_or_else(|| Error::EnrollmentIncomplete(id.to_string()))?;
        let enrollment = self.set_state(id, EnrollmentState::Removing, |_| ())?;
        self.finish_removal(&enrollment).await
    }

    /// Forgets an enrollment locally (record and key) without asking the server, for a
    /// server that is gone for good. Its factor, if any, stays on the server.
    pub async fn forget(&self, id: Uuid) -> Result<Enrollment> {
        let enrollment = self.store.load()?.get(id)?.clone();
        self.discard(id).await?;
        Ok(enrollment)
    }

    pub(crate) async fn finish_removal(&self, enrollment: &Enrollment) -> Result<Removed> {
        let mut server_factor_deleted = false;
        if enrollment.factor_sid.is_some() {
            match self.device_factor(enrollment).await {
                Ok(factor) => {
                    let client = self.client(&enrollment.server)?;
                    server_factor_deleted = client.delete_push_factor(&factor).await?;
                }
                // Without the key nothing can be signed; the server cannot use the factor
                // either, and an unused factor is the relying party's to clean up.
                Err(
                    Error::PushKeyMissing(_)
                    | Error::PushKeyMismatch(_)
                    | Error::PushKeyUnreadable(_),
                ) => {}
                Err(e) => return Err(e),
            }
        }
        self.discard(enrollment.id).await?;
        Ok(Removed {
            enrollment: enrollment.clone(),
            server_factor_deleted,
        })
    }

    /// Step 4 for a recorded factor: verify, or clean up when the server refuses for good.
    pub(crate) async fn verify_created(&self, enrollment: &Enrollment) -> Result<Enrollment> {
        let factor = match self.device_factor(enrollment).await {
            Ok(factor) => factor,
            Err(
                e @ (Error::PushKeyMissing(_)
                | Error::PushKeyMismatch(_)
                | Error::PushKeyUnreadable(_)),
            ) => {
                self.discard(enrollment.id).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let client = self.client(&enrollment.server)?;
        let result = client.verify_push_factor(&factor).await;
        self.persist_clock_offset(&enrollment.server, &client)?;
        match result {
            Ok(status) if status == "verified" => {
                self.set_state(enrollment.id, EnrollmentState::Verified, |e| {
                    e.factor_status = Some(status.clone());
                })
            }
            Ok(status) => {
                let _ = client.delete_push_factor(&factor).await;
                self.discard(enrollment.id).await?;
                Err(Error::Api {
                    status: 200,
                    code: 0,
                    message: format!("the server left the new factor {status}"),
                })
            }
            Err(e) if is_transient(&e) => Err(e),
            Err(e) => {
                // Best effort: the server purges unverified factors anyway.
                let _ = client.delete_push_factor(&factor).await;
                self.discard(enrollment.id).await?;
                Err(e)
            }
        }
    }

    /// Removes the record, then the key (a crash in between leaves an orphaned key, which
    /// the next resume deletes). An enrollment this one was to replace is released in the
    /// same write, so it is never left pointing at nothing.
    pub(crate) async fn discard(&self, id: Uuid) -> Result<()> {
        self.store.update(|file| {
            file.enrollments.retain(|e| e.id != id);
            for e in &mut file.enrollments {
                if e.replaced_by == Some(id) {
                    e.replaced_by = None;
                }
            }
            Ok(())
        })?;
        self.forget_key(id).await?;
        release_claim_file(&self.locks_dir, id);
        Ok(())
    }

    /// Deletes an enrollment's key entry (absent is fine) and its cached copy.
    pub(crate) async fn forget_key(&self, id: Uuid) -> Result<()> {
        lock(&self.keys).remove(&id);
        self.keychain(move |s| s.delete(SecretKey::push(id)))
            .await?;
        Ok(())
    }

    pub(crate) fn set_state(
        &self,
        id: Uuid,
        state: EnrollmentState,
        change: impl FnOnce(&mut Enrollment),
    ) -> Result<Enrollment> {
        self.store.update(|file| {
            let e = file.get_mut(id)?;
            e.state = state;
            e.updated_at = local_now();
            change(e);
            Ok(e.clone())
        })
    }
}

/// Errors worth retrying later rather than giving up on an enrollment.
pub(crate) fn is_transient(err: &Error) -> bool {
    match err {
        Error::Network { .. }
        | Error::NetworkTimeout { .. }
        | Error::NetworkUnreachable { .. }
        | Error::Tls { .. }
        | Error::RateLimited { .. }
        | Error::KeychainLocked(_)
        | Error::KeychainUnavailable { .. }
        | Error::Io { .. } => true,
        Error::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Takes the exclusive lock marking enrollment `id` as being worked on; `None` when another
/// process (or this one) holds it.
pub(crate) fn try_claim(dir: &Path, id: Uuid) -> Result<Option<File>> {
    let path = dir.join(format!("{id}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Deletes a claim file nobody needs any more (best effort: on Windows an open file cannot
/// be deleted, and a leftover empty file is harmless).
pub(crate) fn release_claim_file(dir: &Path, id: Uuid) {
    let _ = std::fs::remove_file(dir.join(format!("{id}.lock")));
}

fn default_friendly_name() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    format!("Countersign on {os}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_excludes_a_second_claim_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        let first = try_claim(dir.path(), id).unwrap().expect("free");
        assert!(try_claim(dir.path(), id).unwrap().is_none());
        drop(first);
        assert!(try_claim(dir.path(), id).unwrap().is_some());
    }

    #[test]
    fn transient_errors_are_network_and_server_side() {
        assert!(is_transient(&Error::NetworkTimeout { url: "u".into() }));
        assert!(is_transient(&Error::Api {
            status: 503,
            code: 0,
            message: String::new()
        }));
        assert!(!is_transient(&Error::Api {
            status: 403,
            code: 60311,
            message: String::new()
        }));
        assert!(!is_transient(&Error::DeviceUnauthorized {
            factor: "YF".into()
        }));
    }
}

//! Guided re-enrollment: replace a factor (usually a broken one) with a new factor from a
//! new enrollment link, without losing anything on the way.
//!
//! 1. [`PushManager::start_reenrollment`] records the new enrollment with `replaces = old`
//!    and the old one's `replaced_by = new` in one write. The old factor stays usable.
//! 2. The new enrollment runs the ordinary resumable steps (`enroll`).
//! 3. Only once the new factor is verified is the old one dealt with
//!    ([`PushManager::retire_replaced`]):
//!    - its key still signs → it is marked `removing` and deleted on the server (401/404
//!      mean already gone), then its record and key go (an interrupted removal is finished
//!      by `resume_pending`, as for any removal);
//!    - its key is lost → it is marked `retired` with `needs_service_removal` (the service
//!      must remove its factor SID), and only after that mark is written is its key entry
//!      deleted. The record stays to tell the user until they dismiss it (`remove`/`forget`).
//!
//! A crash at any point is finished by `resume_pending`: before verification the new
//! enrollment is finished or undone by the ordinary rules and the old one is left as it
//! was; after verification the old one is dealt with as above.
//! [`PushManager::cancel_reenrollment`] drops an unfinished new enrollment (and its server
//! factor) and keeps the old one.

use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::push::PushManager;
use crate::push::enroll::{PendingEnrollment, is_transient, try_claim};
use crate::push::health::FactorProblem;
use crate::push::link::EnrollLink;
use crate::push::store::{Enrollment, EnrollmentState};
use crate::verify::client::local_now;

/// What became of the factor a re-enrollment replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OldFactorFate {
    /// This device deleted it on the server; its record and key are gone.
    DeletedOnServer,
    /// The server no longer had it (401/404 on delete); its record and key are gone.
    AlreadyGoneOnServer,
    /// Its key was lost, so this device could not delete it: the service must remove its
    /// factor SID. Its key entry is deleted; its record stays as a reminder (`retired`).
    ServiceMustRemove,
    /// Not done yet (server unreachable, keychain locked, or another Countersign process is
    /// busy with it); finished by the next `resume_pending`.
    FinishLater,
}

impl OldFactorFate {
    pub fn as_str(self) -> &'static str {
        match self {
            OldFactorFate::DeletedOnServer => "deleted_on_server",
            OldFactorFate::AlreadyGoneOnServer => "already_gone_on_server",
            OldFactorFate::ServiceMustRemove => "service_must_remove",
            OldFactorFate::FinishLater => "finish_later",
        }
    }
}

/// The replaced side of a finished re-enrollment.
#[derive(Debug, Clone, Serialize)]
pub struct ReplacementOutcome {
    pub new_id: Uuid,
    pub old_id: Uuid,
    pub old_factor_sid: Option<String>,
    pub old_friendly_name: String,
    pub service_sid: String,
    pub identity: String,
    pub fate: OldFactorFate,
    /// Why it has to be finished later (only with `FinishLater`).
    pub detail: Option<String>,
}

/// A finished re-enrollment.
#[derive(Debug, Clone, Serialize)]
pub struct Reenrolled {
    /// The new, verified enrollment.
    pub enrollment: Enrollment,
    pub replaced: ReplacementOutcome,
}

/// Refuses to replace `old` with an enrollment from `link` when that would not make sense:
/// another account, an unfinished factor, or a re-enrollment already under way.
pub(crate) fn check_replaceable(
    old: &Enrollment,
    link: &EnrollLink,
    records: &[Enrollment],
) -> Result<()> {
    if old.state != EnrollmentState::Verified {
        return Err(Error::Reenrollment(format!(
            "{} is {}, not an enrolled factor",
            old.friendly_name,
            old.state.as_str()
        )));
    }
    if link.service_sid != old.service_sid || !link.identity.eq_ignore_ascii_case(&old.identity) {
        return Err(Error::Reenrollment(format!(
            "this link is for another account (service {}, identity {}) than {} (service {}, \
             identity {})",
            link.service_sid, link.identity, old.friendly_name, old.service_sid, old.identity
        )));
    }
    if let Some(new) = old.replaced_by
        && records.iter().any(|e| e.id == new)
    {
        return Err(Error::Reenrollment(format!(
            "a re-enrollment of {} is already under way ({new}); finish or cancel it first",
            old.friendly_name
        )));
    }
    Ok(())
}

impl PushManager {
    /// Re-enrolls: a new factor from `link` replaces enrollment `old_id` (see the module
    /// documentation for what happens to the old one).
    pub async fn reenroll(
        &self,
        old_id: Uuid,
        link: &EnrollLink,
        extra_ca_pem: Option<String>,
    ) -> Result<Reenrolled> {
        self.start_reenrollment(old_id, link, extra_ca_pem)?
            .finish_reenrollment()
            .await
    }

    /// Records step 1 of a re-enrollment replacing `old_id`; drive it with
    /// [`PendingEnrollment::step`] and finish with
    /// [`PendingEnrollment::finish_reenrollment`]. The link must be for the same service and
    /// identity; its server may differ (a server that moved).
    pub fn start_reenrollment(
        &self,
        old_id: Uuid,
        link: &EnrollLink,
        extra_ca_pem: Option<String>,
    ) -> Result<PendingEnrollment<'_>> {
        self.begin_enrollment(link, extra_ca_pem, Some(old_id))
    }

    /// Drops an unfinished re-enrollment (`new_id`, or the enrollment it replaces): the new
    /// record, key and server factor go, the old enrollment stays as it was and is returned.
    /// A verified new factor is no longer cancellable: the replacement then goes ahead.
    pub async fn cancel_reenrollment(&self, id: Uuid) -> Result<Enrollment> {
        let file = self.store.load()?;
        let named = file.get(id)?.clone();
        let new = match (named.replaces, named.replaced_by) {
            (Some(_), _) => named,
            (None, Some(new_id)) => file.get(new_id)?.clone(),
            (None, None) => {
                return Err(Error::Reenrollment(format!(
                    "{} has no re-enrollment under way",
                    named.friendly_name
                )));
            }
        };
        let Some(old_id) = new.replaces else {
            return Err(Error::Reenrollment(format!(
                "{} is not a re-enrollment",
                new.friendly_name
            )));
        };
        if new.state == EnrollmentState::Verified {
            return Err(Error::Reenrollment(
                "the new factor is already verified; the replacement cannot be cancelled".into(),
            ));
        }
        let _claim = try_claim(&self.locks_dir, new.id)?.ok_or_else(|| {
            Error::Reenrollment(
                "the re-enrollment is running in another Countersign window; stop it there".into(),
            )
        })?;
        if new.factor_sid.is_some() {
            // Its server factor goes too; an interrupted removal is finished on resume.
            let removing = self.set_state(new.id, EnrollmentState::Removing, |_| ())?;
            self.finish_removal(&removing).await?;
        } else {
            self.discard(new.id).await?;
        }
        self.store.load()?.get(old_id).cloned()
    }

    /// Deals with the factor `new` replaces, once `new` is verified. Idempotent: called
    /// again after a crash, it finishes what is left. `None` when there is nothing to do.
    pub(crate) async fn retire_replaced(
        &self,
        new: &Enrollment,
    ) -> Result<Option<ReplacementOutcome>> {
        let Some(old_id) = new.replaces else {
            return Ok(None);
        };
        if new.state != EnrollmentState::Verified {
            return Ok(None);
        }
        let old = match self.store.load()?.get(old_id) {
            Ok(old) => old.clone(),
            Err(_) => {
                // Dealt with already (a crash before `replaces` was cleared).
                self.clear_replaces(new.id)?;
                return Ok(None);
            }
        };
        let outcome = |fate, detail: Option<String>| ReplacementOutcome {
            new_id: new.id,
            old_id,
            old_factor_sid: old.factor_sid.clone(),
            old_friendly_name: old.friendly_name.clone(),
            service_sid: old.service_sid.clone(),
            identity: old.identity.clone(),
            fate,
            detail,
        };
        match old.state {
            EnrollmentState::Retired => {
                self.clear_replaces(new.id)?;
                return Ok(Some(outcome(OldFactorFate::ServiceMustRemove, None)));
            }
            // Finished by resume_pending like any removal.
            EnrollmentState::Removing => {
                self.clear_replaces(new.id)?;
                return Ok(Some(outcome(OldFactorFate::FinishLater, None)));
            }
            _ => {}
        }
        let Some(_claim) = try_claim(&self.locks_dir, old_id)? else {
            return Ok(Some(outcome(
                OldFactorFate::FinishLater,
                Some("another Countersign process is using the old enrollment".into()),
            )));
        };
        match self.read_key(&old).await {
            Ok(_) => {
                // The old key still signs: delete the old factor on the server. `removing` is
                // written first (with `replaces` cleared), so a crash finishes the removal.
                let removing = self.store.update(|file| {
                    file.get_mut(new.id)?.replaces = None;
                    let e = file.get_mut(old_id)?;
                    e.state = EnrollmentState::Removing;
                    e.updated_at = local_now();
                    Ok(e.clone())
                })?;
                match self.finish_removal(&removing).await {
                    Ok(removed) if removed.server_factor_deleted => {
                        Ok(Some(outcome(OldFactorFate::DeletedOnServer, None)))
                    }
                    Ok(_) => Ok(Some(outcome(OldFactorFate::AlreadyGoneOnServer, None))),
                    Err(e) => Ok(Some(outcome(
                        OldFactorFate::FinishLater,
                        Some(e.to_string()),
                    ))),
                }
            }
            Err(e) if FactorProblem::from_error(&e).is_some_and(FactorProblem::key_is_lost) => {
                // The mark first, then the key entry: a crash between the two leaves a
                // retired record whose key entry resume_pending deletes.
                self.store.update(|file| {
                    file.get_mut(new.id)?.replaces = None;
                    let e = file.get_mut(old_id)?;
                    e.state = EnrollmentState::Retired;
                    e.needs_service_removal = true;
                    e.replaced_by = None;
                    e.updated_at = local_now();
                    Ok(())
                })?;
                self.forget_key(old_id).await?;
                Ok(Some(outcome(OldFactorFate::ServiceMustRemove, None)))
            }
            Err(e) if is_transient(&e) => Ok(Some(outcome(
                OldFactorFate::FinishLater,
                Some(e.to_string()),
            ))),
            Err(e) => Err(e),
        }
    }

    fn clear_replaces(&self, new_id: Uuid) -> Result<()> {
        self.store.update(|file| {
            if let Ok(e) = file.get_mut(new_id) {
                e.replaces = None;
            }
            Ok(())
        })
    }
}

impl PendingEnrollment<'_> {
    /// Runs the remaining steps of a re-enrollment and deals with the factor it replaces.
    pub async fn finish_reenrollment(self) -> Result<Reenrolled> {
        let (enrollment, replaced) = self.finish_with_replacement().await?;
        let replaced = replaced.ok_or_else(|| {
            Error::Reenrollment(format!(
                "{} was not started as a re-enrollment",
                enrollment.friendly_name
            ))
        })?;
        Ok(Reenrolled {
            enrollment,
            replaced,
        })
    }
}

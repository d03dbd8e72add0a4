//! Whether a push factor still works, and if not, why — the one place that decides.
//!
//! A factor works only while this device holds the key it enrolled with *and* the server
//! still considers the factor verified (PROTOCOL.md §4.7, Twilio error 60383). A check
//! therefore reads the key from the keychain afresh (compared with the public key recorded
//! at enrollment), then asks the server with a device JWT; the status stored locally is never
//! trusted. A locked or unreachable keychain is not a lost key, and an unreachable server is
//! not a lost factor: both are reported as such and never lead to re-enrollment.
//!
//! Errors met by other flows (polling, answering) map to the same [`FactorProblem`]s through
//! [`FactorProblem::from_error`] / [`FactorHealth::from_error`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::push::enroll::{Resumed, try_claim};
use crate::push::store::{Enrollment, EnrollmentState, LastHealth};
use crate::push::{PushManager, device_factor_with};
use crate::verify::client::local_now;

/// Why a factor cannot approve sign-ins. Every variant needs a new enrollment to recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorProblem {
    /// The keychain has no key for this factor (wiped keychain, reinstall).
    KeyMissing,
    /// The keychain entry exists but is not a usable key.
    KeyUnreadable,
    /// The keychain holds another key than the enrolled one (replaced or restored keychain).
    KeyMismatch,
    /// The server says the factor is unverified (60318, or status `unverified`) although
    /// this device finished enrolling it.
    ServerUnverified,
    /// The server says the factor cannot be used in its state (60383).
    IllegalStatus,
    /// The server no longer has the factor (404, 60390, 20404).
    FactorUnknown,
    /// The server refuses the device's JWT even after the clock correction (401 twice).
    Unauthorized,
    /// The factor was left unverified past the server's lifetime and dropped.
    EnrollmentExpired,
    /// The enrollment was interrupted before the server confirmed it; its one-time link is
    /// spent, so it cannot be continued.
    EnrollmentInterrupted,
}

impl FactorProblem {
    /// Stable machine-readable code (never change an existing value).
    pub fn code(self) -> &'static str {
        match self {
            FactorProblem::KeyMissing => "key_missing",
            FactorProblem::KeyUnreadable => "key_unreadable",
            FactorProblem::KeyMismatch => "key_mismatch",
            FactorProblem::ServerUnverified => "server_unverified",
            FactorProblem::IllegalStatus => "illegal_status",
            FactorProblem::FactorUnknown => "factor_unknown",
            FactorProblem::Unauthorized => "unauthorized",
            FactorProblem::EnrollmentExpired => "enrollment_expired",
            FactorProblem::EnrollmentInterrupted => "enrollment_interrupted",
        }
    }

    /// What happened, in words a user can follow.
    pub fn cause(self) -> &'static str {
        match self {
            FactorProblem::KeyMissing => {
                "This computer no longer has the key it enrolled with (the keychain was wiped or \
                 reset, or Countersign was reinstalled), so it cannot approve sign-ins."
            }
            FactorProblem::KeyUnreadable => {
                "The key this computer enrolled with is in the keychain but cannot be read as a \
                 signing key (the entry was damaged or changed by another program)."
            }
            FactorProblem::KeyMismatch => {
                "The keychain holds a different key than the one this computer enrolled with (it \
                 was replaced or restored from elsewhere), so the service would reject every \
                 answer."
            }
            FactorProblem::ServerUnverified => {
                "The service says this computer's enrollment was never confirmed, so it sends no \
                 sign-in requests here."
            }
            FactorProblem::IllegalStatus => {
                "The service says this enrollment cannot be used any more (it expired or was \
                 never completed)."
            }
            FactorProblem::FactorUnknown => {
                "The service no longer knows this computer: its enrollment was deleted there \
                 (for example when the device was removed from the account) or it expired."
            }
            FactorProblem::Unauthorized => {
                "The service refuses this computer's signed requests even after matching its \
                 clock. The key here is the enrolled one, so the service has most likely \
                 deleted this enrollment."
            }
            FactorProblem::EnrollmentExpired => {
                "The enrollment was not confirmed in time and the service dropped it (services \
                 discard unconfirmed enrollments after a while)."
            }
            FactorProblem::EnrollmentInterrupted => {
                "The enrollment was interrupted before the service confirmed it, and its \
                 one-time link cannot be used again."
            }
        }
    }

    /// The one thing to do about it.
    pub fn next_step(self) -> &'static str {
        match self {
            FactorProblem::EnrollmentExpired | FactorProblem::EnrollmentInterrupted => {
                "Ask the service for a new enrollment link and enroll again."
            }
            _ => {
                "Ask the service for a new enrollment link and re-enroll this computer; \
                 Countersign then removes the old enrollment, or tells you if the service must."
            }
        }
    }

    /// Whether the key is gone or unusable here, so the old factor cannot be deleted by this
    /// device and the service has to remove it.
    pub fn key_is_lost(self) -> bool {
        matches!(
            self,
            FactorProblem::KeyMissing | FactorProblem::KeyUnreadable | FactorProblem::KeyMismatch
        )
    }

    /// The problem an error of any push flow reveals; `None` for errors that say nothing
    /// about the factor (network, keychain locked, a challenge already answered…).
    pub fn from_error(err: &Error) -> Option<Self> {
        Some(match err {
            Error::PushKeyMissing(_) => FactorProblem::KeyMissing,
            Error::PushKeyUnreadable(_) => FactorProblem::KeyUnreadable,
            Error::PushKeyMismatch(_) => FactorProblem::KeyMismatch,
            Error::FactorUnverified { .. } => FactorProblem::ServerUnverified,
            Error::FactorIllegalStatus { .. } => FactorProblem::IllegalStatus,
            Error::FactorUnknown { .. } => FactorProblem::FactorUnknown,
            Error::DeviceUnauthorized { .. } => FactorProblem::Unauthorized,
            _ => return None,
        })
    }

    /// The problem behind a failure to verify a factor just created: whatever the server
    /// says about a factor it never confirmed means the enrollment ran out of time.
    pub(crate) fn while_enrolling(err: &Error) -> Self {
        match FactorProblem::from_error(err) {
            Some(p) if p.key_is_lost() => p,
            Some(_) => FactorProblem::EnrollmentExpired,
            None => FactorProblem::EnrollmentInterrupted,
        }
    }
}

/// What a health check found. Serialised with a `status` tag, e.g.
/// `{"status":"broken","problem":"key_missing"}` or `{"status":"healthy"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FactorHealth {
    /// Key present and matching, server says verified.
    Healthy,
    /// Cannot work until re-enrolled.
    Broken { problem: FactorProblem },
    /// The keychain is locked: the key could not be read, which says nothing about it.
    KeychainLocked,
    /// No keychain could be reached.
    KeychainUnavailable { reason: String },
    /// The server could not be asked (offline, timeout, TLS, busy, 5xx): unknown, not lost.
    Unreachable { reason: String },
    /// The server answered something this check does not understand; nothing was changed.
    Undetermined { error_code: String, reason: String },
    /// An enrollment or removal is under way (here or in another Countersign process).
    Pending,
    /// Replaced by a re-enrollment; the service still has to remove the old factor.
    Retired,
}

impl FactorHealth {
    /// Stable code: `healthy`, the problem's code, or the status name.
    pub fn code(&self) -> &'static str {
        match self {
            FactorHealth::Healthy => "healthy",
            FactorHealth::Broken { problem } => problem.code(),
            FactorHealth::KeychainLocked => "keychain_locked",
            FactorHealth::KeychainUnavailable { .. } => "keychain_unavailable",
            FactorHealth::Unreachable { .. } => "unreachable",
            FactorHealth::Undetermined { .. } => "undetermined",
            FactorHealth::Pending => "pending",
            FactorHealth::Retired => "needs_service_removal",
        }
    }

    /// How an error met while using a factor reflects on its health.
    pub fn from_error(err: &Error) -> Self {
        if let Some(problem) = FactorProblem::from_error(err) {
            return FactorHealth::Broken { problem };
        }
        match err {
            Error::KeychainLocked(_) => FactorHealth::KeychainLocked,
            Error::KeychainUnavailable { cause, .. } => FactorHealth::KeychainUnavailable {
                reason: cause.clone(),
            },
            Error::Network { .. }
            | Error::NetworkTimeout { .. }
            | Error::NetworkUnreachable { .. }
            | Error::Tls { .. }
            | Error::RateLimited { .. } => FactorHealth::Unreachable {
                reason: err.to_string(),
            },
            Error::Api { status, .. } if *status >= 500 => FactorHealth::Unreachable {
                reason: err.to_string(),
            },
            other => FactorHealth::Undetermined {
                error_code: other.code().to_string(),
                reason: other.to_string(),
            },
        }
    }

    pub fn is_healthy(&self) -> bool {
        matches!(self, FactorHealth::Healthy)
    }

    /// What the user should do about it.
    pub fn action(&self) -> HealthAction {
        match self {
            FactorHealth::Healthy => HealthAction::None,
            FactorHealth::Broken {
                problem: FactorProblem::EnrollmentExpired | FactorProblem::EnrollmentInterrupted,
            } => HealthAction::EnrollAgain,
            FactorHealth::Broken { .. } => HealthAction::Reenroll,
            FactorHealth::KeychainLocked => HealthAction::UnlockKeychain,
            FactorHealth::KeychainUnavailable { .. } => HealthAction::StartKeychain,
            FactorHealth::Unreachable { .. } | FactorHealth::Undetermined { .. } => {
                HealthAction::RetryLater
            }
            FactorHealth::Pending => HealthAction::Wait,
            FactorHealth::Retired => HealthAction::AskServiceToRemove,
        }
    }
}

/// The one next step a banner offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthAction {
    None,
    /// Get a new link and run a re-enrollment that replaces this factor.
    Reenroll,
    /// Get a new link and enroll (nothing is left to replace).
    EnrollAgain,
    UnlockKeychain,
    StartKeychain,
    RetryLater,
    Wait,
    /// Tell the service to remove the old factor (its SID is in the report), then dismiss.
    AskServiceToRemove,
}

/// One factor's health, with the words to show. Serialised as a flat JSON object for the UI.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub enrollment_id: Uuid,
    pub friendly_name: String,
    pub identity: String,
    pub service_sid: String,
    /// The server's base URL.
    pub server: String,
    pub factor_sid: Option<String>,
    /// The local enrollment state when checked.
    pub state: EnrollmentState,
    pub health: FactorHealth,
    /// `health.code()`.
    pub code: &'static str,
    pub cause: String,
    pub next_step: String,
    pub action: HealthAction,
    /// Local time (Unix seconds).
    pub checked_at: i64,
    pub replaces: Option<Uuid>,
    pub replaced_by: Option<Uuid>,
    pub needs_service_removal: bool,
    /// The check cleaned up an interrupted enrollment that could not be finished: the
    /// record no longer exists.
    pub record_removed: bool,
}

impl HealthReport {
    pub fn new(enrollment: &Enrollment, health: FactorHealth, checked_at: i64) -> Self {
        let (cause, next_step) = words(enrollment, &health);
        HealthReport {
            enrollment_id: enrollment.id,
            friendly_name: enrollment.friendly_name.clone(),
            identity: enrollment.identity.clone(),
            service_sid: enrollment.service_sid.clone(),
            server: enrollment.server.base_url.to_string(),
            factor_sid: enrollment.factor_sid.clone(),
            state: enrollment.state,
            code: health.code(),
            action: health.action(),
            health,
            cause,
            next_step,
            checked_at,
            replaces: enrollment.replaces,
            replaced_by: enrollment.replaced_by,
            needs_service_removal: enrollment.needs_service_removal,
            record_removed: false,
        }
    }
}

fn words(enrollment: &Enrollment, health: &FactorHealth) -> (String, String) {
    let sid = enrollment.factor_sid.as_deref().unwrap_or("(no SID)");
    match health {
        FactorHealth::Healthy => (
            "This computer holds its key and the service confirms the enrollment.".into(),
            "Nothing to do.".into(),
        ),
        FactorHealth::Broken { problem } => {
            let next = match (problem, enrollment.replaced_by) {
                (_, Some(_)) => {
                    "A re-enrollment is under way: finish it with the new link, or cancel it."
                        .to_string()
                }
                _ => problem.next_step().to_string(),
            };
            (problem.cause().to_string(), next)
        }
        FactorHealth::KeychainLocked => (
            "The keychain is locked, so this computer's key could not be read. This does not \
             mean the key is lost."
                .into(),
            "Unlock the keychain (for example by logging in again); the check then runs again."
                .into(),
        ),
        FactorHealth::KeychainUnavailable { reason } => (
            format!("No keychain could be reached ({reason}). This does not mean the key is lost."),
            "Start your keyring service (such as GNOME Keyring) and try again.".into(),
        ),
        FactorHealth::Unreachable { reason } => (
            format!("The service could not be asked ({reason}). The enrollment may be fine."),
            "Check the connection; the check is repeated automatically.".into(),
        ),
        FactorHealth::Undetermined { reason, .. } => (
            format!("The service gave an unexpected answer ({reason}). Nothing was changed."),
            "Try again later; if it persists, ask the service about this device.".into(),
        ),
        FactorHealth::Pending => (
            match enrollment.state {
                EnrollmentState::Removing => "This enrollment is being removed.".into(),
                _ => "This enrollment is being set up.".into(),
            },
            "Wait for it to finish; an interrupted one is finished at the next start.".into(),
        ),
        FactorHealth::Retired => (
            format!(
                "This enrollment was replaced, but its key was lost, so this computer could not \
                 delete it: the service still lists factor {sid} for {}.",
                enrollment.identity
            ),
            format!(
                "Ask the service to remove factor {sid}; then dismiss this notice (remove it here)."
            ),
        ),
    }
}

impl PushManager {
    /// Checks one factor now: its key in the keychain, then the factor on the server. An
    /// enrollment interrupted by a crash (and not in progress elsewhere) is finished or
    /// undone first, exactly as [`PushManager::resume_pending`] would, since it has exactly
    /// one safe next step and waiting only lets it expire. The result is recorded in the
    /// enrollment's `last_health`.
    pub async fn check_health(&self, id: Uuid) -> Result<HealthReport> {
        let enrollment = self.store.load()?.get(id)?.clone();
        let (health, removed) = self.diagnose(&enrollment).await?;
        let now = local_now();
        let current = self.store.load()?.get(id).ok().cloned();
        let mut report = HealthReport::new(current.as_ref().unwrap_or(&enrollment), health, now);
        report.record_removed = removed || current.is_none();
        if !report.record_removed {
            self.record_health(id, report.code, now)?;
        }
        Ok(report)
    }

    /// [`PushManager::check_health`] for every enrollment, in list order.
    pub async fn check_all(&self) -> Result<Vec<HealthReport>> {
        let mut reports = Vec::new();
        for enrollment in self.enrollments()? {
            match self.check_health(enrollment.id).await {
                Ok(report) => reports.push(report),
                // Removed meanwhile (by another process, or as the replaced factor of a
                // re-enrollment finished by an earlier check in this loop).
                Err(Error::EnrollmentNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(reports)
    }

    /// Records what a flow that needed the factor ran into, so the UI shows it at start.
    /// Only problems are recorded (not every network hiccup), and only when they change.
    pub(crate) fn note_failure(&self, enrollment: &Enrollment, err: &Error) {
        let Some(problem) = FactorProblem::from_error(err) else {
            return;
        };
        if enrollment.last_health.as_ref().map(|h| h.code.as_str()) == Some(problem.code()) {
            return;
        }
        // Best effort: the error itself is what the caller reports.
        let _ = self.record_health(enrollment.id, problem.code(), local_now());
    }

    fn record_health(&self, id: Uuid, code: &str, now: i64) -> Result<()> {
        self.store.update(|file| {
            if let Ok(e) = file.get_mut(id) {
                e.last_health = Some(LastHealth {
                    code: code.to_string(),
                    checked_at: now,
                });
            }
            Ok(())
        })
    }

    /// The health of one enrollment and whether its record was removed on the way.
    async fn diagnose(&self, enrollment: &Enrollment) -> Result<(FactorHealth, bool)> {
        match enrollment.state {
            EnrollmentState::Retired => Ok((FactorHealth::Retired, false)),
            EnrollmentState::Removing => Ok((FactorHealth::Pending, false)),
            EnrollmentState::KeyGenerated
            | EnrollmentState::KeyStored
            | EnrollmentState::FactorCreated => {
                let Some(_claim) = try_claim(&self.locks_dir, enrollment.id)? else {
                    return Ok((FactorHealth::Pending, false));
                };
                Ok(match self.resume_one(enrollment).await? {
                    Resumed::Completed { .. } => (self.probe(enrollment.id).await?, false),
                    Resumed::Abandoned { problem, .. } => (FactorHealth::Broken { problem }, true),
                    Resumed::Removed => (FactorHealth::Pending, true),
                    Resumed::StillPending(e) => (FactorHealth::from_error(&e), false),
                })
            }
            EnrollmentState::Verified => Ok((self.probe(enrollment.id).await?, false)),
        }
    }

    /// Key first (no server call without a usable key: nothing could be signed), then the
    /// factor as the server sees it.
    async fn probe(&self, id: Uuid) -> Result<FactorHealth> {
        let enrollment = self.store.load()?.get(id)?.clone();
        let key = match self.read_key(&enrollment).await {
            Ok(key) => key,
            Err(e) => return Ok(FactorHealth::from_error(&e)),
        };
        let factor = device_factor_with(&enrollment, key)?;
        let client = self.client(&enrollment.server)?;
        let fetched = client.fetch_push_factor(&factor).await;
        let health = match fetched {
            Ok(remote) => match remote.status.as_str() {
                "verified" => FactorHealth::Healthy,
                "unverified" => FactorHealth::Broken {
                    problem: FactorProblem::ServerUnverified,
                },
                other => FactorHealth::Undetermined {
                    error_code: "unexpected_status".into(),
                    reason: format!("the service reports the status {other:?}"),
                },
            },
            // Devices may not be allowed to read factors on every server; listing its
            // challenges is an operation every Verify server grants a device, and works only
            // for an enrolled factor. It decides before a 401 is taken for a lost factor.
            Err(
                Error::DeviceUnauthorized { .. }
                | Error::Api {
                    status: 403 | 405, ..
                },
            ) => match client.pending_challenges(&factor).await {
                Ok(_) => FactorHealth::Healthy,
                Err(e) => FactorHealth::from_error(&e),
            },
            Err(e) => FactorHealth::from_error(&e),
        };
        self.persist_clock_offset(&enrollment.server, &client)?;
        Ok(health)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [FactorProblem; 9] = [
        FactorProblem::KeyMissing,
        FactorProblem::KeyUnreadable,
        FactorProblem::KeyMismatch,
        FactorProblem::ServerUnverified,
        FactorProblem::IllegalStatus,
        FactorProblem::FactorUnknown,
        FactorProblem::Unauthorized,
        FactorProblem::EnrollmentExpired,
        FactorProblem::EnrollmentInterrupted,
    ];

    #[test]
    fn every_problem_has_its_own_code_cause_and_serialised_name() {
        let mut codes: Vec<&str> = ALL.iter().map(|p| p.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        let mut causes: Vec<&str> = ALL.iter().map(|p| p.cause()).collect();
        causes.sort();
        causes.dedup();
        assert_eq!(causes.len(), ALL.len());
        for p in ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.code());
        }
    }

    #[test]
    fn health_serialises_with_a_status_tag() {
        let broken = FactorHealth::Broken {
            problem: FactorProblem::KeyMissing,
        };
        assert_eq!(
            serde_json::to_value(&broken).unwrap(),
            serde_json::json!({"status": "broken", "problem": "key_missing"})
        );
        assert_eq!(
            serde_json::to_value(FactorHealth::KeychainLocked).unwrap(),
            serde_json::json!({"status": "keychain_locked"})
        );
        let back: FactorHealth =
            serde_json::from_value(serde_json::to_value(&broken).unwrap()).unwrap();
        assert_eq!(back, broken);
    }

    #[test]
    fn errors_map_to_problems_and_a_locked_keychain_is_not_a_lost_key() {
        let factor = || "YF1".to_string();
        let cases = [
            (Error::PushKeyMissing("n".into()), "key_missing"),
            (Error::PushKeyMismatch("n".into()), "key_mismatch"),
            (Error::PushKeyUnreadable("n".into()), "key_unreadable"),
            (Error::FactorUnknown { factor: factor() }, "factor_unknown"),
            (
                Error::FactorUnverified { factor: factor() },
                "server_unverified",
            ),
            (
                Error::FactorIllegalStatus { factor: factor() },
                "illegal_status",
            ),
            (
                Error::DeviceUnauthorized { factor: factor() },
                "unauthorized",
            ),
            (Error::KeychainLocked("x".into()), "keychain_locked"),
            (Error::NetworkTimeout { url: "u".into() }, "unreachable"),
            (
                Error::Api {
                    status: 502,
                    code: 0,
                    message: "bad gateway".into(),
                },
                "unreachable",
            ),
            (
                Error::Api {
                    status: 400,
                    code: 60306,
                    message: "bad".into(),
                },
                "undetermined",
            ),
        ];
        for (err, code) in cases {
            let health = FactorHealth::from_error(&err);
            assert_eq!(health.code(), code, "{err:?}");
        }
        assert_eq!(
            FactorHealth::KeychainLocked.action(),
            HealthAction::UnlockKeychain
        );
    }

    #[test]
    fn a_factor_refused_while_enrolling_ran_out_of_time() {
        let factor = "YF1".to_string();
        assert_eq!(
            FactorProblem::while_enrolling(&Error::FactorIllegalStatus {
                factor: factor.clone()
            }),
            FactorProblem::EnrollmentExpired
        );
        assert_eq!(
            FactorProblem::while_enrolling(&Error::DeviceUnauthorized { factor }),
            FactorProblem::EnrollmentExpired
        );
        assert_eq!(
            FactorProblem::while_enrolling(&Error::PushKeyMissing("n".into())),
            FactorProblem::KeyMissing
        );
    }
}

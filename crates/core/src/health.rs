//! The whole profile's health in one value, for `countersign-cli doctor` and the window:
//! the keychain, every push factor ([`crate::push::health`]) and the one-time-code secrets
//! ([`crate::secret_health`]), with one overall verdict.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::push::store::EnrollmentStore;
use crate::push::{FactorHealth, HealthReport};
use crate::secret_health::SecretHealth;
use crate::verify::client::local_now;

/// The keychain as the checks found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum KeychainHealth {
    Ok,
    /// Locked: nothing could be read, which says nothing about the secrets themselves.
    Locked {
        reason: String,
    },
    Unavailable {
        reason: String,
    },
}

/// The overall verdict, from worst to best: a blocked keychain hides everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Everything checked works (enrollments still under way elsewhere don't count).
    Healthy,
    /// Some factors or accounts could not be checked (server unreachable or an unexpected
    /// answer); nothing checked needs action.
    Unchecked,
    /// A factor is broken or retired, or an account's secret is missing or orphaned.
    NeedsAction,
    /// The keychain is locked or unavailable.
    KeychainBlocked,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthSummary {
    pub verdict: Verdict,
    pub keychain: KeychainHealth,
    pub factors: Vec<HealthReport>,
    pub secrets: SecretHealth,
}

impl HealthSummary {
    /// Combines the push reports and the secret check of an open vault.
    pub fn new(factors: Vec<HealthReport>, secrets: SecretHealth) -> Self {
        let keychain = factors
            .iter()
            .find_map(|r| match &r.health {
                FactorHealth::KeychainLocked => Some(KeychainHealth::Locked {
                    reason: "the keychain was locked while the factors were checked".into(),
                }),
                FactorHealth::KeychainUnavailable { reason } => Some(KeychainHealth::Unavailable {
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .unwrap_or(KeychainHealth::Ok);
        let mut summary = HealthSummary {
            verdict: Verdict::Healthy,
            keychain,
            factors,
            secrets,
        };
        summary.verdict = summary.judge();
        summary
    }

    /// What can be said when the keychain cannot even be opened: every factor (from the
    /// metadata file) is reported as blocked by it, without asking any server. `None` when
    /// `err` is not a locked or unavailable keychain.
    pub fn keychain_blocked(profile: &Profile, err: &Error) -> Result<Option<Self>> {
        let (health, keychain) = match err {
            Error::KeychainLocked(reason) => (
                FactorHealth::KeychainLocked,
                KeychainHealth::Locked {
                    reason: reason.clone(),
                },
            ),
            Error::KeychainUnavailable { cause, .. } => (
                FactorHealth::KeychainUnavailable {
                    reason: cause.clone(),
                },
                KeychainHealth::Unavailable {
                    reason: cause.clone(),
                },
            ),
            _ => return Ok(None),
        };
        let now = local_now();
        let enrollments = EnrollmentStore::open(profile.data_dir())
            .load()?
            .enrollments;
        let factors = enrollments
            .iter()
            .map(|e| HealthReport::new(e, health.clone(), now))
            .collect();
        Ok(Some(HealthSummary {
            verdict: Verdict::KeychainBlocked,
            keychain,
            factors,
            secrets: SecretHealth::default(),
        }))
    }

    fn judge(&self) -> Verdict {
        if self.keychain != KeychainHealth::Ok {
            return Verdict::KeychainBlocked;
        }
        let needs_action = !self.secrets.is_healthy()
            || self.factors.iter().any(|r| {
                matches!(
                    r.health,
                    FactorHealth::Broken { .. } | FactorHealth::Retired
                )
            });
        if needs_action {
            return Verdict::NeedsAction;
        }
        let unchecked = self.factors.iter().any(|r| {
            matches!(
                r.health,
                FactorHealth::Unreachable { .. } | FactorHealth::Undetermined { .. }
            )
        });
        if unchecked {
            Verdict::Unchecked
        } else {
            Verdict::Healthy
        }
    }
}

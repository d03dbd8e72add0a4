//! The poll loop's body, shared by the app and the tests: asks every factor the [`Poller`]
//! says is due for its pending challenges, reports each outcome back to the schedule, and
//! says when that factor is asked again. The caller sleeps until [`ChallengeWatch::next_due`]
//! (or until something wakes it) and shows the reports.
//!
//! A poll is one request with the policy's timeout (`VerifyClient::single_attempt`): the
//! schedule, not the HTTP client, waits out `Retry-After` and backs off, so no retry comes
//! closer than the per-factor floor.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::push::challenges::PendingChallenge;
use crate::push::poll::{PollPolicy, Poller, Visibility};
use crate::push::{Enrollment, PushManager};

/// The pending challenges of verified factors, polled on the schedule of a [`Poller`].
pub struct ChallengeWatch {
    manager: Arc<PushManager>,
    poller: Mutex<Poller<Uuid>>,
    request_timeout: Duration,
}

/// What one poll of one factor found.
#[derive(Debug)]
pub struct PollReport {
    pub enrollment_id: Uuid,
    pub outcome: Result<Vec<PendingChallenge>>,
    /// How long until this factor is asked again, from when the poll ended (`None` once the
    /// factor is no longer polled).
    pub next_poll_in: Option<Duration>,
    /// Polls of this factor that failed in a row, this one included (0 on success).
    pub failures: u32,
}

/// Why polls fail, in the words the window uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollTrouble {
    /// No answer: offline, refused, or slower than the timeout.
    Unreachable,
    /// The server asked us to come back later (429, or 503 with `Retry-After`).
    Busy,
    /// The server answered with a 5xx error.
    ServerError,
    /// Anything else (the factor or the keychain): the error says what.
    Other,
}

impl PollTrouble {
    pub fn of(err: &Error) -> PollTrouble {
        match err {
            Error::Network { .. }
            | Error::NetworkTimeout { .. }
            | Error::NetworkUnreachable { .. } => PollTrouble::Unreachable,
            Error::RateLimited { .. } => PollTrouble::Busy,
            Error::Api { status, .. } if *status >= 500 => PollTrouble::ServerError,
            _ => PollTrouble::Other,
        }
    }
}

impl PollReport {
    /// `None` after a successful poll.
    pub fn trouble(&self) -> Option<PollTrouble> {
        self.outcome.as_ref().err().map(PollTrouble::of)
    }
}

impl ChallengeWatch {
    /// Nothing is polled until [`Self::retarget`] names the factors.
    pub fn new(manager: Arc<PushManager>, policy: PollPolicy, visibility: Visibility) -> Self {
        ChallengeWatch {
            manager,
            request_timeout: policy.request_timeout,
            poller: Mutex::new(Poller::new(policy, visibility)),
        }
    }

    /// Polls the verified enrollments as they are now: new ones at once (subject to the
    /// per-factor floor), removed ones no more.
    pub fn retarget(&self) -> Result<()> {
        let ids: Vec<Uuid> = self
            .manager
            .enrollments()?
            .into_iter()
            .filter(Enrollment::is_verified)
            .map(|e| e.id)
            .collect();
        let now = Instant::now();
        let mut poller = self.poller();
        poller.set_targets(ids, now);
        poller.poll_now(now);
        Ok(())
    }

    pub fn set_visibility(&self, visibility: Visibility) {
        self.poller().set_visibility(visibility, Instant::now());
    }

    pub fn visibility(&self) -> Visibility {
        self.poller().visibility()
    }

    /// Everything as soon as the per-factor floor allows, failed factors included.
    pub fn poll_now(&self) {
        self.poller().poll_now(Instant::now());
    }

    /// When the next poll is due (`None` with nothing to poll).
    pub fn next_due(&self) -> Option<Instant> {
        self.poller().next_due()
    }

    /// Polls every factor that is due, one after another.
    pub async fn poll_due(&self) -> Vec<PollReport> {
        let due = self.poller().due(Instant::now());
        let mut reports = Vec::with_capacity(due.len());
        for id in due {
            reports.push(self.poll_one(id).await);
        }
        reports
    }

    async fn poll_one(&self, id: Uuid) -> PollReport {
        self.poller().started(&id, Instant::now());
        let enrollment = self
            .manager
            .enrollments()
            .and_then(|all| {
                all.into_iter()
                    .find(|e| e.id == id)
                    .ok_or_else(|| Error::EnrollmentNotFound(id.to_string()))
            })
            .and_then(|e| {
                if e.is_verified() {
                    Ok(e)
                } else {
                    Err(Error::EnrollmentIncomplete(e.friendly_name))
                }
            });
        let outcome = match enrollment {
            Ok(enrollment) => self
                .manager
                .poll_pending(&enrollment, self.request_timeout)
                .await
                .map(|challenges| {
                    challenges
                        .into_iter()
                        .map(|challenge| PendingChallenge {
                            enrollment_id: id,
                            enrollment_name: enrollment.friendly_name.clone(),
                            challenge,
                        })
                        .collect()
                }),
            Err(e) => {
                // Removed or being removed meanwhile: stop polling it.
                let _ = self.retarget();
                Err(e)
            }
        };
        let now = Instant::now();
        let mut poller = self.poller();
        match &outcome {
            Ok(_) => poller.succeeded(&id, now),
            Err(Error::RateLimited { retry_after_secs }) => {
                poller.failed(&id, now, Some(Duration::from_secs(*retry_after_secs)))
            }
            Err(_) => poller.failed(&id, now, None),
        }
        PollReport {
            enrollment_id: id,
            next_poll_in: poller
                .next_due_of(&id)
                .map(|at| at.saturating_duration_since(now)),
            failures: poller.failures(&id),
            outcome,
        }
    }

    fn poller(&self) -> MutexGuard<'_, Poller<Uuid>> {
        // The schedule stays valid if a holder panicked.
        self.poller.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn troubles_are_told_apart() {
        let url = || "https://verify.example/v2/Services".to_string();
        let cases = [
            (
                Error::NetworkUnreachable {
                    url: url(),
                    reason: "refused".into(),
                },
                PollTrouble::Unreachable,
            ),
            (
                Error::NetworkTimeout { url: url() },
                PollTrouble::Unreachable,
            ),
            (
                Error::RateLimited {
                    retry_after_secs: 30,
                },
                PollTrouble::Busy,
            ),
            (
                Error::Api {
                    status: 500,
                    code: 20500,
                    message: "Internal Server Error".into(),
                },
                PollTrouble::ServerError,
            ),
            (
                Error::Api {
                    status: 404,
                    code: 20404,
                    message: "not found".into(),
                },
                PollTrouble::Other,
            ),
            (
                Error::Tls {
                    url: url(),
                    reason: "unknown issuer".into(),
                },
                PollTrouble::Other,
            ),
        ];
        for (err, want) in cases {
            assert_eq!(PollTrouble::of(&err), want, "{err}");
        }
    }
}

//! Pending challenges of every enrolled factor, and answering one exactly as PROTOCOL.md
//! §4.5.1 describes: fetch, check locally, sign the server's own fields, post, re-fetch.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::push::PushManager;
use crate::push::enroll::is_transient;
use crate::push::store::{Enrollment, HistoryEntry};
use crate::verify::client::local_now;
use crate::verify::device::{Challenge, ChallengeDetails, FetchedChallenge};
use crate::verify::{DeviceFactor, VerifyClient};

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    /// The challenge status this answer leads to.
    pub fn status(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        }
    }
}

/// Fields the server must ask us to sign: together they name the request, what it says,
/// how long it stands and the answer, so a signature cannot be replayed onto another one.
pub const REQUIRED_SIGNED_FIELDS: [&str; 5] =
    ["sid", "factor_sid", "details", "expiration_date", "status"];

/// A request as the user saw it, in the window or a notification. An answer signs only a
/// challenge that the server, asked again, still describes exactly like this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownChallenge {
    pub sid: String,
    pub details: ChallengeDetails,
}

impl From<&Challenge> for ShownChallenge {
    fn from(challenge: &Challenge) -> Self {
        ShownChallenge {
            sid: challenge.sid.clone(),
            details: challenge.details.clone(),
        }
    }
}

/// A pending challenge and the enrollment it is for.
#[derive(Debug, Clone, Serialize)]
pub struct PendingChallenge {
    pub enrollment_id: Uuid,
    pub enrollment_name: String,
    pub challenge: Challenge,
}

/// Pending challenges of every verified enrollment; enrollments that could not be asked are
/// listed with the reason instead of failing the whole list.
#[derive(Debug, Default)]
pub struct ChallengeList {
    pub challenges: Vec<PendingChallenge>,
    pub failures: Vec<(Uuid, Error)>,
}

impl PushManager {
    /// Pending challenges of every verified enrollment, newest first within each.
    pub async fn pending_challenges(&self) -> Result<ChallengeList> {
        let mut list = ChallengeList::default();
        for enrollment in self.enrollments()? {
            if !enrollment.is_verified() {
                continue;
            }
            match self.pending_challenges_for(&enrollment).await {
                Ok(challenges) => list
                    .challenges
                    .extend(challenges.into_iter().map(|challenge| PendingChallenge {
                        enrollment_id: enrollment.id,
                        enrollment_name: enrollment.friendly_name.clone(),
                        challenge,
                    })),
                Err(e @ (Error::KeychainLocked(_) | Error::KeychainUnavailable { .. })) => {
                    return Err(e);
                }
                Err(e) => list.failures.push((enrollment.id, e)),
            }
        }
        Ok(list)
    }

    /// Pending challenges of one enrollment (one request: what the poller schedules). Also
    /// updates the history: challenges seen pending before and gone now get their final
    /// status.
    pub async fn pending_challenges_for(&self, enrollment: &Enrollment) -> Result<Vec<Challenge>> {
        self.fetch_pending(enrollment, None).await
    }

    /// As [`Self::pending_challenges_for`], as one request given up after `timeout`: what the
    /// poll schedule sends, since it does the waiting and retrying itself.
    pub(crate) async fn poll_pending(
        &self,
        enrollment: &Enrollment,
        timeout: std::time::Duration,
    ) -> Result<Vec<Challenge>> {
        self.fetch_pending(enrollment, Some(timeout)).await
    }

    async fn fetch_pending(
        &self,
        enrollment: &Enrollment,
        single_attempt: Option<std::time::Duration>,
    ) -> Result<Vec<Challenge>> {
        if !enrollment.is_verified() {
            return Err(Error::EnrollmentIncomplete(
                enrollment.friendly_name.clone(),
            ));
        }
        // Lost keys and refusals map to the same problems a health check reports, and are
        // recorded so the window shows them at its next start.
        let factor = self
            .device_factor(enrollment)
            .await
            .inspect_err(|e| self.note_failure(enrollment, e))?;
        let shared = self.client(&enrollment.server)?;
        let client = match single_attempt {
            Some(timeout) => shared.single_attempt(timeout),
            None => shared,
        };
        let result = client.pending_challenges(&factor).await;
        self.persist_clock_offset(&enrollment.server, &client)?;
        let mut challenges = result.inspect_err(|e| self.note_failure(enrollment, e))?;
        // A device only acts on its own factor's challenges.
        challenges.retain(|c| c.factor_sid == factor.factor_sid && c.is_pending());
        self.track_history(enrollment, &factor, &client, &challenges)
            .await?;
        Ok(challenges)
    }

    /// Approves or denies a challenge the user was shown, for an enrollment, and returns it
    /// as the server shows it afterwards.
    pub async fn answer(
        &self,
        enrollment_id: Uuid,
        shown: &ShownChallenge,
        decision: Decision,
    ) -> Result<Challenge> {
        let challenge_sid = shown.sid.as_str();
        let enrollment = self.store.load()?.get(enrollment_id)?.clone();
        if !enrollment.is_verified() {
            return Err(Error::EnrollmentIncomplete(
                enrollment.friendly_name.clone(),
            ));
        }
        let factor = self
            .device_factor(&enrollment)
            .await
            .inspect_err(|e| self.note_failure(&enrollment, e))?;
        let client = self.client(&enrollment.server)?;
        let result = answer_challenge(&client, &factor, shown, decision).await;
        self.persist_clock_offset(&enrollment.server, &client)?;
        if let Err(e) = &result {
            self.note_failure(&enrollment, e);
        }
        match &result {
            Ok(challenge) => self.remember(&enrollment, challenge, true)?,
            Err(Error::ChallengeExpired) => {
                // Best effort: keep the expired request in the history too.
                if let Ok(fetched) = client.fetch_challenge(&factor, challenge_sid).await
                    && fetched.challenge.factor_sid == factor.factor_sid
                {
                    let mut challenge = fetched.challenge;
                    challenge.status = "expired".into();
                    self.remember(&enrollment, &challenge, false)?;
                }
            }
            Err(_) => {}
        }
        result
    }

    /// Finds a challenge by SID among the verified enrollments (or in one), as its server
    /// shows it now: for callers that only have the SID, like the CLI, which prints what it
    /// is about to answer.
    pub async fn find_challenge(
        &self,
        challenge_sid: &str,
        enrollment_id: Option<Uuid>,
    ) -> Result<(Uuid, Challenge)> {
        let mut last = Error::ChallengeNotFound(challenge_sid.to_string());
        let candidates = self
            .enrollments()?
            .into_iter()
            .filter(|e| e.is_verified() && enrollment_id.is_none_or(|id| id == e.id));
        for enrollment in candidates {
            let factor = self
                .device_factor(&enrollment)
                .await
                .inspect_err(|e| self.note_failure(&enrollment, e))?;
            let client = self.client(&enrollment.server)?;
            let result = client.fetch_challenge(&factor, challenge_sid).await;
            self.persist_clock_offset(&enrollment.server, &client)?;
            match result {
                Ok(fetched) if fetched.challenge.factor_sid == factor.factor_sid => {
                    return Ok((enrollment.id, fetched.challenge));
                }
                Ok(_) => last = Error::ChallengeNotFound(challenge_sid.to_string()),
                Err(e @ Error::ChallengeNotFound(_)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn remember(&self, enrollment: &Enrollment, challenge: &Challenge, here: bool) -> Result<()> {
        let now = local_now();
        self.store.update(|file| {
            file.record_history(history_entry(enrollment, challenge, here, now), now);
            Ok(())
        })
    }

    /// Records new pending challenges and settles the ones that left the pending list.
    async fn track_history(
        &self,
        enrollment: &Enrollment,
        factor: &DeviceFactor,
        client: &VerifyClient,
        pending: &[Challenge],
    ) -> Result<()> {
        let known = self.store.load()?.history;
        let pending_sids: HashSet<&str> = pending.iter().map(|c| c.sid.as_str()).collect();
        let mut updates: Vec<HistoryEntry> = Vec::new();
        let now = local_now();
        for challenge in pending {
            if !known.iter().any(|h| h.challenge_sid == challenge.sid) {
                updates.push(history_entry(enrollment, challenge, false, now));
            }
        }
        for entry in known.iter().filter(|h| {
            h.enrollment_id == enrollment.id
                && h.status == "pending"
                && !pending_sids.contains(h.challenge_sid.as_str())
        }) {
            // It was answered elsewhere or expired: one fetch tells which.
            let status = match client.fetch_challenge(factor, &entry.challenge_sid).await {
                Ok(fetched) => fetched.challenge.status,
                Err(e) if is_transient(&e) => continue,
                Err(_) => "expired".to_string(),
            };
            let mut settled = entry.clone();
            settled.status = if status == "pending" {
                "expired".into()
            } else {
                status
            };
            settled.updated_at = now;
            updates.push(settled);
        }
        if updates.is_empty() {
            return Ok(());
        }
        self.store.update(|file| {
            for entry in updates {
                file.record_history(entry, now);
            }
            Ok(())
        })
    }
}

fn history_entry(
    enrollment: &Enrollment,
    challenge: &Challenge,
    answered_here: bool,
    now: i64,
) -> HistoryEntry {
    HistoryEntry {
        challenge_sid: challenge.sid.clone(),
        enrollment_id: enrollment.id,
        factor_sid: challenge.factor_sid.clone(),
        message: challenge.details.message.clone(),
        fields: challenge.details.fields.clone(),
        status: challenge.status.clone(),
        date_created: challenge.date_created.clone(),
        expiration_date: challenge.expiration_date.clone(),
        answered_here,
        updated_at: now,
    }
}

/// §4.5.1 steps 1–6 for one factor, signing only what `shown` says.
pub async fn answer_challenge(
    client: &VerifyClient,
    factor: &DeviceFactor,
    shown: &ShownChallenge,
    decision: Decision,
) -> Result<Challenge> {
    let challenge_sid = shown.sid.as_str();
    let fetched = client.fetch_challenge(factor, challenge_sid).await?;
    check_answerable(&fetched, shown, &factor.factor_sid, client.server_now())?;
    let signature_fields = fetched.signature_fields.as_deref().unwrap_or_default();
    let auth_payload =
        factor
            .key
            .approval_jwt(&fetched.body, signature_fields, decision.status())?;
    let wanted = decision.status();
    match client
        .update_challenge(factor, challenge_sid, &auth_payload)
        .await
    {
        Ok(()) => {}
        // The answer may have landed even though the reply got lost: the re-fetch decides.
        Err(e) if is_transient(&e) => {
            return match client.fetch_challenge(factor, challenge_sid).await {
                Ok(after) if after.challenge.status == wanted => Ok(after.challenge),
                _ => Err(e),
            };
        }
        Err(Error::ChallengeAlreadyAnswered { .. }) => {
            let status = client
                .fetch_challenge(factor, challenge_sid)
                .await
                .map(|after| after.challenge.status)
                .unwrap_or_else(|_| "answered".into());
            return Err(Error::ChallengeAlreadyAnswered { status });
        }
        Err(e) => return Err(e),
    }
    let after = client.fetch_challenge(factor, challenge_sid).await?;
    if after.challenge.status != wanted {
        return Err(Error::ChallengeNotUpdated {
            status: after.challenge.status,
        });
    }
    Ok(after.challenge)
}

/// The client-side refusals of §4.5.1 step 2, and the binding to what the user saw: the
/// same request, the same details, and a signature that covers them.
pub fn check_answerable(
    fetched: &FetchedChallenge,
    shown: &ShownChallenge,
    factor_sid: &str,
    server_now: i64,
) -> Result<()> {
    let challenge = &fetched.challenge;
    if challenge.sid != shown.sid {
        return Err(Error::ChallengeChanged(
            "the server answered with another request".into(),
        ));
    }
    if challenge.factor_sid != factor_sid {
        return Err(Error::ChallengeWrongFactor(challenge.sid.clone()));
    }
    if challenge.status == "expired" {
        return Err(Error::ChallengeExpired);
    }
    if !challenge.is_pending() {
        return Err(Error::ChallengeAlreadyAnswered {
            status: challenge.status.clone(),
        });
    }
    if challenge.expires_at().is_some_and(|at| at <= server_now) {
        return Err(Error::ChallengeExpired);
    }
    if challenge.details != shown.details {
        return Err(Error::ChallengeChanged(
            "its details differ from what was shown".into(),
        ));
    }
    let Some(listed) = fetched
        .signature_fields
        .as_deref()
        .filter(|fields| !fields.is_empty())
    else {
        return Err(Error::ChallengeUnsignable(
            "the server did not say which fields to sign".into(),
        ));
    };
    let listed: HashSet<&str> = listed.split(',').collect();
    let unsigned: Vec<&str> = REQUIRED_SIGNED_FIELDS
        .into_iter()
        .filter(|field| !listed.contains(field))
        .collect();
    if !unsigned.is_empty() {
        return Err(Error::ChallengeUnsignable(format!(
            "the server does not ask to sign {}, so the answer would not be bound to this request",
            unsigned.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_FIELDS: &str = "sid,factor_sid,details,expiration_date,status";

    fn fetched_with(
        sid: &str,
        factor_sid: &str,
        status: &str,
        message: &str,
        fields: Option<&str>,
    ) -> FetchedChallenge {
        let body = format!(
            r#"{{"sid":"{sid}","factor_sid":"{factor_sid}","status":"{status}","date_created":"2026-01-01T00:00:00Z",
                "expiration_date":"2026-01-01T00:05:00Z","details":{{"message":"{message}","fields":[{{"label":"From","value":"Paris"}}]}}}}"#
        );
        FetchedChallenge {
            challenge: serde_json::from_str(&body).unwrap(),
            body: serde_json::from_str(&body).unwrap(),
            signature_fields: fields.map(str::to_string),
        }
    }

    fn fetched(factor_sid: &str, status: &str, fields: Option<&str>) -> FetchedChallenge {
        fetched_with("YC1", factor_sid, status, "Log in?", fields)
    }

    fn shown() -> ShownChallenge {
        (&fetched("YF1", "pending", None).challenge).into()
    }

    // 2026-01-01T00:05:00Z
    const EXPIRES: i64 = 1_767_225_900;

    #[test]
    fn a_pending_challenge_of_this_factor_as_shown_is_answerable() {
        let f = fetched("YF1", "pending", Some(ALL_FIELDS));
        assert!(check_answerable(&f, &shown(), "YF1", EXPIRES - 1).is_ok());
        // Extra fields are fine; order does not matter.
        let f = fetched(
            "YF1",
            "pending",
            Some("status,hidden_details,details,expiration_date,factor_sid,sid"),
        );
        assert!(check_answerable(&f, &shown(), "YF1", EXPIRES - 1).is_ok());
    }

    #[test]
    fn refusals_have_distinct_codes() {
        let cases = [
            (
                fetched("YF2", "pending", Some(ALL_FIELDS)),
                EXPIRES - 1,
                "challenge_wrong_factor",
            ),
            (
                fetched("YF1", "expired", Some(ALL_FIELDS)),
                EXPIRES - 1,
                "challenge_expired",
            ),
            (
                fetched("YF1", "pending", Some(ALL_FIELDS)),
                EXPIRES,
                "challenge_expired",
            ),
            (
                fetched("YF1", "approved", None),
                EXPIRES - 1,
                "challenge_already_answered",
            ),
            (
                fetched("YF1", "denied", None),
                EXPIRES - 1,
                "challenge_already_answered",
            ),
            (
                fetched("YF1", "pending", None),
                EXPIRES - 1,
                "challenge_unsignable",
            ),
            (
                fetched("YF1", "pending", Some("")),
                EXPIRES - 1,
                "challenge_unsignable",
            ),
        ];
        for (f, now, code) in cases {
            assert_eq!(
                check_answerable(&f, &shown(), "YF1", now)
                    .unwrap_err()
                    .code(),
                code
            );
        }
    }

    #[test]
    fn another_request_or_changed_details_are_refused() {
        let swapped = fetched_with("YC2", "YF1", "pending", "Log in?", Some(ALL_FIELDS));
        let err = check_answerable(&swapped, &shown(), "YF1", EXPIRES - 1).unwrap_err();
        assert_eq!(err.code(), "challenge_changed");
        assert!(err.to_string().contains("another request"), "{err}");

        for message in ["Log in? ", "log in?", "Wire 9000 EUR?"] {
            let altered = fetched_with("YC1", "YF1", "pending", message, Some(ALL_FIELDS));
            let err = check_answerable(&altered, &shown(), "YF1", EXPIRES - 1).unwrap_err();
            assert_eq!(err.code(), "challenge_changed", "{message:?}");
        }
        let mut other_field = shown();
        other_field.details.fields[0].value = "Paris ".into();
        let f = fetched("YF1", "pending", Some(ALL_FIELDS));
        let err = check_answerable(&f, &other_field, "YF1", EXPIRES - 1).unwrap_err();
        assert_eq!(err.code(), "challenge_changed");
    }

    #[test]
    fn a_field_list_that_leaves_out_what_binds_the_answer_is_refused() {
        for field in REQUIRED_SIGNED_FIELDS {
            let trimmed: Vec<&str> = REQUIRED_SIGNED_FIELDS
                .into_iter()
                .filter(|f| *f != field)
                .collect();
            let f = fetched("YF1", "pending", Some(&trimmed.join(",")));
            let err = check_answerable(&f, &shown(), "YF1", EXPIRES - 1).unwrap_err();
            assert_eq!(err.code(), "challenge_unsignable", "{field}");
            assert!(err.to_string().contains(field), "{err}");
        }
        // Spaces are not trimmed by the SDKs, so " details" is not "details".
        let f = fetched(
            "YF1",
            "pending",
            Some("sid,factor_sid, details,expiration_date,status"),
        );
        assert!(check_answerable(&f, &shown(), "YF1", EXPIRES - 1).is_err());
    }

    #[test]
    fn decisions_map_to_statuses() {
        assert_eq!(Decision::Approve.status(), "approved");
        assert_eq!(Decision::Deny.status(), "denied");
    }
}

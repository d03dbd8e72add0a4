//! `/v2/Services/{sid}/Entities/{identity}/Challenges`: push approvals
//! and TOTP code checks.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use axum::response::{IntoResponse, Response};

use super::Json;
use crate::auth::{Caller, device_factor, factor_in_scope, parse_device_token};
use crate::clock::{fmt_ts, parse_ts};
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params, Query};
use crate::jwt::UnverifiedJwt;
use crate::model::{APPROVED, Challenge, DENIED, EXPIRED, Entity, Factor, PENDING, Service};
use crate::pagination::Page;
use crate::routes::factors::{accept_totp_code, string_map};
use crate::sid::{self, CHALLENGE, FACTOR};
use crate::state::{AppState, SharedState};

/// Header naming the top-level fields a device must sign on approval.
pub const SIGNATURE_FIELDS_HEADER: &str = "Twilio-Verify-Signature-Fields";

/// The fields we advertise (PROTOCOL.md §4.5.3 recommendation; Twilio's own
/// list is unconfirmed). No spaces: the SDKs split on "," without trimming.
pub const SIGNATURE_FIELDS: &str = "sid,service_sid,account_sid,entity_sid,identity,factor_sid,\
date_created,date_updated,expiration_date,status,details,hidden_details,factor_type";

const DEFAULT_TTL: i64 = 5 * 60;
const MAX_TTL: i64 = 60 * 60;

fn challenge_event_params(c: &Challenge, factor: &Factor) -> Vec<(String, String)> {
    let json_or_empty = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
    vec![
        ("entity_identity".into(), c.identity.clone()),
        ("factor_sid".into(), c.factor_sid.clone()),
        ("factor_type".into(), c.factor_type.clone()),
        ("factor_friendly_name".into(), factor.friendly_name.clone()),
        ("challenge_sid".into(), c.sid.clone()),
        ("challenge_details".into(), c.details.to_string()),
        (
            "challenge_hidden_details".into(),
            json_or_empty(&c.hidden_details),
        ),
        ("challenge_metadata".into(), json_or_empty(&c.metadata)),
        ("challenge_status".into(), c.status.clone()),
    ]
}

fn parse_details(p: &Params, required: bool) -> ApiResult<(Option<String>, Vec<Value>)> {
    let bad = |m: &str| ApiError::ChallengeDetailsInvalid(m.to_string());
    let message = match p.get("Details.Message") {
        Some(m) if m.chars().count() > 256 => return Err(bad("Details.Message is too long")),
        Some(m) if !m.is_empty() => Some(m.to_string()),
        _ if required => return Err(bad("Details.Message is required")),
        _ => None,
    };
    let raw_fields = p.get_all("Details.Fields");
    if raw_fields.len() > 20 {
        return Err(bad("at most 20 Details.Fields"));
    }
    let mut fields = Vec::new();
    for raw in raw_fields {
        let v: Value = serde_json::from_str(raw).map_err(|_| bad("Details.Fields must be JSON"))?;
        let label = v.get("label").and_then(Value::as_str);
        let value = v.get("value").and_then(Value::as_str);
        match (label, value) {
            (Some(l), Some(val)) if l.chars().count() <= 36 && val.chars().count() <= 128 => {
                fields.push(json!({"label": l, "value": val}));
            }
            _ => {
                return Err(bad(
                    "each Details.Fields item needs label (≤36) and value (≤128)",
                ));
            }
        }
    }
    Ok((message, fields))
}

/// 60312 limits for TOTP factors (PROTOCOL.md §5.3).
fn check_creation_rate(conn: &Connection, factor: &Factor, now: i64) -> ApiResult<()> {
    let count_since = |since: i64| -> ApiResult<i64> {
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM challenges WHERE factor_sid = ?1 AND date_created > ?2",
            params![factor.sid, since],
            |r| r.get(0),
        )?)
    };
    let code_length = factor
        .config
        .get("code_length")
        .and_then(Value::as_i64)
        .unwrap_or(6);
    let over = if code_length <= 4 {
        count_since(now - 86_400)? >= 10
    } else {
        count_since(now - 3600)? >= 50 || count_since(now - 86_400)? >= 100
    };
    if over {
        Err(ApiError::ChallengeRateLimit)
    } else {
        Ok(())
    }
}

/// 60312 once the entity has `limit` push challenges waiting for an answer
/// (expired ones do not count, whether or not their expiry was stored yet).
fn check_pending_limit(conn: &Connection, factor: &Factor, now: i64, limit: u32) -> ApiResult<()> {
    let pending: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM challenges WHERE entity_sid = ?1 AND status = 'pending'
               AND factor_type = 'push' AND expiration_date > ?2",
        )?
        .query_row(params![factor.entity_sid, now], |r| r.get(0))?;
    if pending >= i64::from(limit) {
        Err(ApiError::PendingChallengeLimit(limit))
    } else {
        Ok(())
    }
}

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity)): Path<(String, String)>,
    Form(p): Form,
) -> ApiResult<Response> {
    caller.require_backend()?;
    let challenge = create_challenge(&st, service_sid, identity, p).await?;
    Ok((StatusCode::CREATED, axum::Json(challenge.resource(&st))).into_response())
}

/// Create a challenge as the backend asks (the demo page asks too).
pub async fn create_challenge(
    st: &SharedState,
    service_sid: String,
    identity: String,
    p: Params,
) -> ApiResult<Challenge> {
    let factor_sid = p
        .get("FactorSid")
        .filter(|s| sid::is_sid(s, FACTOR))
        .ok_or_else(|| ApiError::InvalidRequest("FactorSid is missing or malformed".into()))?
        .to_string();
    let now = st.now();
    let expiration = match p.get("ExpirationDate") {
        None => now + DEFAULT_TTL,
        Some(raw) => match parse_ts(raw) {
            Some(t) if t > now && t <= now + MAX_TTL => t,
            _ => {
                return Err(ApiError::InvalidRequest(
                    "ExpirationDate must be an ISO-8601 time within the next hour".into(),
                ));
            }
        },
    };
    let hidden = string_map(&p, "HiddenDetails", 1024)?;
    let st2 = st.clone();
    let (challenge, factor) = st
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let svc = Service::load(&tx, &service_sid)?;
            let factor = Factor::load(&tx, &service_sid, &identity, &factor_sid)?;
            if !factor.is_verified() {
                return Err(ApiError::FactorUnverified);
            }
            if factor.is_push() {
                check_pending_limit(
                    &tx,
                    &factor,
                    now,
                    st2.limits.max_pending_push_challenges_per_entity,
                )?;
            }
            let (message, fields) = parse_details(&p, factor.is_push())?;
            let mut details = json!({"message": message, "fields": fields});
            if svc.settings.push_include_date && factor.is_push() {
                details["date"] = Value::String(fmt_ts(now));
            }
            let mut status = PENDING.to_string();
            let mut failed = 0;
            let mut responded = None;
            if !factor.is_push() {
                if st2.limits.challenge_rate_limit {
                    check_creation_rate(&tx, &factor, now)?;
                }
                if let Some(code) = p.get("AuthPayload") {
                    if !(3..=8).contains(&code.trim().len()) {
                        return Err(ApiError::InvalidRequest(
                            "AuthPayload must be 3-8 characters".into(),
                        ));
                    }
                    if accept_totp_code(&tx, &st2, &factor, code)? {
                        status = APPROVED.into();
                        responded = Some(now);
                    } else {
                        failed = 1;
                    }
                }
            }
            let ch = Challenge {
                sid: sid::new_sid(CHALLENGE),
                service_sid: svc.sid.clone(),
                entity_sid: factor.entity_sid.clone(),
                identity: factor.identity.clone(),
                factor_sid: factor.sid.clone(),
                factor_type: factor.factor_type.clone(),
                status,
                responded_reason: "none".into(),
                details,
                hidden_details: hidden,
                metadata: None,
                failed_attempts: failed,
                date_created: now,
                date_updated: now,
                date_responded: responded,
                expiration_date: expiration,
            };
            tx.prepare_cached(
                "INSERT INTO challenges (sid, service_sid, entity_sid, identity, factor_sid,
                   factor_type, status, responded_reason, details, hidden_details, metadata,
                   failed_attempts, date_created, date_updated, date_responded, expiration_date)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                ch.sid,
                ch.service_sid,
                ch.entity_sid,
                ch.identity,
                ch.factor_sid,
                ch.factor_type,
                ch.status,
                ch.responded_reason,
                ch.details.to_string(),
                ch.hidden_details.as_ref().map(Value::to_string),
                ch.failed_attempts,
                ch.date_created,
                ch.date_updated,
                ch.date_responded,
                ch.expiration_date
            ])?;
            tx.commit()?;
            Ok((ch, factor))
        })
        .await?;
    if challenge.status == APPROVED {
        st.webhooks.emit(
            &challenge.service_sid,
            "challenge.approved",
            challenge_event_params(&challenge, &factor),
        );
    }
    Ok(challenge)
}

/// For device callers: the JWT's factor, which must be verified (60383).
async fn device_caller(
    st: &SharedState,
    caller: &Caller,
    service_sid: &str,
    identity: &str,
) -> ApiResult<Option<Factor>> {
    let Caller::Device(token) = caller else {
        return Ok(None);
    };
    let f = device_factor(st, token, service_sid, Some(identity)).await?;
    if !f.is_verified() {
        return Err(ApiError::IllegalFactorStatus);
    }
    Ok(Some(f))
}

/// The challenge named by the path and, for device callers, their
/// authenticated (and verified) factor, in one database round trip.
///
/// For a device, the challenge is read only when the JWT's factor is in
/// scope for this path, and is returned only after the JWT's signature and
/// claims check out. Reading it may persist its lazy expiry before that
/// check, which is harmless: expiry depends on time alone.
pub async fn caller_and_challenge(
    st: &SharedState,
    caller: &Caller,
    service_sid: String,
    identity: String,
    sid: String,
) -> ApiResult<(Option<Factor>, Challenge)> {
    let st2 = st.clone();
    let Caller::Device(token) = caller else {
        let ch = st
            .db
            .call(move |c| Challenge::load(c, &st2, &service_sid, &identity, &sid))
            .await?;
        return Ok((None, ch));
    };
    let token = parse_device_token(token)?;
    let kid = token.kid.clone();
    let (svc, ident) = (service_sid.clone(), identity.clone());
    let (factor, challenge) = st
        .db
        .call(move |c| {
            let factor = Factor::find_by_credential(c, &kid)?;
            let challenge = match &factor {
                Some(f) if factor_in_scope(f, &svc, Some(&ident)) => {
                    Some(Challenge::load(c, &st2, &svc, &ident, &sid))
                }
                _ => None,
            };
            Ok((factor, challenge))
        })
        .await?;
    let factor = token.authenticate(st, factor, &service_sid, Some(&identity))?;
    if !factor.is_verified() {
        return Err(ApiError::IllegalFactorStatus);
    }
    // `authenticate` passing implies the factor was in scope, so the
    // challenge was read.
    let ch = challenge.ok_or(ApiError::Unauthenticated)??;
    // A device sees only its own factor's challenges.
    if factor.sid != ch.factor_sid {
        return Err(ApiError::ChallengeNotFound);
    }
    Ok((Some(factor), ch))
}

pub async fn fetch(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (_, ch) = caller_and_challenge(&st, &caller, service_sid, identity, sid).await?;
    let mut headers = HeaderMap::new();
    if ch.status == PENDING && ch.factor_type == crate::model::PUSH {
        headers.insert(
            SIGNATURE_FIELDS_HEADER,
            HeaderValue::from_static(SIGNATURE_FIELDS),
        );
    }
    Ok((headers, axum::Json(ch.resource(&st))).into_response())
}

pub async fn list(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Json> {
    let device = device_caller(&st, &caller, &service_sid, &identity).await?;
    let page = Page::from_params(&q)?;
    let requested = q
        .get("FactorSid")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if requested
        .as_deref()
        .is_some_and(|s| !sid::is_sid(s, FACTOR))
    {
        return Err(ApiError::InvalidRequest("FactorSid is malformed".into()));
    }
    // A device sees only its own factor's challenges, whatever it asks for
    // (as `fetch` does): others may carry another device's sign-in details.
    let factor_sid = match device {
        Some(f) => Some(f.sid),
        None => requested,
    };
    let status = match q.get("Status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ (PENDING | EXPIRED | APPROVED | DENIED)) => Some(s.to_string()),
        Some(_) => return Err(ApiError::InvalidRequest("Status is invalid".into())),
    };
    let desc = match q.get("Order").map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::InvalidRequest("Order must be asc or desc".into())),
    };
    let now = st.now();
    let (svc, ident) = (service_sid.clone(), identity.clone());
    let (fs, stat) = (factor_sid.clone(), status.clone());
    let rows = st
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let e = Entity::load(&tx, &svc, &ident)?;
            // Expiry is evaluated on every read, in bulk here.
            tx.execute(
                "UPDATE challenges SET status = 'expired', date_updated = ?1
                 WHERE entity_sid = ?2 AND status = 'pending' AND expiration_date <= ?1",
                params![now, e.sid],
            )?;
            let sql = format!(
                "SELECT {} FROM challenges WHERE entity_sid = ?1
                   AND (?2 IS NULL OR factor_sid = ?2) AND (?3 IS NULL OR status = ?3)
                 ORDER BY seq {} LIMIT ?4 OFFSET ?5",
                Challenge::COLUMNS,
                if desc { "DESC" } else { "ASC" }
            );
            let rows = {
                let mut stmt = tx.prepare(&sql)?;
                stmt.query_map(
                    params![e.sid, fs, stat, page.limit(), page.offset],
                    Challenge::from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(rows)
        })
        .await?;
    let items = rows.iter().map(|c| c.to_json(&st)).collect();
    let mut filters = Vec::new();
    if let Some(f) = factor_sid {
        filters.push(("FactorSid", f));
    }
    if let Some(s) = status {
        filters.push(("Status", s));
    }
    if q.get("Order").is_some() {
        filters.push(("Order", if desc { "desc" } else { "asc" }.to_string()));
    }
    let url = format!("{}/Challenges", st.entity_url(&service_sid, &identity));
    Ok(axum::Json(page.render("challenges", items, &url, &filters)))
}

/// Check a push approval JWT (PROTOCOL.md §4.5.2): signature over the
/// received bytes, then every advertised field compared by value with what
/// we serve for this challenge. Returns the requested new status.
fn check_push_payload(
    st: &AppState,
    ch: &Challenge,
    factor: &Factor,
    payload: &str,
) -> ApiResult<String> {
    let fail = || ApiError::ChallengeVerificationFailed;
    let jwt = UnverifiedJwt::parse(payload).map_err(|_| fail())?;
    let key = st.keys.get(&factor.binding).ok_or_else(fail)?;
    jwt.verify(&key).map_err(|_| fail())?;
    let served = ch.to_json(st);
    for field in SIGNATURE_FIELDS.split(',').filter(|f| *f != "status") {
        if jwt.payload.get(field) != served.get(field) {
            return Err(fail());
        }
    }
    match jwt.payload.get("status").and_then(Value::as_str) {
        Some(s @ (APPROVED | DENIED)) => Ok(s.to_string()),
        _ => Err(fail()),
    }
}

pub async fn update(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    Form(p): Form,
) -> ApiResult<Response> {
    let (device, ch) = caller_and_challenge(&st, &caller, service_sid, identity, sid).await?;
    let metadata = string_map(&p, "Metadata", 1024)?;
    let payload = p
        .get("AuthPayload")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("AuthPayload is required".into()))?
        .to_string();
    if ch.status == EXPIRED {
        return Err(ApiError::ChallengeExpired);
    }
    if ch.status != PENDING {
        return Err(ApiError::ChallengeResponded);
    }
    let factor = match device {
        // `caller_and_challenge` proved the challenge is this factor's.
        Some(f) => f,
        None => {
            let factor_sid = ch.factor_sid.clone();
            st.db
                .call(move |c| Factor::find_by_sid(c, &factor_sid))
                .await?
                .ok_or(ApiError::FactorNotFound)?
        }
    };
    if !factor.is_verified() {
        return Err(ApiError::FactorUnverified);
    }

    let new_status = if factor.is_push() {
        if payload.len() > 5456 {
            return Err(ApiError::InvalidRequest("AuthPayload is too long".into()));
        }
        // Crypto runs outside the database thread.
        Some(check_push_payload(&st, &ch, &factor, &payload)?)
    } else {
        if !(3..=8).contains(&payload.trim().len()) {
            return Err(ApiError::InvalidRequest(
                "AuthPayload must be 3-8 characters".into(),
            ));
        }
        None
    };

    let st2 = st.clone();
    let f2 = factor.clone();
    let now = st.now();
    let (answered, fresh) = st
        .db
        .call(move |c| {
            let answer = Answer {
                challenge_sid: &ch.sid,
                push_status: new_status,
                totp_code: &payload,
                metadata: metadata.as_ref().map(Value::to_string),
                now,
            };
            match record_answer(c, &st2, &f2, answer)? {
                // The guarded UPDATE changed exactly these columns of the
                // pending row read above.
                Some(status) => {
                    let mut answered = ch;
                    answered.status = status;
                    answered.responded_reason = "none".into();
                    answered.date_updated = now;
                    answered.date_responded = Some(now);
                    if metadata.is_some() {
                        answered.metadata = metadata;
                    }
                    Ok((true, answered))
                }
                // A wrong code only counted an attempt: read it back.
                None => {
                    let fresh = Challenge::load(c, &st2, &ch.service_sid, &ch.identity, &ch.sid)?;
                    Ok((false, fresh))
                }
            }
        })
        .await?;
    if answered {
        let event = if fresh.status == APPROVED {
            "challenge.approved"
        } else {
            "challenge.denied"
        };
        st.webhooks.emit(
            &fresh.service_sid,
            event,
            challenge_event_params(&fresh, &factor),
        );
    }
    Ok(axum::Json(fresh.resource(&st)).into_response())
}

/// A device's (or backend's) answer to one challenge.
struct Answer<'a> {
    challenge_sid: &'a str,
    /// The status a verified push approval JWT asks for; `None` for TOTP.
    push_status: Option<String>,
    totp_code: &'a str,
    metadata: Option<String>,
    now: i64,
}

/// Apply an answer in one transaction. Returns the new status, or `None`
/// when a wrong TOTP code only counted a failed attempt.
fn record_answer(
    c: &mut Connection,
    st: &AppState,
    factor: &Factor,
    answer: Answer<'_>,
) -> ApiResult<Option<String>> {
    let (sid, now) = (answer.challenge_sid, answer.now);
    let tx = c.transaction()?;
    let status = match answer.push_status {
        Some(s) => s,
        None => {
            // TOTP. Design choice (PROTOCOL.md §5.3 unconfirmed): a
            // wrong code answers 200 with the challenge still pending;
            // once max wrong codes were given, further tries are 429.
            let attempts: i64 = tx.query_row(
                "SELECT failed_attempts FROM challenges WHERE sid = ?1",
                [sid],
                |r| r.get(0),
            )?;
            if attempts >= i64::from(st.limits.max_totp_attempts) {
                return Err(ApiError::ChallengeAttemptsReached);
            }
            if accept_totp_code(&tx, st, factor, answer.totp_code)? {
                APPROVED.to_string()
            } else {
                tx.execute(
                    "UPDATE challenges SET failed_attempts = failed_attempts + 1,
                       date_updated = ?1 WHERE sid = ?2 AND status = 'pending'",
                    params![now, sid],
                )?;
                tx.commit()?;
                return Ok(None);
            }
        }
    };
    // The `status = 'pending'` guard makes concurrent answers
    // race-free: exactly one UPDATE matches, the rest get 60322.
    // (No RETURNING to read the row back: it makes SQLite open a statement
    // journal per answer, whose buffer glibc then hands back to the kernel
    // each time, slower than a second indexed read.)
    let n = tx
        .prepare_cached(
            "UPDATE challenges SET status = ?1, date_updated = ?2, date_responded = ?2,
               responded_reason = 'none', metadata = COALESCE(?3, metadata)
             WHERE sid = ?4 AND status = 'pending' AND expiration_date > ?2",
        )?
        .execute(params![status, now, answer.metadata, sid])?;
    if n == 0 {
        let expired: bool = tx.query_row(
            "SELECT status = 'expired' OR (status = 'pending' AND expiration_date <= ?2)
             FROM challenges WHERE sid = ?1",
            params![sid, now],
            |r| r.get(0),
        )?;
        return Err(if expired {
            ApiError::ChallengeExpired
        } else {
            ApiError::ChallengeResponded
        });
    }
    tx.commit()?;
    Ok(Some(status))
}

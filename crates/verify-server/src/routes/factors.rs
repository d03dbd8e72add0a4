//! `/v2/Services/{sid}/Entities/{identity}/Factors`: push and TOTP factors.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use data_encoding::{BASE32_NOPAD, BASE64};
use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};

use super::{Json, created};
use crate::auth::{Caller, device_factor};
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params, Query};
use crate::jwt::{parse_public_key, verify_der_b64};
use crate::model::{Entity, Factor, PUSH, Service, TOTP, UNVERIFIED, VERIFIED};
use crate::pagination::Page;
use crate::routes::access_tokens::AccessToken;
use crate::routes::entities::{ensure_entity, valid_identity};
use crate::sid::{self, FACTOR};
use crate::state::{AppState, SharedState};
use crate::totp;

const DAY: i64 = 24 * 3600;

/// Parse a `Metadata`/`HiddenDetails` value: a JSON object with string
/// values (iOS decodes these as string maps), at most `max` chars.
pub fn string_map(p: &Params, name: &str, max: usize) -> ApiResult<Option<Value>> {
    let Some(raw) = p.optional(name, max)? else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(m)) if m.values().all(Value::is_string) => Ok(Some(Value::Object(m))),
        _ => Err(ApiError::InvalidRequest(format!(
            "{name} must be a JSON object with string values"
        ))),
    }
}

fn totp_params(config: &Value) -> totp::Params {
    let get = |k: &str, d: i64| config.get(k).and_then(Value::as_i64).unwrap_or(d);
    totp::Params {
        alg: config
            .get("alg")
            .and_then(Value::as_str)
            .and_then(totp::Alg::parse)
            .unwrap_or(totp::Alg::Sha1),
        digits: get("code_length", 6).clamp(3, 8) as u32,
        step: get("time_step", 30).clamp(20, 60) as u64,
        skew: get("skew", 1).clamp(0, 2) as u64,
    }
}

/// Accept a TOTP code for a factor at the server's current time, once: the
/// code must belong to a time step later than the last one accepted for
/// this factor (RFC 6238 §5.2), which it then becomes. Run it inside the
/// transaction that records what the code was accepted for, so two
/// requests with the same code cannot both succeed and a rolled-back
/// acceptance does not use the code up. A reused code is refused exactly
/// like a wrong one.
pub fn accept_totp_code(
    conn: &Connection,
    st: &AppState,
    factor: &Factor,
    code: &str,
) -> ApiResult<bool> {
    let Ok(secret) = BASE32_NOPAD.decode(factor.binding.as_bytes()) else {
        return Ok(false);
    };
    let last: Option<i64> = conn
        .prepare_cached("SELECT totp_last_step FROM factors WHERE sid = ?1")?
        .query_row([&factor.sid], |r| r.get(0))?;
    let after = last.and_then(|s| u64::try_from(s).ok());
    let params = totp_params(&factor.config);
    let Some(step) = totp::matching_step(&secret, &params, st.now(), code.trim(), after) else {
        return Ok(false);
    };
    conn.prepare_cached("UPDATE factors SET totp_last_step = ?1 WHERE sid = ?2")?
        .execute(params![i64::try_from(step).unwrap_or(i64::MAX), factor.sid])?;
    Ok(true)
}

fn totp_config(p: &Params, svc: &Service, base: Option<&Value>) -> ApiResult<Value> {
    let s = &svc.settings;
    let prev = |k: &str, d: i64| {
        base.and_then(|b| b.get(k))
            .and_then(Value::as_i64)
            .unwrap_or(d)
    };
    let alg = match p.get("Config.Alg") {
        Some(a) => totp::Alg::parse(a)
            .ok_or_else(|| {
                ApiError::InvalidRequest("Config.Alg must be sha1, sha256 or sha512".into())
            })?
            .as_str()
            .to_string(),
        None => base
            .and_then(|b| b.get("alg"))
            .and_then(Value::as_str)
            .unwrap_or("sha1")
            .to_string(),
    };
    Ok(json!({
        "alg": alg,
        "skew": p.int_in("Config.Skew", 0, 2)?.unwrap_or(prev("skew", s.totp_skew)),
        "code_length": p.int_in("Config.CodeLength", 3, 8)?.unwrap_or(prev("code_length", s.totp_code_length)),
        "time_step": p.int_in("Config.TimeStep", 20, 60)?.unwrap_or(prev("time_step", s.totp_time_step)),
    }))
}

fn notification_token(p: &Params) -> ApiResult<Option<String>> {
    match p.get("Config.NotificationToken") {
        None => Ok(None),
        Some(t) if (32..=255).contains(&t.chars().count()) => Ok(Some(t.to_string())),
        Some(_) => Err(ApiError::InvalidRequest(
            "Config.NotificationToken must be 32-255 characters".into(),
        )),
    }
}

fn platform(p: &Params, required: bool) -> ApiResult<Option<String>> {
    match p.get("Config.NotificationPlatform") {
        Some(v @ ("apn" | "fcm" | "none")) => Ok(Some(v.to_string())),
        None if !required => Ok(None),
        _ => Err(ApiError::InvalidRequest(
            "Config.NotificationPlatform must be apn, fcm or none".into(),
        )),
    }
}

/// Everything a new factor needs besides the database.
struct NewFactor {
    factor: Factor,
    binding_json: Value,
}

fn build_push(p: &Params, friendly_name: String, now: i64) -> ApiResult<NewFactor> {
    if p.get("Binding.Alg").is_some_and(|a| a != "ES256") {
        return Err(ApiError::BindingInvalid("Binding.Alg must be ES256".into()));
    }
    // Design choice: absent or non-base64 key → 60385 (public key invalid or
    // not provided); base64 that is not a P-256 SPKI → 60314 (binding format).
    let pk = p
        .get("Binding.PublicKey")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(ApiError::PublicKeyInvalid)?;
    if BASE64.decode(pk.as_bytes()).is_err() {
        return Err(ApiError::PublicKeyInvalid);
    }
    if parse_public_key(pk).is_none() {
        return Err(ApiError::BindingInvalid(
            "Binding.PublicKey must be a base64 P-256 SubjectPublicKeyInfo".into(),
        ));
    }
    let app_id = p.required("Config.AppId", 100)?;
    let platform = platform(p, true)?.unwrap_or_default();
    let token = notification_token(p)?;
    if token.is_none() && platform != "none" {
        return Err(ApiError::InvalidRequest(
            "Config.NotificationToken is required unless the platform is none".into(),
        ));
    }
    let config = json!({
        "sdk_version": p.optional("Config.SdkVersion", 64)?,
        "app_id": app_id,
        "notification_platform": platform,
        "notification_token": token,
    });
    Ok(NewFactor {
        binding_json: json!({"alg": "ES256", "public_key": pk}),
        factor: Factor {
            sid: sid::new_sid(FACTOR),
            service_sid: String::new(),
            entity_sid: String::new(),
            identity: String::new(),
            friendly_name,
            factor_type: PUSH.into(),
            status: UNVERIFIED.into(),
            // The credential SID (device JWT `kid`) has no documented
            // prefix; we use "CR" like Twilio's credential resources.
            credential_sid: Some(sid::new_sid("CR")),
            binding: pk.to_string(),
            config,
            metadata: string_map(p, "Metadata", 1024)?,
            failed_attempts: 0,
            date_created: now,
            date_updated: now,
        },
    })
}

fn build_totp(p: &Params, svc: &Service, friendly_name: String, now: i64) -> ApiResult<NewFactor> {
    let secret = match p.get("Binding.Secret") {
        Some(s) => {
            let norm: String = s
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .collect::<String>()
                .to_ascii_uppercase();
            match BASE32_NOPAD.decode(norm.as_bytes()) {
                Ok(bytes) if !bytes.is_empty() && bytes.len() <= 128 => norm,
                _ => {
                    return Err(ApiError::BindingInvalid(
                        "Binding.Secret must be base32".into(),
                    ));
                }
            }
        }
        None => {
            let mut bytes = [0u8; 20];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
            BASE32_NOPAD.encode(&bytes)
        }
    };
    let config = totp_config(p, svc, None)?;
    let uri = totp::otpauth_uri(
        svc.totp_issuer(),
        &friendly_name,
        &secret,
        &totp_params(&config),
    );
    Ok(NewFactor {
        binding_json: json!({"secret": secret, "uri": uri}),
        factor: Factor {
            sid: sid::new_sid(FACTOR),
            service_sid: String::new(),
            entity_sid: String::new(),
            identity: String::new(),
            friendly_name,
            factor_type: TOTP.into(),
            status: UNVERIFIED.into(),
            credential_sid: None,
            binding: secret,
            config,
            metadata: string_map(p, "Metadata", 1024)?,
            failed_attempts: 0,
            date_created: now,
            date_updated: now,
        },
    })
}

fn insert_factor(conn: &Connection, f: &Factor) -> ApiResult<()> {
    conn.execute(
        "INSERT INTO factors (sid, service_sid, entity_sid, identity, friendly_name, factor_type,
           status, credential_sid, binding, config, metadata, failed_attempts, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13)",
        params![
            f.sid,
            f.service_sid,
            f.entity_sid,
            f.identity,
            f.friendly_name,
            f.factor_type,
            f.status,
            f.credential_sid,
            f.binding,
            serde_json::to_string(&f.config)?,
            f.metadata.as_ref().map(Value::to_string),
            f.date_created,
            f.date_updated
        ],
    )?;
    conn.execute(
        "INSERT INTO factor_creations (entity_sid, at) VALUES (?1, ?2)",
        params![f.entity_sid, f.date_created],
    )?;
    Ok(())
}

pub fn factor_event_params(f: &Factor) -> Vec<(String, String)> {
    vec![
        ("entity_identity".into(), f.identity.clone()),
        ("factor_sid".into(), f.sid.clone()),
        ("factor_type".into(), f.factor_type.clone()),
        ("factor_friendly_name".into(), f.friendly_name.clone()),
    ]
}

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity)): Path<(String, String)>,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json)> {
    // Devices enroll with `token:<access token>`; device JWTs cannot create.
    let access_token = match &caller {
        Caller::Backend => None,
        Caller::Device(t) => Some(t.clone()),
    };
    let factor_type = match p.get("FactorType") {
        Some(t @ (PUSH | TOTP)) => t.to_string(),
        _ => return Err(ApiError::FactorTypeInvalid),
    };
    if access_token.is_some() && factor_type != PUSH {
        return Err(ApiError::Unauthenticated);
    }
    if !valid_identity(&identity) {
        return Err(ApiError::InvalidIdentity);
    }
    let name_param = p.optional("FriendlyName", 64)?.filter(|s| !s.is_empty());
    let now = st.now();
    let limits = st.limits.clone();
    let p2 = p.clone();
    let name_param = name_param.map(str::to_string);
    let (factor, binding) = st
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let svc = Service::load(&tx, &service_sid)?;
            let mut token_name = None;
            if let Some(t) = &access_token {
                let tok = AccessToken::find_by_token(&tx, t)?.ok_or(ApiError::Unauthenticated)?;
                // Design choice (PROTOCOL.md §9 leaves it open): tokens are
                // single-use, consumed by the first successful enrollment,
                // and bound to their service and identity.
                if tok.used
                    || tok.is_expired(now)
                    || tok.service_sid != svc.sid
                    || !tok.identity.eq_ignore_ascii_case(&identity)
                {
                    return Err(ApiError::Unauthenticated);
                }
                tx.execute(
                    "UPDATE access_tokens SET used = 1 WHERE sid = ?1",
                    [&tok.sid],
                )?;
                token_name = tok.factor_friendly_name;
            }
            // The request's FriendlyName wins; the token's name is a fallback.
            let friendly = name_param.or(token_name).ok_or_else(|| {
                ApiError::InvalidRequest("Missing required parameter FriendlyName".into())
            })?;
            let new = if factor_type == PUSH {
                build_push(&p2, friendly, now)?
            } else {
                build_totp(&p2, &svc, friendly, now)?
            };
            let entity = ensure_entity(&tx, &svc.sid, &identity, now)?;

            let created_today: i64 = tx.query_row(
                "SELECT COUNT(*) FROM factor_creations WHERE entity_sid = ?1 AND at > ?2",
                params![entity.sid, now - DAY],
                |r| r.get(0),
            )?;
            if created_today >= i64::from(limits.max_factor_creations_per_day) {
                return Err(ApiError::FactorRateLimit);
            }
            let mut stmt = tx.prepare(
                "SELECT binding FROM factors WHERE entity_sid = ?1 AND factor_type = ?2",
            )?;
            let bindings = stmt
                .query_map(params![entity.sid, factor_type], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            let limit = if factor_type == PUSH {
                limits.max_push_factors_per_entity
            } else {
                limits.max_totp_factors_per_entity
            };
            if bindings.len() as u64 >= u64::from(limit) {
                return Err(ApiError::FactorLimit {
                    limit,
                    factor_type: factor_type.clone(),
                });
            }
            if bindings.contains(&new.factor.binding) {
                return Err(ApiError::FactorExists);
            }
            let mut factor = new.factor;
            factor.service_sid = svc.sid.clone();
            factor.entity_sid = entity.sid.clone();
            factor.identity = entity.identity.clone();
            insert_factor(&tx, &factor)?;
            tx.commit()?;
            Ok((factor, new.binding_json))
        })
        .await?;
    st.webhooks.emit(
        &factor.service_sid,
        "factor.created",
        factor_event_params(&factor),
    );
    let mut body = factor.to_json(&st);
    if let Value::Object(m) = &mut body {
        m.insert("binding".into(), binding);
        m.insert("options".into(), Value::Null);
    }
    Ok(created(body))
}

/// For device callers: the JWT must be for this very factor.
async fn authorize_factor(
    st: &SharedState,
    caller: &Caller,
    service_sid: &str,
    identity: &str,
    factor_sid: &str,
) -> ApiResult<()> {
    if let Caller::Device(token) = caller {
        let f = device_factor(st, token, service_sid, Some(identity)).await?;
        if f.sid != factor_sid {
            return Err(ApiError::Unauthenticated);
        }
    }
    Ok(())
}

pub async fn list(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let page = Page::from_params(&q)?;
    let (svc, ident) = (service_sid.clone(), identity.clone());
    let rows = st
        .db
        .call(move |c| {
            let e = Entity::load(c, &svc, &ident)?;
            let mut stmt = c.prepare(&format!(
                "SELECT {} FROM factors WHERE entity_sid = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
                Factor::COLUMNS
            ))?;
            let rows = stmt
                .query_map(params![e.sid, page.limit(), page.offset], Factor::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    let items = rows.iter().map(|f| f.to_json(&st)).collect();
    let url = format!("{}/Factors", st.entity_url(&service_sid, &identity));
    Ok(axum::Json(page.render("factors", items, &url, &[])))
}

pub async fn fetch(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    authorize_factor(&st, &caller, &service_sid, &identity, &sid).await?;
    let f = st
        .db
        .call(move |c| Factor::load(c, &service_sid, &identity, &sid))
        .await?;
    Ok(axum::Json(f.to_json(&st)))
}

pub async fn update(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    Form(p): Form,
) -> ApiResult<Json> {
    authorize_factor(&st, &caller, &service_sid, &identity, &sid).await?;
    let st2 = st.clone();
    let (factor, newly_verified) = st
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let svc = Service::load(&tx, &service_sid)?;
            let mut f = Factor::load(&tx, &service_sid, &identity, &sid)?;
            let now = st2.now();
            let was_verified = f.is_verified();
            if let Some(payload) = p.get("AuthPayload") {
                if f.is_stale(&st2) {
                    return Err(ApiError::IllegalFactorStatus);
                }
                if f.is_push() {
                    if payload.len() > 5456 {
                        return Err(ApiError::InvalidRequest("AuthPayload is too long".into()));
                    }
                    let key = st2
                        .keys
                        .get(&f.binding)
                        .ok_or_else(|| ApiError::Internal("stored key unreadable".into()))?;
                    if !verify_der_b64(&key, f.sid.as_bytes(), payload) {
                        return Err(ApiError::FactorVerificationFailed);
                    }
                    f.status = VERIFIED.into();
                } else {
                    if !(3..=8).contains(&payload.trim().len()) {
                        return Err(ApiError::InvalidRequest(
                            "AuthPayload must be 3-8 characters".into(),
                        ));
                    }
                    // After max wrong codes every further attempt is 429;
                    // wrong codes before that are a 200 with the factor
                    // still unverified (Twilio's post-2021 behaviour).
                    if !was_verified && f.failed_attempts >= i64::from(st2.limits.max_totp_attempts)
                    {
                        return Err(ApiError::FactorAttemptsReached);
                    }
                    if accept_totp_code(&tx, &st2, &f, payload)? {
                        f.status = VERIFIED.into();
                        f.failed_attempts = 0;
                    } else if !was_verified {
                        f.failed_attempts += 1;
                    }
                }
            }
            if let Some(name) = p.optional("FriendlyName", 64)?.filter(|n| !n.is_empty()) {
                f.friendly_name = name.to_string();
            }
            if f.is_push() {
                if let Value::Object(cfg) = &mut f.config {
                    set_opt(cfg, "notification_token", notification_token(&p)?);
                    set_opt(
                        cfg,
                        "sdk_version",
                        p.optional("Config.SdkVersion", 64)?.map(str::to_string),
                    );
                    set_opt(
                        cfg,
                        "app_id",
                        p.optional("Config.AppId", 100)?.map(str::to_string),
                    );
                    set_opt(cfg, "notification_platform", platform(&p, false)?);
                }
            } else {
                f.config = totp_config(&p, &svc, Some(&f.config))?;
            }
            f.date_updated = now;
            tx.execute(
                "UPDATE factors SET status = ?1, friendly_name = ?2, config = ?3,
                   failed_attempts = ?4, date_updated = ?5 WHERE sid = ?6",
                params![
                    f.status,
                    f.friendly_name,
                    serde_json::to_string(&f.config)?,
                    f.failed_attempts,
                    now,
                    f.sid
                ],
            )?;
            tx.commit()?;
            Ok((f.clone(), !was_verified && f.is_verified()))
        })
        .await?;
    if newly_verified {
        st.webhooks.emit(
            &factor.service_sid,
            "factor.verified",
            factor_event_params(&factor),
        );
    }
    Ok(axum::Json(factor.to_json(&st)))
}

fn set_opt(cfg: &mut Map<String, Value>, key: &str, v: Option<String>) {
    if let Some(v) = v {
        cfg.insert(key.to_string(), Value::String(v));
    }
}

pub async fn delete(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    authorize_factor(&st, &caller, &service_sid, &identity, &sid).await?;
    let f = st
        .db
        .call(move |c| {
            let f = Factor::load(c, &service_sid, &identity, &sid)?;
            // Cascades to the factor's challenges.
            c.execute("DELETE FROM factors WHERE sid = ?1", [&f.sid])?;
            Ok(f)
        })
        .await?;
    st.webhooks
        .emit(&f.service_sid, "factor.deleted", factor_event_params(&f));
    Ok(StatusCode::NO_CONTENT)
}

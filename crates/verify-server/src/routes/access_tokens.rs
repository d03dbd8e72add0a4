//! `/v2/Services/{sid}/AccessTokens`: enrollment tokens a device presents
//! (as `token:<token>`) to create its push factor.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::{OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::{Json, created};
use crate::auth::Caller;
use crate::clock::fmt_ts;
use crate::error::{ApiError, ApiResult};
use crate::form::Form;
use crate::model::{PUSH, Service};
use crate::routes::entities::valid_identity;
use crate::sid::{self, ACCESS_TOKEN};
use crate::state::{AppState, SharedState};

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub sid: String,
    pub service_sid: String,
    pub identity: String,
    pub factor_type: String,
    pub factor_friendly_name: Option<String>,
    pub token: String,
    pub ttl: i64,
    pub date_created: i64,
    pub used: bool,
}

impl AccessToken {
    const COLUMNS: &'static str = "sid, service_sid, identity, factor_type, factor_friendly_name, \
        token, ttl, date_created, used";

    fn from_row(r: &Row<'_>) -> rusqlite::Result<AccessToken> {
        Ok(AccessToken {
            sid: r.get(0)?,
            service_sid: r.get(1)?,
            identity: r.get(2)?,
            factor_type: r.get(3)?,
            factor_friendly_name: r.get(4)?,
            token: r.get(5)?,
            ttl: r.get(6)?,
            date_created: r.get(7)?,
            used: r.get(8)?,
        })
    }

    pub fn find_by_token(
        conn: &rusqlite::Connection,
        token: &str,
    ) -> ApiResult<Option<AccessToken>> {
        Ok(conn
            .query_row(
                &format!(
                    "SELECT {} FROM access_tokens WHERE token = ?1",
                    Self::COLUMNS
                ),
                [token],
                Self::from_row,
            )
            .optional()?)
    }

    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.date_created + self.ttl
    }

    fn to_json(&self, st: &AppState) -> Value {
        json!({
            "sid": self.sid,
            "account_sid": st.account_sid,
            "service_sid": self.service_sid,
            "entity_identity": self.identity,
            "factor_type": self.factor_type,
            "factor_friendly_name": self.factor_friendly_name,
            "token": self.token,
            "url": format!("{}/AccessTokens/{}", st.service_url(&self.service_sid), self.sid),
            "ttl": self.ttl,
            "date_created": fmt_ts(self.date_created),
        })
    }
}

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json)> {
    caller.require_backend()?;
    let invalid = |m: &str| ApiError::AccessTokenInvalid(m.to_string());
    let identity = p
        .get("Identity")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("Identity is required"))?
        .to_string();
    if !valid_identity(&identity) {
        return Err(ApiError::InvalidIdentity);
    }
    match p.get("FactorType") {
        Some(PUSH) => {}
        _ => return Err(invalid("FactorType must be push")),
    }
    let friendly = p
        .optional("FactorFriendlyName", 64)
        .map_err(|_| invalid("FactorFriendlyName is too long"))?
        .map(str::to_string);
    let ttl = p
        .int_in("Ttl", 60, 300)
        .map_err(|_| invalid("Ttl must be between 60 and 300"))?
        .unwrap_or(60);
    let now = st.now();
    let token = AccessToken {
        sid: sid::new_sid(ACCESS_TOKEN),
        service_sid,
        identity,
        factor_type: PUSH.to_string(),
        factor_friendly_name: friendly,
        // Opaque to clients (Twilio's is a JWE); 256 random bits.
        token: sid::random_token(32),
        ttl,
        date_created: now,
        used: false,
    };
    let t = token.clone();
    st.db
        .call(move |c| {
            Service::load(c, &t.service_sid)?;
            c.execute(
                "INSERT INTO access_tokens (sid, service_sid, identity, factor_type,
                   factor_friendly_name, token, ttl, date_created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    t.sid,
                    t.service_sid,
                    t.identity,
                    t.factor_type,
                    t.factor_friendly_name,
                    t.token,
                    t.ttl,
                    t.date_created
                ],
            )?;
            Ok(())
        })
        .await?;
    Ok(created(token.to_json(&st)))
}

pub async fn fetch(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, sid)): Path<(String, String)>,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let path = format!("/v2/Services/{service_sid}/AccessTokens/{sid}");
    let token = st
        .db
        .call(move |c| {
            Service::load(c, &service_sid)?;
            Ok(c.query_row(
                &format!(
                    "SELECT {} FROM access_tokens WHERE sid = ?1 AND service_sid = ?2",
                    AccessToken::COLUMNS
                ),
                params![sid, service_sid],
                AccessToken::from_row,
            )
            .optional()?)
        })
        .await?
        .ok_or(ApiError::NotFound(path))?;
    Ok(axum::Json(token.to_json(&st)))
}

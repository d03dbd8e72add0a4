//! `…/Challenges/{sid}/Notifications`: re-send a challenge's push. There is
//! no push transport here, so this records the notification and answers
//! like Twilio; devices on platform `none` get 60307.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::params;
use serde_json::{Value, json};

use super::{Json, created};
use crate::auth::Caller;
use crate::clock::fmt_ts;
use crate::error::{ApiError, ApiResult};
use crate::form::Form;
use crate::model::{Challenge, Factor};
use crate::sid::{self, NOTIFICATION};
use crate::state::SharedState;

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity, challenge_sid)): Path<(String, String, String)>,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json)> {
    caller.require_backend()?;
    let ttl = p.int_in("Ttl", 0, 300)?.unwrap_or(300);
    let now = st.now();
    let st2 = st.clone();
    let body = st
        .db
        .call(move |c| {
            let ch = Challenge::load(c, &st2, &service_sid, &identity, &challenge_sid)?;
            let factor = Factor::find_by_sid(c, &ch.factor_sid)?.ok_or(ApiError::FactorNotFound)?;
            let platform = factor
                .config
                .get("notification_platform")
                .and_then(Value::as_str);
            if !factor.is_push() || platform == Some("none") {
                return Err(ApiError::PlatformNone);
            }
            let sid = sid::new_sid(NOTIFICATION);
            c.execute(
                "INSERT INTO notifications (sid, challenge_sid, priority, ttl, date_created)
                 VALUES (?1, ?2, 'high', ?3, ?4)",
                params![sid, ch.sid, ttl, now],
            )?;
            Ok(json!({
                "sid": sid,
                "account_sid": st2.account_sid,
                "service_sid": ch.service_sid,
                "entity_sid": ch.entity_sid,
                "identity": ch.identity,
                "challenge_sid": ch.sid,
                "priority": "high",
                "ttl": ttl,
                "date_created": fmt_ts(now),
            }))
        })
        .await?;
    Ok(created(body))
}

//! `/v2/Services` CRUD.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::params;

use super::{Json, created};
use crate::auth::{Caller, device_factor};
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params, Query};
use crate::model::{Service, ServiceSettings};
use crate::pagination::Page;
use crate::sid::{self, SERVICE};
use crate::state::SharedState;

/// Apply the create/update form parameters to `s` (unknown ones ignored).
fn apply_settings(s: &mut ServiceSettings, p: &Params) -> ApiResult<()> {
    if let Some(v) = p.int_in("CodeLength", 4, 10)? {
        s.code_length = v;
    }
    macro_rules! flag {
        ($name:literal, $field:ident) => {
            if let Some(v) = p.bool($name)? {
                s.$field = v;
            }
        };
    }
    macro_rules! text {
        ($name:literal, $field:ident, $max:expr) => {
            if let Some(v) = p.optional($name, $max)? {
                s.$field = (!v.is_empty()).then(|| v.to_string());
            }
        };
    }
    flag!("LookupEnabled", lookup_enabled);
    flag!("SkipSmsToLandlines", skip_sms_to_landlines);
    flag!("DtmfInputRequired", dtmf_input_required);
    flag!("Psd2Enabled", psd2_enabled);
    flag!("DoNotShareWarningEnabled", do_not_share_warning_enabled);
    flag!("CustomCodeEnabled", custom_code_enabled);
    flag!("Push.IncludeDate", push_include_date);
    flag!(
        "VerifyEventSubscriptionEnabled",
        verify_event_subscription_enabled
    );
    text!("TtsName", tts_name, 64);
    text!("Push.ApnCredentialSid", push_apn_credential_sid, 34);
    text!("Push.FcmCredentialSid", push_fcm_credential_sid, 34);
    text!("Totp.Issuer", totp_issuer, 64);
    text!("DefaultTemplateSid", default_template_sid, 34);
    if let Some(v) = p.int_in("Totp.TimeStep", 20, 60)? {
        s.totp_time_step = v;
    }
    if let Some(v) = p.int_in("Totp.CodeLength", 3, 8)? {
        s.totp_code_length = v;
    }
    if let Some(v) = p.int_in("Totp.Skew", 0, 2)? {
        s.totp_skew = v;
    }
    Ok(())
}

/// Create a service directly (also used for the demo service).
pub fn insert_service(
    conn: &rusqlite::Connection,
    friendly_name: &str,
    settings: &ServiceSettings,
    now: i64,
) -> ApiResult<Service> {
    let svc = Service {
        sid: sid::new_sid(SERVICE),
        friendly_name: friendly_name.to_string(),
        settings: settings.clone(),
        date_created: now,
        date_updated: now,
    };
    conn.execute(
        "INSERT INTO services (sid, friendly_name, settings, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            svc.sid,
            svc.friendly_name,
            serde_json::to_string(&svc.settings)?,
            now,
            now
        ],
    )?;
    Ok(svc)
}

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json)> {
    caller.require_backend()?;
    let name = p.required("FriendlyName", 32)?.to_string();
    let mut settings = ServiceSettings::default();
    apply_settings(&mut settings, &p)?;
    let now = st.now();
    let svc = st
        .db
        .call(move |c| insert_service(c, &name, &settings, now))
        .await?;
    Ok(created(svc.to_json(&st)))
}

pub async fn fetch(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
) -> ApiResult<Json> {
    // The SDKs fetch their service with a device JWT (PROTOCOL.md §1).
    if let Caller::Device(token) = &caller {
        device_factor(&st, token, &service_sid, None).await?;
    }
    let svc = st.db.call(move |c| Service::load(c, &service_sid)).await?;
    Ok(axum::Json(svc.to_json(&st)))
}

pub async fn list(
    State(st): State<SharedState>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let page = Page::from_params(&q)?;
    let rows = st
        .db
        .call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {} FROM services ORDER BY seq LIMIT ?1 OFFSET ?2",
                Service::COLUMNS
            ))?;
            let rows = stmt
                .query_map(params![page.limit(), page.offset], Service::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    let items = rows.iter().map(|s| s.to_json(&st)).collect();
    let url = format!("{}/v2/Services", st.base_url);
    Ok(axum::Json(page.render("services", items, &url, &[])))
}

pub async fn update(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
    Form(p): Form,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let name = p.optional("FriendlyName", 32)?.map(str::to_string);
    if name.as_deref() == Some("") {
        return Err(ApiError::InvalidRequest(
            "FriendlyName must not be empty".into(),
        ));
    }
    let now = st.now();
    let svc = st
        .db
        .call(move |c| {
            let mut svc = Service::load(c, &service_sid)?;
            apply_settings(&mut svc.settings, &p)?;
            if let Some(n) = name {
                svc.friendly_name = n;
            }
            svc.date_updated = now;
            c.execute(
                "UPDATE services SET friendly_name = ?1, settings = ?2, date_updated = ?3 WHERE sid = ?4",
                params![
                    svc.friendly_name,
                    serde_json::to_string(&svc.settings)?,
                    now,
                    svc.sid
                ],
            )?;
            Ok(svc)
        })
        .await?;
    Ok(axum::Json(svc.to_json(&st)))
}

pub async fn delete(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_backend()?;
    let hooks = st.webhooks.clone();
    st.db
        .call(move |c| {
            // Foreign keys cascade to entities, factors, challenges, tokens
            // and webhooks.
            let n = c.execute("DELETE FROM services WHERE sid = ?1", [&service_sid])?;
            if n == 0 {
                return Err(ApiError::NotFound(format!("/v2/Services/{service_sid}")));
            }
            hooks.webhooks_changed();
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

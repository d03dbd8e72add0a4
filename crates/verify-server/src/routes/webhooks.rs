//! `/v2/Services/{sid}/Webhooks` CRUD (delivery lives in `crate::webhooks`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::{Json, created};
use crate::auth::Caller;
use crate::clock::fmt_ts;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params, Query};
use crate::model::Service;
use crate::pagination::Page;
use crate::sid::{self, WEBHOOK};
use crate::state::{AppState, SharedState};
use crate::webhook_target::literal_refusal;
use crate::webhooks::EVENT_TYPES;

struct Webhook {
    sid: String,
    service_sid: String,
    friendly_name: String,
    event_types: Vec<String>,
    status: String,
    version: String,
    webhook_url: String,
    webhook_method: String,
    date_created: i64,
    date_updated: i64,
}

const COLUMNS: &str = "sid, service_sid, friendly_name, event_types, status, version, \
    webhook_url, webhook_method, date_created, date_updated";

impl Webhook {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
        let types: String = r.get(3)?;
        Ok(Webhook {
            sid: r.get(0)?,
            service_sid: r.get(1)?,
            friendly_name: r.get(2)?,
            event_types: serde_json::from_str(&types).unwrap_or_default(),
            status: r.get(4)?,
            version: r.get(5)?,
            webhook_url: r.get(6)?,
            webhook_method: r.get(7)?,
            date_created: r.get(8)?,
            date_updated: r.get(9)?,
        })
    }

    fn load(conn: &Connection, service_sid: &str, sid: &str) -> ApiResult<Webhook> {
        Service::load(conn, service_sid)?;
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM webhooks WHERE sid = ?1 AND service_sid = ?2"),
            params![sid, service_sid],
            Webhook::from_row,
        )
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("/v2/Services/{service_sid}/Webhooks/{sid}")))
    }

    fn to_json(&self, st: &AppState) -> Value {
        json!({
            "sid": self.sid,
            "service_sid": self.service_sid,
            "account_sid": st.account_sid,
            "friendly_name": self.friendly_name,
            "event_types": self.event_types,
            "status": self.status,
            "version": self.version,
            "webhook_url": self.webhook_url,
            "webhook_method": self.webhook_method,
            "date_created": fmt_ts(self.date_created),
            "date_updated": fmt_ts(self.date_updated),
            "url": format!("{}/Webhooks/{}", st.service_url(&self.service_sid), self.sid),
        })
    }

    /// Apply form params; `creating` makes the core ones required.
    /// `allow_private` accepts loopback and private literal addresses.
    fn apply(&mut self, p: &Params, creating: bool, allow_private: bool) -> ApiResult<()> {
        let name = if creating {
            Some(p.required("FriendlyName", 64)?)
        } else {
            p.optional("FriendlyName", 64)?
        };
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            self.friendly_name = n.to_string();
        }
        let types = p.get_all("EventTypes");
        if creating && types.is_empty() {
            return Err(ApiError::InvalidRequest("EventTypes is required".into()));
        }
        if !types.is_empty() {
            if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(t)) {
                return Err(ApiError::InvalidRequest(format!(
                    "unknown event type {bad}"
                )));
            }
            self.event_types = types.iter().map(|t| t.to_string()).collect();
        }
        let url = if creating {
            Some(p.required("WebhookUrl", 2048)?)
        } else {
            p.optional("WebhookUrl", 2048)?
        };
        if let Some(u) = url {
            match reqwest::Url::parse(u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                    if let Some(why) = literal_refusal(&parsed).filter(|_| !allow_private) {
                        return Err(ApiError::InvalidRequest(format!(
                            "WebhookUrl must not point at this server's network: {why} \
                             (start the server with --allow-private-webhooks to allow it)"
                        )));
                    }
                    self.webhook_url = u.to_string();
                }
                _ => {
                    return Err(ApiError::InvalidRequest(
                        "WebhookUrl must be an http(s) URL".into(),
                    ));
                }
            }
        }
        match p.get("Status") {
            None => {}
            Some(s @ ("enabled" | "disabled")) => self.status = s.to_string(),
            Some(_) => {
                return Err(ApiError::InvalidRequest(
                    "Status must be enabled or disabled".into(),
                ));
            }
        }
        match p.get("Version") {
            None => {}
            Some(v @ ("v1" | "v2")) => self.version = v.to_string(),
            Some(_) => return Err(ApiError::InvalidRequest("Version must be v1 or v2".into())),
        }
        Ok(())
    }
}

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json)> {
    caller.require_backend()?;
    let now = st.now();
    let mut w = Webhook {
        sid: sid::new_sid(WEBHOOK),
        service_sid,
        friendly_name: String::new(),
        event_types: Vec::new(),
        status: "enabled".into(),
        version: "v2".into(),
        webhook_url: String::new(),
        webhook_method: "POST".into(),
        date_created: now,
        date_updated: now,
    };
    w.apply(&p, true, st.allow_private_webhooks)?;
    let hooks = st.webhooks.clone();
    let w = st
        .db
        .call(move |c| {
            Service::load(c, &w.service_sid)?;
            c.execute(
                &format!("INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    w.sid,
                    w.service_sid,
                    w.friendly_name,
                    serde_json::to_string(&w.event_types)?,
                    w.status,
                    w.version,
                    w.webhook_url,
                    w.webhook_method,
                    w.date_created,
                    w.date_updated
                ],
            )?;
            hooks.webhooks_changed();
            Ok(w)
        })
        .await?;
    Ok(created(w.to_json(&st)))
}

pub async fn list(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
    Query(q): Query,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let page = Page::from_params(&q)?;
    let svc = service_sid.clone();
    let rows = st
        .db
        .call(move |c| {
            Service::load(c, &svc)?;
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM webhooks WHERE service_sid = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = stmt
                .query_map(params![svc, page.limit(), page.offset], Webhook::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    let items = rows.iter().map(|w| w.to_json(&st)).collect();
    let url = format!("{}/Webhooks", st.service_url(&service_sid));
    Ok(axum::Json(page.render("webhooks", items, &url, &[])))
}

pub async fn fetch(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, sid)): Path<(String, String)>,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let w = st
        .db
        .call(move |c| Webhook::load(c, &service_sid, &sid))
        .await?;
    Ok(axum::Json(w.to_json(&st)))
}

pub async fn update(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, sid)): Path<(String, String)>,
    Form(p): Form,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let now = st.now();
    let hooks = st.webhooks.clone();
    let allow_private = st.allow_private_webhooks;
    let w = st
        .db
        .call(move |c| {
            let mut w = Webhook::load(c, &service_sid, &sid)?;
            w.apply(&p, false, allow_private)?;
            w.date_updated = now;
            c.execute(
                "UPDATE webhooks SET friendly_name = ?1, event_types = ?2, status = ?3, version = ?4,
                   webhook_url = ?5, date_updated = ?6 WHERE sid = ?7",
                params![
                    w.friendly_name,
                    serde_json::to_string(&w.event_types)?,
                    w.status,
                    w.version,
                    w.webhook_url,
                    now,
                    w.sid
                ],
            )?;
            hooks.webhooks_changed();
            Ok(w)
        })
        .await?;
    Ok(axum::Json(w.to_json(&st)))
}

pub async fn delete(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, sid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_backend()?;
    let hooks = st.webhooks.clone();
    st.db
        .call(move |c| {
            let w = Webhook::load(c, &service_sid, &sid)?;
            c.execute("DELETE FROM webhooks WHERE sid = ?1", [&w.sid])?;
            hooks.webhooks_changed();
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/v2/Services/{sid}/Entities`: the users factors belong to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::{Connection, params};

use super::{Json, created};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Query};
use crate::model::{Entity, Factor, Service};
use crate::pagination::Page;
use crate::routes::factors::factor_event_params;
use crate::sid::{self, ENTITY};
use crate::state::SharedState;

/// Identity rule from the spec: 8–64 chars of dash-separated alphanumerics
/// (we also accept `_`, which some ID schemes use).
pub fn valid_identity(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The entity, created on the fly (factor creation does this implicitly).
pub fn ensure_entity(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
    now: i64,
) -> ApiResult<Entity> {
    if let Some(e) = Entity::find(conn, service_sid, identity)? {
        return Ok(e);
    }
    insert_entity(conn, service_sid, identity, now)
}

fn insert_entity(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
    now: i64,
) -> ApiResult<Entity> {
    let e = Entity {
        sid: sid::new_sid(ENTITY),
        service_sid: service_sid.to_string(),
        identity: identity.to_string(),
        date_created: now,
        date_updated: now,
    };
    conn.execute(
        "INSERT INTO entities (sid, service_sid, identity, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![e.sid, e.service_sid, e.identity, now, now],
    )?;
    Ok(e)
}

pub async fn create(
    State(st): State<SharedState>,
    caller: Caller,
    Path(service_sid): Path<String>,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json)> {
    caller.require_backend()?;
    let identity = match p.get("Identity") {
        None | Some("") => return Err(ApiError::InvalidRequest("Identity is required".into())),
        Some(i) if !valid_identity(i) => return Err(ApiError::InvalidIdentity),
        Some(i) => i.to_string(),
    };
    let now = st.now();
    let entity = st
        .db
        .call(move |c| {
            Service::load(c, &service_sid)?;
            if Entity::find(c, &service_sid, &identity)?.is_some() {
                return Err(ApiError::EntityExists);
            }
            insert_entity(c, &service_sid, &identity, now)
        })
        .await?;
    Ok(created(entity.to_json(&st)))
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
                "SELECT {} FROM entities WHERE service_sid = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
                Entity::COLUMNS
            ))?;
            let rows = stmt
                .query_map(params![svc, page.limit(), page.offset], Entity::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    let items = rows.iter().map(|e| e.to_json(&st)).collect();
    let url = format!("{}/Entities", st.service_url(&service_sid));
    Ok(axum::Json(page.render("entities", items, &url, &[])))
}

pub async fn fetch(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity)): Path<(String, String)>,
) -> ApiResult<Json> {
    caller.require_backend()?;
    let e = st
        .db
        .call(move |c| Entity::load(c, &service_sid, &identity))
        .await?;
    Ok(axum::Json(e.to_json(&st)))
}

pub async fn delete(
    State(st): State<SharedState>,
    caller: Caller,
    Path((service_sid, identity)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_backend()?;
    let factors = st
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let e = Entity::load(&tx, &service_sid, &identity)?;
            // Read inside the same transaction as the delete, so the events
            // name exactly the factors that went.
            let factors = tx
                .prepare(&format!(
                    "SELECT {} FROM factors WHERE entity_sid = ?1 ORDER BY seq",
                    Factor::COLUMNS
                ))?
                .query_map([&e.sid], Factor::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            // Cascades to the entity's factors, challenges and notifications.
            tx.execute("DELETE FROM entities WHERE sid = ?1", [&e.sid])?;
            tx.commit()?;
            Ok(factors)
        })
        .await?;
    // Webhook receivers learn of every factor that went with the entity, as
    // if each had been deleted on its own.
    for f in &factors {
        st.webhooks
            .emit(&f.service_sid, "factor.deleted", factor_event_params(f));
    }
    Ok(StatusCode::NO_CONTENT)
}

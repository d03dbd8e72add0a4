//! Demo relying party at `/demo` (filled in later).

use axum::Router;
use rusqlite::Connection;

use crate::error::ApiResult;
use crate::model::ServiceSettings;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
}

/// The SID of the "Countersign Demo" service, creating it if needed.
pub fn ensure_service(conn: &Connection, now: i64) -> ApiResult<String> {
    let existing: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT sid FROM services WHERE friendly_name = ?1 ORDER BY seq LIMIT 1",
        [crate::DEMO_SERVICE_NAME],
        |r| r.get(0),
    ))?;
    if let Some(sid) = existing {
        return Ok(sid);
    }
    let settings = ServiceSettings {
        totp_issuer: Some(crate::DEMO_SERVICE_NAME.to_string()),
        ..ServiceSettings::default()
    };
    Ok(
        crate::routes::services::insert_service(conn, crate::DEMO_SERVICE_NAME, &settings, now)?
            .sid,
    )
}

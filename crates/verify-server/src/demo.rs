//! Demo relying party at `/demo` (served only with `--demo`): enrol this
//! desktop via a QR code / `countersign://enroll` link, sign in with a push
//! challenge (status polled live), add/verify a TOTP factor, and watch the
//! user's factors live — including removing one a device can no longer
//! remove itself (its key is lost), as a real service would after a
//! re-enrollment.
//!
//! The demo's JSON endpoints act with the server's own backend credentials
//! by calling the same handlers the `/v2` API uses, so the page never needs
//! the auth token. They are confined to the demo service and exist only on
//! this local development server.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params, Query};
use crate::model::ServiceSettings;
use crate::routes::{access_tokens, challenges, factors};
use crate::state::SharedState;

const PAGE: &str = include_str!("demo.html");
/// Factor name suggested to the desktop app in the enrolment link.
const FACTOR_NAME: &str = "Countersign desktop";

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/demo", get(page))
        .route("/demo/api/enroll", post(enroll))
        .route("/demo/api/signin", post(signin))
        .route("/demo/api/challenge", get(challenge))
        .route("/demo/api/totp", post(totp_create))
        .route("/demo/api/totp/verify", post(totp_verify))
        .route("/demo/api/factors", get(list_factors))
        .route("/demo/api/factors/remove", post(remove_factor))
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

fn service(st: &SharedState) -> ApiResult<String> {
    st.demo_service_sid
        .clone()
        .ok_or_else(|| ApiError::NotFound("/demo".into()))
}

/// User name → identity: `demo-<name>`, name 3–40 of `[A-Za-z0-9_-]`.
fn identity(p: &Params) -> ApiResult<(String, String)> {
    let user = p.get("user").unwrap_or("").trim().to_string();
    let ok = (3..=40).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(ApiError::InvalidRequest(
            "user name: 3-40 letters, digits, '-' or '_'".into(),
        ));
    }
    let id = format!("demo-{}", user.to_ascii_lowercase());
    Ok((user, id))
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn qr_svg(data: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::new(data.as_bytes())
        .map_err(|e| ApiError::InvalidRequest(format!("cannot encode QR: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .build())
}

fn form(pairs: &[(&str, &str)]) -> ApiResult<Params> {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    Params::parse(body.join("&").as_bytes())
}

async fn page(State(st): State<SharedState>) -> Response {
    if st.demo_service_sid.is_none() {
        return ApiError::NotFound("/demo".into()).into_response();
    }
    Html(PAGE).into_response()
}

/// `countersign://enroll?…` link (format documented in docs/ENROLL_LINK.md).
pub fn enroll_link(
    base_url: &str,
    service_sid: &str,
    identity: &str,
    token: &str,
    name: &str,
) -> String {
    format!(
        "countersign://enroll?v=1&server={}&service={}&identity={}&token={}&name={}",
        enc(base_url),
        enc(service_sid),
        enc(identity),
        enc(token),
        enc(name)
    )
}

async fn enroll(State(st): State<SharedState>, Form(p): Form) -> ApiResult<axum::Json<Value>> {
    let svc = service(&st)?;
    let (user, id) = identity(&p)?;
    let (_, axum::Json(tok)) = access_tokens::create(
        State(st.clone()),
        Caller::Backend,
        Path(svc.clone()),
        Form(form(&[
            ("Identity", &id),
            ("FactorType", "push"),
            ("FactorFriendlyName", FACTOR_NAME),
            ("Ttl", "300"),
        ])?),
    )
    .await?;
    let token = tok["token"].as_str().unwrap_or_default();
    let link = enroll_link(
        &format!("{}/v2/", st.base_url),
        &svc,
        &id,
        token,
        FACTOR_NAME,
    );
    Ok(axum::Json(json!({
        "user": user,
        "identity": id,
        "link": link,
        "qr_svg": qr_svg(&link)?,
        "expires_in": tok["ttl"],
    })))
}

async fn signin(State(st): State<SharedState>, Form(p): Form) -> ApiResult<axum::Json<Value>> {
    let svc = service(&st)?;
    let (user, id) = identity(&p)?;
    let axum::Json(list) = factors::list(
        State(st.clone()),
        Caller::Backend,
        Path((svc.clone(), id.clone())),
        Query(Params::default()),
    )
    .await
    .map_err(|e| match e {
        ApiError::EntityNotFound => ApiError::InvalidRequest("enroll this desktop first".into()),
        e => e,
    })?;
    // Newest verified push factor.
    let factor = list["factors"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|f| f["factor_type"] == "push" && f["status"] == "verified")
        .and_then(|f| f["sid"].as_str())
        .map(str::to_string)
        .ok_or_else(|| ApiError::InvalidRequest("enroll this desktop first".into()))?;
    let when = crate::clock::fmt_ts(st.now());
    let ch = challenges::create_challenge(
        &st,
        svc,
        id,
        form(&[
            ("FactorSid", &factor),
            (
                "Details.Message",
                &format!("Sign in to Countersign Demo as {user}?"),
            ),
            (
                "Details.Fields",
                &json!({"label": "User", "value": user}).to_string(),
            ),
            (
                "Details.Fields",
                &json!({"label": "Time", "value": when}).to_string(),
            ),
            ("HiddenDetails", &json!({"source": "demo"}).to_string()),
        ])?,
    )
    .await?;
    Ok(axum::Json(ch.to_json(&st)))
}

async fn challenge(State(st): State<SharedState>, Query(q): Query) -> ApiResult<axum::Json<Value>> {
    let svc = service(&st)?;
    let (_, id) = identity(&q)?;
    let sid = q.get("sid").unwrap_or_default().to_string();
    let (_, ch) = challenges::caller_and_challenge(&st, &Caller::Backend, svc, id, sid).await?;
    Ok(axum::Json(ch.to_json(&st)))
}

async fn totp_create(State(st): State<SharedState>, Form(p): Form) -> ApiResult<axum::Json<Value>> {
    let svc = service(&st)?;
    let (user, id) = identity(&p)?;
    let (_, axum::Json(f)) = factors::create(
        State(st.clone()),
        Caller::Backend,
        Path((svc, id)),
        Form(form(&[("FriendlyName", &user), ("FactorType", "totp")])?),
    )
    .await?;
    let uri = f["binding"]["uri"].as_str().unwrap_or_default().to_string();
    Ok(axum::Json(json!({
        "sid": f["sid"],
        "secret": f["binding"]["secret"],
        "uri": uri,
        "qr_svg": qr_svg(&uri)?,
    })))
}

async fn totp_verify(State(st): State<SharedState>, Form(p): Form) -> ApiResult<axum::Json<Value>> {
    let svc = service(&st)?;
    let (_, id) = identity(&p)?;
    let sid = p.get("factor").unwrap_or_default().to_string();
    let code = p.get("code").unwrap_or_default().to_string();
    factors::update(
        State(st.clone()),
        Caller::Backend,
        Path((svc, id, sid)),
        Form(form(&[("AuthPayload", &code)])?),
    )
    .await
}

async fn list_factors(State(st): State<SharedState>, Query(q): Query) -> Response {
    let run = async {
        let svc = service(&st)?;
        let (_, id) = identity(&q)?;
        let res = factors::list(
            State(st.clone()),
            Caller::Backend,
            Path((svc, id)),
            Query(Params::default()),
        )
        .await;
        match res {
            Ok(json) => Ok(json),
            // No entity yet: simply no factors.
            Err(ApiError::EntityNotFound) => Ok(axum::Json(json!({"factors": []}))),
            Err(e) => Err(e),
        }
    };
    match run.await {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The relying party removes a factor with its backend credentials: the only
/// way to clean up after a device that lost its key (it can no longer sign
/// its own DELETE).
async fn remove_factor(
    State(st): State<SharedState>,
    Form(p): Form,
) -> ApiResult<axum::Json<Value>> {
    let svc = service(&st)?;
    let (_, id) = identity(&p)?;
    let sid = p.get("factor").unwrap_or_default().to_string();
    factors::delete(
        State(st.clone()),
        Caller::Backend,
        Path((svc, id, sid.clone())),
    )
    .await?;
    Ok(axum::Json(json!({ "removed": sid })))
}

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
//!
//! Because they act without credentials, another web site must not be able
//! to drive them from the user's browser: every POST needs an `Origin` of
//! this server and the token embedded in the page it came from
//! ([`page_token`]). The page renders every value as text (no markup built
//! from data, no inline handlers, a nonce-only Content-Security-Policy), and
//! the JSON answers escape `<`, `>` and `&`, so even a factor named
//! `<script>` stays a name.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rusqlite::Connection;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params, Query};
use crate::model::ServiceSettings;
use crate::routes::{access_tokens, challenges, factors};
use crate::state::SharedState;

const PAGE: &str = include_str!("demo.html");
/// Factor name suggested to the desktop app in the enrolment link.
const FACTOR_NAME: &str = "Countersign desktop";
/// Where the page carries its token (`<meta name="demo-token">`) and the
/// nonce its script and style run under.
const TOKEN_SLOT: &str = "__DEMO_PAGE_TOKEN__";
const NONCE_SLOT: &str = "__CSP_NONCE__";
/// The header the page sends its token in. A custom header also means a
/// cross-origin `fetch` needs a CORS preflight, which this server never
/// grants.
pub const TOKEN_HEADER: &str = "X-Demo-Token";

pub fn router(st: SharedState) -> Router<SharedState> {
    let posts = Router::new()
        .route("/demo/api/enroll", post(enroll))
        .route("/demo/api/signin", post(signin))
        .route("/demo/api/totp", post(totp_create))
        .route("/demo/api/totp/verify", post(totp_verify))
        .route("/demo/api/factors/remove", post(remove_factor))
        .route_layer(middleware::from_fn_with_state(st, same_site_only));
    Router::new()
        .route("/demo", get(page))
        .route("/demo/api/challenge", get(challenge))
        .route("/demo/api/factors", get(list_factors))
        .merge(posts)
        .layer(middleware::from_fn(html_safe_json))
}

/// A fresh page token: a random nonce and its HMAC under a key derived from
/// the server's auth token, so any page this server rendered (and only
/// those) can POST, with nothing to store.
pub fn page_token(st: &SharedState) -> String {
    let nonce = crate::sid::random_token(16);
    let tag = token_tag(st, &nonce);
    format!("{nonce}.{tag}")
}

fn token_tag(st: &SharedState, nonce: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(st.auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(b"countersign demo page token\0");
    mac.update(nonce.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

fn token_ok(st: &SharedState, token: &str) -> bool {
    let Some((nonce, tag)) = token.split_once('.') else {
        return false;
    };
    !nonce.is_empty() && bool::from(token_tag(st, nonce).as_bytes().ct_eq(tag.as_bytes()))
}

/// Origins the page can be loaded from: this server by any loopback name.
fn origin_ok(st: &SharedState, origin: &str) -> bool {
    let Some((_, port)) = st.base_url.rsplit_once(':') else {
        return false;
    };
    origin == st.base_url
        || ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|host| origin == format!("https://{host}:{port}"))
}

/// Refuse a POST unless it comes from one of this server's own pages: the
/// browser's `Origin` must be this server and the page's token must be
/// present and genuine.
async fn same_site_only(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    if st.demo_service_sid.is_none() {
        return ApiError::NotFound("/demo".into()).into_response();
    }
    let headers = req.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let origin_good = header(ORIGIN.as_str()).is_some_and(|o| origin_ok(&st, o));
    let token_good = header(TOKEN_HEADER).is_some_and(|t| token_ok(&st, t));
    if !(origin_good && token_good) {
        return ApiError::CrossSiteRequest.into_response();
    }
    next.run(req).await
}

/// JSON answers with `<`, `>` and `&` escaped (`\u003c`…): still the same
/// JSON, but never markup, even opened directly or sniffed by a browser.
async fn html_safe_json(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::Internal("demo response unreadable".into()).into_response();
    };
    // These characters occur in JSON only inside strings, where their
    // escapes mean the same.
    let mut escaped = Vec::with_capacity(bytes.len());
    for &b in bytes.iter() {
        match b {
            b'<' => escaped.extend_from_slice(b"\\u003c"),
            b'>' => escaped.extend_from_slice(b"\\u003e"),
            b'&' => escaped.extend_from_slice(b"\\u0026"),
            _ => escaped.push(b),
        }
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    Response::from_parts(parts, axum::body::Body::from(escaped))
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

/// The QR code as a `data:` URL of an SVG image: the page shows it in an
/// `<img>`, where an image cannot run script or touch the page.
fn qr_image(data: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::new(data.as_bytes())
        .map_err(|e| ApiError::InvalidRequest(format!("cannot encode QR: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        data_encoding::BASE64.encode(svg.as_bytes())
    ))
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
    // Both are base64url: nothing to escape where they go.
    let nonce = crate::sid::random_token(16);
    let html = PAGE
        .replace(TOKEN_SLOT, &page_token(&st))
        .replace(NONCE_SLOT, &nonce);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert("Content-Security-Policy", v);
    }
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("Referrer-Policy", HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (headers, Html(html)).into_response()
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
        "qr_image": qr_image(&link)?,
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
        "qr_image": qr_image(&uri)?,
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

//! HTTP routing plus the response finaliser that gives every response a
//! `Date` header and turns any non-JSON error (axum rejections, unknown
//! paths, wrong methods) into Twilio error JSON.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, DATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::form::BodyDeadline;
use crate::state::SharedState;

pub mod access_tokens;
pub mod challenges;
pub mod entities;
pub mod factors;
pub mod notifications;
pub mod services;
pub mod webhooks;

pub type Json = axum::Json<serde_json::Value>;

pub fn router(st: SharedState) -> Router {
    const SVC: &str = "/v2/Services/{service_sid}";
    const ENT: &str = "/v2/Services/{service_sid}/Entities/{identity}";
    Router::new()
        .route("/v2/Services", post(services::create).get(services::list))
        .route(
            SVC,
            get(services::fetch)
                .post(services::update)
                .delete(services::delete),
        )
        .route(&format!("{SVC}/AccessTokens"), post(access_tokens::create))
        .route(
            &format!("{SVC}/AccessTokens/{{sid}}"),
            get(access_tokens::fetch),
        )
        .route(
            &format!("{SVC}/Entities"),
            post(entities::create).get(entities::list),
        )
        .route(ENT, get(entities::fetch).delete(entities::delete))
        .route(
            &format!("{ENT}/Factors"),
            post(factors::create).get(factors::list),
        )
        .route(
            &format!("{ENT}/Factors/{{sid}}"),
            get(factors::fetch)
                .post(factors::update)
                .delete(factors::delete),
        )
        .route(
            &format!("{ENT}/Challenges"),
            post(challenges::create).get(challenges::list),
        )
        .route(
            &format!("{ENT}/Challenges/{{sid}}"),
            get(challenges::fetch).post(challenges::update),
        )
        .route(
            &format!("{ENT}/Challenges/{{sid}}/Notifications"),
            post(notifications::create),
        )
        .route(
            &format!("{SVC}/Webhooks"),
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            &format!("{SVC}/Webhooks/{{sid}}"),
            get(webhooks::fetch)
                .post(webhooks::update)
                .delete(webhooks::delete),
        )
        .merge(crate::demo::router(st.clone()))
        .fallback(not_found)
        .layer(axum::Extension(BodyDeadline(st.body_timeout)))
        .layer(middleware::from_fn_with_state(st.clone(), finalize))
        .with_state(st)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(req.uri().path().to_string())
}

async fn finalize(State(st): State<SharedState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.is_client_error() && !is_json {
        // axum's own rejections are plain text; clients expect Twilio JSON.
        let err = match status {
            StatusCode::NOT_FOUND => ApiError::NotFound(path),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNAUTHORIZED => ApiError::Unauthenticated,
            _ => ApiError::InvalidRequest("malformed request".into()),
        };
        resp = err.into_response();
    }
    if let Ok(date) = HeaderValue::from_str(&st.clock.http_date()) {
        resp.headers_mut().insert(DATE, date);
    }
    resp
}

/// `201 Created` with a JSON body.
pub fn created(v: serde_json::Value) -> (StatusCode, Json) {
    (StatusCode::CREATED, axum::Json(v))
}

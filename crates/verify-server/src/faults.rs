//! Fault injection for tests of clients under a misbehaving network: errors, rate limits
//! and slow answers on demand. Off unless `Config::fault_injection` (`--fault-injection`)
//! is set; without it `/dev/faults` is an unknown path (404) and no request is touched.
//!
//! A test programs faults with backend credentials (Basic auth, as for `/v2`):
//! - `POST /dev/faults` adds a rule. Form fields, all optional:
//!   `Status` (429, 500 or 503: answer with Twilio error JSON instead of serving),
//!   `RetryAfter` (seconds, sent as `Retry-After`; a 429 without it says 1),
//!   `DelayMs` (hold the request this long first, then answer or serve it),
//!   `Count` (the next N matching requests; without it, every one until cleared),
//!   `PathContains` (only paths containing this text, e.g. `Challenges`),
//!   `Method` (only this method, e.g. `GET`).
//!   A rule with neither `Status` nor `DelayMs` changes nothing and only counts matches.
//! - `GET /dev/faults` lists the rules with how many requests each matched, and when.
//! - `DELETE /dev/faults` removes every rule.
//!
//! Every active rule that matches a request counts it (and uses up one of its `Count`);
//! the request is held for the longest `DelayMs` among them and answered with the first
//! `Status` among them, in the order the rules were added. `/dev/faults` itself is never
//! faulted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{DATE, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::Form;
use crate::state::SharedState;

/// Where tests program faults.
pub const PATH: &str = "/dev/faults";

/// Statuses a rule may answer with, each with Twilio's matching error code and message.
const STATUSES: &[(u16, u32, &str)] = &[
    (429, 20429, "Too Many Requests"),
    (500, 20500, "Internal Server Error"),
    (503, 20503, "Service Unavailable"),
];

/// Timestamps kept per rule: enough for any test, bounded for a long-running server.
const MAX_HITS_KEPT: usize = 10_000;

#[derive(Debug)]
struct Rule {
    id: u64,
    status: Option<u16>,
    retry_after_secs: Option<u64>,
    delay: Duration,
    /// Requests still to fault; `None` = until cleared.
    remaining: Option<u64>,
    count: Option<u64>,
    path_contains: Option<String>,
    method: Option<Method>,
    added: Instant,
    /// Milliseconds after `added` of every request the rule matched.
    hits_ms: Vec<u64>,
    matched: u64,
}

impl Rule {
    fn applies_to(&self, method: &Method, path: &str) -> bool {
        self.remaining != Some(0)
            && self.method.as_ref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|text| path.contains(text))
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "status": self.status,
            "retry_after": self.retry_after_secs,
            "delay_ms": self.delay.as_millis() as u64,
            "count": self.count,
            "remaining": self.remaining,
            "path_contains": self.path_contains,
            "method": self.method.as_ref().map(Method::as_str),
            "matched": self.matched,
            "matched_after_ms": self.hits_ms,
        })
    }
}

#[derive(Debug, Default)]
struct Rules {
    next_id: u64,
    list: Vec<Rule>,
}

/// What the matching rules do to one request.
#[derive(Debug, Default)]
struct Effect {
    delay: Duration,
    status: Option<u16>,
    retry_after_secs: Option<u64>,
}

#[derive(Clone)]
struct Faults {
    rules: Arc<Mutex<Rules>>,
    app: SharedState,
}

impl Faults {
    fn rules(&self) -> std::sync::MutexGuard<'_, Rules> {
        // A panic while holding the lock leaves the rules usable.
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, method: &Method, path: &str) -> Effect {
        let mut effect = Effect::default();
        let now = Instant::now();
        for rule in self
            .rules()
            .list
            .iter_mut()
            .filter(|r| r.applies_to(method, path))
        {
            if let Some(left) = rule.remaining.as_mut() {
                *left -= 1;
            }
            rule.matched += 1;
            if rule.hits_ms.len() < MAX_HITS_KEPT {
                rule.hits_ms
                    .push(now.duration_since(rule.added).as_millis() as u64);
            }
            effect.delay = effect.delay.max(rule.delay);
            if effect.status.is_none() && rule.status.is_some() {
                effect.status = rule.status;
                effect.retry_after_secs = rule.retry_after_secs;
            }
        }
        effect
    }
}

/// Wraps the server's router with the fault layer and adds the `/dev/faults` endpoint.
pub fn install(app: Router, st: SharedState) -> Router {
    let faults = Faults {
        rules: Arc::default(),
        app: st,
    };
    let admin = Router::new()
        .route(PATH, post(add).get(list).delete(clear))
        .with_state(faults.clone());
    admin.merge(app.layer(middleware::from_fn_with_state(faults, inject)))
}

async fn inject(State(faults): State<Faults>, req: Request, next: Next) -> Response {
    let effect = faults.take(req.method(), req.uri().path());
    if !effect.delay.is_zero() {
        tokio::time::sleep(effect.delay).await;
    }
    match effect.status {
        Some(status) => injected_error(&faults.app, status, effect.retry_after_secs),
        None => next.run(req).await,
    }
}

/// Twilio's error JSON for an injected status, with `Date` as on every answer.
fn injected_error(st: &SharedState, status: u16, retry_after_secs: Option<u64>) -> Response {
    let (code, message) = STATUSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, code, message)| (*code, *message))
        .unwrap_or((20500, "Internal Server Error"));
    let http_status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    });
    let mut resp = (http_status, axum::Json(body)).into_response();
    let retry_after = retry_after_secs.or((status == 429).then_some(1));
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Ok(date) = HeaderValue::from_str(&st.clock.http_date()) {
        resp.headers_mut().insert(DATE, date);
    }
    resp
}

/// Backend credentials only: a device must not be able to break the server for others.
async fn authorized(faults: &Faults, req: Request) -> ApiResult<Request> {
    let (mut parts, body) = req.into_parts();
    Caller::from_request_parts(&mut parts, &faults.app)
        .await?
        .require_backend()?;
    Ok(Request::from_parts(parts, body))
}

async fn add(State(faults): State<Faults>, req: Request) -> ApiResult<Response> {
    let req = authorized(&faults, req).await?;
    let Form(p) = Form::from_request(req, &()).await?;
    let status = match p.int_in("Status", 100, 599)? {
        None => None,
        Some(s) if STATUSES.iter().any(|(known, _, _)| i64::from(*known) == s) => Some(s as u16),
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "Status must be 429, 500 or 503".into(),
            ));
        }
    };
    let retry_after_secs = p.int_in("RetryAfter", 0, 86_400)?.map(|s| s as u64);
    let delay = Duration::from_millis(p.int_in("DelayMs", 0, 600_000)?.unwrap_or(0) as u64);
    let count = p.int_in("Count", 1, 1_000_000)?.map(|n| n as u64);
    let path_contains = p.optional("PathContains", 200)?.map(str::to_string);
    let method = match p.optional("Method", 10)? {
        None => None,
        Some(m) => Some(
            Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| ApiError::InvalidRequest("Method is not an HTTP method".into()))?,
        ),
    };
    let mut rules = faults.rules();
    rules.next_id += 1;
    let rule = Rule {
        id: rules.next_id,
        status,
        retry_after_secs,
        delay,
        remaining: count,
        count,
        path_contains,
        method,
        added: Instant::now(),
        hits_ms: Vec::new(),
        matched: 0,
    };
    let json = rule.to_json();
    rules.list.push(rule);
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}

async fn list(State(faults): State<Faults>, req: Request) -> ApiResult<Response> {
    authorized(&faults, req).await?;
    let rules: Vec<_> = faults.rules().list.iter().map(Rule::to_json).collect();
    Ok(axum::Json(serde_json::json!({ "faults": rules })).into_response())
}

async fn clear(State(faults): State<Faults>, req: Request) -> ApiResult<StatusCode> {
    authorized(&faults, req).await?;
    faults.rules().list.clear();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(count: Option<u64>, path: Option<&str>, method: Option<Method>) -> Rule {
        Rule {
            id: 1,
            status: Some(500),
            retry_after_secs: None,
            delay: Duration::ZERO,
            remaining: count,
            count,
            path_contains: path.map(str::to_string),
            method,
            added: Instant::now(),
            hits_ms: Vec::new(),
            matched: 0,
        }
    }

    #[test]
    fn rules_match_by_path_method_and_remaining_count() {
        let r = rule(Some(1), Some("Challenges"), Some(Method::GET));
        assert!(r.applies_to(&Method::GET, "/v2/Services/VA1/Entities/e/Challenges"));
        assert!(!r.applies_to(&Method::POST, "/v2/Services/VA1/Entities/e/Challenges"));
        assert!(!r.applies_to(&Method::GET, "/v2/Services/VA1/Entities/e/Factors"));
        let used_up = Rule {
            remaining: Some(0),
            ..rule(Some(1), None, None)
        };
        assert!(!used_up.applies_to(&Method::GET, "/v2/Services"));
        assert!(rule(None, None, None).applies_to(&Method::DELETE, "/anything"));
    }
}

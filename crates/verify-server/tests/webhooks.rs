//! Webhook CRUD and signed, retried event delivery.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use common::*;
use reqwest::StatusCode;
use tokio::sync::mpsc;

const ID: &str = "user-0004-dave";
const WEBHOOK_FIELDS: &[&str] = &[
    "sid",
    "service_sid",
    "account_sid",
    "friendly_name",
    "event_types",
    "status",
    "version",
    "webhook_url",
    "webhook_method",
    "date_created",
    "date_updated",
    "url",
];

struct Receiver {
    tx: mpsc::UnboundedSender<(String, Vec<(String, String)>)>,
    fail_first: usize,
    seen: AtomicUsize,
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AxStatus {
    let n = r.seen.fetch_add(1, Ordering::SeqCst);
    if n < r.fail_first {
        return AxStatus::INTERNAL_SERVER_ERROR;
    }
    let sig = headers
        .get("x-twilio-signature")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let _ = r.tx.send((sig, params));
    AxStatus::OK
}

async fn receiver(
    fail_first: usize,
) -> (
    String,
    mpsc::UnboundedReceiver<(String, Vec<(String, String)>)>,
    Arc<Receiver>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(Receiver {
        tx,
        fail_first,
        seen: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx, state)
}

async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(String, Vec<(String, String)>)>,
) -> (String, Vec<(String, String)>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("webhook not delivered")
        .unwrap()
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("missing {k}"))
}

#[tokio::test]
async fn webhook_crud() {
    let t = start().await;
    let svc = t.service("Hooks").await;
    let path = format!("/v2/Services/{svc}/Webhooks");
    let r = t
        .post(
            &path,
            &[
                ("FriendlyName", "hook"),
                ("EventTypes", "factor.created"),
                ("EventTypes", "challenge.approved"),
                ("WebhookUrl", "https://example.invalid/hook"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_keys(&r.json, WEBHOOK_FIELDS);
    assert_sid(&r.json["sid"], "YW");
    assert_eq!(
        r.json["event_types"],
        serde_json::json!(["factor.created", "challenge.approved"])
    );
    assert_eq!(r.json["status"], "enabled");
    assert_eq!(r.json["version"], "v2");
    assert_eq!(r.json["webhook_method"], "POST");
    let w = format!("{path}/{}", r.json["sid"].as_str().unwrap());
    assert_eq!(t.get(&w, &[]).await.json, r.json);
    let u = t
        .post(&w, &[("Status", "disabled"), ("EventTypes", "*")])
        .await;
    assert_eq!(u.json["status"], "disabled");
    assert_eq!(u.json["event_types"], serde_json::json!(["*"]));
    let l = t.get(&path, &[]).await;
    assert_eq!(l.json["webhooks"].as_array().unwrap().len(), 1);
    assert_error(
        &t.post(
            &path,
            &[
                ("FriendlyName", "x"),
                ("EventTypes", "nope"),
                ("WebhookUrl", "https://e/h"),
            ],
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &t.post(
            &path,
            &[
                ("FriendlyName", "x"),
                ("EventTypes", "*"),
                ("WebhookUrl", "ftp://e/h"),
            ],
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &t.post(
            &path,
            &[("FriendlyName", "x"), ("WebhookUrl", "https://e/h")],
        )
        .await,
        400,
        60306,
    );
    assert_eq!(t.delete(&w).await.status, StatusCode::NO_CONTENT);
    assert_error(&t.get(&w, &[]).await, 404, 20404);
    t.server.shutdown().await;
}

/// These receivers listen on loopback, which webhooks may reach only when
/// private targets are allowed.
async fn start_local() -> TestServer {
    start_with(|c| c.allow_private_webhooks = true).await
}

#[tokio::test]
async fn events_are_signed_and_retried() {
    let t = start_with(|c| {
        c.allow_private_webhooks = true;
        c.webhook_retry = verify_server::RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
        };
    })
    .await;
    let (url, mut rx, state) = receiver(2).await;
    let svc = t.service("Hooks").await;
    let r = t
        .post(
            &format!("/v2/Services/{svc}/Webhooks"),
            &[
                ("FriendlyName", "all"),
                ("EventTypes", "*"),
                ("WebhookUrl", &url),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // factor.created (delivered on the 3rd try), factor.verified.
    let d = t.enroll_push(&svc, ID).await;
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(next_event(&mut rx).await);
    }
    assert!(
        state.seen.load(Ordering::SeqCst) >= 4,
        "two failures were retried"
    );
    got.sort_by(|a, b| param(&a.1, "type").cmp(param(&b.1, "type")));
    let (sig, created) = &got[0];
    assert_eq!(param(created, "type"), "factor.created");
    assert_eq!(param(created, "factor_sid"), d.factor_sid);
    assert_eq!(param(created, "entity_identity"), ID);
    assert_eq!(param(created, "account_sid"), t.server.account_sid());
    assert_eq!(param(created, "service_sid"), svc);
    assert_eq!(param(created, "factor_type"), "push");
    assert_eq!(
        *sig,
        verify_server::twilio_signature(t.server.auth_token(), &url, created)
    );
    assert_eq!(param(&got[1].1, "type"), "factor.verified");

    // challenge.approved / challenge.denied.
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    let csid = c.json["sid"].as_str().unwrap().to_string();
    assert_eq!(
        t.answer(&d, &svc, ID, &csid, "approved").await.status,
        StatusCode::OK
    );
    let (sig, ev) = next_event(&mut rx).await;
    assert_eq!(param(&ev, "type"), "challenge.approved");
    assert_eq!(param(&ev, "challenge_sid"), csid);
    assert_eq!(param(&ev, "challenge_status"), "approved");
    assert_eq!(
        sig,
        verify_server::twilio_signature(t.server.auth_token(), &url, &ev)
    );
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    t.answer(&d, &svc, ID, c.json["sid"].as_str().unwrap(), "denied")
        .await;
    assert_eq!(
        param(&next_event(&mut rx).await.1, "type"),
        "challenge.denied"
    );

    // factor.deleted.
    t.delete(&format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid))
        .await;
    assert_eq!(
        param(&next_event(&mut rx).await.1, "type"),
        "factor.deleted"
    );

    // Deleting an entity deletes its factors: one factor.deleted for each.
    let first = t.enroll_push(&svc, ID).await;
    let second = t.enroll_push(&svc, ID).await;
    for _ in 0..4 {
        next_event(&mut rx).await; // created + verified, twice
    }
    t.delete(&ent(&svc, ID)).await;
    let mut deleted = Vec::new();
    for _ in 0..2 {
        let (sig, ev) = next_event(&mut rx).await;
        assert_eq!(param(&ev, "type"), "factor.deleted");
        assert_eq!(param(&ev, "entity_identity"), ID);
        assert_eq!(
            sig,
            verify_server::twilio_signature(t.server.auth_token(), &url, &ev)
        );
        deleted.push(param(&ev, "factor_sid").to_string());
    }
    deleted.sort();
    let mut expected = vec![first.factor_sid.clone(), second.factor_sid.clone()];
    expected.sort();
    assert_eq!(deleted, expected);
    t.server.shutdown().await;
}

/// Create a push challenge, answer it as the device, return its SID.
async fn answered(t: &TestServer, d: &device::Device, svc: &str, status: &str) -> String {
    let c = t.push_challenge(svc, ID, &d.factor_sid).await;
    let sid = c.json["sid"].as_str().unwrap().to_string();
    assert_eq!(
        t.answer(d, svc, ID, &sid, status).await.status,
        StatusCode::OK
    );
    sid
}

/// Create a webhook for one event type at `hooks` (a service's Webhooks
/// path); returns its SID.
async fn webhook(t: &TestServer, hooks: &str, name: &str, event_type: &str, url: &str) -> String {
    let r = t
        .post(
            hooks,
            &[
                ("FriendlyName", name),
                ("EventTypes", event_type),
                ("WebhookUrl", url),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.json["sid"].as_str().unwrap().to_string()
}

/// The server keeps each service's webhooks between events; every change
/// must reach the very next event.
#[tokio::test]
async fn webhook_changes_reach_the_next_event() {
    let t = start_local().await;
    let (url, mut rx, _) = receiver(0).await;
    let svc = t.service("Hooks").await;
    let hooks = format!("/v2/Services/{svc}/Webhooks");
    // Enrolment and a first approval find no webhooks (and that is kept).
    let d = t.enroll_push(&svc, ID).await;
    answered(&t, &d, &svc, "approved").await;

    // Created.
    let approvals = webhook(&t, &hooks, "approvals", "challenge.approved", &url).await;
    let sid = answered(&t, &d, &svc, "approved").await;
    let (_, ev) = next_event(&mut rx).await;
    assert_eq!(param(&ev, "challenge_sid"), sid);

    // Disabled: the next approval goes nowhere. A second webhook, for
    // denials, proves events still flow and nothing else arrived first.
    let r = t
        .post(&format!("{hooks}/{approvals}"), &[("Status", "disabled")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    answered(&t, &d, &svc, "approved").await;
    let denials = webhook(&t, &hooks, "denials", "challenge.denied", &url).await;
    let sid = answered(&t, &d, &svc, "denied").await;
    let (_, ev) = next_event(&mut rx).await;
    assert_eq!(param(&ev, "type"), "challenge.denied");
    assert_eq!(param(&ev, "challenge_sid"), sid);

    // Deleted, and re-enabled: a denial goes nowhere, the next approval
    // is the next event.
    assert_eq!(
        t.delete(&format!("{hooks}/{denials}")).await.status,
        StatusCode::NO_CONTENT
    );
    answered(&t, &d, &svc, "denied").await;
    t.post(&format!("{hooks}/{approvals}"), &[("Status", "enabled")])
        .await;
    let sid = answered(&t, &d, &svc, "approved").await;
    let (_, ev) = next_event(&mut rx).await;
    assert_eq!(param(&ev, "type"), "challenge.approved");
    assert_eq!(param(&ev, "challenge_sid"), sid);
    // Nothing else was delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "an event reached a removed webhook");
    t.server.shutdown().await;
}

#[tokio::test]
async fn a_dead_receiver_never_blocks_requests() {
    let t = start_with(|c| {
        c.allow_private_webhooks = true;
        c.webhook_retry = verify_server::RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(5),
        };
    })
    .await;
    let svc = t.service("Dead").await;
    // Nothing listens on port 9 of loopback (discard): connection refused.
    t.post(
        &format!("/v2/Services/{svc}/Webhooks"),
        &[
            ("FriendlyName", "dead"),
            ("EventTypes", "*"),
            ("WebhookUrl", "http://127.0.0.1:9/hook"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    t.enroll_push(&svc, ID).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    t.server.shutdown().await;
}

/// Without `--allow-private-webhooks`, a webhook cannot reach into the
/// server's own network: literal loopback and private addresses are refused
/// on create and update, and a host name resolving to one is refused when
/// the event is delivered.
#[tokio::test]
async fn private_webhook_targets_are_refused_by_default() {
    let t = start().await;
    let svc = t.service("Private").await;
    let hooks = format!("/v2/Services/{svc}/Webhooks");
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://127.1/hook",
        "https://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.0.0.7/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:80/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
    ] {
        let r = t
            .post(
                &hooks,
                &[
                    ("FriendlyName", "inside"),
                    ("EventTypes", "*"),
                    ("WebhookUrl", url),
                ],
            )
            .await;
        assert_error(&r, 400, 60306);
    }
    let public = webhook(&t, &hooks, "public", "*", "https://example.invalid/hook").await;
    let r = t
        .post(
            &format!("{hooks}/{public}"),
            &[("WebhookUrl", "http://192.168.0.1/hook")],
        )
        .await;
    assert_error(&r, 400, 60306);

    // A name that resolves to loopback passes creation but is never
    // delivered to.
    let (url, mut rx, state) = receiver(0).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    webhook(&t, &hooks, "by name", "*", &by_name).await;
    t.enroll_push(&svc, ID).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        rx.try_recv().is_err(),
        "an event reached a loopback receiver"
    );
    assert_eq!(state.seen.load(Ordering::SeqCst), 0);
    t.server.shutdown().await;

    // The same receiver and name, with private targets allowed: delivered.
    let t = start_local().await;
    let svc = t.service("Allowed").await;
    webhook(
        &t,
        &format!("/v2/Services/{svc}/Webhooks"),
        "by name",
        "factor.created",
        &by_name,
    )
    .await;
    t.enroll_push(&svc, ID).await;
    let (_, ev) = next_event(&mut rx).await;
    assert_eq!(param(&ev, "type"), "factor.created");
    t.server.shutdown().await;
}

/// A receiver that holds every request until released.
struct Stalled {
    seen: AtomicUsize,
    release: tokio::sync::Semaphore,
}

async fn stalled_hook(State(s): State<Arc<Stalled>>) -> AxStatus {
    s.seen.fetch_add(1, Ordering::SeqCst);
    let _ = s.release.acquire().await;
    AxStatus::OK
}

/// Slow receivers cannot make webhook work grow without bound or slow the
/// API down: deliveries in flight and queued events are capped, and events
/// beyond the queue are dropped while every request still answers at once.
#[tokio::test]
async fn a_full_webhook_queue_drops_events_and_never_blocks() {
    let t = start_with(|c| {
        c.allow_private_webhooks = true;
        c.webhooks = verify_server::WebhookLimits {
            queue: 2,
            concurrent_deliveries: 1,
        };
        c.webhook_retry = verify_server::RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
        };
    })
    .await;
    let stalled = Arc::new(Stalled {
        seen: AtomicUsize::new(0),
        release: tokio::sync::Semaphore::new(0),
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(stalled_hook))
        .with_state(stalled.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let svc = t.service("Flood").await;
    let hooks = format!("/v2/Services/{svc}/Webhooks");
    webhook(
        &t,
        &hooks,
        "slow",
        "factor.created",
        &format!("http://{addr}/hook"),
    )
    .await;
    const EVENTS: usize = 12;
    for i in 0..EVENTS {
        let started = std::time::Instant::now();
        let r = t
            .post(
                &format!("{}/Factors", ent(&svc, ID)),
                &[
                    ("FriendlyName", &format!("code {i}")),
                    ("FactorType", "totp"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a request waited for the webhook queue"
        );
    }
    // One delivery is stuck in the receiver; let everything through.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while stalled.seen.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stalled.release.add_permits(EVENTS);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // In flight (1), waiting for a delivery slot (1), queued (2).
    let delivered = stalled.seen.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&delivered),
        "{delivered} of {EVENTS} events were delivered; the rest should have been dropped"
    );
    t.server.shutdown().await;
}

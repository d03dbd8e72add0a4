//! The device side of Verify push at the protocol level (no keychain): approve/deny against
//! verify-server over HTTPS, the server's refusals mapped to plain-words errors, the clock
//! correction, and faults (429, 500, 401, timeouts) from a scripted stub.

mod push_common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use countersign_core::Error;
use countersign_core::push::Decision;
use countersign_core::push::challenges::answer_challenge;
use countersign_core::verify::ClientOptions;
use push_common::{SIGNED_FIELDS, Stub, challenge_json, start_server, stub_factor, stub_shown};
use serde_json::value::RawValue;

const ALICE: &str = "alice-0001";

#[tokio::test]
async fn approve_and_deny_reach_the_relying_party() {
    let server = start_server(|_| {}).await;
    let client = server.client();
    let factor = server.device_factor(&client, ALICE).await;

    let first = server
        .create_challenge(ALICE, &factor.factor_sid, "Log in to Example?", None)
        .await;
    let second = server
        .create_challenge(ALICE, &factor.factor_sid, "Wire 100 EUR?", None)
        .await;
    let pending = client.pending_challenges(&factor).await.expect("list");
    let sids: Vec<&str> = pending.iter().map(|c| c.sid.as_str()).collect();
    // Order=desc: newest first.
    assert_eq!(sids, vec![second.as_str(), first.as_str()]);
    assert_eq!(pending[1].details.fields[0].value, "Lisbon, PT");

    let approved = answer_challenge(&client, &factor, &(&pending[1]).into(), Decision::Approve)
        .await
        .expect("approved");
    assert_eq!(approved.status, "approved");
    let denied = answer_challenge(&client, &factor, &(&pending[0]).into(), Decision::Deny)
        .await
        .expect("denied");
    assert_eq!(denied.status, "denied");

    assert_eq!(server.challenge(ALICE, &first).await["status"], "approved");
    assert_eq!(server.challenge(ALICE, &second).await["status"], "denied");
    assert!(
        client
            .pending_challenges(&factor)
            .await
            .expect("list")
            .is_empty()
    );
    server.server.shutdown().await;
}

#[tokio::test]
async fn an_answered_challenge_is_refused_by_the_client_and_by_the_server() {
    let server = start_server(|_| {}).await;
    let client = server.client();
    let factor = server.device_factor(&client, ALICE).await;
    let sid = server
        .create_challenge(ALICE, &factor.factor_sid, "Log in?", None)
        .await;
    let before = client.fetch_challenge(&factor, &sid).await.expect("fetch");
    answer_challenge(
        &client,
        &factor,
        &server.shown(ALICE, &sid).await,
        Decision::Approve,
    )
    .await
    .expect("approved");

    // Client side: the fetched status is no longer pending.
    let err = answer_challenge(
        &client,
        &factor,
        &server.shown(ALICE, &sid).await,
        Decision::Deny,
    )
    .await
    .expect_err("already answered");
    assert_eq!(err.code(), "challenge_already_answered");
    assert!(err.to_string().contains("approved"), "{err}");

    // Server side (60322): a signature over the old, pending copy.
    let jwt = factor
        .key
        .approval_jwt(
            &before.body,
            before.signature_fields.as_deref().expect("fields"),
            "denied",
        )
        .expect("jwt");
    let err = client
        .update_challenge(&factor, &sid, &jwt)
        .await
        .expect_err("server refuses");
    assert_eq!(err.code(), "challenge_already_answered");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "approved");
    server.server.shutdown().await;
}

#[tokio::test]
async fn an_expired_challenge_is_refused_by_the_client_and_by_the_server() {
    let server = start_server(|_| {}).await;
    let client = server.client();
    let factor = server.device_factor(&client, ALICE).await;
    let sid = server
        .create_challenge(ALICE, &factor.factor_sid, "Log in?", Some(2))
        .await;
    let before = client.fetch_challenge(&factor, &sid).await.expect("fetch");
    assert_eq!(before.challenge.status, "pending");
    tokio::time::sleep(Duration::from_millis(3100)).await;

    let err = answer_challenge(
        &client,
        &factor,
        &server.shown(ALICE, &sid).await,
        Decision::Approve,
    )
    .await
    .expect_err("expired");
    assert_eq!(err.code(), "challenge_expired");

    // Server side (60323): signed while it was pending, posted after expiry.
    let jwt = factor
        .key
        .approval_jwt(
            &before.body,
            before.signature_fields.as_deref().expect("fields"),
            "approved",
        )
        .expect("jwt");
    let err = client
        .update_challenge(&factor, &sid, &jwt)
        .await
        .expect_err("server refuses");
    assert_eq!(err.code(), "challenge_expired");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "expired");
    server.server.shutdown().await;
}

#[tokio::test]
async fn tampered_details_are_refused_by_the_server() {
    let server = start_server(|_| {}).await;
    let client = server.client();
    let factor = server.device_factor(&client, ALICE).await;
    let sid = server
        .create_challenge(ALICE, &factor.factor_sid, "Wire 100 EUR?", None)
        .await;
    let fetched = client.fetch_challenge(&factor, &sid).await.expect("fetch");
    let fields = fetched.signature_fields.clone().expect("fields");
    assert!(fields.split(',').any(|f| f == "details"), "{fields}");

    // The device signs what it was shown; here "shown" differs from the server's copy.
    let mut body: HashMap<String, Box<RawValue>> = fetched.body.clone();
    body.insert(
        "details".into(),
        RawValue::from_string(r#"{"message":"Wire 1 EUR?","fields":[]}"#.into()).expect("raw"),
    );
    let jwt = factor
        .key
        .approval_jwt(&body, &fields, "approved")
        .expect("jwt");
    let err = client
        .update_challenge(&factor, &sid, &jwt)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "challenge_verification_failed");
    assert!(!err.to_string().contains("60324"), "plain words: {err}");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "pending");
    server.server.shutdown().await;
}

#[tokio::test]
async fn another_factors_challenge_is_not_answered() {
    let server = start_server(|_| {}).await;
    let client = server.client();
    let mine = server.device_factor(&client, ALICE).await;
    let other = server.device_factor(&client, ALICE).await;
    let sid = server
        .create_challenge(ALICE, &other.factor_sid, "Log in?", None)
        .await;
    // verify-server does not even show it to another factor.
    let err = answer_challenge(
        &client,
        &mine,
        &server.shown(ALICE, &sid).await,
        Decision::Approve,
    )
    .await
    .expect_err("not mine");
    assert_eq!(err.code(), "challenge_not_found");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "pending");
    server.server.shutdown().await;

    // A server that does show it: the client refuses before signing anything.
    let stub = Stub::start(|method, _path, _n| {
        if method == Method::GET {
            (
                StatusCode::OK,
                vec![("Twilio-Verify-Signature-Fields", SIGNED_FIELDS.into())],
                challenge_json("YC11111111111111111111111111111111", "YFother", "pending"),
            )
        } else {
            (StatusCode::OK, vec![], "{}".into())
        }
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let err = answer_challenge(
        &client,
        &stub_factor("YFmine"),
        &stub_shown("YC11111111111111111111111111111111"),
        Decision::Approve,
    )
    .await
    .expect_err("refused");
    assert_eq!(err.code(), "challenge_wrong_factor");
    assert!(stub.seen().iter().all(|s| s.method == Method::GET));
    stub.stop();
}

#[tokio::test]
async fn a_server_clock_one_hour_ahead_is_learnt_from_date() {
    let server = start_server(|c| c.clock_offset_secs = 3600).await;
    let client = server.client();
    assert_eq!(client.clock_offset_secs(), 0);
    // Verification signs a JWT the server sees as an hour old: 401 + Date, then the retry.
    let factor = server.device_factor(&client, ALICE).await;
    let offset = client.clock_offset_secs();
    assert!((3595..=3605).contains(&offset), "offset {offset}");

    let sid = server
        .create_challenge(ALICE, &factor.factor_sid, "Log in?", None)
        .await;
    answer_challenge(
        &client,
        &factor,
        &server.shown(ALICE, &sid).await,
        Decision::Approve,
    )
    .await
    .expect("approved with the corrected clock");
    assert_eq!(server.challenge(ALICE, &sid).await["status"], "approved");
    server.server.shutdown().await;
}

fn list_body() -> String {
    format!(
        r#"{{"challenges":[{}],"meta":{{"key":"challenges"}}}}"#,
        challenge_json("YC1", "YFmine", "pending")
    )
}

#[tokio::test]
async fn rate_limits_are_waited_out_within_bounds() {
    let stub = Stub::start(|_method, _path, n| {
        if n < 2 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                vec![("Retry-After", "1".into())],
                r#"{"code":20429,"message":"Too many requests","status":429}"#.into(),
            )
        } else {
            (StatusCode::OK, vec![], list_body())
        }
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let started = Instant::now();
    let pending = client
        .pending_challenges(&stub_factor("YFmine"))
        .await
        .expect("after two waits");
    assert_eq!(pending.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stub.seen().len(), 3);
    stub.stop();

    // Asked to wait longer than the bound: reported at once, nothing retried.
    let stub = Stub::start(|_method, _path, _n| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            vec![("Retry-After", "3600".into())],
            "{}".into(),
        )
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let started = Instant::now();
    match client.pending_challenges(&stub_factor("YFmine")).await {
        Err(Error::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 3600),
        other => panic!("expected rate_limited, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(stub.seen().len(), 1);
    stub.stop();
}

#[tokio::test]
async fn server_errors_retry_reads_and_confirm_writes_by_refetching() {
    // A read failing once with 500 is retried.
    let stub = Stub::start(|_method, _path, n| {
        if n == 0 {
            (StatusCode::INTERNAL_SERVER_ERROR, vec![], "oops".into())
        } else {
            (StatusCode::OK, vec![], list_body())
        }
    })
    .await;
    let client = stub.client(ClientOptions::default());
    assert_eq!(
        client
            .pending_challenges(&stub_factor("YFmine"))
            .await
            .expect("retried")
            .len(),
        1
    );
    assert_eq!(stub.seen().len(), 2);
    stub.stop();

    // The approval POST answers 500 but landed: the re-fetch shows it approved.
    let stub = Stub::start(|method, _path, n| {
        let fields = vec![("Twilio-Verify-Signature-Fields", SIGNED_FIELDS.to_string())];
        match (method.as_str(), n) {
            ("GET", 0) => (
                StatusCode::OK,
                fields,
                challenge_json("YC1", "YFmine", "pending"),
            ),
            ("GET", _) => (
                StatusCode::OK,
                vec![],
                challenge_json("YC1", "YFmine", "approved"),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, vec![], "oops".into()),
        }
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let challenge = answer_challenge(
        &client,
        &stub_factor("YFmine"),
        &stub_shown("YC1"),
        Decision::Approve,
    )
    .await
    .expect("confirmed by re-fetch");
    assert_eq!(challenge.status, "approved");
    let posts: Vec<_> = stub
        .seen()
        .into_iter()
        .filter(|s| s.method == Method::POST)
        .collect();
    assert_eq!(posts.len(), 1, "writes are never repeated");
    assert!(
        posts[0].body.starts_with("AuthPayload=ey"),
        "{}",
        posts[0].body
    );
    stub.stop();

    // ...and when it did not land, the 500 is reported.
    let stub = Stub::start(|method, _path, _n| {
        let fields = vec![("Twilio-Verify-Signature-Fields", SIGNED_FIELDS.to_string())];
        match method.as_str() {
            "GET" => (
                StatusCode::OK,
                fields,
                challenge_json("YC1", "YFmine", "pending"),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, vec![], "oops".into()),
        }
    })
    .await;
    let client = stub.client(ClientOptions::default());
    match answer_challenge(
        &client,
        &stub_factor("YFmine"),
        &stub_shown("YC1"),
        Decision::Approve,
    )
    .await
    {
        Err(Error::Api { status: 500, .. }) => {}
        other => panic!("expected the 500, got {other:?}"),
    }
    stub.stop();
}

#[tokio::test]
async fn a_persistent_401_is_reported_after_one_clock_retry() {
    let stub = Stub::start(|_method, _path, _n| {
        (
            StatusCode::UNAUTHORIZED,
            vec![(
                "Date",
                httpdate::fmt_http_date(std::time::SystemTime::now()),
            )],
            r#"{"code":20003,"message":"Authenticate","status":401}"#.into(),
        )
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let err = client
        .pending_challenges(&stub_factor("YFmine"))
        .await
        .expect_err("unauthorized");
    assert_eq!(err.code(), "device_unauthorized");
    assert_eq!(stub.seen().len(), 2, "exactly one retry");
    // Both attempts carried a (fresh) device JWT.
    stub.stop();
}

#[tokio::test]
async fn transport_failures_have_distinct_codes() {
    let options = ClientOptions {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    // Accepts connections but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let config =
        countersign_core::verify::ServerConfig::new(&format!("http://{silent_addr}/v2/"), None)
            .expect("config");
    let client = countersign_core::verify::VerifyClient::with_options(&config, options.clone())
        .expect("client");
    let err = client
        .pending_challenges(&stub_factor("YFmine"))
        .await
        .expect_err("timeout");
    assert_eq!(err.code(), "network_timeout");
    holder.abort();

    // Nothing listens there any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_addr = closed.local_addr().expect("addr");
    drop(closed);
    let config =
        countersign_core::verify::ServerConfig::new(&format!("https://{closed_addr}/v2/"), None)
            .expect("config");
    let client = countersign_core::verify::VerifyClient::with_options(&config, options.clone())
        .expect("client");
    let err = client
        .pending_challenges(&stub_factor("YFmine"))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "network_unreachable");

    // A real server whose CA we were not told about.
    let server = start_server(|_| {}).await;
    let config = countersign_core::verify::ServerConfig::new(&server.server.base_url(), None)
        .expect("config");
    let client =
        countersign_core::verify::VerifyClient::with_options(&config, options).expect("client");
    let err = client
        .pending_challenges(&stub_factor("YFmine"))
        .await
        .expect_err("untrusted");
    assert_eq!(err.code(), "tls_error", "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    server.server.shutdown().await;
}

/// What a lying server answers the approval's fetch with, and the refusal it must get.
struct Lie {
    what: &'static str,
    body: String,
    signature_fields: &'static str,
    code: &'static str,
}

#[tokio::test]
async fn a_lying_server_gets_no_signature() {
    let honest = challenge_json("YC1", "YFmine", "pending");
    let lies = [
        Lie {
            what: "another pending request swapped in",
            body: challenge_json("YC2", "YFmine", "pending"),
            signature_fields: SIGNED_FIELDS,
            code: "challenge_changed",
        },
        Lie {
            what: "the message rewritten after it was shown",
            body: honest.replace("Log in?", "Wire 9000 EUR to M. Mallory?"),
            signature_fields: SIGNED_FIELDS,
            code: "challenge_changed",
        },
        Lie {
            what: "a field added after it was shown",
            body: honest.replace(
                r#""fields":[]"#,
                r#""fields":[{"label":"Amount","value":"9000 EUR"}]"#,
            ),
            signature_fields: SIGNED_FIELDS,
            code: "challenge_changed",
        },
        Lie {
            what: "details left out of the signed fields",
            body: honest.clone(),
            signature_fields: "sid,factor_sid,expiration_date,status",
            code: "challenge_unsignable",
        },
        Lie {
            what: "only the status signed",
            body: honest.clone(),
            signature_fields: "status",
            code: "challenge_unsignable",
        },
    ];
    for lie in lies {
        let (body, fields) = (lie.body.clone(), lie.signature_fields);
        let stub = Stub::start(move |method, _path, _n| {
            if method == Method::GET {
                (
                    StatusCode::OK,
                    vec![("Twilio-Verify-Signature-Fields", fields.to_string())],
                    body.clone(),
                )
            } else {
                (StatusCode::OK, vec![], "{}".into())
            }
        })
        .await;
        let client = stub.client(ClientOptions::default());
        let err = answer_challenge(
            &client,
            &stub_factor("YFmine"),
            &stub_shown("YC1"),
            Decision::Approve,
        )
        .await
        .expect_err(lie.what);
        assert_eq!(err.code(), lie.code, "{}: {err}", lie.what);
        assert!(
            stub.seen().iter().all(|s| s.method == Method::GET),
            "{}: nothing may be posted",
            lie.what
        );
        stub.stop();
    }
}

#[tokio::test]
async fn an_oversized_reply_is_refused_unread() {
    let stub = Stub::start(|_method, _path, _n| {
        let huge = format!(r#"{{"challenges":[],"padding":"{}"}}"#, "x".repeat(2 << 20));
        (StatusCode::OK, vec![], huge)
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let err = client
        .fetch_challenge(&stub_factor("YFmine"), "YC1")
        .await
        .expect_err("too large");
    assert_eq!(err.code(), "response_too_large");
    assert!(err.to_string().contains("1048576"), "{err}");
    stub.stop();
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let stub = Stub::start(|method, path, _n| {
        if path.contains("elsewhere") {
            return (StatusCode::OK, vec![], "{}".into());
        }
        if method == Method::GET {
            return (
                StatusCode::OK,
                vec![("Twilio-Verify-Signature-Fields", SIGNED_FIELDS.into())],
                challenge_json("YC1", "YFmine", "pending"),
            );
        }
        (
            StatusCode::TEMPORARY_REDIRECT,
            vec![("Location", "/elsewhere".to_string())],
            String::new(),
        )
    })
    .await;
    let client = stub.client(ClientOptions::default());
    let err = answer_challenge(
        &client,
        &stub_factor("YFmine"),
        &stub_shown("YC1"),
        Decision::Approve,
    )
    .await
    .expect_err("redirected");
    assert_eq!(err.code(), "redirected");
    let seen = stub.seen();
    assert_eq!(
        seen.iter().filter(|s| s.method == Method::POST).count(),
        1,
        "the answer is sent once, to the server it was meant for"
    );
    assert!(
        seen.iter().all(|s| !s.path.contains("elsewhere")),
        "{:?}",
        seen.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    stub.stop();
}

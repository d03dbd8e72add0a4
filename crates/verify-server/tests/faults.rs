//! Fault injection (`/dev/faults`): off unless asked for, backend credentials only, and
//! each kind of fault exactly as programmed, over real HTTPS.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};

async fn start_faulty() -> TestServer {
    start_with(|c| c.fault_injection = true).await
}

impl TestServer {
    async fn fault(&self, form: &[(&str, &str)]) -> Resp {
        let r = self.post("/dev/faults", form).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r
    }

    async fn rules(&self) -> serde_json::Value {
        let r = self.get("/dev/faults", &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.json["faults"].clone()
    }
}

#[tokio::test]
async fn off_by_default_the_endpoint_does_not_exist() {
    let t = start().await;
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let r = t
            .call(method, "/dev/faults", Auth::Backend, &[("Status", "500")])
            .await;
        assert_error(&r, 404, 20404);
    }
    // And nothing was injected.
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn only_backend_credentials_program_faults() {
    let t = start_faulty().await;
    for auth in [
        Auth::None,
        Auth::Token("anything"),
        Auth::Basic(t.server.account_sid(), "wrong"),
    ] {
        let r = t
            .call(Method::POST, "/dev/faults", auth, &[("Status", "500")])
            .await;
        assert_error(&r, 401, 20003);
    }
    let r = t.call(Method::DELETE, "/dev/faults", Auth::None, &[]).await;
    assert_error(&r, 401, 20003);
    assert_eq!(t.rules().await, serde_json::json!([]));
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn count_faults_exactly_the_next_n_requests() {
    let t = start_faulty().await;
    let added = t.fault(&[("Status", "500"), ("Count", "2")]).await;
    assert_eq!(added.json["remaining"], 2);
    for _ in 0..2 {
        assert_error(&t.get("/v2/Services", &[]).await, 500, 20500);
    }
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
    let rules = t.rules().await;
    assert_eq!(rules[0]["matched"], 2, "{rules}");
    assert_eq!(rules[0]["remaining"], 0, "{rules}");
    assert_eq!(
        rules[0]["matched_after_ms"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn rate_limits_and_unavailability_carry_retry_after() {
    let t = start_faulty().await;
    t.fault(&[("Status", "429"), ("RetryAfter", "7"), ("Count", "1")])
        .await;
    let r = t.get("/v2/Services", &[]).await;
    assert_error(&r, 429, 20429);
    assert_eq!(r.headers["retry-after"], "7");

    // A 429 always says when to come back; a 503 only when told to.
    t.fault(&[("Status", "429"), ("Count", "1")]).await;
    assert_eq!(t.get("/v2/Services", &[]).await.headers["retry-after"], "1");
    t.fault(&[("Status", "503"), ("Count", "1")]).await;
    let r = t.get("/v2/Services", &[]).await;
    assert_error(&r, 503, 20503);
    assert!(!r.headers.contains_key("retry-after"));
    t.fault(&[("Status", "503"), ("RetryAfter", "30"), ("Count", "1")])
        .await;
    assert_eq!(
        t.get("/v2/Services", &[]).await.headers["retry-after"],
        "30"
    );
}

#[tokio::test]
async fn delay_holds_requests_and_outlasts_a_short_client_timeout() {
    let t = start_faulty().await;
    t.fault(&[("DelayMs", "700"), ("Count", "1")]).await;
    let started = Instant::now();
    let r = t.get("/v2/Services", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "a delay alone still serves");
    assert!(started.elapsed() >= Duration::from_millis(700));
    let started = Instant::now();
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(700), "used up");

    t.fault(&[("DelayMs", "2000"), ("Count", "1")]).await;
    let timed_out = t
        .client
        .get(t.url("/v2/Services"))
        .basic_auth(t.server.account_sid(), Some(t.server.auth_token()))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(timed_out.is_timeout(), "{timed_out}");

    // Delay and status together: held, then refused.
    t.fault(&[("DelayMs", "400"), ("Status", "500"), ("Count", "1")])
        .await;
    let started = Instant::now();
    assert_error(&t.get("/v2/Services", &[]).await, 500, 20500);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn path_and_method_filters_pick_the_requests() {
    let t = start_faulty().await;
    let svc = t.service("Faults").await;
    let challenges = format!("{}/Challenges", ent(&svc, "user-1"));
    t.fault(&[
        ("Status", "500"),
        ("PathContains", "Challenges"),
        ("Method", "get"),
    ])
    .await;
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
    assert_error(&t.get(&challenges, &[]).await, 500, 20500);
    assert_error(&t.get(&challenges, &[]).await, 500, 20500);
    // A POST to the same path is served (and refused on its own merits).
    let created = t.post(&challenges, &[("FactorSid", "YF0")]).await;
    assert_ne!(created.status, StatusCode::INTERNAL_SERVER_ERROR);
    let rules = t.rules().await;
    assert_eq!(rules[0]["matched"], 2, "{rules}");
    assert_eq!(rules[0]["remaining"], serde_json::Value::Null);
}

#[tokio::test]
async fn counting_rules_observe_and_delete_clears_everything() {
    let t = start_faulty().await;
    t.fault(&[("PathContains", "/v2/Services")]).await;
    t.fault(&[("Status", "503"), ("Count", "1")]).await;
    // Both rules see the request; the one with a status answers it.
    assert_error(&t.get("/v2/Services", &[]).await, 503, 20503);
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
    let rules = t.rules().await;
    assert_eq!(rules[0]["matched"], 2, "{rules}");
    assert_eq!(rules[1]["matched"], 1, "{rules}");

    t.fault(&[("Status", "500")]).await;
    assert_error(&t.get("/v2/Services", &[]).await, 500, 20500);
    let r = t.delete("/dev/faults").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(t.rules().await, serde_json::json!([]));
    assert_eq!(t.get("/v2/Services", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_statuses_and_out_of_range_values_are_refused() {
    let t = start_faulty().await;
    for form in [
        [("Status", "404")],
        [("Status", "five hundred")],
        [("Count", "0")],
        [("DelayMs", "-1")],
        [("Method", "G E T")],
    ] {
        let r = t.post("/dev/faults", &form).await;
        assert_error(&r, 400, 60306);
    }
    assert_eq!(t.rules().await, serde_json::json!([]));
}

#[test]
fn the_binary_enables_it_with_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_verify-server"))
        .args(["--listen", "127.0.0.1:0", "--fault-injection"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("VERIFY_ACCOUNT_SID")
        .env_remove("VERIFY_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut info = std::collections::HashMap::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let (k, v) = line.split_once(": ").unwrap();
        info.insert(k.to_string(), v.to_string());
        if k == "listening" {
            break;
        }
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        client_for(std::path::Path::new(&info["ca"]))
            .get(format!("{}/dev/faults", info["listening"]))
            .basic_auth(&info["account_sid"], Some(&info["auth_token"]))
            .send()
            .await
            .unwrap()
            .status()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, StatusCode::OK);
}

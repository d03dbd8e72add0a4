//! The /demo relying party: enrol via link, sign in with push, add TOTP.

mod common;

use common::device::Device;
use common::*;
use reqwest::{Method, StatusCode};

async fn demo_post(t: &TestServer, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
    // No credentials: the page must work without the auth token.
    let r = t.call(Method::POST, path, Auth::None, form).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.json);
    r.json
}

#[tokio::test]
async fn demo_enrol_sign_in_and_totp() {
    let t = start_with(|c| c.demo = true).await;
    let svc = t.server.demo_service_sid().unwrap();
    let page = t.client.get(t.url("/demo")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Enroll this desktop"));

    let e = demo_post(&t, "/demo/api/enroll", &[("user", "alice")]).await;
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let link = url::Url::parse(e["link"].as_str().unwrap()).unwrap();
    assert_eq!(link.scheme(), "countersign");
    assert_eq!(link.host_str(), Some("enroll"));
    let q: std::collections::HashMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(q["v"], "1");
    assert_eq!(q["server"], t.server.base_url());
    assert_eq!(q["service"], svc);
    assert_eq!(q["identity"], "demo-alice");
    assert_eq!(q["name"], "Countersign desktop");

    // Sign-in before enrolment fails cleanly.
    let r = t
        .call(
            Method::POST,
            "/demo/api/signin",
            Auth::None,
            &[("user", "alice")],
        )
        .await;
    assert_error(&r, 400, 60306);

    // Enrol like the desktop app would from the link.
    let mut d = Device::random(t.server.account_sid());
    let fpath = format!("{}/Factors", ent(&q["service"], &q["identity"]));
    let r = t
        .call(
            Method::POST,
            &fpath,
            Auth::Token(&q["token"]),
            &[
                ("FriendlyName", &q["name"]),
                ("FactorType", "push"),
                ("Binding.PublicKey", &d.public_key_b64()),
                ("Binding.Alg", "ES256"),
                ("Config.AppId", "app.countersign"),
                ("Config.NotificationPlatform", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    d.factor_sid = r.json["sid"].as_str().unwrap().into();
    d.credential_sid = r.json["config"]["credential_sid"].as_str().unwrap().into();
    let v = t
        .dev(
            &d,
            Method::POST,
            &format!("{fpath}/{}", d.factor_sid),
            &[("AuthPayload", &d.sign_der_b64(&d.factor_sid))],
        )
        .await;
    assert_eq!(v.json["status"], "verified");

    let c = demo_post(&t, "/demo/api/signin", &[("user", "alice")]).await;
    assert_eq!(c["status"], "pending");
    assert_eq!(
        c["details"]["message"],
        "Sign in to Countersign Demo as alice?"
    );
    let csid = c["sid"].as_str().unwrap().to_string();
    let a = t.answer(&d, &svc, "demo-alice", &csid, "approved").await;
    assert_eq!(a.status, StatusCode::OK);
    let s = t
        .call(
            Method::GET,
            "/demo/api/challenge",
            Auth::None,
            &[("user", "alice"), ("sid", &csid)],
        )
        .await;
    assert_eq!(s.json["status"], "approved");

    // TOTP: create, then a wrong code, then list.
    let tt = demo_post(&t, "/demo/api/totp", &[("user", "alice")]).await;
    assert!(
        tt["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Countersign%20Demo:alice?secret=")
    );
    let w = demo_post(
        &t,
        "/demo/api/totp/verify",
        &[
            ("user", "alice"),
            ("factor", tt["sid"].as_str().unwrap()),
            ("code", "000000x"),
        ],
    )
    .await;
    assert_eq!(w["status"], "unverified");
    let l = t
        .call(
            Method::GET,
            "/demo/api/factors",
            Auth::None,
            &[("user", "alice")],
        )
        .await;
    let types: Vec<&str> = l.json["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["factor_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["push", "totp"]);

    // The relying party removes a factor (e.g. one whose device lost its key).
    let totp_sid = tt["sid"].as_str().unwrap();
    let removed = demo_post(
        &t,
        "/demo/api/factors/remove",
        &[("user", "alice"), ("factor", totp_sid)],
    )
    .await;
    assert_eq!(removed["removed"], totp_sid);
    let l = t
        .call(
            Method::GET,
            "/demo/api/factors",
            Auth::None,
            &[("user", "alice")],
        )
        .await;
    let types: Vec<&str> = l.json["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["factor_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["push"]);
    // Removing it again: Twilio's 404 for an unknown factor.
    let again = t
        .call(
            Method::POST,
            "/demo/api/factors/remove",
            Auth::None,
            &[("user", "alice"), ("factor", totp_sid)],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let empty = t
        .call(
            Method::GET,
            "/demo/api/factors",
            Auth::None,
            &[("user", "nobody")],
        )
        .await;
    assert_eq!(empty.json["factors"], serde_json::json!([]));
    let bad = t
        .call(
            Method::POST,
            "/demo/api/enroll",
            Auth::None,
            &[("user", "<script>")],
        )
        .await;
    assert_error(&bad, 400, 60306);
    t.server.shutdown().await;
}

#[tokio::test]
async fn demo_is_off_without_flag() {
    let t = start().await;
    assert_error(
        &t.call(Method::GET, "/demo", Auth::None, &[]).await,
        404,
        20404,
    );
    assert_error(
        &t.call(
            Method::POST,
            "/demo/api/enroll",
            Auth::None,
            &[("user", "alice")],
        )
        .await,
        404,
        20404,
    );
    t.server.shutdown().await;
}

//! The /demo relying party: enrol via link, sign in with push, add TOTP.

mod common;

use common::device::Device;
use common::*;
use reqwest::{Method, StatusCode};

/// The token a freshly loaded demo page carries (`<meta name="demo-token">`).
async fn page_token(t: &TestServer) -> String {
    let page = t.client.get(t.url("/demo")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let slot = r#"<meta name="demo-token" content=""#;
    let start = html.find(slot).unwrap() + slot.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_string()
}

/// A POST as the demo page's script sends it: no credentials (the page
/// must work without the auth token), this server's `Origin`, and the
/// page's token. `origin`/`token` of `None` leave the header out.
async fn demo_call(
    t: &TestServer,
    origin: Option<&str>,
    token: Option<&str>,
    path: &str,
    form: &[(&str, &str)],
) -> Resp {
    let mut req = t.client.post(t.url(path)).form(form);
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    if let Some(tok) = token {
        req = req.header("X-Demo-Token", tok);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let json = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    Resp {
        status,
        headers,
        json,
    }
}

/// A POST from a page of this server.
async fn demo_same_site(t: &TestServer, path: &str, form: &[(&str, &str)]) -> Resp {
    let token = page_token(t).await;
    demo_call(t, Some(t.server.origin()), Some(&token), path, form).await
}

async fn demo_post(t: &TestServer, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
    let r = demo_same_site(t, path, form).await;
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
    let qr = e["qr_image"].as_str().unwrap();
    let svg = data_encoding::BASE64
        .decode(
            qr.strip_prefix("data:image/svg+xml;base64,")
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));
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
    let r = demo_same_site(&t, "/demo/api/signin", &[("user", "alice")]).await;
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
    let again = demo_same_site(
        &t,
        "/demo/api/factors/remove",
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
    let bad = demo_same_site(&t, "/demo/api/enroll", &[("user", "<script>")]).await;
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
    let origin = t.server.origin().to_string();
    assert_error(
        &demo_call(
            &t,
            Some(&origin),
            None,
            "/demo/api/enroll",
            &[("user", "alice")],
        )
        .await,
        404,
        20404,
    );
    t.server.shutdown().await;
}

/// The demo's POSTs act without credentials, so another web site must not
/// be able to send them from the user's browser: each needs this server's
/// `Origin` and a token from one of its pages.
#[tokio::test]
async fn demo_refuses_cross_site_posts() {
    let t = start_with(|c| c.demo = true).await;
    let origin = t.server.origin().to_string();
    let form = [("user", "mallory")];
    let enroll = "/demo/api/enroll";
    let refused = |r: Resp| assert_error(&r, 403, 20403);
    // What a form on another site, or a script there, sends.
    refused(demo_call(&t, Some("https://evil.example"), None, enroll, &form).await);
    refused(demo_call(&t, None, None, enroll, &form).await);
    let token = page_token(&t).await;

    // A foreign origin, even with a genuine token (a page that read it).
    for foreign in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        refused(demo_call(&t, Some(foreign), Some(&token), enroll, &form).await);
    }
    refused(demo_call(&t, None, Some(&token), enroll, &form).await);
    // The right origin without a genuine token: none, forged, tampered, or
    // one from another server's page.
    refused(demo_call(&t, Some(&origin), None, enroll, &form).await);
    let forged = format!("AAAAAAAAAAAAAAAAAAAAAA.{}", "0".repeat(64));
    refused(demo_call(&t, Some(&origin), Some(&forged), enroll, &form).await);
    let mut tampered = token.clone();
    let last = if tampered.ends_with('0') { '1' } else { '0' };
    tampered.pop();
    tampered.push(last);
    refused(demo_call(&t, Some(&origin), Some(&tampered), enroll, &form).await);
    let elsewhere = start_with(|c| c.demo = true).await;
    let foreign_token = page_token(&elsewhere).await;
    refused(demo_call(&t, Some(&origin), Some(&foreign_token), enroll, &form).await);
    elsewhere.server.shutdown().await;
    // Every POST route is guarded.
    for path in [
        "/demo/api/signin",
        "/demo/api/totp",
        "/demo/api/totp/verify",
        "/demo/api/factors/remove",
    ] {
        refused(demo_call(&t, Some("https://evil.example"), Some(&token), path, &form).await);
        refused(demo_call(&t, Some(&origin), None, path, &form).await);
    }

    // The page itself, by any loopback name of this server.
    let ok = demo_call(&t, Some(&origin), Some(&token), enroll, &form).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    let port = t.server.addr().port();
    let by_name = format!("https://localhost:{port}");
    let ok = demo_call(&t, Some(&by_name), Some(&token), enroll, &form).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    t.server.shutdown().await;
}

/// Whatever a device or user chose as a name is shown as text: the page
/// builds no markup from data, and the JSON it reads carries no markup
/// characters at all.
#[tokio::test]
async fn demo_renders_values_as_text() {
    let t = start_with(|c| c.demo = true).await;
    let svc = t.server.demo_service_sid().unwrap();
    // The factor's name is the device's to choose.
    let hostile = r#"<script>alert("x")</script><img src=x onerror=alert(1)>&"#;
    let token = t.access_token(&svc, "demo-alice").await;
    let d = Device::random(t.server.account_sid());
    let r = t
        .call(
            Method::POST,
            &format!("{}/Factors", ent(&svc, "demo-alice")),
            Auth::Token(&token),
            &[
                ("FriendlyName", hostile),
                ("FactorType", "push"),
                ("Binding.PublicKey", &d.public_key_b64()),
                ("Config.AppId", "app.countersign"),
                ("Config.NotificationPlatform", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);

    let resp = t
        .client
        .get(t.url("/demo/api/factors?user=alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let raw = resp.text().await.unwrap();
    for markup in ["<", ">", "&"] {
        assert!(!raw.contains(markup), "{markup:?} in {raw}");
    }
    assert!(raw.contains(r"\u003cscript\u003e"), "{raw}");
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(json["factors"][0]["friendly_name"], hostile);

    // The page: no HTML built from strings, no inline handlers, and its one
    // script and style run under a fresh nonce the CSP names.
    let page = t.client.get(t.url("/demo")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!html.contains(sink), "the page uses {sink}");
    }
    let lower = html.to_ascii_lowercase();
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " oninput=",
        "javascript:",
    ] {
        assert!(!lower.contains(handler), "the page has {handler}");
    }
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"));
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(lower.matches("<script").count(), 1);
    assert!(html.contains(&format!(r#"<script nonce="{nonce}">"#)));
    let again = t.client.get(t.url("/demo")).send().await.unwrap();
    assert_ne!(
        again.headers()["content-security-policy"].to_str().unwrap(),
        csp,
        "the nonce is per page"
    );
    t.server.shutdown().await;
}

//! Contract tests for /v2/Services over real HTTPS.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

const SERVICE_FIELDS: &[&str] = &[
    "sid",
    "account_sid",
    "friendly_name",
    "code_length",
    "lookup_enabled",
    "psd2_enabled",
    "skip_sms_to_landlines",
    "dtmf_input_required",
    "tts_name",
    "do_not_share_warning_enabled",
    "custom_code_enabled",
    "push",
    "totp",
    "default_template_sid",
    "whatsapp",
    "passkeys",
    "verify_event_subscription_enabled",
    "date_created",
    "date_updated",
    "url",
    "links",
];

#[tokio::test]
async fn service_crud_and_errors() {
    let t = start().await;
    let r = t
        .post(
            "/v2/Services",
            &[
                ("FriendlyName", "My Service"),
                ("Totp.Issuer", "ACME"),
                ("Totp.TimeStep", "60"),
                ("Totp.CodeLength", "8"),
                ("Totp.Skew", "2"),
                ("Push.IncludeDate", "true"),
                ("SomethingUnknown", "ignored"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert!(r.headers.contains_key("date"));
    assert_keys(&r.json, SERVICE_FIELDS);
    assert_keys(
        &r.json["push"],
        &["include_date", "apn_credential_sid", "fcm_credential_sid"],
    );
    assert_keys(
        &r.json["totp"],
        &["issuer", "time_step", "code_length", "skew"],
    );
    assert_keys(
        &r.json["links"],
        &[
            "verification_checks",
            "verifications",
            "rate_limits",
            "messaging_configurations",
            "entities",
            "webhooks",
            "access_tokens",
        ],
    );
    assert_sid(&r.json["sid"], "VA");
    assert_eq!(r.json["account_sid"], t.server.account_sid());
    assert_eq!(r.json["totp"]["issuer"], "ACME");
    assert_eq!(r.json["totp"]["time_step"], 60);
    assert_eq!(r.json["push"]["include_date"], true);
    assert_ts(&r.json["date_created"]);
    let sid = r.json["sid"].as_str().unwrap().to_string();
    assert_eq!(r.json["url"], t.url(&format!("/v2/Services/{sid}")));

    let f = t.get(&t.svc(&sid), &[]).await;
    assert_eq!(f.status, StatusCode::OK);
    assert_eq!(f.json, r.json);

    let u = t
        .post(
            &t.svc(&sid),
            &[("FriendlyName", "Renamed"), ("Totp.Skew", "0")],
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.json);
    assert_eq!(u.json["friendly_name"], "Renamed");
    assert_eq!(u.json["totp"]["skew"], 0);
    assert_eq!(u.json["totp"]["issuer"], "ACME");

    t.service("Second").await;
    let l = t.get("/v2/Services", &[("PageSize", "1")]).await;
    assert_eq!(l.status, StatusCode::OK);
    assert_eq!(l.json["services"].as_array().unwrap().len(), 1);
    assert_eq!(l.json["meta"]["key"], "services");
    let next = l.json["meta"]["next_page_url"]
        .as_str()
        .unwrap()
        .to_string();
    let l2 = t
        .get(next.strip_prefix(t.server.origin()).unwrap(), &[])
        .await;
    assert_eq!(l2.json["services"][0]["friendly_name"], "Second");
    assert!(l2.json["meta"]["next_page_url"].is_null());

    // Validation: missing/too long name, out-of-range settings.
    assert_error(&t.post("/v2/Services", &[]).await, 400, 60306);
    assert_error(
        &t.post("/v2/Services", &[("FriendlyName", &"x".repeat(33))])
            .await,
        400,
        60306,
    );
    assert_error(
        &t.post(
            "/v2/Services",
            &[("FriendlyName", "a"), ("Totp.TimeStep", "10")],
        )
        .await,
        400,
        60306,
    );

    let d = t.delete(&t.svc(&sid)).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    assert_error(&t.get(&t.svc(&sid), &[]).await, 404, 20404);
    assert_error(&t.delete(&t.svc(&sid)).await, 404, 20404);
    t.server.shutdown().await;
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let t = start().await;
    let sid = t.service("Auth").await;
    let path = t.svc(&sid);
    let r = t.call(Method::GET, &path, Auth::None, &[]).await;
    assert_error(&r, 401, 20003);
    assert_eq!(r.json["message"], "Authenticate");
    let r = t
        .call(
            Method::GET,
            &path,
            Auth::Basic(t.server.account_sid(), "wrong"),
            &[],
        )
        .await;
    assert_error(&r, 401, 20003);
    let r = t
        .call(
            Method::GET,
            &path,
            Auth::Basic("ACnope", t.server.auth_token()),
            &[],
        )
        .await;
    assert_error(&r, 401, 20003);
    let r = t
        .call(Method::GET, &path, Auth::Token("not-a-jwt"), &[])
        .await;
    assert_error(&r, 401, 20003);
    // Unknown paths and methods still answer Twilio JSON with a Date header.
    assert_error(&t.get("/v2/Nope", &[]).await, 404, 20404);
    assert_error(
        &t.call(Method::PUT, &path, Auth::Backend, &[]).await,
        405,
        20004,
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn services_and_credentials_persist_across_restarts() {
    let t = start().await;
    let sid = t.service("Persistent").await;
    let account = t.server.account_sid().to_string();
    let token = t.server.auth_token().to_string();
    assert!(t.server.auth_token_generated());
    let ca = std::fs::read(t.server.ca_pem_path()).unwrap();
    let data = t.dir.path().join("data");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["ca-key.pem", "server-key.pem"] {
            let mode = std::fs::metadata(data.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    t.server.shutdown().await;

    let again = verify_server::start(verify_server::Config::new(&data))
        .await
        .unwrap();
    assert_eq!(again.account_sid(), account);
    assert_eq!(again.auth_token(), token);
    assert!(!again.auth_token_generated());
    assert_eq!(std::fs::read(again.ca_pem_path()).unwrap(), ca);
    let client = client_for(again.ca_pem_path());
    let r = client
        .get(format!("{}Services/{sid}", again.base_url()))
        .basic_auth(&account, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    again.shutdown().await;
}

#[tokio::test]
async fn configured_credentials_and_demo_service() {
    let t = start_with(|c| {
        c.account_sid = Some("AC0123456789abcdef0123456789abcdef".into());
        c.auth_token = Some("secret-token".into());
        c.demo = true;
    })
    .await;
    assert_eq!(t.server.account_sid(), "AC0123456789abcdef0123456789abcdef");
    assert!(!t.server.auth_token_generated());
    let demo = t.server.demo_service_sid().unwrap();
    let r = t.get(&t.svc(&demo), &[]).await;
    assert_eq!(r.json["friendly_name"], verify_server::DEMO_SERVICE_NAME);
    t.server.shutdown().await;
}

#[tokio::test]
async fn untrusted_clients_are_refused() {
    let t = start().await;
    // A client with an empty trust store must fail the handshake.
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let c = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    assert!(c.get(t.url("/v2/Services")).send().await.is_err());
    // localhost is covered by the certificate too.
    let port = t.server.addr().port();
    let r = t
        .client
        .get(format!("https://localhost:{port}/v2/Services"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    t.server.shutdown().await;
}

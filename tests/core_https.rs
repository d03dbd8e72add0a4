//! The core's Verify client against verify-server over real HTTPS on loopback: it trusts the
//! server's own CA only when told to, and turns Twilio error bodies into typed errors.

use countersign_core::Error;
use countersign_core::verify::{Credentials, ServerConfig, VerifyClient};

async fn start_demo_server(dir: &std::path::Path) -> verify_server::RunningServer {
    let mut config = verify_server::Config::new(dir);
    config.demo = true;
    verify_server::start(config).await.expect("server starts")
}

fn backend(server: &verify_server::RunningServer, token: &str) -> Credentials {
    Credentials::Backend {
        account_sid: server.account_sid().to_string(),
        auth_token: token.to_string(),
    }
}

#[tokio::test]
async fn fetches_a_service_over_https_trusting_the_local_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_demo_server(dir.path()).await;
    let sid = server.demo_service_sid().expect("demo service");
    let ca = std::fs::read_to_string(server.ca_pem_path()).expect("ca.pem");

    let config = ServerConfig::new(&server.base_url(), Some(ca)).expect("config");
    assert!(config.base_url.as_str().starts_with("https://127.0.0.1:"));
    let client = VerifyClient::new(&config).expect("client");
    let service = client
        .fetch_service(&sid, &backend(&server, server.auth_token()))
        .await
        .expect("service fetched");
    assert_eq!(service.sid, sid);
    assert_eq!(service.account_sid, server.account_sid());
    assert_eq!(service.friendly_name, verify_server::DEMO_SERVICE_NAME);
    assert!(
        service.date_created.ends_with('Z'),
        "{}",
        service.date_created
    );
    server.shutdown().await;
}

#[tokio::test]
async fn refuses_the_server_without_its_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_demo_server(dir.path()).await;
    let sid = server.demo_service_sid().expect("demo service");

    // Only the system roots: the local CA is unknown, so the handshake must fail.
    let config = ServerConfig::new(&server.base_url(), None).expect("config");
    let client = VerifyClient::new(&config).expect("client");
    let err = client
        .fetch_service(&sid, &backend(&server, server.auth_token()))
        .await
        .expect_err("untrusted certificate refused");
    assert_eq!(err.code(), "tls_error");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "names the TLS cause: {err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn twilio_errors_become_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_demo_server(dir.path()).await;
    let sid = server.demo_service_sid().expect("demo service");
    let ca = std::fs::read_to_string(server.ca_pem_path()).expect("ca.pem");
    let client =
        VerifyClient::new(&ServerConfig::new(&server.base_url(), Some(ca)).expect("config"))
            .expect("client");

    match client
        .fetch_service(&sid, &backend(&server, "wrong-token"))
        .await
    {
        Err(Error::Api { status, code, .. }) => assert_eq!((status, code), (401, 20003)),
        other => panic!("expected 401/20003, got {other:?}"),
    }
    let unknown = "VA00000000000000000000000000000000";
    match client
        .fetch_service(unknown, &backend(&server, server.auth_token()))
        .await
    {
        Err(Error::Api { status, code, .. }) => assert_eq!((status, code), (404, 20404)),
        other => panic!("expected 404/20404, got {other:?}"),
    }
    server.shutdown().await;
}

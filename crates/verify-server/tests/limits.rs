//! Deadlines and limits that keep one client from exhausting the server:
//! slow request heads and bodies are cut off, connections are capped,
//! pending push challenges per entity are capped, and expired records are
//! purged.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use data_encoding::{BASE32_NOPAD, BASE64};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const ID: &str = "user-0007-grace";

/// A raw TLS connection to the server, trusting only its CA.
async fn tls_connect(t: &TestServer) -> std::io::Result<TlsStream<TcpStream>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(t.server.ca_pem_path()).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(t.server.addr()).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

fn basic(t: &TestServer) -> String {
    let pair = format!("{}:{}", t.server.account_sid(), t.server.auth_token());
    format!("Basic {}", BASE64.encode(pair.as_bytes()))
}

/// Wait for the peer to close, writing `trickle` every 100 ms meanwhile
/// (if given). Returns how long that took and what was read.
async fn until_closed(
    s: &mut TlsStream<TcpStream>,
    trickle: Option<&[u8]>,
    give_up: Duration,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            started.elapsed() < give_up,
            "the server kept the connection open for {give_up:?}"
        );
        tokio::select! {
            n = s.read(&mut buf) => match n {
                Ok(0) | Err(_) => return (started.elapsed(), got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if let Some(bytes) = trickle
                    && s.write_all(bytes).await.is_err()
                {
                    return (started.elapsed(), got);
                }
            }
        }
    }
}

/// A complete request on a raw connection: the status line of the answer.
async fn list_services(t: &TestServer, s: &mut TlsStream<TcpStream>) -> String {
    let req = format!(
        "GET /v2/Services HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\r\n",
        basic(t)
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_string();
    text.lines().next().unwrap_or_default().to_string()
}

/// Slowloris: a request head trickled a byte at a time, or never sent on
/// an idle connection, is cut off at the header-read deadline.
#[tokio::test]
async fn slow_request_heads_are_cut_off() {
    let t = start_with(|c| c.connections.header_read_timeout = Duration::from_secs(1)).await;

    let mut s = tls_connect(&t).await.unwrap();
    s.write_all(b"GET /v2/Services HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let (took, _) = until_closed(&mut s, Some(b"X"), Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(3), "cut off only after {took:?}");

    // An idle connection, and one idle after a first request (keep-alive).
    let mut idle = tls_connect(&t).await.unwrap();
    let (took, _) = until_closed(&mut idle, None, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(3), "idle for {took:?}");
    let mut kept = tls_connect(&t).await.unwrap();
    assert_eq!(list_services(&t, &mut kept).await, "HTTP/1.1 200 OK");
    let (took, _) = until_closed(&mut kept, None, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(3), "kept alive for {took:?}");
    t.server.shutdown().await;
}

/// A request body that trickles in is answered 408 at the body deadline.
#[tokio::test]
async fn slow_request_bodies_are_cut_off() {
    let t = start_with(|c| {
        c.connections.body_timeout = Duration::from_secs(1);
        c.connections.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let mut s = tls_connect(&t).await.unwrap();
    let head = format!(
        "POST /v2/Services HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n\
         FriendlyName=slow",
        basic(&t)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (took, answer) = until_closed(&mut s, Some(b"x"), Duration::from_secs(10)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {took:?}: {answer}"
    );
    assert!(answer.contains("\"code\":60306"), "{answer}");
    assert!(took < Duration::from_secs(4), "cut off only after {took:?}");
    // Nothing was created from the partial body.
    let list = t.get("/v2/Services", &[]).await;
    assert_eq!(list.json["services"], serde_json::json!([]));
    t.server.shutdown().await;
}

/// At most `max_connections` connections are open at once; the next is
/// closed on accept, and a slot frees up when a connection closes.
#[tokio::test]
async fn connections_are_capped() {
    const CAP: usize = 4;
    let t = start_with(|c| c.connections.max_connections = CAP).await;
    let mut open = Vec::new();
    for _ in 0..CAP {
        open.push(tls_connect(&t).await.expect("within the cap"));
    }
    assert_eq!(list_services(&t, &mut open[0]).await, "HTTP/1.1 200 OK");
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        let mut s = tls_connect(&t).await?;
        // Should the handshake have raced the close, the request cannot.
        s.write_all(b"GET /v2/Services HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut buf = [0u8; 64];
        match s.read(&mut buf).await? {
            0 => Err(std::io::Error::other("closed")),
            _ => Ok(()),
        }
    })
    .await
    .expect("the connection over the cap was neither served nor closed");
    assert!(refused.is_err(), "a connection over the cap was served");

    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut again = loop {
        if let Ok(s) = tls_connect(&t).await {
            break s;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(list_services(&t, &mut again).await, "HTTP/1.1 200 OK");
    drop(open);
    t.server.shutdown().await;
}

fn ts(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// An entity holds at most `max_pending_push_challenges_per_entity`
/// unanswered push challenges; answered and expired ones make room.
#[tokio::test]
async fn pending_push_challenges_per_entity_are_capped() {
    let t = start_with(|c| c.limits.max_pending_push_challenges_per_entity = 3).await;
    let svc = t.service("Pending").await;
    let d = t.enroll_push(&svc, ID).await;
    let second = t.enroll_push(&svc, ID).await;
    let cpath = format!("{}/Challenges", ent(&svc, ID));
    let create = |factor: String, expires: Option<i64>| {
        let t = &t;
        let cpath = cpath.clone();
        async move {
            let mut form = vec![
                ("FactorSid", factor),
                ("Details.Message", "Sign in?".to_string()),
            ];
            if let Some(e) = expires {
                form.push(("ExpirationDate", ts(e)));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t.post(&cpath, &form).await
        }
    };
    let short = create(d.factor_sid.clone(), Some(device::now() + 2)).await;
    assert_eq!(short.status, StatusCode::CREATED, "{}", short.json);
    let first = create(d.factor_sid.clone(), None).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    // The limit is the entity's: the other factor's challenges count.
    let other = create(second.factor_sid.clone(), None).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.json);
    let over = create(d.factor_sid.clone(), None).await;
    assert_error(&over, 429, 60312);
    assert_error(&create(second.factor_sid.clone(), None).await, 429, 60312);

    // Answering one makes room for one.
    let sid = first.json["sid"].as_str().unwrap();
    let a = t.answer(&d, &svc, ID, sid, "denied").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(
        create(d.factor_sid.clone(), None).await.status,
        StatusCode::CREATED
    );
    assert_error(&create(d.factor_sid.clone(), None).await, 429, 60312);
    // So does expiry, whether or not it was stored yet.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        create(d.factor_sid.clone(), None).await.status,
        StatusCode::CREATED
    );
    assert_error(&create(d.factor_sid.clone(), None).await, 429, 60312);
    t.server.shutdown().await;
}

/// RFC 6238 code of `secret_b32` at Unix time `at` (SHA-1, 6 digits, 30 s).
fn code_at(secret_b32: &str, at: i64) -> String {
    let secret = BASE32_NOPAD.decode(secret_b32.as_bytes()).unwrap();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&secret).unwrap();
    mac.update(&((at / 30) as u64).to_be_bytes());
    let d = mac.finalize().into_bytes();
    let off = (d[19] & 0xf) as usize;
    let bin = u32::from_be_bytes([d[off] & 0x7f, d[off + 1], d[off + 2], d[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

/// Expired challenges (after the retention) and expired access tokens are
/// deleted in the background; current ones stay.
#[tokio::test]
async fn expired_challenges_and_access_tokens_are_purged() {
    // Two hours ago, by the server's clock: a challenge (5 minutes) and an
    // access token (60 s) that have long expired by now.
    const PAST: i64 = -7200;
    let past = start_with(|c| c.clock_offset_secs = PAST).await;
    let svc = past.service("Purge").await;
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let f = past
        .post(
            &format!("{}/Factors", ent(&svc, ID)),
            &[
                ("FriendlyName", "purge"),
                ("FactorType", "totp"),
                ("Binding.Secret", secret),
            ],
        )
        .await;
    let factor_sid = f.json["sid"].as_str().unwrap().to_string();
    let fpath = format!("{}/Factors/{factor_sid}", ent(&svc, ID));
    let v = past
        .post(
            &fpath,
            &[("AuthPayload", &code_at(secret, device::now() + PAST))],
        )
        .await;
    assert_eq!(v.json["status"], "verified", "{}", v.json);
    let cpath = format!("{}/Challenges", ent(&svc, ID));
    let old = past.post(&cpath, &[("FactorSid", &factor_sid)]).await;
    let old_challenge = format!("{cpath}/{}", old.json["sid"].as_str().unwrap());
    let tok = past
        .post(
            &format!("/v2/Services/{svc}/AccessTokens"),
            &[("Identity", ID), ("FactorType", "push")],
        )
        .await;
    let old_token = format!(
        "/v2/Services/{svc}/AccessTokens/{}",
        tok.json["sid"].as_str().unwrap()
    );
    let TestServer {
        server,
        dir,
        client,
    } = past;
    server.shutdown().await;

    // Now, on the same data, purging every 100 ms and keeping challenges an
    // hour past their expiry.
    let mut config = verify_server::Config::new(dir.path().join("data"));
    config.purge_interval = Duration::from_millis(100);
    config.challenge_retention = Duration::from_secs(3600);
    let t = TestServer {
        server: verify_server::start(config).await.unwrap(),
        dir,
        client,
    };
    let fresh = t.post(&cpath, &[("FactorSid", &factor_sid)]).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.json);
    let fresh_token = t
        .post(
            &format!("/v2/Services/{svc}/AccessTokens"),
            &[("Identity", ID), ("FactorType", "push")],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (c, a) = (
            t.get(&old_challenge, &[]).await,
            t.get(&old_token, &[]).await,
        );
        if c.status == StatusCode::NOT_FOUND && a.status == StatusCode::NOT_FOUND {
            assert_error(&c, 404, 60391);
            assert_error(&a, 404, 20404);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not purged: challenge {} ({}), access token {}",
            c.status,
            c.json["status"],
            a.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = t
        .get(
            &format!("{cpath}/{}", fresh.json["sid"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_eq!(kept.json["status"], "pending", "{}", kept.json);
    let kept = t
        .get(
            &format!(
                "/v2/Services/{svc}/AccessTokens/{}",
                fresh_token.json["sid"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.json);
    t.server.shutdown().await;
}

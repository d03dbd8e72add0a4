//! The generated CA: name-constrained to the loopback names, valid for a
//! year, renewed when due, its keys private.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

const CA_NAME: &str = "Countersign Verify Server local CA";
const DAY: i64 = 24 * 3600;

fn data(t: &TestServer) -> std::path::PathBuf {
    t.dir.path().join("data")
}

fn der(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

/// A certificate for `name` signed with the CA key in `dir`, as someone
/// holding `ca-key.pem` could make one.
fn leaf_signed_by_ca(dir: &Path, name: &str) -> CertificateDer<'static> {
    let ca_key =
        KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca-key.pem")).unwrap()).unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, CA_NAME);
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.use_authority_key_identifier_extension = true;
    params.signed_by(&key, &issuer).unwrap().der().clone()
}

/// Verify `leaf` for `name` against a client trusting only `ca`.
fn verify(ca: &CertificateDer<'static>, leaf: &CertificateDer<'static>, name: &str) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    verifier
        .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
        .is_ok()
}

struct Validity {
    not_before: i64,
    not_after: i64,
}

fn validity(path: &Path) -> Validity {
    let pem = std::fs::read(path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    Validity {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    }
}

#[tokio::test]
async fn the_ca_vouches_for_loopback_names_only() {
    let t = start().await;
    let dir = data(&t);
    let ca = der(&dir.join("ca.pem"));

    // The constraint as written.
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let constraints = cert.name_constraints().unwrap().expect("name constraints");
    assert!(constraints.critical);
    let permitted: Vec<String> = constraints
        .value
        .permitted_subtrees
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| match &s.base {
            GeneralName::DNSName(n) => format!("dns:{n}"),
            GeneralName::IPAddress(b) => format!("ip:{}", data_encoding::HEXLOWER.encode(b)),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        permitted,
        [
            "dns:localhost".to_string(),
            "ip:7f000001ffffffff".to_string(),
            format!("ip:{}{}", "0".repeat(31) + "1", "f".repeat(32)),
        ]
    );

    // And as a TLS client enforces it: the server's own certificate, and
    // any loopback name, pass; a certificate for any other host, signed with
    // this very CA key, does not.
    let server = der(&dir.join("server.pem"));
    for name in ["localhost", "127.0.0.1", "::1"] {
        assert!(verify(&ca, &server, name), "{name}");
    }
    assert!(verify(
        &ca,
        &leaf_signed_by_ca(&dir, "localhost"),
        "localhost"
    ));
    for name in [
        "example.com",
        "verify.twilio.com",
        "10.0.0.1",
        "localhost.example",
    ] {
        let forged = leaf_signed_by_ca(&dir, name);
        assert!(!verify(&ca, &forged, name), "the CA vouched for {name}");
    }

    // A year at most, for both certificates.
    let now = device::now();
    for file in ["ca.pem", "server.pem"] {
        let v = validity(&dir.join(file));
        assert!(v.not_after - v.not_before <= 366 * DAY, "{file}");
        assert!(v.not_after > now + 300 * DAY, "{file}");
        assert!(v.not_before <= now, "{file}");
    }
    t.server.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let t = start().await;
    let dir = data(&t);
    for key in ["ca-key.pem", "server-key.pem", "verify.sqlite3"] {
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
    // Written whole, through temporary files that are gone.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    t.server.shutdown().await;

    // A key file someone loosened is made private again at start.
    for key in ["ca-key.pem", "server-key.pem"] {
        std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let again = verify_server::start(verify_server::Config::new(&dir))
        .await
        .unwrap();
    for key in ["ca-key.pem", "server-key.pem"] {
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
    again.shutdown().await;
}

/// Write a CA certificate for the stored CA key, valid `from..until` (Unix
/// seconds), constrained or not.
fn write_ca(dir: &Path, key: &KeyPair, from: i64, until: i64, constrained: bool) {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    if constrained {
        params.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("localhost".into())],
            excluded_subtrees: vec![],
        });
    }
    params.not_before = OffsetDateTime::from_unix_timestamp(from).unwrap();
    params.not_after = OffsetDateTime::from_unix_timestamp(until).unwrap();
    let cert = params.self_signed(key).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
}

/// Start on `dir` and make one request, trusting the CA found there then.
async fn serves(dir: &Path) -> bool {
    let server = verify_server::start(verify_server::Config::new(dir))
        .await
        .unwrap();
    let client = client_for(server.ca_pem_path());
    let ok = client
        .get(format!("{}Services", server.base_url()))
        .basic_auth(server.account_sid(), Some(server.auth_token()))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    server.shutdown().await;
    ok
}

/// A CA that is expired, or close to expiry, is renewed at start with its
/// key kept (clients that stored the old certificate still verify the new
/// server certificate); an old unconstrained one is replaced with a new
/// key. Either way the server certificate is reissued.
#[tokio::test]
async fn a_due_ca_is_replaced_at_start() {
    let now = device::now();
    let cases = [
        ("expired", now - 400 * DAY, now - DAY, true, true),
        (
            "expiring in 10 days",
            now - 355 * DAY,
            now + 10 * DAY,
            true,
            true,
        ),
        // What earlier versions made: unconstrained, 1975 to 4096.
        ("unconstrained", 157_766_400, 67_090_000_000, false, false),
    ];
    for (what, from, until, constrained, keeps_key) in cases {
        let t = start().await;
        let dir = data(&t);
        t.server.shutdown().await;
        let key_pem = std::fs::read_to_string(dir.join("ca-key.pem")).unwrap();
        let key = KeyPair::from_pem(&key_pem).unwrap();
        write_ca(&dir, &key, from, until, constrained);
        let stale_ca = std::fs::read(dir.join("ca.pem")).unwrap();
        let stale_server = std::fs::read(dir.join("server.pem")).unwrap();
        let stale_ca_der = der(&dir.join("ca.pem"));

        assert!(serves(&dir).await, "{what}: the renewed server serves");
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        assert_ne!(ca, stale_ca, "{what}: the CA was not replaced");
        assert_ne!(
            std::fs::read(dir.join("server.pem")).unwrap(),
            stale_server,
            "{what}: the server certificate was not reissued"
        );
        let v = validity(&dir.join("ca.pem"));
        assert!(v.not_after > now + 300 * DAY, "{what}");
        assert!(v.not_after - v.not_before <= 366 * DAY, "{what}");
        let key_now = std::fs::read_to_string(dir.join("ca-key.pem")).unwrap();
        assert_eq!(key_now == key_pem, keeps_key, "{what}: CA key kept?");
        // A client still trusting the old certificate: fine after a renewal
        // (same name and key), refused after a replacement.
        let server = der(&dir.join("server.pem"));
        assert_eq!(
            verify(&stale_ca_der, &server, "localhost"),
            keeps_key,
            "{what}"
        );
        // A current CA is left alone.
        assert!(serves(&dir).await);
        assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), ca, "{what}");
    }
}

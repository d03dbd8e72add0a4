//! Local development PKI: a P-256 CA created on first start plus a server
//! certificate for localhost/127.0.0.1/::1 signed by it, both kept in the
//! data dir so clients can trust `ca.pem` once.
//!
//! The CA is name-constrained to exactly those three names: a client that
//! trusts it (and a thief of `ca-key.pem`) can be fooled about loopback
//! servers only, never about a public host. Both certificates are valid for
//! a year; the server renews them when they are within
//! [`RENEW_WITHIN_SECS`] of expiry, expired, or from a version that made
//! unconstrained, century-long CAs.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::error::StartError;
use crate::files::{make_private, write_atomic};

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server-key.pem";

const CA_NAME: &str = "Countersign Verify Server local CA";

const DAY_SECS: i64 = 24 * 3600;
/// Validity of a new certificate (both CA and server).
pub const LIFETIME_SECS: i64 = 365 * DAY_SECS;
/// Certificates closer to expiry than this are renewed.
pub const RENEW_WITHIN_SECS: i64 = 30 * DAY_SECS;
/// Backdating of `notBefore`, for clients whose clock is a little behind.
const BACKDATE_SECS: i64 = 3600;
/// Anything valid for longer than a year (plus the backdating) was not made
/// by this version: old versions made 1975–4096 certificates.
const MAX_LIFETIME_SECS: i64 = 366 * DAY_SECS;

pub struct TlsMaterial {
    pub ca_pem_path: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// What the server needs to know about a stored certificate.
struct CertFacts {
    not_before: i64,
    not_after: i64,
    is_ca: bool,
    name_constrained: bool,
}

impl CertFacts {
    fn read(path: &Path) -> Option<CertFacts> {
        let pem = std::fs::read(path).ok()?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
        let cert = pem.parse_x509().ok()?;
        let validity = cert.validity();
        Some(CertFacts {
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            is_ca: cert.is_ca(),
            name_constrained: matches!(cert.name_constraints(), Ok(Some(_))),
        })
    }

    fn due(&self, now: i64) -> bool {
        self.not_after - now < RENEW_WITHIN_SECS
            || self.not_after - self.not_before > MAX_LIFETIME_SECS
            || self.not_before > now
    }
}

/// Load the CA and server certificate in `dir`, creating or renewing them
/// as needed (see the module docs). Renewing the CA always reissues the
/// server certificate.
pub fn load_or_create(dir: &Path) -> Result<TlsMaterial, StartError> {
    let ca_path = dir.join(CA_CERT);
    let ca_key_path = dir.join(CA_KEY);
    let cert_path = dir.join(SERVER_CERT);
    let key_path = dir.join(SERVER_KEY);
    let now = OffsetDateTime::now_utc();
    let now_secs = now.unix_timestamp();

    let stored_ca_key = std::fs::read_to_string(&ca_key_path)
        .ok()
        .and_then(|pem| KeyPair::from_pem(&pem).ok());
    let ca = CertFacts::read(&ca_path);
    let ca_ok = ca
        .as_ref()
        .is_some_and(|f| f.is_ca && f.name_constrained && !f.due(now_secs));
    let (ca_key, ca_not_after) = match (ca_ok, stored_ca_key, &ca) {
        (true, Some(key), Some(facts)) => (key, facts.not_after),
        (_, stored_key, facts) => {
            // An ageing constrained CA keeps its key (and name), so clients
            // that stored the old certificate still verify the new server
            // certificate. An unconstrained one gets a fresh key: the old
            // certificate must stop vouching for anything.
            let keep = facts.as_ref().is_some_and(|f| f.name_constrained);
            let key = match stored_key {
                Some(k) if keep => k,
                _ => {
                    let k = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_err)?;
                    write_atomic(&ca_key_path, k.serialize_pem().as_bytes(), true)?;
                    k
                }
            };
            let params = ca_params(now);
            let not_after = params.not_after.unix_timestamp();
            let cert = params.self_signed(&key).map_err(tls_err)?;
            write_atomic(&ca_path, cert.pem().as_bytes(), false)?;
            // A new CA certificate means a new server certificate.
            let _ = std::fs::remove_file(&cert_path);
            (key, not_after)
        }
    };
    make_private(&ca_key_path)?;

    let server_ok = key_path.exists()
        && CertFacts::read(&cert_path).is_some_and(|f| !f.is_ca && !f.due(now_secs));
    if !server_ok {
        // Rebuilding the CA params with the same DN and key yields the same
        // issuer name and key identifier as the stored ca.pem.
        let issuer = Issuer::new(ca_params(now), ca_key);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_err)?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            Ipv4Addr::LOCALHOST.to_string(),
            Ipv6Addr::LOCALHOST.to_string(),
        ])
        .map_err(tls_err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = backdated(now);
        // Never outlive the CA.
        params.not_after = (now + time::Duration::seconds(LIFETIME_SECS))
            .min(OffsetDateTime::from_unix_timestamp(ca_not_after).map_err(tls_err)?);
        let cert = params.signed_by(&key, &issuer).map_err(tls_err)?;
        write_atomic(&key_path, key.serialize_pem().as_bytes(), true)?;
        write_atomic(&cert_path, cert.pem().as_bytes(), false)?;
    }
    make_private(&key_path)?;

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(tls_err)?
        .collect::<Result<_, _>>()
        .map_err(tls_err)?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(tls_err)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(tls_err)?;
    // HTTP/1.1 only: its header-read deadline covers every request and every
    // idle keep-alive connection (see `listener`); HTTP/2 has no such bound.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let ca_pem_path = std::fs::canonicalize(&ca_path).map_err(|e| StartError::io(&ca_path, e))?;
    Ok(TlsMaterial {
        ca_pem_path,
        server_config: Arc::new(config),
    })
}

fn backdated(now: OffsetDateTime) -> OffsetDateTime {
    now - time::Duration::seconds(BACKDATE_SECS)
}

fn ca_params(now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::V4(Ipv4Addr::LOCALHOST.octets(), [0xff; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6(Ipv6Addr::LOCALHOST.octets(), [0xff; 16])),
        ],
        excluded_subtrees: Vec::new(),
    });
    params.not_before = backdated(now);
    params.not_after = now + time::Duration::seconds(LIFETIME_SECS);
    params
}

fn tls_err(e: impl std::fmt::Display) -> StartError {
    StartError::Tls(e.to_string())
}

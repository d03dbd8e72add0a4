//! Local development PKI: a P-256 CA created on first start plus a server
//! certificate for localhost/127.0.0.1/::1 signed by it. Both are kept in the
//! data dir and reused, so clients can trust `ca.pem` once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::StartError;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server-key.pem";

const CA_NAME: &str = "Countersign Verify Server local CA";

pub struct TlsMaterial {
    pub ca_pem_path: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Load (or create on first use) the CA and server certificate in `dir`.
pub fn load_or_create(dir: &Path) -> Result<TlsMaterial, StartError> {
    let ca_path = dir.join(CA_CERT);
    let ca_key_path = dir.join(CA_KEY);
    let cert_path = dir.join(SERVER_CERT);
    let key_path = dir.join(SERVER_KEY);

    if !ca_path.exists() || !ca_key_path.exists() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_err)?;
        let cert = ca_params().self_signed(&key).map_err(tls_err)?;
        write_file(&ca_key_path, key.serialize_pem().as_bytes(), true)?;
        write_file(&ca_path, cert.pem().as_bytes(), false)?;
        // A new CA invalidates any old server certificate.
        let _ = std::fs::remove_file(&cert_path);
    }
    if !cert_path.exists() || !key_path.exists() {
        let ca_key_pem =
            std::fs::read_to_string(&ca_key_path).map_err(|e| StartError::io(&ca_key_path, e))?;
        let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(tls_err)?;
        // Rebuilding the CA params with the same DN and key yields the same
        // issuer name and key identifier as the stored ca.pem.
        let issuer = Issuer::new(ca_params(), ca_key);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls_err)?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .map_err(tls_err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer).map_err(tls_err)?;
        write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
        write_file(&cert_path, cert.pem().as_bytes(), false)?;
    }

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
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let ca_pem_path = std::fs::canonicalize(&ca_path).map_err(|e| StartError::io(&ca_path, e))?;
    Ok(TlsMaterial {
        ca_pem_path,
        server_config: Arc::new(config),
    })
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn tls_err(e: impl std::fmt::Display) -> StartError {
    StartError::Tls(e.to_string())
}

/// Write a file; secrets get mode 0600 from creation on (no window where
/// they are world-readable).
pub(crate) fn write_file(path: &Path, data: &[u8], secret: bool) -> Result<(), StartError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(|e| StartError::io(path, e))?;
    f.write_all(data).map_err(|e| StartError::io(path, e))?;
    Ok(())
}

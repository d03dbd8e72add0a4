//! The one HTTP client for Verify servers: rustls (ring provider), certificate checks always
//! on, an optional extra CA for local servers, plain `http://` only on loopback.

use std::time::Duration;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};

pub const TWILIO_BASE_URL: &str = "https://verify.twilio.com/v2/";

/// Where a Verify server is and how to trust it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    /// Base URL ending in `/v2/`.
    pub base_url: Url,
    /// PEM of an extra CA to trust (a local server's own CA), on top of the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_ca_pem: Option<String>,
}

impl ServerConfig {
    pub fn twilio() -> Self {
        ServerConfig {
            base_url: Url::parse(TWILIO_BASE_URL).expect("constant URL is valid"),
            extra_ca_pem: None,
        }
    }

    pub fn new(base_url: &str, extra_ca_pem: Option<String>) -> Result<Self> {
        let mut base_url = Url::parse(base_url)
            .map_err(|e| Error::InvalidServerConfig(format!("server URL {base_url:?}: {e}")))?;
        if !base_url.path().ends_with('/') {
            base_url.set_path(&format!("{}/", base_url.path()));
        }
        match base_url.scheme() {
            "https" => {}
            "http" if is_loopback(&base_url) => {}
            "http" => {
                return Err(Error::InvalidServerConfig(
                    "plain http:// is only allowed for a server on this machine (loopback)".into(),
                ));
            }
            other => {
                return Err(Error::InvalidServerConfig(format!(
                    "unsupported URL scheme {other:?}; use https://"
                )));
            }
        }
        Ok(ServerConfig {
            base_url,
            extra_ca_pem,
        })
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// How a request authenticates.
pub enum Credentials {
    /// A relying party's backend: account SID + auth token.
    Backend {
        account_sid: String,
        auth_token: String,
    },
    /// A device: the literal user `token` and an access token or device JWT.
    Device { token: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Backend { account_sid, .. } => f
                .debug_struct("Backend")
                .field("account_sid", account_sid)
                .finish_non_exhaustive(),
            Credentials::Device { .. } => f.write_str("Device(<redacted>)"),
        }
    }
}

impl Credentials {
    fn header(&self) -> String {
        let pair = match self {
            Credentials::Backend {
                account_sid,
                auth_token,
            } => format!("{account_sid}:{auth_token}"),
            Credentials::Device { token } => format!("token:{token}"),
        };
        format!("Basic {}", BASE64.encode(pair.as_bytes()))
    }
}

/// The fields of a Verify service that a device reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub date_created: String,
    pub date_updated: String,
}

/// Twilio's error body.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: u32,
    message: String,
}

#[derive(Debug, Clone)]
pub struct VerifyClient {
    http: reqwest::Client,
    base_url: Url,
}

impl VerifyClient {
    pub fn new(config: &ServerConfig) -> Result<Self> {
        // reqwest is built without a bundled provider; ring builds far faster than aws-lc.
        // Installing twice is harmless (the first one stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(user_agent());
        if let Some(pem) = &config.extra_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| Error::InvalidServerConfig(format!("extra CA certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| Error::InvalidServerConfig(format!("HTTP client: {e}")))?;
        Ok(VerifyClient {
            http,
            base_url: config.base_url.clone(),
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub async fn fetch_service(
        &self,
        service_sid: &str,
        credentials: &Credentials,
    ) -> Result<Service> {
        let url = self.url(&format!("Services/{service_sid}"))?;
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, credentials.header())
            .send()
            .await
            .map_err(|e| network_error(&url, &e))?;
        read_json(&url, response).await
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base_url
            .join(path)
            .map_err(|e| Error::InvalidServerConfig(format!("path {path:?}: {e}")))
    }
}

async fn read_json<T: for<'de> Deserialize<'de>>(
    url: &Url,
    response: reqwest::Response,
) -> Result<T> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| network_error(url, &e))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| Error::Network {
            url: url.to_string(),
            reason: format!("unexpected response body: {e}"),
        });
    }
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(api) => Err(Error::Api {
            status: status.as_u16(),
            code: api.code,
            message: api.message,
        }),
        Err(_) => Err(Error::Api {
            status: status.as_u16(),
            code: 0,
            message: status.canonical_reason().unwrap_or("error").to_string(),
        }),
    }
}

fn network_error(url: &Url, err: &reqwest::Error) -> Error {
    // reqwest's Display hides the interesting part (e.g. the TLS failure) in its sources.
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        source = inner.source();
    }
    Error::Network {
        url: url.to_string(),
        reason,
    }
}

/// The SDKs' User-Agent shape: app; platform; app version; build; OS; model; SDK; SDK version; SDK build.
fn user_agent() -> String {
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "Countersign; Desktop; {version}; 1; {} {}; {}; CountersignVerify; {version}; 1",
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::env::consts::ARCH,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(ServerConfig::new("http://127.0.0.1:8443/v2/", None).is_ok());
        assert!(ServerConfig::new("http://localhost/v2", None).is_ok());
        let err = ServerConfig::new("http://example.com/v2/", None).expect_err("refused");
        assert_eq!(err.code(), "invalid_server_config");
    }

    #[test]
    fn base_url_gets_a_trailing_slash() {
        let config = ServerConfig::new("https://verify.example/v2", None).expect("valid");
        assert_eq!(config.base_url.as_str(), "https://verify.example/v2/");
    }

    #[test]
    fn user_agent_has_the_sdks_nine_fields() {
        assert_eq!(user_agent().split("; ").count(), 9);
    }
}

//! The one HTTP client for Verify servers: rustls (ring provider), certificate checks always
//! on, an optional extra CA for local servers, plain `http://` only on loopback.
//!
//! Every request goes through [`VerifyClient::send`], which implements the SDKs' retry rules
//! (PROTOCOL.md §4.3.4): a device JWT refused with 401 and a `Date` header makes the client
//! adopt the server's clock, sign again and retry once. On top of that, 429 (and 503) are
//! retried after `Retry-After` within a bounded wait, and failures to connect are reported
//! as distinct errors (`network_timeout`, `network_unreachable`, `tls_error`).
//!
//! The poll schedule uses [`VerifyClient::single_attempt`] instead: it waits out
//! `Retry-After` and backs off itself, so a poll is one request and retries never come
//! closer together than its per-factor floor.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
use crate::verify::jwt::{PushKey, basic_header};

pub const TWILIO_BASE_URL: &str = "https://verify.twilio.com/v2/";

/// Largest reply body read from a Verify server. Real replies are a few KiB (a page of 50
/// challenges is far below 100 KiB); anything bigger is refused rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Where a Verify server is and how to trust it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServerConfig {
    /// Base URL ending in `/v2/`.
    pub base_url: Url,
    /// PEM of an extra CA to trust (a local server's own CA), on top of the system roots.
    /// Only ever set for a loopback server: a public host is trusted through the system
    /// roots alone, so a development CA can never vouch for it.
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
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(Error::InvalidServerConfig(
                "the server URL must not have a query or a fragment".into(),
            ));
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(Error::InvalidServerConfig(
                "the server URL must not contain credentials".into(),
            ));
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
        // The CA a local verify-server hands out is for that server only; it is dropped
        // here so it is never stored with, or used for, an enrollment on a public host.
        let extra_ca_pem = extra_ca_pem.filter(|_| is_loopback(&base_url));
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

/// What a device needs to sign its requests for one push factor.
#[derive(Debug, Clone)]
pub struct DeviceFactor {
    pub service_sid: String,
    pub identity: String,
    pub factor_sid: String,
    /// The device JWT's `kid` (`config.credential_sid` of the factor).
    pub credential_sid: String,
    /// The device JWT's `sub`.
    pub account_sid: String,
    pub key: PushKey,
}

/// How a request authenticates.
pub enum Credentials {
    /// A relying party's backend: account SID + auth token.
    Backend {
        account_sid: String,
        auth_token: String,
    },
    /// A device with a fixed token: the enrollment access token.
    Device { token: String },
    /// A device signing a fresh ES256 JWT for every attempt (so a retry after a clock
    /// correction carries new `nbf`/`exp`).
    Factor(DeviceFactor),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Backend { account_sid, .. } => f
                .debug_struct("Backend")
                .field("account_sid", account_sid)
                .finish_non_exhaustive(),
            Credentials::Device { .. } => f.write_str("Device(<redacted>)"),
            Credentials::Factor(factor) => f
                .debug_struct("Factor")
                .field("factor_sid", &factor.factor_sid)
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    fn header(&self, now: i64) -> String {
        match self {
            Credentials::Backend {
                account_sid,
                auth_token,
            } => basic_header(account_sid, auth_token),
            Credentials::Device { token } => basic_header("token", token),
            Credentials::Factor(factor) => basic_header(
                "token",
                &factor
                    .key
                    .device_jwt(&factor.credential_sid, &factor.account_sid, now),
            ),
        }
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

/// Timeouts and retry bounds. The defaults suit the desktop app; tests shorten them.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after 429/503 for one request.
    pub max_busy_retries: u32,
    /// Longest total wait for `Retry-After` within one request; a server asking for more
    /// gets a `rate_limited` error the UI can show.
    pub max_busy_wait: Duration,
    /// Wait before retrying a GET that failed with 500/502/504.
    pub server_error_backoff: Duration,
    /// Retry a GET once after 500/502/504.
    pub retry_failed_reads: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_busy_retries: 2,
            max_busy_wait: Duration::from_secs(10),
            server_error_backoff: Duration::from_millis(250),
            retry_failed_reads: true,
        }
    }
}

/// A response as received, for callers that need headers (the challenge fetch).
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The URL without its query, for messages.
    url: String,
}

impl RawResponse {
    /// The body as JSON on success, else the Twilio error as [`Error::Api`].
    pub fn json<T: for<'de> Deserialize<'de>>(&self) -> Result<T> {
        self.check()?;
        serde_json::from_slice(&self.body).map_err(|e| Error::Network {
            url: self.url.clone(),
            reason: format!("unexpected response body: {e}"),
        })
    }

    /// `Ok` for 2xx, else the Twilio error as [`Error::Api`].
    pub fn check(&self) -> Result<()> {
        if self.status.is_success() {
            return Ok(());
        }
        let status = self.status.as_u16();
        match serde_json::from_slice::<ApiError>(&self.body) {
            Ok(api) => Err(Error::Api {
                status,
                code: api.code,
                message: api.message,
            }),
            Err(_) => Err(Error::Api {
                status,
                code: 0,
                message: self
                    .status
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_string(),
            }),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request; `form` pairs are sent form-encoded (POST), `query` pairs in the URL.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a [&'a str],
    pub query: &'a [(&'a str, &'a str)],
    pub form: &'a [(&'a str, &'a str)],
    pub credentials: &'a Credentials,
}

#[derive(Debug, Clone)]
pub struct VerifyClient {
    http: reqwest::Client,
    base_url: Url,
    options: ClientOptions,
    /// Server clock minus local clock, in seconds (PROTOCOL.md §4.3.4). Shared by clones.
    clock_offset: Arc<AtomicI64>,
}

impl VerifyClient {
    pub fn new(config: &ServerConfig) -> Result<Self> {
        Self::with_options(config, ClientOptions::default())
    }

    pub fn with_options(config: &ServerConfig, options: ClientOptions) -> Result<Self> {
        // reqwest is built without a bundled provider; ring builds far faster than aws-lc.
        // Installing twice is harmless (the first one stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            // A redirected POST (307/308) would resend the device's credentials and its
            // signed answer to wherever the server points; Verify never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent());
        // Configurations saved by older versions may pair a public host with a CA: the CA
        // is ignored for anything but loopback, as `ServerConfig::new` does.
        if let Some(pem) = config
            .extra_ca_pem
            .as_ref()
            .filter(|_| is_loopback(&config.base_url))
        {
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
            options,
            clock_offset: Arc::new(AtomicI64::new(0)),
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// This client (same connections, same learnt clock) making one attempt per request
    /// within `timeout`: no waiting out 429/503 and no repeated reads after a 5xx. A
    /// `Retry-After` the server sends still comes back in [`Error::RateLimited`].
    pub fn single_attempt(&self, timeout: Duration) -> VerifyClient {
        let mut client = self.clone();
        client.options.max_busy_retries = 0;
        client.options.retry_failed_reads = false;
        client.options.request_timeout = timeout;
        client
    }

    /// Server time minus local time, learnt from the last 401 + `Date`.
    pub fn clock_offset_secs(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    /// Seeds the offset (from a saved enrollment) so the first request is already right.
    pub fn set_clock_offset_secs(&self, offset: i64) {
        self.clock_offset.store(offset, Ordering::Relaxed);
    }

    /// The server's idea of now, as far as we know it.
    pub fn server_now(&self) -> i64 {
        local_now().saturating_add(self.clock_offset_secs())
    }

    pub async fn fetch_service(
        &self,
        service_sid: &str,
        credentials: &Credentials,
    ) -> Result<Service> {
        self.send(Request {
            method: Method::GET,
            path: &["Services", service_sid],
            query: &[],
            form: &[],
            credentials,
        })
        .await?
        .json()
    }

    /// Sends a request with the retry rules described at the top of this module. Returns
    /// any HTTP answer (including errors) so callers can interpret statuses; only transport
    /// failures and exhausted rate limits are errors here.
    pub async fn send(&self, request: Request<'_>) -> Result<RawResponse> {
        let url = self.url(request.path, request.query)?;
        let shown_url = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let is_get = request.method == Method::GET;
        let mut clock_retried = false;
        let mut server_error_retried = false;
        let mut busy_retries = 0;
        let mut busy_waited = Duration::ZERO;
        loop {
            let mut builder = self
                .http
                .request(request.method.clone(), url.clone())
                .header(AUTHORIZATION, request.credentials.header(self.server_now()))
                .header(ACCEPT, "application/json")
                .timeout(self.options.request_timeout);
            if !request.form.is_empty() {
                builder = builder
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form_body(request.form));
            }
            let response = builder
                .send()
                .await
                .map_err(|e| transport_error(&shown_url, &e))?;
            let status = response.status();
            let headers = response.headers().clone();
            if status.is_redirection() {
                return Err(Error::Redirected {
                    url: shown_url,
                    status: status.as_u16(),
                });
            }

            if status == StatusCode::UNAUTHORIZED
                && !clock_retried
                && matches!(request.credentials, Credentials::Factor(_))
                && let Some(server_time) = date_header(&headers)
            {
                clock_retried = true;
                let offset = server_time - local_now();
                tracing::debug!(offset, "device JWT refused; adopting the server clock");
                self.set_clock_offset_secs(offset);
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                let wait = retry_after(&headers).unwrap_or(Duration::from_secs(1));
                if busy_retries < self.options.max_busy_retries
                    && busy_waited + wait <= self.options.max_busy_wait
                {
                    busy_retries += 1;
                    busy_waited += wait;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                // A 503 that says when to come back is the server being busy, like a 429.
                if status == StatusCode::TOO_MANY_REQUESTS || retry_after(&headers).is_some() {
                    return Err(Error::RateLimited {
                        retry_after_secs: wait.as_secs().max(1),
                    });
                }
            }
            if is_get
                && self.options.retry_failed_reads
                && !server_error_retried
                && matches!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::GATEWAY_TIMEOUT
                )
            {
                // Reads are safe to repeat; writes are confirmed by re-fetching instead.
                server_error_retried = true;
                tokio::time::sleep(self.options.server_error_backoff).await;
                continue;
            }
            let body = read_capped_body(response, &shown_url).await?;
            return Ok(RawResponse {
                status,
                headers,
                body,
                url: shown_url,
            });
        }
    }

    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| Error::InvalidServerConfig("the server URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}

/// The body, refused as soon as it is known to exceed [`MAX_RESPONSE_BYTES`].
async fn read_capped_body(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>> {
    let too_large = || Error::ResponseTooLarge {
        url: url.to_string(),
        limit_bytes: MAX_RESPONSE_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, &e))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Everything but RFC 3986 unreserved characters is escaped, space as `%20` and `+` as
/// `%2B`, as the Android SDK sends it: no server can mistake a `+` in base64 for a space.
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, FORM_VALUE),
                utf8_percent_encode(value, FORM_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn local_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn date_header(headers: &HeaderMap) -> Option<i64> {
    let text = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let time = httpdate::parse_http_date(text).ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Sorts a transport failure into what the UI can explain: timeout, TLS, unreachable.
fn transport_error(url: &str, err: &reqwest::Error) -> Error {
    // reqwest's Display hides the interesting part (e.g. the TLS failure) in its sources.
    let mut reason = err.to_string();
    let mut is_tls = false;
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        is_tls |= inner.downcast_ref::<rustls::Error>().is_some()
            || inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some());
        source = inner.source();
    }
    // The rustls error is not always reachable by downcasting (reqwest boxes it in a private
    // type), so its well-known wording is the fallback.
    let lower = reason.to_ascii_lowercase();
    is_tls |= err.is_connect()
        && ["certificate", "tls", "handshake", "alert"]
            .iter()
            .any(|word| lower.contains(word));
    let url = url.to_string();
    if err.is_timeout() {
        Error::NetworkTimeout { url }
    } else if is_tls {
        Error::Tls { url, reason }
    } else if err.is_connect() {
        Error::NetworkUnreachable { url, reason }
    } else {
        Error::Network { url, reason }
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
    use reqwest::header::HeaderValue;

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(ServerConfig::new("http://127.0.0.1:8443/v2/", None).is_ok());
        assert!(ServerConfig::new("http://localhost/v2", None).is_ok());
        let err = ServerConfig::new("http://example.com/v2/", None).expect_err("refused");
        assert_eq!(err.code(), "invalid_server_config");
    }

    #[test]
    fn an_extra_ca_is_kept_only_for_loopback_servers() {
        let pem = Some("-----BEGIN CERTIFICATE-----".to_string());
        for local in [
            "https://127.0.0.1:8443/v2/",
            "https://localhost:8443/v2/",
            "https://[::1]:8443/v2/",
        ] {
            let config = ServerConfig::new(local, pem.clone()).expect(local);
            assert_eq!(config.extra_ca_pem, pem, "{local}");
        }
        for public in [
            "https://verify.twilio.com/v2/",
            "https://localhost.example.com/v2/",
            "https://127.0.0.1.nip.io/v2/",
            "https://10.0.0.5/v2/",
        ] {
            let config = ServerConfig::new(public, pem.clone()).expect(public);
            assert_eq!(config.extra_ca_pem, None, "{public}");
        }
    }

    #[test]
    fn base_url_gets_a_trailing_slash() {
        let config = ServerConfig::new("https://verify.example/v2", None).expect("valid");
        assert_eq!(config.base_url.as_str(), "https://verify.example/v2/");
    }

    #[test]
    fn server_urls_with_credentials_or_queries_are_refused() {
        for url in [
            "https://user:pw@verify.example/v2/",
            "https://verify.example/v2/?x=1",
        ] {
            let err = ServerConfig::new(url, None).expect_err(url);
            assert_eq!(err.code(), "invalid_server_config");
        }
    }

    #[test]
    fn user_agent_has_the_sdks_nine_fields() {
        assert_eq!(user_agent().split("; ").count(), 9);
    }

    #[test]
    fn path_segments_are_escaped() {
        let client =
            VerifyClient::new(&ServerConfig::new("https://h.example/v2/", None).unwrap()).unwrap();
        let url = client
            .url(
                &["Services", "VA1", "Entities", "a/b c"],
                &[("Status", "pending")],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://h.example/v2/Services/VA1/Entities/a%2Fb%20c?Status=pending"
        );
    }

    #[test]
    fn form_bodies_escape_like_the_android_sdk() {
        assert_eq!(
            form_body(&[("Binding.PublicKey", "ab+/c="), ("FriendlyName", "My PC ü")]),
            "Binding.PublicKey=ab%2B%2Fc%3D&FriendlyName=My%20PC%20%C3%BC"
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn date_header_is_read_as_rfc_1123() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::DATE,
            HeaderValue::from_static("Tue, 14 Nov 2023 22:13:20 GMT"),
        );
        assert_eq!(date_header(&headers), Some(1_700_000_000));
    }

    #[test]
    fn credentials_debug_hides_tokens() {
        let shown = format!(
            "{:?}",
            Credentials::Backend {
                account_sid: "AC1".into(),
                auth_token: "hunter2".into()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!(
            "{:?}",
            Credentials::Device {
                token: "hunter2".into()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

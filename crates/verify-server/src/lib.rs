//! A local, Twilio-Verify-v2-compatible HTTPS server (push + TOTP factors)
//! backed by SQLite, for development, demos and tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), verify_server::StartError> {
//! let dir = std::path::PathBuf::from("/tmp/verify-data");
//! let server = verify_server::start(verify_server::Config::new(dir)).await?;
//! println!("{} trusting {}", server.base_url(), server.ca_pem_path().display());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;

mod auth;
mod clock;
mod db;
mod demo;
mod error;
mod faults;
mod files;
mod form;
mod jwt;
mod listener;
mod model;
mod pagination;
mod routes;
mod sid;
mod state;
mod tls;
mod totp;
mod webhook_target;
mod webhooks;

pub use error::StartError;
pub use listener::ConnectionLimits;
pub use state::Limits;
pub use webhooks::{RetryPolicy, WebhookLimits, signature as twilio_signature};

use clock::Clock;
use db::Db;
use state::AppState;

/// Name of the service `--demo` ensures exists.
pub const DEMO_SERVICE_NAME: &str = "Countersign Demo";

const SETTING_ACCOUNT_SID: &str = "account_sid";
const SETTING_AUTH_TOKEN: &str = "auth_token";

/// Server configuration. `Config::new` gives the defaults tests want
/// (127.0.0.1:0, generated credentials, Twilio's limits).
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Backend credentials; generated and persisted when absent.
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    /// Seconds added to the system clock for everything the server does
    /// (timestamps, expiry, JWT checks, the `Date` header).
    pub clock_offset_secs: i64,
    /// How long an unverified factor can still be verified (60383 after).
    pub unverified_factor_lifetime: Duration,
    /// How long after that lifetime a stale unverified factor is deleted.
    pub unverified_factor_purge_after: Duration,
    /// Ensure the "Countersign Demo" service exists.
    pub demo: bool,
    pub limits: Limits,
    /// Connection cap and the header, body and TLS handshake deadlines.
    pub connections: ConnectionLimits,
    pub webhook_retry: RetryPolicy,
    /// Webhook queue length and deliveries in flight.
    pub webhooks: WebhookLimits,
    /// Deliver webhooks to loopback and private addresses (local receivers,
    /// tests). Off by default: a webhook URL must not reach into the
    /// server's own network.
    pub allow_private_webhooks: bool,
    /// How often expired challenges, access tokens and stale factors are
    /// deleted.
    pub purge_interval: Duration,
    /// How long a challenge is kept after its expiration date (answered or
    /// not). At least a day by default, which also keeps every challenge
    /// the 24-hour creation limits (60312) count.
    pub challenge_retention: Duration,
    /// Serve `/dev/faults`, through which tests inject errors and delays (see `faults`).
    pub fault_injection: bool,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            data_dir: data_dir.into(),
            account_sid: None,
            auth_token: None,
            clock_offset_secs: 0,
            unverified_factor_lifetime: Duration::from_secs(3600),
            unverified_factor_purge_after: Duration::from_secs(3600),
            demo: false,
            limits: Limits::default(),
            connections: ConnectionLimits::default(),
            webhook_retry: RetryPolicy::default(),
            webhooks: WebhookLimits::default(),
            allow_private_webhooks: false,
            purge_interval: Duration::from_secs(30),
            challenge_retention: Duration::from_secs(24 * 3600),
            fault_injection: false,
        }
    }
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    origin: String,
    ca_pem_path: PathBuf,
    account_sid: String,
    auth_token: String,
    auth_token_generated: bool,
    demo_service_sid: Option<String>,
    db: Db,
    handle: axum_server::Handle<SocketAddr>,
    serve_task: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `https://127.0.0.1:PORT/v2/`, the SDKs' base URL.
    pub fn base_url(&self) -> String {
        format!("{}/v2/", self.origin)
    }

    /// `https://127.0.0.1:PORT/demo`.
    pub fn demo_url(&self) -> String {
        format!("{}/demo", self.origin)
    }

    /// Absolute path of the CA certificate clients must trust.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }

    /// Whether the auth token was generated during this start.
    pub fn auth_token_generated(&self) -> bool {
        self.auth_token_generated
    }

    pub fn demo_service_sid(&self) -> Option<String> {
        self.demo_service_sid.clone()
    }

    /// Stop accepting connections, let in-flight requests finish (≤ 5 s),
    /// stop background tasks, and close the database.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        let _ = self.serve_task.await;
        for t in self.background {
            t.abort();
        }
        self.db.close().await;
    }

    /// Wait until the server stops on its own (it only does on error).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.serve_task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Start the server: prepare the data dir (TLS material, database,
/// credentials), bind `config.listen`, and serve in the background. The
/// socket accepts connections when this returns.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    create_private_dir(&config.data_dir)?;
    let tls = tls::load_or_create(&config.data_dir)?;
    let db = Db::open(&config.data_dir)?;
    let clock = Clock {
        offset_secs: config.clock_offset_secs,
    };

    let (wanted_sid, wanted_token) = (config.account_sid.clone(), config.auth_token.clone());
    let (account_sid, auth_token, auth_token_generated) = db
        .call(move |c| {
            let stored_sid = db::get_setting(c, SETTING_ACCOUNT_SID)?;
            let account_sid = match (wanted_sid, stored_sid) {
                (Some(s), _) => s,
                (None, Some(s)) => s,
                (None, None) => {
                    let s = sid::new_sid(sid::ACCOUNT);
                    db::set_setting(c, SETTING_ACCOUNT_SID, &s)?;
                    s
                }
            };
            let stored_token = db::get_setting(c, SETTING_AUTH_TOKEN)?;
            let (token, generated) = match (wanted_token, stored_token) {
                (Some(t), _) => (t, false),
                (None, Some(t)) => (t, false),
                (None, None) => {
                    let mut bytes = [0u8; 16];
                    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
                    let t = data_encoding::HEXLOWER.encode(&bytes);
                    db::set_setting(c, SETTING_AUTH_TOKEN, &t)?;
                    (t, true)
                }
            };
            Ok((account_sid, token, generated))
        })
        .await
        .map_err(|e| StartError::Other(e.to_string()))?;

    let demo_service_sid = if config.demo {
        let now = clock.now();
        Some(
            db.call(move |c| demo::ensure_service(c, now))
                .await
                .map_err(|e| StartError::Other(e.to_string()))?,
        )
    } else {
        None
    };

    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| StartError::Other(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    // URLs must name an address clients can reach and the cert covers.
    let shown_ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let origin = format!("https://{}", SocketAddr::new(shown_ip, addr.port()));

    let (dispatcher, events, webhook_targets) = webhooks::Dispatcher::new(config.webhooks.queue);
    let state = Arc::new(AppState {
        db: db.clone(),
        clock,
        account_sid: account_sid.clone(),
        auth_token: auth_token.clone(),
        base_url: origin.clone(),
        unverified_lifetime_secs: config.unverified_factor_lifetime.as_secs() as i64,
        limits: config.limits.clone(),
        webhooks: dispatcher,
        demo_service_sid: demo_service_sid.clone(),
        keys: jwt::KeyCache::default(),
        allow_private_webhooks: config.allow_private_webhooks,
        body_timeout: config.connections.body_timeout,
    });

    let worker = webhooks::Worker {
        db: db.clone(),
        targets: webhook_targets,
        account_sid: account_sid.clone(),
        auth_token: auth_token.clone(),
        client: webhook_client(&tls.ca_pem_path, config.allow_private_webhooks)?,
        retry: config.webhook_retry.clone(),
        concurrent_deliveries: config.webhooks.concurrent_deliveries,
        allow_private: config.allow_private_webhooks,
    };
    let rustls_config = RustlsConfig::from_config(tls.server_config);
    let mut background = vec![tokio::spawn(worker.run(events))];
    background.push(tokio::spawn(purge_loop(
        state.clone(),
        Purge {
            interval: config.purge_interval,
            unverified_grace: config.unverified_factor_purge_after,
            challenge_retention: config.challenge_retention,
        },
    )));
    background.push(tokio::spawn(renew_tls_loop(
        config.data_dir.clone(),
        rustls_config.clone(),
    )));

    let mut app = routes::router(state.clone());
    if config.fault_injection {
        app = faults::install(app, state);
    }
    let handle = axum_server::Handle::new();
    let limits = &config.connections;
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(rustls_config)
        .handshake_timeout(limits.header_read_timeout)
        .acceptor(listener::CappedAcceptor::new(limits.max_connections));
    let mut server = axum_server::from_tcp(listener)
        .map_err(|e| StartError::Other(e.to_string()))?
        .acceptor(acceptor)
        .handle(handle.clone())
        .http1_only();
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(limits.header_read_timeout));
    let serve_task = tokio::spawn(server.serve(app.into_make_service()));

    Ok(RunningServer {
        addr,
        origin,
        ca_pem_path: tls.ca_pem_path,
        account_sid,
        auth_token,
        auth_token_generated,
        demo_service_sid,
        db,
        handle,
        serve_task,
        background,
    })
}

/// The webhook client trusts our own CA (local receivers) as well as plain
/// HTTP. It never follows redirects or uses a proxy (either would reach a
/// host other than the one checked), and unless private targets are
/// allowed it resolves host names to public addresses only. Uses rustls
/// with ring, never aws-lc.
fn webhook_client(ca_pem: &Path, allow_private: bool) -> Result<reqwest::Client, StartError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).map_err(|e| StartError::Tls(e.to_string()))? {
        let cert = cert.map_err(|e| StartError::Tls(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| StartError::Tls(e.to_string()))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StartError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if !allow_private {
        builder = builder.dns_resolver(webhook_target::PublicOnlyResolver);
    }
    builder.build().map_err(|e| StartError::Tls(e.to_string()))
}

/// What the purge loop deletes, and how often.
struct Purge {
    interval: Duration,
    unverified_grace: Duration,
    challenge_retention: Duration,
}

/// Delete what can no longer be used, so the database does not grow
/// without bound: unverified factors past lifetime + grace (PROTOCOL.md
/// §6), challenges past their expiration date + retention (their
/// notifications go with them), expired access tokens, and factor
/// creation records older than the 24-hour window they are counted in.
async fn purge_loop(st: state::SharedState, purge: Purge) {
    let mut tick = tokio::time::interval(purge.interval.max(Duration::from_millis(10)));
    loop {
        tick.tick().await;
        let now = st.now();
        let stale_factors = now - st.unverified_lifetime_secs - secs(purge.unverified_grace);
        let old_challenges = now - secs(purge.challenge_retention);
        let res = st
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "DELETE FROM factors WHERE status = 'unverified' AND date_created < ?1",
                    [stale_factors],
                )?;
                tx.execute(
                    "DELETE FROM challenges WHERE expiration_date < ?1",
                    [old_challenges],
                )?;
                tx.execute(
                    "DELETE FROM access_tokens WHERE date_created + ttl <= ?1",
                    [now],
                )?;
                tx.execute(
                    "DELETE FROM factor_creations WHERE at <= ?1",
                    [now - 24 * 3600],
                )?;
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "purging expired records failed");
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A long-running server renews its certificates too: twice a day it
/// checks them (`tls::load_or_create` renews what is due) and serves the
/// result to new connections.
async fn renew_tls_loop(data_dir: PathBuf, config: RustlsConfig) {
    let mut tick = tokio::time::interval(Duration::from_secs(12 * 3600));
    tick.tick().await;
    loop {
        tick.tick().await;
        let dir = data_dir.clone();
        match tokio::task::spawn_blocking(move || tls::load_or_create(&dir)).await {
            Ok(Ok(material)) => config.reload_from_config(material.server_config),
            Ok(Err(e)) => tracing::warn!(error = %e, "renewing the TLS certificates failed"),
            Err(e) => tracing::warn!(error = %e, "renewing the TLS certificates failed"),
        }
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StartError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| StartError::io(dir, e))
}

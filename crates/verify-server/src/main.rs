//! `verify-server` binary: see `--help`. On start it prints, one per line,
//! `ca: <path>`, `account_sid: AC…`, `auth_token: …` (only when generated
//! on this start), `service_sid: VA…` and `demo: <url>` (only with
//! `--demo`), and last `listening: https://127.0.0.1:PORT` once the socket
//! accepts connections. Tests parse these lines.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

// A request allocates and frees many small buffers (forms, JSON, TLS
// records); mimalloc's thread-local free lists make that markedly cheaper
// than glibc's malloc under load (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "verify-server",
    version,
    about = "Local Twilio-Verify-v2-compatible HTTPS server"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443", env = "VERIFY_LISTEN")]
    listen: SocketAddr,
    /// Directory for the database, TLS material and credentials.
    #[arg(long, env = "VERIFY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Backend account SID (generated and persisted if absent).
    #[arg(long, env = "VERIFY_ACCOUNT_SID")]
    account_sid: Option<String>,
    /// Backend auth token (generated and persisted if absent).
    #[arg(long, env = "VERIFY_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Seconds to add to the system clock (negative allowed).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
    /// Seconds an unverified factor stays verifiable.
    #[arg(long, default_value_t = 3600)]
    unverified_factor_lifetime: u64,
    /// Ensure the "Countersign Demo" service exists and serve the demo page.
    #[arg(long)]
    demo: bool,
    /// Serve /dev/faults, where tests inject errors, rate limits and delays (never in
    /// production).
    #[arg(long)]
    fault_injection: bool,
    /// Deliver webhooks to loopback and private addresses (127/8, 10/8, 172.16/12,
    /// 192.168/16, 169.254/16, ::1, fc00::/7, fe80::/10), e.g. to a receiver on this
    /// machine. Without it such URLs are refused, literal or resolved.
    #[arg(long)]
    allow_private_webhooks: bool,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    connections: ConnectionArgs,
}

/// Deadlines and caps that keep one client from exhausting the server.
#[derive(Debug, clap::Args)]
struct ConnectionArgs {
    /// Open connections at once; more are closed on accept.
    #[arg(long, default_value_t = verify_server::ConnectionLimits::default().max_connections)]
    max_connections: usize,
    /// Seconds for the TLS handshake and for each request's headers (idle keep-alive
    /// connections close after this too).
    #[arg(long, default_value_t = verify_server::ConnectionLimits::default().header_read_timeout.as_secs())]
    header_read_timeout: u64,
    /// Seconds for each request body to arrive (408 after).
    #[arg(long, default_value_t = verify_server::ConnectionLimits::default().body_timeout.as_secs())]
    body_timeout: u64,
    /// Webhook events queued for delivery; when receivers fall this far behind, new
    /// events are dropped and logged.
    #[arg(long, default_value_t = verify_server::WebhookLimits::default().queue)]
    webhook_queue: usize,
    /// Webhook deliveries in flight at once.
    #[arg(long, default_value_t = verify_server::WebhookLimits::default().concurrent_deliveries)]
    webhook_deliveries: usize,
}

impl ConnectionArgs {
    fn connections(&self) -> verify_server::ConnectionLimits {
        verify_server::ConnectionLimits {
            max_connections: self.max_connections.max(1),
            header_read_timeout: Duration::from_secs(self.header_read_timeout.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout.max(1)),
        }
    }

    fn webhooks(&self) -> verify_server::WebhookLimits {
        verify_server::WebhookLimits {
            queue: self.webhook_queue.max(1),
            concurrent_deliveries: self.webhook_deliveries.max(1),
        }
    }
}

/// Twilio's limits, on by default with Twilio's values; tests and load runs turn
/// them off or down.
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Push factors per entity before 60315 [default: 20, as Twilio].
    #[arg(long)]
    max_push_factors: Option<u32>,
    /// TOTP factors per entity before 60315 [default: 100].
    #[arg(long)]
    max_totp_factors: Option<u32>,
    /// Factor creations per entity per 24 h before 60326 [default: 100].
    #[arg(long)]
    max_factor_creations_per_day: Option<u32>,
    /// Wrong TOTP codes before 60310 / 60308 [default: 5].
    #[arg(long)]
    max_totp_attempts: Option<u32>,
    /// Unanswered push challenges per entity before 60312 [default: 20; Twilio
    /// documents no such limit].
    #[arg(long)]
    max_pending_push_challenges: Option<u32>,
    /// Do not enforce the TOTP challenge creation limits (60312).
    #[arg(long)]
    no_challenge_rate_limit: bool,
}

impl LimitArgs {
    fn limits(&self) -> verify_server::Limits {
        let twilio = verify_server::Limits::default();
        verify_server::Limits {
            max_push_factors_per_entity: self
                .max_push_factors
                .unwrap_or(twilio.max_push_factors_per_entity),
            max_totp_factors_per_entity: self
                .max_totp_factors
                .unwrap_or(twilio.max_totp_factors_per_entity),
            max_factor_creations_per_day: self
                .max_factor_creations_per_day
                .unwrap_or(twilio.max_factor_creations_per_day),
            challenge_rate_limit: !self.no_challenge_rate_limit,
            max_totp_attempts: self.max_totp_attempts.unwrap_or(twilio.max_totp_attempts),
            max_pending_push_challenges_per_entity: self
                .max_pending_push_challenges
                .unwrap_or(twilio.max_pending_push_challenges_per_entity),
        }
    }
}

fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "countersign-verify-server")
        .map(|d| d.data_dir().to_path_buf())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let Some(data_dir) = args.data_dir.or_else(default_data_dir) else {
        eprintln!("error: no data directory; pass --data-dir");
        return std::process::ExitCode::FAILURE;
    };
    let mut config = verify_server::Config::new(data_dir);
    config.listen = args.listen;
    config.account_sid = args.account_sid;
    config.auth_token = args.auth_token;
    config.clock_offset_secs = args.clock_offset;
    config.unverified_factor_lifetime = Duration::from_secs(args.unverified_factor_lifetime);
    config.demo = args.demo;
    config.fault_injection = args.fault_injection;
    config.limits = args.limits.limits();
    config.connections = args.connections.connections();
    config.webhooks = args.connections.webhooks();
    config.allow_private_webhooks = args.allow_private_webhooks;

    let server = match verify_server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut lines = vec![
        format!("ca: {}", server.ca_pem_path().display()),
        format!("account_sid: {}", server.account_sid()),
    ];
    // The generated token is the server's own dev credential: shown once.
    if server.auth_token_generated() {
        lines.push(format!("auth_token: {}", server.auth_token()));
    }
    if let Some(sid) = server.demo_service_sid() {
        lines.push(format!("service_sid: {sid}"));
        lines.push(format!("demo: {}", server.demo_url()));
    }
    lines.push(format!("listening: {}", server.origin()));
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
    drop(out);

    tokio::select! {
        r = wait_for_signal() => {
            if let Err(e) = r {
                eprintln!("error: signal handling: {e}");
            }
            server.shutdown().await;
            std::process::ExitCode::SUCCESS
        }
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
